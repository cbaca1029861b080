// Package peers holds the variants the performance comparison (issue 12)
// measures besides the floor and the project: the same default policy asked
// of OPA's other deployments, an `opa run --server` sidecar over HTTP and a
// query compiled on every request, and the project's policy engine alone at
// growing data sizes. bench/compare and bench's Go benchmarks share them.
package peers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/apigw-authz/authz/bench/fixture"
	"github.com/apigw-authz/authz/bench/floor"
	"github.com/apigw-authz/authz/internal/devissuer"
)

// Floor returns the hand-written authorizer trusting iss, on the default
// policy's data.
func Floor(iss *devissuer.Issuer) (*floor.Authorizer, error) {
	keys, err := fixture.Keys(iss)
	if err != nil {
		return nil, err
	}
	doc, err := fixture.Data()
	if err != nil {
		return nil, err
	}
	data, err := floor.ParseData(doc)
	if err != nil {
		return nil, err
	}
	return floor.New(iss.URL, iss.Audience(), keys, data), nil
}

// Decide asks a policy engine for the decision document on an input.
type Decide func(ctx context.Context, input map[string]any) (map[string]any, error)

// Peer is the floor with the decision asked of another engine: the floor's
// event decoding, token verification and response, the policy's input built
// as the project builds it, and decide in between.
type Peer struct {
	Floor  *floor.Authorizer
	Decide Decide
}

// Invoke is a raw Lambda handler, as floor.Authorizer.Invoke.
func (p *Peer) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	r, err := p.Floor.Read(ctx, event)
	if err != nil {
		return nil, err
	}
	input, err := r.Input()
	if err != nil {
		return nil, err
	}
	doc, err := p.Decide(ctx, input)
	if err != nil {
		return nil, err
	}
	d, err := floor.FromPolicy(doc)
	if err != nil {
		return nil, err
	}
	if !d.Allow && r.Token == nil {
		return nil, floor.ErrUnauthorized
	}
	return floor.Respond(r, d)
}

// OPAServer is `go tool opa run --server` on loopback with the default
// policy's modules and data, the sidecar deployment of OPA.
type OPAServer struct {
	URL    string
	cmd    *exec.Cmd
	client *http.Client
	done   chan error
	stop   sync.Once
}

// StartOPAServer starts the server from the module root and waits until it
// answers /health.
func StartOPAServer(ctx context.Context) (*OPAServer, error) {
	root, err := fixture.Root()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"tool", "opa", "run", "--server", "--addr", addr, "--log-level", "error"}
	args = append(args, fixture.ModuleFiles...)
	args = append(args, fixture.DataFile)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Stdout = io.Discard
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// `go tool` runs opa as its child and forwards SIGINT and SIGTERM to it:
	// Stop, or a Ctrl-C at the terminal (same process group), ends both.
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting go tool opa: %v", err)
	}
	s := &OPAServer{
		URL: "http://" + addr,
		cmd: cmd,
		client: &http.Client{Transport: &http.Transport{
			MaxIdleConns: 8, MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Minute,
		}},
		done: make(chan error, 1),
	}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(2 * time.Minute) // the first run may build opa
	for {
		select {
		case err := <-s.done:
			return nil, fmt.Errorf("go tool opa run exited: %v: %s", err, strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		resp, err := s.client.Get(s.URL + "/health")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, errors.New("go tool opa run: not healthy after 2 minutes")
		}
	}
}

// Stop ends the server (go tool forwards the signal to opa) and waits for it.
func (s *OPAServer) Stop() {
	if s == nil {
		return
	}
	s.stop.Do(s.terminate)
}

func (s *OPAServer) terminate() {
	s.client.CloseIdleConnections()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// Decide POSTs {"input": input} to /v1/data/authz/decision over a keep-alive
// connection and returns the result.
func (s *OPAServer) Decide(ctx context.Context, input map[string]any) (map[string]any, error) {
	body, err := json.Marshal(map[string]any{"input": input})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/v1/data/authz/decision", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("opa server: %s: %s", resp.Status, b)
	}
	var out struct {
		Result map[string]any `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if out.Result == nil {
		return nil, errors.New("opa server: the decision is undefined")
	}
	return out.Result, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Compiler compiles the default policy on every request, as public samples
// of OPA in a Lambda function do: rego.New with the modules and an in-memory
// store of the data, PrepareForEval, then Eval.
type Compiler struct {
	modules map[string]string
	data    map[string]any
}

// NewCompiler reads the default policy's modules and data.
func NewCompiler() (*Compiler, error) {
	mods, err := fixture.Modules()
	if err != nil {
		return nil, err
	}
	data, err := fixture.Data()
	if err != nil {
		return nil, err
	}
	return &Compiler{modules: mods, data: data}, nil
}

// Decide compiles, prepares and evaluates the decision query.
func (c *Compiler) Decide(ctx context.Context, input map[string]any) (map[string]any, error) {
	pq, err := rego.New(
		rego.Query(fixture.Query),
		rego.Module(fixture.ModuleFiles[0], c.modules[fixture.ModuleFiles[0]]),
		rego.Module(fixture.ModuleFiles[1], c.modules[fixture.ModuleFiles[1]]),
		rego.Store(inmem.NewFromObject(c.data)),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := pq.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, errors.New("compile per request: the decision is undefined")
	}
	doc, ok := rs[0].Expressions[0].Value.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("compile per request: the decision is a %T", rs[0].Expressions[0].Value)
	}
	return doc, nil
}
