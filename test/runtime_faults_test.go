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
// /panic panics and /slow takes 2 s.
const faultPolicy = `package authz

decision := {"allow": authz_faults.panic(input.request.path)} if input.request.path == "/panic"

decision := {"allow": authz_faults.sleep(2000)} if input.request.path == "/slow"

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
		stack, _ := line["stack"].(string)
		function, rest, _ := strings.Cut(stack, "\n")
		file, _, _ := strings.Cut(rest, "\n")
		if !strings.Contains(function, "main.init") || !strings.Contains(file, "faults.go") {
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
	fn.awaitReady(t) // the start-up waits up to 3 s for the provider
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

	fn.api.mu.Lock()
	registered, taken := fn.api.extensions, fn.api.handedOut
	fn.api.mu.Unlock()
	if registered != 1 {
		t.Fatalf("%d extensions registered; Lambda sends SIGTERM only to a function with one", registered)
	}
	type answer struct {
		res result
		err error
	}
	slow := make(chan answer, 1)
	go func() {
		res, err := fn.api.try(kinds[0].event("GET", "/slow", ""), 10*time.Second)
		slow <- answer{res, err}
	}()
	// The SIGTERM comes once the function has taken the invocation, well
	// within the 2 s its decision takes.
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		fn.api.mu.Lock()
		n := fn.api.handedOut
		fn.api.mu.Unlock()
		if n > taken {
			break
		}
		if time.Now().After(end) {
			t.Fatal("the function never took the invocation")
		}
	}
	time.Sleep(200 * time.Millisecond)
	if err := fn.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var a answer
	select {
	case a = <-slow:
	case <-time.After(15 * time.Second):
		t.Fatal("the decision in progress at the SIGTERM was never answered")
	}
	if a.err != nil {
		t.Fatal(a.err)
	}
	checkOutcome(t, kinds[0], a.res, want{outcome: "allow"}, kinds[0].arn("GET", "/slow"))
	line := fn.decisionLog(t, fn.lastRequestID())
	if line["outcome"] != "allow" || line["reason"] != "policy_allowed" {
		t.Fatalf("the decision in progress at the SIGTERM: %v/%v, want the policy's allow", line["outcome"], line["reason"])
	}
	if _, ok := line["_aws"]; !ok {
		t.Fatalf("the decision line of the decision in progress has no metrics: %v", line)
	}
	// The shutdown ran while the decision was being made: its line comes first.
	shutdown, decided := -1, -1
	for i, l := range linesFrom(fn, 0) {
		switch {
		case l.str("msg") == "decision-log events uploaded at shutdown":
			shutdown = i
		case l.str("msg") == "decision" && lambdaRequestID(l) == fn.lastRequestID():
			decided = i
		}
	}
	if shutdown < 0 || shutdown > decided {
		t.Fatalf("the shutdown's line is line %d, the decision's %d: the SIGTERM did not come during the decision", shutdown, decided)
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
	// The event of the decision in progress is made after the flush, and
	// stays on stdout only. Lambda sends SIGTERM to an idle function, so a
	// decision in progress at a SIGTERM is this test's, not Lambda's.
	_, uploaded := got[line["decision_id"].(string)]
	t.Logf("SIGTERM during a decision: %d events uploaded of the %d made before it; the decision in progress answered and logged (its event uploaded: %v)", len(got), len(made), uploaded)
}

// lambdaRequestID is the Lambda request id a decision line names.
func lambdaRequestID(l logLine) string {
	custom, _ := l["custom"].(map[string]any)
	id, _ := custom["lambda_request_id"].(string)
	return id
}
