package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// This file runs the real bootstrap under AWS's Lambda Runtime Interface
// Emulator (go.mod's tool github.com/aws/aws-lambda-runtime-interface-emulator),
// as make lambda-local does, with the sample events of testdata/events. The fake
// Runtime API of runtime_test.go checks every outcome row; this checks that the
// function also works under AWS's own implementation of that API.

var (
	rieOnce sync.Once
	rieBin  string
	rieErr  error
)

// buildRIE builds the emulator once per test binary, beside the bootstrap.
func buildRIE(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("AWS's Lambda Runtime Interface Emulator runs on Linux only")
	}
	rieOnce.Do(func() {
		rieBin = filepath.Join(filepath.Dir(bootstrap), "aws-lambda-rie")
		build := exec.Command("go", "build", "-o", rieBin, "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			rieErr = fmt.Errorf("building the emulator: %v\n%s", err, out)
		}
	})
	if rieErr != nil {
		t.Fatal(rieErr)
	}
	return rieBin
}

// emulator is the emulator running the bootstrap, both on 127.0.0.1.
type emulator struct {
	invokeURL string
	cmd       *exec.Cmd
	out       *syncBuffer
	exited    chan struct{}
}

// syncBuffer is the emulator's output: its own log lines, and the function's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startEmulator runs the bootstrap under the emulator with env and nothing
// else of the test's environment but PATH and HOME. The emulator hands its
// whole environment to the bootstrap and sets AWS_LAMBDA_RUNTIME_API itself.
// Both of its listeners are put on 127.0.0.1: by default it would serve
// invocations on 0.0.0.0:8080 and the Runtime API on 127.0.0.1:9001, which two
// runs at once would share.
func startEmulator(t *testing.T, env map[string]string) *emulator {
	t.Helper()
	bin := buildRIE(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port may be taken before the emulator binds it
		e, err := tryEmulator(t, bin, env)
		if err == nil {
			return e
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return nil
}

func tryEmulator(t *testing.T, bin string, env map[string]string) (*emulator, error) {
	invokeAddr := freeAddr(t)
	runtimeAddr := freeAddr(t)
	e := &emulator{invokeURL: "http://" + invokeAddr + "/2015-03-31/functions/function/invocations", out: &syncBuffer{}, exited: make(chan struct{})}
	e.cmd = exec.Command(bin, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", runtimeAddr, "--log-level", "warn", bootstrap)
	e.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		// The emulator's default is 300 s; a real authorizer has a few seconds.
		"AWS_LAMBDA_FUNCTION_TIMEOUT=5", "AWS_REGION=eu-west-1", "AWS_LAMBDA_FUNCTION_NAME=authorizer"}
	for k, v := range env {
		e.cmd.Env = append(e.cmd.Env, k+"="+v)
	}
	e.cmd.Stdout, e.cmd.Stderr = e.out, e.out
	// Its own process group, to be stopped as a whole. The emulator starts the
	// bootstrap in a group of its own and stops it on SIGTERM.
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := e.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = e.cmd.Wait(); close(e.exited) }()
	stop := func() {
		_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-e.exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-e.cmd.Process.Pid, syscall.SIGKILL)
			<-e.exited
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", invokeAddr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			break
		}
		select {
		case <-e.exited:
			return nil, fmt.Errorf("the emulator exited before listening on %s:\n%s", invokeAddr, e.out)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("the emulator is not listening on %s after 10s:\n%s", invokeAddr, e.out)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("emulator output:\n%s", e.out)
		}
	})
	return e, nil
}

// invoke posts event to the emulator's invocation endpoint, as `curl -d` does,
// and returns what the function answered: a response, or its error.
func (e *emulator) invoke(t *testing.T, requestID string, event []byte) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.invokeURL, bytes.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amzn-RequestId", requestID)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the emulator answered %s: %s", resp.Status, body)
	}
	// A handler's error comes back as the body, as Lambda's Invoke API gives it
	// to API Gateway: {"errorMessage": ..., "errorType": ...}.
	var fnErr lambdaError
	if json.Unmarshal(body, &fnErr) == nil && fnErr.Message != "" {
		return result{Error: &fnErr}
	}
	return result{Response: body}
}

// decisionLog is the decision-log line of the invocation requestID, which the
// emulator copies from the function's stdout.
func (e *emulator) decisionLog(t *testing.T, requestID string) map[string]any {
	t.Helper()
	return waitForDecision(t, func() []string { return strings.Split(e.out.String(), "\n") }, requestID)
}

// sampleEvent is a file of testdata/events with its token placeholder replaced,
// as make lambda-local's commands do with sed.
func sampleEvent(t *testing.T, name, token string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "events", name))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("__TOKEN__")) {
		t.Fatalf("%s has no __TOKEN__ placeholder", name)
	}
	return bytes.ReplaceAll(b, []byte("__TOKEN__"), []byte(token))
}

// TestRIESampleEvents runs outcome rows through the emulator with the sample
// events: allow, deny, unauthorized and error, judged as API Gateway would.
func TestRIESampleEvents(t *testing.T) {
	iss := startIssuer(t)
	admin := mint(t, iss, "alice", groups("admins"))
	reader := mint(t, iss, "bob", groups("orders-readers"))
	expired := mint(t, iss, "carol", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
	fn := startEmulator(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss)})

	rest := kinds[0]
	http2 := kind{name: "http-2.0", simple: true}
	rows := []struct {
		name, event, token string
		k                  kind
		arn                string // what API Gateway checks the answer against
		want               want
	}{
		{"REST REQUEST: an admin deletes an order", "rest-request.json", admin, rest,
			"arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/DELETE/orders/42", want{"allow", "policy_allowed", "alice"}},
		{"REST REQUEST: a reader deletes an order", "rest-request.json", reader, rest,
			"arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/DELETE/orders/42", want{"deny", "policy_denied", "bob"}},
		{"REST REQUEST: an expired token", "rest-request.json", expired, rest, "", want{"unauthorized", "token_expired", ""}},
		{"TOKEN: a reader reads an order", "rest-token.json", reader, rest,
			"arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/orders/42", want{"allow", "policy_allowed", "bob"}},
		{"TOKEN: not a token", "rest-token.json", "not-a-jwt", rest, "", want{"unauthorized", "token_malformed", ""}},
		{"HTTP 1.0: a reader lists orders", "http-v1.json", reader, rest,
			"arn:aws:execute-api:eu-west-1:123456789012:h7k2m9p4q1/prod/GET/orders", want{"allow", "policy_allowed", "bob"}},
		{"HTTP 2.0: an admin deletes an order", "http-v2.json", admin, http2, "", want{"allow", "policy_allowed", "alice"}},
		{"HTTP 2.0: a reader deletes an order", "http-v2.json", reader, http2, "", want{"deny", "policy_denied", "bob"}},
		{"WebSocket $connect: a reader connects", "websocket-connect.json", reader, rest,
			"arn:aws:execute-api:eu-west-1:123456789012:w5s8t2u6v3/prod/$connect", want{"allow", "policy_allowed", "bob"}},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			id := fmt.Sprintf("rie-%d", i)
			res := fn.invoke(t, id, sampleEvent(t, row.event, row.token))
			checkOutcome(t, row.k, res, row.want, row.arn)
			line := fn.decisionLog(t, id)
			if line["outcome"] != row.want.outcome || line["reason"] != row.want.reason {
				t.Fatalf("decision log says %v/%v, want %s/%s", line["outcome"], line["reason"], row.want.outcome, row.want.reason)
			}
		})
	}

	t.Run("an unreadable event: Deny everything", func(t *testing.T) {
		res := fn.invoke(t, "rie-malformed", []byte(`{"type":"REQUEST","methodArn":42}`))
		checkOutcome(t, rest, res, want{"error", "event_invalid", ""}, "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/health")
		if line := fn.decisionLog(t, "rie-malformed"); line["outcome"] != "error" || line["reason"] != "event_invalid" {
			t.Fatalf("decision log says %v/%v, want error/event_invalid", line["outcome"], line["reason"])
		}
	})

	t.Run("the function ran under the emulator's Runtime API", func(t *testing.T) {
		// The emulator prints START, END and REPORT lines around each
		// invocation it hands to the bootstrap's own Runtime API client.
		out := fn.out.String()
		if !strings.Contains(out, "REPORT RequestId: rie-0") || !strings.Contains(out, `"msg":"authorizer ready"`) {
			t.Fatalf("output:\n%s", out)
		}
	})
}

// TestRIEBrokenConfigurationDenies: a configuration error at the emulator's
// init, where an exit would make API Gateway answer 500, denies the request.
func TestRIEBrokenConfigurationDenies(t *testing.T) {
	fn := startEmulator(t, map[string]string{"AUTHZ_ISSUERS": "not json"})
	res := fn.invoke(t, "rie-broken", sampleEvent(t, "rest-request.json", "x.y.z"))
	checkOutcome(t, kinds[0], res, want{"error", "config_error", ""}, "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/DELETE/orders/42")
	if line := fn.decisionLog(t, "rie-broken"); line["outcome"] != "error" || line["reason"] != "config_error" {
		t.Fatalf("decision log says %v/%v, want error/config_error", line["outcome"], line["reason"])
	}
}
