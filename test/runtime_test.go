package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// bootstrap is the authorizer binary built once by TestMain, exactly as
// `make package` builds it (for the host's OS and architecture); authzBin is the
// authz CLI, as `make build` builds it; faultyBootstrap is bootstrap with the
// faults of cmd/authorizer/faults.go compiled in (-tags authz_faults).
var bootstrap, authzBin, faultyBootstrap string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "authz-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bootstrap = filepath.Join(dir, "bootstrap")
	authzBin = filepath.Join(dir, "authz")
	faultyBootstrap = filepath.Join(dir, "bootstrap-faults")
	for _, args := range [][]string{
		{"build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bootstrap, "./cmd/authorizer"},
		{"build", "-tags", "lambda.norpc,authz_faults", "-trimpath", "-o", faultyBootstrap, "./cmd/authorizer"},
		{"build", "-o", authzBin, "./cmd/authz"},
	} {
		build := exec.Command("go", args...)
		build.Dir = ".."
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go %v: %v\n%s", args, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lambdaError is what the runtime receives when the handler returns an error.
type lambdaError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

// result is the outcome of one invocation: a response or an error.
type result struct {
	Response []byte
	Error    *lambdaError
}

type invocation struct {
	id       string
	event    []byte
	deadline time.Time
	done     chan result
}

// runtimeAPI is a Lambda Runtime API on 127.0.0.1, enough for aws-lambda-go: it
// hands out invocations and collects their responses and errors.
type runtimeAPI struct {
	addr   string
	srv    *http.Server
	next   chan *invocation
	mu     sync.Mutex
	open   map[string]*invocation
	serial int
	// extensions counts the extensions registered; handedOut, the
	// invocations the function has taken.
	extensions, handedOut int
}

func startRuntimeAPI(t *testing.T) *runtimeAPI {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &runtimeAPI{addr: ln.Addr().String(), next: make(chan *invocation), open: map[string]*invocation{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", r.serveNext)
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", r.serveDone(false))
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", r.serveDone(true))
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})
	// The Extensions API, as far as aws-lambda-go's internal extension uses
	// it (lambda.WithEnableSIGTERM): a registration, and a next event that
	// never comes.
	mux.HandleFunc("POST /2020-01-01/extension/register", func(w http.ResponseWriter, _ *http.Request) {
		r.mu.Lock()
		r.extensions++
		r.mu.Unlock()
		w.Header().Set("Lambda-Extension-Identifier", "e2e-extension")
		w.Write([]byte(`{}`))
	})
	mux.HandleFunc("GET /2020-01-01/extension/event/next", func(w http.ResponseWriter, req *http.Request) {
		<-req.Context().Done()
	})
	r.srv = &http.Server{Handler: mux}
	go r.srv.Serve(ln)
	t.Cleanup(func() { r.srv.Close() })
	return r
}

func (r *runtimeAPI) serveNext(w http.ResponseWriter, req *http.Request) {
	select {
	case inv := <-r.next:
		w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
		w.Header().Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
		w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-west-1:123456789012:function:authorizer")
		w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
		w.Write(inv.event)
		r.mu.Lock()
		r.handedOut++
		r.mu.Unlock()
	case <-req.Context().Done():
	}
}

func (r *runtimeAPI) serveDone(isError bool) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		inv := r.open[req.PathValue("id")]
		delete(r.open, req.PathValue("id"))
		r.mu.Unlock()
		if inv == nil {
			http.Error(w, "unknown invocation", http.StatusBadRequest)
			return
		}
		res := result{Response: body}
		if isError {
			res = result{Error: &lambdaError{}}
			json.Unmarshal(body, res.Error)
		}
		w.WriteHeader(http.StatusAccepted)
		inv.done <- res
	}
}

// invoke hands event to the function and waits for its answer; the function's
// deadline is timeout from now.
func (r *runtimeAPI) invoke(t *testing.T, event []byte, timeout time.Duration) result {
	t.Helper()
	res, err := r.try(event, timeout)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// try is invoke for a goroutine other than the test's.
func (r *runtimeAPI) try(event []byte, timeout time.Duration) (result, error) {
	r.mu.Lock()
	r.serial++
	inv := &invocation{id: fmt.Sprintf("invoke-%d", r.serial), event: event, deadline: time.Now().Add(timeout), done: make(chan result, 1)}
	r.open[inv.id] = inv
	r.mu.Unlock()
	select {
	case r.next <- inv:
	case <-time.After(10 * time.Second):
		return result{}, errors.New("the function never asked for the next invocation")
	}
	select {
	case res := <-inv.done:
		return res, nil
	case <-time.After(timeout + 10*time.Second):
		return result{}, errors.New("the function never answered")
	}
}

// function is the authorizer binary running under the fake Runtime API.
type function struct {
	*process
	api *runtimeAPI
}

// startFunction runs the binary with env (and nothing else of the test's
// environment but PATH and HOME). When the test ends, every line the function
// wrote must be one JSON object (see checkJSONLines).
func startFunction(t *testing.T, env map[string]string) *function {
	t.Helper()
	return startFunctionOf(t, bootstrap, env)
}

// startFunctionOf is startFunction with another build of the binary.
func startFunctionOf(t *testing.T, bin string, env map[string]string) *function {
	t.Helper()
	api := startRuntimeAPI(t)
	vars := []string{"AWS_LAMBDA_RUNTIME_API=" + api.addr}
	for k, v := range env {
		vars = append(vars, k+"="+v)
	}
	p := startProcess(t, os.Kill, vars, bin)
	p.checkOutput(checkJSONLines)
	return &function{process: p, api: api}
}

func (f *function) invoke(t *testing.T, event []byte) result {
	t.Helper()
	return f.api.invoke(t, event, 5*time.Second)
}

// decisionLog waits for the decision-log line of the invocation with the given
// Lambda request id and returns it decoded.
func (f *function) decisionLog(t *testing.T, lambdaRequestID string) map[string]any {
	t.Helper()
	return waitForDecision(t, f.output, lambdaRequestID)
}

// waitForDecision waits until lines holds the decision-log line of the
// invocation with the given Lambda request id, and returns it decoded, with
// the members of its custom object (outcome, reason, policy_revision …) also
// at the top, where the tests read them.
func waitForDecision(t *testing.T, lines func() []string, lambdaRequestID string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range lines() {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != "decision" {
				continue
			}
			custom, _ := m["custom"].(map[string]any)
			if custom["lambda_request_id"] != lambdaRequestID {
				continue
			}
			for k, v := range custom {
				if _, taken := m[k]; !taken {
					m[k] = v
				}
			}
			return m
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no decision log line for %s", lambdaRequestID)
	return nil
}

// awaitReady waits until the function has logged that it is ready, for a
// test that times invocations: Lambda counts an invocation's time from when
// it is handed over, after the start-up.
func (f *function) awaitReady(t *testing.T) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); len(matching(f, 0, "authorizer ready")) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the function never said it was ready")
		}
	}
}

// lastRequestID is the id of the latest invocation handed out.
func (f *function) lastRequestID() string {
	f.api.mu.Lock()
	defer f.api.mu.Unlock()
	return fmt.Sprintf("invoke-%d", f.api.serial)
}
