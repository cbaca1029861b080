package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// Helpers of the policy-delivery tests (delivery_*_test.go): bundles that
// differ in one visible grant, a call that reads the decision log, and the
// function's log read from a mark on.

// deliveryMethod and deliveryPath are what the delivery tests ask about: DELETE
// /orders/1, which the default policy grants to admins only.
const deliveryMethod, deliveryPath = "DELETE", "/orders/1"

// deliveryFiles is the default policy with the interns group bound to the
// admin role when internsAdmin is true: an intern's DELETE /orders/1 is denied
// by one and allowed by the other, so a decision shows which is in force.
func deliveryFiles(t *testing.T, internsAdmin bool) map[string]string {
	t.Helper()
	files := defaultPolicy(t)
	if internsAdmin {
		files["data.json"] = editData(t, files["data.json"], func(rbac map[string]any) {
			rbac["bindings"].(map[string]any)["groups"].(map[string]any)["interns"] = []any{"admin"}
		})
	}
	return files
}

// editData applies change to the rbac document of a data.json.
func editData(t *testing.T, data string, change func(rbac map[string]any)) string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal([]byte(data), &doc); err != nil {
		t.Fatal(err)
	}
	change(doc["rbac"].(map[string]any))
	return string(mustJSON(doc))
}

// withFile is files with one file replaced (or added).
func withFile(files map[string]string, name, content string) map[string]string {
	out := maps.Clone(files)
	out[name] = content
	return out
}

// deliveryTokens are an admin's and an intern's tokens from one issuer.
type deliveryTokens struct{ admin, intern string }

func mintDeliveryTokens(t *testing.T, iss *devissuer.Issuer) deliveryTokens {
	t.Helper()
	return deliveryTokens{admin: mint(t, iss, "alice", groups("admins")), intern: mint(t, iss, "ivan", groups("interns"))}
}

// call is one invocation and what the decision log says of it.
type call struct {
	res      result
	outcome  string // allow, deny, unauthorized, error
	reason   string
	revision string        // policy_revision: the policy in force when it was decided
	took     time.Duration // as the test saw it, invocation to answer
}

// ask invokes the function with a REST request event and reads its decision
// line. API Gateway must act on the answer as the line says: an allow lets the
// request through, anything else does not; an error allows nothing at all.
func ask(t *testing.T, fn *function, method, path, auth string) call {
	t.Helper()
	k := kinds[0]
	start := time.Now()
	res := fn.invoke(t, k.event(method, path, auth))
	took := time.Since(start)
	line := fn.decisionLog(t, fn.lastRequestID())
	c := call{res: res, took: took}
	c.outcome, _ = line["outcome"].(string)
	c.reason, _ = line["reason"].(string)
	c.revision, _ = line["policy_revision"].(string)
	w := want{outcome: c.outcome}
	if c.outcome == "unauthorized" {
		if res.Error == nil || res.Error.Message != "Unauthorized" {
			t.Fatalf("logged unauthorized, answered %s %+v", res.Response, res.Error)
		}
		return c
	}
	checkOutcome(t, k, res, w, k.arn(method, path))
	return c
}

// askIntern is the intern's DELETE /orders/1.
func (d deliveryTokens) askIntern(t *testing.T, fn *function) call {
	t.Helper()
	return ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+d.intern)
}

// followed invokes the function every 50 ms until ok accepts a decision, for
// at most timeout, and says how many invocations and how long that took.
func followed(t *testing.T, fn *function, timeout time.Duration, next func() call, ok func(call) bool) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	for n := 1; ; n++ {
		c := next()
		if ok(c) {
			return n, time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %d invocations in %v, the last decided %s/%s under revision %q", n, timeout, c.outcome, c.reason, c.revision)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logLine is one line of the function's log, decoded.
type logLine map[string]any

func (l logLine) str(key string) string { s, _ := l[key].(string); return s }

// linesFrom decodes the lines the function wrote from the mark on (a mark is
// len(fn.output()) at some moment).
func linesFrom(fn *function, mark int) []logLine {
	out := fn.output()
	var lines []logLine
	for _, text := range out[min(mark, len(out)):] {
		var l logLine
		if json.Unmarshal([]byte(text), &l) == nil {
			lines = append(lines, l)
		}
	}
	return lines
}

// matching are the lines from mark whose msg starts with msg and whose
// values, together, hold every one of says.
func matching(fn *function, mark int, msg string, says ...string) []logLine {
	var out []logLine
	for _, l := range linesFrom(fn, mark) {
		if !strings.HasPrefix(l.str("msg"), msg) {
			continue
		}
		var text strings.Builder
		for _, v := range l {
			fmt.Fprintln(&text, v)
		}
		all := true
		for _, s := range says {
			all = all && strings.Contains(text.String(), s)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

// activations are the "policy activated" lines from mark on.
func activations(fn *function, mark int) []logLine { return matching(fn, mark, "policy activated") }

// lineTime is when a line was written.
func lineTime(t *testing.T, l logLine) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, l.str("time"))
	if err != nil {
		t.Fatalf("line time %q: %v", l.str("time"), err)
	}
	return at
}
