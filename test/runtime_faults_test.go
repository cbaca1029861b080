package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// The runtime's faults, end to end: a panic in the handler, an invocation
// whose deadline comes before the identity provider answers, and Lambda's
// SIGTERM arriving while a decision is being made. The panic and the slow
// decision come from builtins compiled only into faultyBootstrap
// (cmd/authorizer/faults.go).

// faultPolicy allows every request, after the builtin the path names:
// /panic panics and /slow takes 800 ms.
const faultPolicy = `package authz

decision := {"allow": authz_faults.panic(input.request.path)} if input.request.path == "/panic"

decision := {"allow": authz_faults.sleep(800)} if input.request.path == "/slow"

decision := {"allow": true} if not input.request.path in {"/panic", "/slow"}
`

// TestHandlerPanic: a panic while deciding is a Deny (error, reason panic)
// with the stack in the decision line, and the same process serves the next
// invocation. The packaged binary knows nothing of the fault builtins: there
// the policy does not compile, and every request is denied as config_error.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	env := map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_BUNDLE": bundleDir(t, map[string]string{"authz.rego": faultPolicy})}
	fn := startFunctionOf(t, faultyBootstrap, env)
	for i := range 3 {
		c := ask(t, fn, "GET", "/panic", "")
		if c.outcome != "error" || c.reason != "panic" {
			t.Fatalf("panic %d: %s/%s, want error/panic", i, c.outcome, c.reason)
		}
		line := fn.decisionLog(t, fn.lastRequestID())
		// The stack begins with the frame that panicked: the builtin.
		if stack, _ := line["stack"].(string); !strings.Contains(strings.SplitN(stack, "\n", 3)[1], "faults.go") {
			t.Fatalf("panic %d: the decision line's stack is %q", i, stack)
		}
		if msg, _ := line["error"].(string); !strings.Contains(msg, `authz_faults.panic("/panic")`) {
			t.Fatalf("panic %d: the decision line's error is %q", i, msg)
		}
		if c := ask(t, fn, "GET", "/orders", ""); c.outcome != "allow" {
			t.Fatalf("the invocation after panic %d: %s/%s, want allow", i, c.outcome, c.reason)
		}
	}
	if r := readyLines(fn); r != 1 {
		t.Fatalf("%d start-ups logged, want 1", r)
	}

	packaged := startFunction(t, env)
	if c := ask(t, packaged, "GET", "/orders", ""); c.outcome != "error" || c.reason != "config_error" {
		t.Fatalf("the packaged binary with the fault policy: %s/%s, want error/config_error", c.outcome, c.reason)
	}
	if !strings.Contains(packaged.text(), "authz_faults.panic") {
		t.Fatal("no start-up line names the builtin the packaged binary lacks")
	}
}

// TestDeadlineBeforeTheProviderAnswers: the key set hangs for longer than the
// invocation may take. The answer is a Deny (error, timeout) that reaches the
// runtime before the invocation's deadline, so API Gateway gets a 403, not a
// Lambda timeout; a later invocation with time to spare is decided as usual.
func TestDeadlineBeforeTheProviderAnswers(t *testing.T) {
	// Not parallel: the function has the 100 ms it keeps before the
	// deadline to answer, which a machine busy with other tests can eat.
	p := startFlakyIdP(t)
	admin := p.mint(t, "alice", "admins")
	env := p.env()
	env["AUTHZ_IDP_TIMEOUT"] = "5s" // longer than the invocation's 600 ms
	p.set(idpHealthy, idpHang)
	fn := startFunction(t, env)
	// Lambda counts an invocation's time from when it is handed over, after
	// the start-up (which waits up to 3 s for the provider).
	for end := time.Now().Add(10 * time.Second); readyLines(fn) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the function never said it was ready")
		}
	}
	k := kinds[0]
	const budget = 600 * time.Millisecond
	for i := range 3 {
		start := time.Now()
		res := fn.api.invoke(t, k.event(deliveryMethod, deliveryPath, "Bearer "+admin), budget)
		took := time.Since(start)
		checkOutcome(t, k, res, want{outcome: "error"}, k.arn(deliveryMethod, deliveryPath))
		if line := fn.decisionLog(t, fn.lastRequestID()); line["reason"] != "timeout" {
			t.Fatalf("invocation %d: decision log %v, want reason timeout", i, line)
		}
		if took >= budget {
			t.Fatalf("invocation %d answered after %v, past its deadline of %v", i, took, budget)
		}
		t.Logf("invocation %d with %v to spare: Deny (timeout) after %v", i, budget, took.Round(time.Millisecond))
	}
	p.set(idpHealthy, idpHealthy)
	followed(t, fn, 10*time.Second, func() call { return ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+admin) },
		func(c call) bool { return c.outcome == "allow" })
}

// TestSIGTERMDuringADecision: Lambda's shutdown (SIGTERM, to a function with
// an extension registered) arrives while a decision is being made. The
// decision-log events of the decisions already made are uploaded, the
// decision in progress is still answered as the policy says and written to
// the log with its metrics, and nothing is allowed that the policy does not.
func TestSIGTERMDuringADecision(t *testing.T) {
	t.Parallel()
	iss := startIssuer(t)
	c := startCollector(t)
	// Uploads are due only after a minute: every event is still buffered at
	// the SIGTERM, and only the shutdown's flush can send them.
	cfg := `{"services":{"collector":{"url":"` + c.url + `"}},` +
		`"decision_logs":{"service":"collector","reporting":{"min_delay_seconds":60,"max_delay_seconds":120}}}`
	fn := startFunctionOf(t, faultyBootstrap, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss),
		"AUTHZ_BUNDLE": bundleDir(t, map[string]string{"authz.rego": faultPolicy}), "AUTHZ_OPA_CONFIG": cfg})
	var made []string
	for range 5 {
		if c := ask(t, fn, "GET", "/orders", ""); c.outcome != "allow" {
			t.Fatalf("%s/%s, want allow", c.outcome, c.reason)
		}
		made = append(made, fn.decisionLog(t, fn.lastRequestID())["decision_id"].(string))
	}
	if n := len(c.ids()); n != 0 {
		t.Fatalf("%d events uploaded before they were due", n)
	}

	slow := make(chan call, 1)
	go func() { slow <- ask(t, fn, "GET", "/slow", "") }()
	time.Sleep(300 * time.Millisecond) // within the 800 ms the decision takes
	if err := fn.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-slow:
		if got.outcome != "allow" || got.reason != "policy_allowed" {
			t.Fatalf("the decision in progress at the SIGTERM: %s/%s, want the policy's allow", got.outcome, got.reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the decision in progress at the SIGTERM was never answered")
	}
	line := fn.decisionLog(t, fn.lastRequestID())
	if _, ok := line["_aws"]; !ok {
		t.Fatalf("the decision line of the decision in progress has no metrics: %v", line)
	}

	var got map[string]map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = c.ids(); len(got) >= len(made) {
			break
		}
	}
	for _, id := range made {
		if _, ok := got[id]; !ok {
			t.Errorf("decision %s, made before the SIGTERM, never reached the collector (%d of %d did)", id, len(got), len(made))
		}
	}
	if len(matching(fn, 0, "decision-log events uploaded at shutdown")) != 1 {
		t.Error("no line says the events were uploaded at shutdown")
	}
	t.Logf("SIGTERM during a decision: %d events uploaded of the %d made before it; the decision in progress answered and logged", len(got), len(made))
}
