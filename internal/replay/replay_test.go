package replay

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/policy"
)

// current is the policy the log was written with: readers may GET, and get
// a grant for it; the tier comes from a header.
const current = `package authz

default allow := false

allow if {
	input.request.method == "GET"
	"readers" in input.token.groups
}

grants contains {"method": "GET", "path": "/orders/*"} if "readers" in input.token.groups

tier := object.get(input.request.headers, "x-tier", "free")

code := "reader" if allow else := "no_grant"

decision := {
	"allow": allow,
	"grants": grants,
	"context": {"tier": tier},
	"reasons": [sprintf("code %s", [code])],
	"code": code,
}
`

// writePolicy writes a policy folder holding one module.
func writePolicy(t *testing.T, rego string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "authz.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newCandidate(t *testing.T, rego string) *Candidate {
	t.Helper()
	b, err := policy.ReadBundle(context.Background(), policy.Options{Dirs: []string{writePolicy(t, rego)}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewCandidate(context.Background(), b, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// request is one logged request of the tests.
type request struct {
	id, method, path, route, subject string
	groups                           []string
	headers                          map[string]any
	at                               time.Time
}

func (r request) input() map[string]any {
	groups := make([]any, len(r.groups))
	for i, g := range r.groups {
		groups[i] = g
	}
	headers := r.headers
	if headers == nil {
		headers = map[string]any{}
	}
	return map[string]any{
		"request": map[string]any{"kind": "rest", "method": r.method, "path": r.path, "route_key": r.route, "headers": headers},
		"token":   map[string]any{"subject": r.subject, "groups": groups, "scopes": []any{}, "roles": []any{}},
	}
}

var (
	alice   = request{id: "d-alice", method: "GET", path: "/orders/1", route: "GET /orders/{id}", subject: "alice", groups: []string{"readers"}}
	bob     = request{id: "d-bob", method: "GET", path: "/orders/2", route: "GET /orders/{id}", subject: "bob"}
	carol   = request{id: "d-carol", method: "DELETE", path: "/orders/3", route: "DELETE /orders/{id}", subject: "carol", groups: []string{"readers"}}
	logTime = time.Date(2026, 11, 30, 3, 0, 0, 123456789, time.UTC)
)

// line is one decision-log line, as the authorizer writes it. result nil
// leaves it out; mutate changes the event before it is written.
func line(t *testing.T, r request, result any, mutate func(map[string]any)) string {
	t.Helper()
	at := r.at
	if at.IsZero() {
		at = logTime
	}
	ev := map[string]any{
		"level": "INFO", "msg": "decision", "decision_id": r.id, "timestamp": at.Format(time.RFC3339Nano),
		"path": "authz/decision", "input": r.input(),
		"bundles": map[string]any{"authz": map[string]any{"revision": "abc"}},
		"labels":  map[string]any{"id": "x", "version": "1.22.3"},
		"metrics": map[string]any{"timer_rego_query_eval_ns": 1234},
		"custom":  map[string]any{"outcome": "deny", "reason": "policy_denied", "principal": r.subject, "latency_ms": 1.2},
		"_aws":    map[string]any{"Timestamp": 1}, // EMF
	}
	if result != nil {
		ev["result"] = result
		if d, err := decision.Parse(roundTrip(t, result)); err == nil && d.Allow {
			ev["custom"].(map[string]any)["outcome"] = "allow"
			ev["custom"].(map[string]any)["reason"] = "policy_allowed"
		}
	}
	if mutate != nil {
		mutate(ev)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := decodeJSON(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// logged is the line the current policy's decision for r writes.
func logged(t *testing.T, r request) string {
	t.Helper()
	b, err := policy.ReadBundle(context.Background(), policy.Options{Dirs: []string{writePolicy(t, current)}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := policy.Compile(context.Background(), b, "", false)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.Evaluate(context.Background(), r.input())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := decision.Parse(v); err != nil {
		t.Fatalf("the current policy's result is not a decision: %v", err)
	}
	return line(t, r, v, nil)
}

func replayLines(t *testing.T, c *Candidate, lines ...string) *Report {
	t.Helper()
	rp := New(c, 0)
	if _, err := rp.ReadLog(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), "test.log"); err != nil {
		t.Fatal(err)
	}
	return rp.Report()
}

func TestReplayUnchanged(t *testing.T) {
	rep := replayLines(t, newCandidate(t, current), logged(t, alice), logged(t, bob), logged(t, carol))
	if rep.Events != 3 || rep.Replayed != 3 || rep.Unchanged != 3 || rep.Changed != 0 || !rep.Clean() {
		t.Fatalf("report %+v: want 3 replayed, all unchanged, clean", rep)
	}
	if !strings.Contains(rep.Verdict(), "changes none of 3") {
		t.Errorf("verdict %q", rep.Verdict())
	}
}

func TestReplayFlipsOneRoute(t *testing.T) {
	// Readers may now also DELETE: carol's decision flips, no other.
	candidate := strings.Replace(current, `input.request.method == "GET"`, `input.request.method in {"GET", "DELETE"}`, 1)
	rep := replayLines(t, newCandidate(t, candidate), logged(t, alice), logged(t, bob), logged(t, carol))
	if rep.Replayed != 3 || rep.Changed != 1 || rep.Unchanged != 2 || rep.Clean() {
		t.Fatalf("report %+v: want one change of three", rep)
	}
	c := rep.Changes[0]
	if c.DecisionID != "d-carol" || c.Route != "DELETE /orders/{id}" || c.Transition != "deny → allow" || c.Principal != "carol" ||
		c.Logged.Code != "no_grant" || c.Candidate.Code != "reader" || !reflect.DeepEqual(c.Candidate.Reasons, []string{"code reader"}) {
		t.Fatalf("change %+v", c)
	}
	wantRoute := []RouteCount{{Route: "DELETE /orders/{id}", Count: 1, Transitions: []TransitionCount{{Transition: "deny → allow", Count: 1}}}}
	if !reflect.DeepEqual(rep.ByRoute, wantRoute) {
		t.Errorf("by route %+v, want %+v", rep.ByRoute, wantRoute)
	}
	if want := []TransitionCount{{Transition: "deny → allow", Count: 1}}; !reflect.DeepEqual(rep.ByTransition, want) {
		t.Errorf("by transition %+v", rep.ByTransition)
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Replayed       3: 2 unchanged, 1 changed", "DELETE /orders/{id}  deny → allow: 1", "d-carol", "candidate:  allow, code reader", "CHANGED: the candidate changes 1 of 3"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

func TestReplayResponseChanges(t *testing.T) {
	tests := []struct {
		name, from, to string
		want           string
		added, removed []decision.Grant
	}{
		{name: "grants", from: `{"method": "GET", "path": "/orders/*"}`, to: `{"method": "GET", "path": "/invoices/*"}`,
			want: "allow → allow (grants changed)", added: []decision.Grant{{Method: "GET", Path: "/invoices/*"}}, removed: []decision.Grant{{Method: "GET", Path: "/orders/*"}}},
		{name: "context", from: `"tier": tier`, to: `"tier": upper(tier)`, want: "allow → allow (context changed)"},
		{name: "reasons and code alone change nothing", from: `code := "reader"`, to: `code := "reader_v2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			candidate := strings.Replace(current, tt.from, tt.to, 1)
			if candidate == current {
				t.Fatal("the candidate is the current policy")
			}
			rep := replayLines(t, newCandidate(t, candidate), logged(t, alice))
			if tt.want == "" {
				if rep.Changed != 0 || !rep.Clean() {
					t.Fatalf("report %+v: want no change", rep)
				}
				return
			}
			if rep.Changed != 1 || rep.Changes[0].Transition != tt.want {
				t.Fatalf("report %+v: want one change %q", rep, tt.want)
			}
			c := rep.Changes[0]
			if !reflect.DeepEqual(c.GrantsAdded, tt.added) || !reflect.DeepEqual(c.GrantsRemoved, tt.removed) {
				t.Errorf("grants +%v -%v, want +%v -%v", c.GrantsAdded, c.GrantsRemoved, tt.added, tt.removed)
			}
		})
	}
}

func TestReplayGrantsAreASet(t *testing.T) {
	// The log's grants in another order, with a duplicate and a lower-case
	// method: the same set as the candidate's.
	result := map[string]any{"allow": true, "grants": []any{
		map[string]any{"method": "get", "path": "/b"}, map[string]any{"method": "GET", "path": "/a"}, map[string]any{"method": "GET", "path": "/b"}}}
	c := newCandidate(t, `package authz

decision := {"allow": true, "grants": [{"method": "GET", "path": "/a"}, {"method": "GET", "path": "/b"}]}
`)
	if rep := replayLines(t, c, line(t, alice, result, nil)); rep.Changed != 0 || rep.Replayed != 1 {
		t.Fatalf("report %+v: want the same grants", rep)
	}
}

func TestReplayErrorsAreClasses(t *testing.T) {
	failed := func(reason string) func(map[string]any) {
		return func(ev map[string]any) { ev["custom"].(map[string]any)["reason"] = reason }
	}
	tests := []struct {
		name      string
		line      func(t *testing.T) string
		candidate string
		want      string
	}{
		{"policy error → deny", func(t *testing.T) string { return line(t, bob, nil, failed("policy_error")) }, current, "error:policy_error → deny"},
		{"timeout → allow", func(t *testing.T) string { return line(t, alice, nil, failed("timeout")) }, current, "error:timeout → allow"},
		{"invalid result → deny", func(t *testing.T) string {
			return line(t, bob, map[string]any{"allow": "yes"}, failed("decision_invalid"))
		}, current, "error:decision_invalid → deny"},
		{"deny → undefined", func(t *testing.T) string { return logged(t, bob) }, "package authz\n\ndecision := {\"allow\": true} if input.x\n", "deny → error:decision_undefined"},
		{"allow → runtime error", func(t *testing.T) string { return logged(t, alice) },
			"package authz\n\ndecision := {\"allow\": to_number(input.request.path) > 0}\n", "allow → error:policy_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := replayLines(t, newCandidate(t, tt.candidate), tt.line(t))
			if rep.Changed != 1 || rep.Changes[0].Transition != tt.want {
				t.Fatalf("report %+v: want %q", rep, tt.want)
			}
		})
	}
	// The same failure on both sides is no change.
	rep := replayLines(t, newCandidate(t, "package authz\n\ndecision := {\"allow\": to_number(input.request.path) > 0}\n"), line(t, bob, nil, failed("policy_error")))
	if rep.Changed != 0 || rep.Replayed != 1 {
		t.Fatalf("policy_error on both sides: %+v", rep)
	}
}

func TestReplayMaskedInput(t *testing.T) {
	masked := func(ev map[string]any) {
		ev["input"].(map[string]any)["request"].(map[string]any)["headers"] = map[string]any{"x-api-key": "**REDACTED**", "x-tier": "gold"}
		ev["masked"] = []any{"/input/request/headers/x-api-key"}
		ev["erased"] = []any{"/input/request/cookies"}
	}
	readsKey := `package authz

decision := {"allow": input.request.headers["x-api-key"] == "k1"}
`
	readsTier := `package authz

decision := {"allow": input.request.headers["x-tier"] == "gold"}
`
	rep := replayLines(t, newCandidate(t, readsKey), line(t, alice, map[string]any{"allow": true}, masked))
	if rep.Unreplayable != 1 || rep.Replayed != 0 || rep.Changed != 0 || rep.Clean() || len(rep.Unreplayed) != 1 {
		t.Fatalf("report %+v: want one unreplayable event", rep)
	}
	u := rep.Unreplayed[0]
	if len(u.Conflicts) != 1 || u.Conflicts[0].Pointer != "/input/request/headers/x-api-key" ||
		u.Conflicts[0].Read.Ref != `input.request.headers["x-api-key"]` || !strings.HasSuffix(u.Conflicts[0].Read.At, "authz.rego:3") {
		t.Fatalf("unreplayable %+v", u)
	}
	if len(rep.UnreplayableBy) != 1 || rep.UnreplayableBy[0].Count != 1 || rep.UnreplayableBy[0].Pointer != "/input/request/headers/x-api-key" {
		t.Errorf("by cause %+v", rep.UnreplayableBy)
	}
	if !strings.Contains(rep.Verdict(), "1 could not be replayed, so the proof is incomplete") {
		t.Errorf("verdict %q", rep.Verdict())
	}

	// The same masked header, not read: replayed.
	rep = replayLines(t, newCandidate(t, readsTier), line(t, alice, map[string]any{"allow": true}, masked))
	if rep.Unreplayable != 0 || rep.Replayed != 1 || !rep.Clean() {
		t.Fatalf("report %+v: want the event replayed, unchanged", rep)
	}

	// A long value the authorizer cut short (custom.clipped) is not the
	// value the policy saw either.
	clipped := func(ev map[string]any) {
		ev["custom"].(map[string]any)["clipped"] = []any{"/input/request/headers/x-tier", "/result/reasons/0"}
	}
	rep = replayLines(t, newCandidate(t, readsTier), line(t, alice, map[string]any{"allow": true}, clipped))
	if rep.Unreplayable != 1 || len(rep.Unreplayed) != 1 || len(rep.Unreplayed[0].Conflicts) != 1 || rep.Unreplayed[0].Conflicts[0].How != "clipped" ||
		!strings.HasPrefix(rep.Unreplayed[0].Why, "the log clipped /input/request/headers/x-tier, which the candidate reads with") {
		t.Fatalf("clipped header read: %+v", rep)
	}
	readsKeyOrNone := "package authz\n\ndecision := {\"allow\": object.get(input.request.headers, \"x-api-key\", \"\") == \"k1\"}\n"
	rep = replayLines(t, newCandidate(t, readsKeyOrNone), line(t, alice, map[string]any{"allow": false, "reasons": []any{"cut…"}}, clipped))
	if rep.Unreplayable != 0 || rep.Replayed != 1 || !rep.Clean() {
		t.Fatalf("clipped header not read: %+v", rep)
	}

	// OPA writes a mask path's parts as they are, RFC 6901 or not.
	literal := func(ev map[string]any) { ev["erased"] = []any{"/input/request/headers/x~1api-key"} }
	readsLiteral := "package authz\n\ndecision := {\"allow\": input.request.headers[\"x~1api-key\"] == \"k\"}\n"
	if rep := replayLines(t, newCandidate(t, readsLiteral), line(t, alice, map[string]any{"allow": false}, literal)); rep.Unreplayable != 1 {
		t.Fatalf("a literal mask path: %+v", rep)
	}
}

func TestReplayMaskedResult(t *testing.T) {
	// The mask rules replaced a context value of the result: it is not compared.
	result := map[string]any{"allow": true, "context": map[string]any{"email": "**REDACTED**", "tier": "gold"}}
	c := newCandidate(t, `package authz

decision := {"allow": true, "context": {"email": "alice@example.com", "tier": "gold"}}
`)
	mask := func(ev map[string]any) { ev["masked"] = []any{"/result/context/email"} }
	if rep := replayLines(t, c, line(t, alice, result, mask)); rep.Changed != 0 || rep.Replayed != 1 {
		t.Fatalf("masked context value compared: %+v", rep)
	}
	// Unmasked, the difference is a change.
	if rep := replayLines(t, c, line(t, alice, result, nil)); rep.Changed != 1 || rep.Changes[0].Transition != "allow → allow (context changed)" {
		t.Fatalf("unmasked context: %+v", rep)
	}
	// A replacement that breaks the decision's schema (a code must be snake
	// case) is taken out before the logged result is parsed.
	maskCode := func(ev map[string]any) {
		ev["result"].(map[string]any)["code"] = "***"
		ev["masked"] = []any{"/result/code", "/result/context/email"}
	}
	withCode := map[string]any{"allow": true, "code": "reader", "context": map[string]any{"email": "**REDACTED**", "tier": "gold"}}
	if rep := replayLines(t, c, line(t, alice, withCode, maskCode)); rep.Changed != 0 || rep.Replayed != 1 {
		t.Fatalf("masked code: %+v", rep)
	}
	if rep := replayLines(t, c, line(t, alice, withCode, func(ev map[string]any) { ev["result"].(map[string]any)["code"] = "***" })); rep.Changed != 1 ||
		rep.Changes[0].Transition != "error:decision_invalid → allow" {
		t.Fatalf("the same code, unmasked: %+v", rep)
	}
	// A masked allow leaves the logged decision unknown.
	maskAllow := func(ev map[string]any) { ev["masked"] = []any{"/result/allow"} }
	if rep := replayLines(t, c, line(t, alice, result, maskAllow)); rep.Unreplayable != 1 || rep.Replayed != 0 {
		t.Fatalf("masked allow: %+v", rep)
	}
}

func TestReplayReadsTheLog(t *testing.T) {
	c := newCandidate(t, current)
	lines := []string{
		"START RequestId: 8f5e Version: $LATEST",
		`{"level":"INFO","msg":"bundle activated","revision":"abc"}`,
		"2026-11-30T03:00:00.123Z\t" + logged(t, alice), // an export of CloudWatch Logs
		logged(t, alice), // the same decision id again
		"",
		logged(t, bob) + "\r",
		line(t, carol, nil, func(ev map[string]any) { // refused before the policy
			delete(ev, "input")
			ev["custom"] = map[string]any{"outcome": "unauthorized", "reason": "invalid_token"}
		}),
		`{"level":"INFO","msg":"decision","decision_id":"d-cut","input":{"request":`, // cut short
	}
	rp := New(c, 0)
	stats, err := rp.ReadLog(context.Background(), strings.NewReader(strings.Join(lines, "\n")), "a.log")
	if err != nil {
		t.Fatal(err)
	}
	wantStats := FileStats{Name: "a.log", Lines: 8, Decisions: 5, Skipped: 3, Unreadable: 1}
	if stats != wantStats {
		t.Errorf("stats %+v, want %+v", stats, wantStats)
	}
	rep := rp.Report()
	if rep.Events != 3 || rep.Duplicates != 1 || rep.Replayed != 2 || rep.Unchanged != 2 || rep.NotEvaluated != 1 || rep.UnreadableLines != 1 {
		t.Fatalf("report %+v", rep)
	}
	if want := []ReasonCount{{Reason: "invalid_token", Count: 1}}; !reflect.DeepEqual(rep.NotEvaluatedBy, want) {
		t.Errorf("not evaluated by %+v", rep.NotEvaluatedBy)
	}
	if rep.Complete || rep.Clean() || len(rep.Unreadable) != 1 || rep.Unreadable[0].Source != "a.log:8" {
		t.Errorf("an unreadable decision line must leave the proof incomplete: %+v", rep)
	}
}

func TestReplayReadsGzip(t *testing.T) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	gz.Write([]byte("2026-11-30T03:00:00.123Z\t" + logged(t, alice) + "\n"))
	gz.Close()
	rp := New(newCandidate(t, current), 0)
	stats, err := rp.ReadLog(context.Background(), &buf, "export.gz")
	if err != nil || stats.Decisions != 1 || rp.Report().Replayed != 1 {
		t.Fatalf("gzip log: %+v, %v", stats, err)
	}
}

func TestReplayAtTheLoggedTime(t *testing.T) {
	// The candidate allows until the first of December 2026. The log
	// allowed both requests; the one logged after that day changes. On the
	// real clock, both would be decided alike.
	c := newCandidate(t, `package authz

decision := {"allow": time.now_ns() < time.parse_rfc3339_ns("2026-12-01T00:00:00Z")}
`)
	before, after := alice, bob
	before.at = time.Date(2026, 11, 30, 23, 59, 59, 999999999, time.UTC)
	after.at = time.Date(2026, 12, 1, 0, 0, 0, 1, time.UTC)
	rep := replayLines(t, c, line(t, before, map[string]any{"allow": true}, nil), line(t, after, map[string]any{"allow": true}, nil))
	if rep.Replayed != 2 || rep.Changed != 1 || rep.Changes[0].DecisionID != "d-bob" || rep.Changes[0].Transition != "allow → deny" {
		t.Fatalf("report %+v: want bob's decision, logged after the cut-off, to change", rep)
	}
	// Without a readable timestamp, the event is not replayed.
	noTime := func(ev map[string]any) { ev["timestamp"] = "30/11/2026" }
	if rep := replayLines(t, c, line(t, alice, map[string]any{"allow": true}, noTime)); rep.Unreplayable != 1 || rep.Replayed != 0 {
		t.Fatalf("bad timestamp: %+v", rep)
	}
}

func TestReplayLimit(t *testing.T) {
	c := newCandidate(t, "package authz\n\ndecision := {\"allow\": false}\n")
	var lines []string
	for _, id := range []string{"a", "b", "c"} {
		r := alice
		r.id = id
		lines = append(lines, line(t, r, map[string]any{"allow": true}, nil))
	}
	rp := New(c, 2)
	if _, err := rp.ReadLog(context.Background(), strings.NewReader(strings.Join(lines, "\n")), "l"); err != nil {
		t.Fatal(err)
	}
	rep := rp.Report()
	if rep.Changed != 3 || len(rep.Changes) != 2 || rep.ByTransition[0].Count != 3 {
		t.Fatalf("report %+v: want 3 changes counted, 2 listed", rep)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "the first 2 of 3") {
		t.Errorf("text:\n%s", text.String())
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["changed"] != 3.0 || doc["clean"] != false || len(doc["changes"].([]any)) != 2 || doc["unreplayable_events"] == nil {
		t.Errorf("JSON %s", b)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReplayNotesAnotherLoggedQuery(t *testing.T) {
	shadow := func(ev map[string]any) { ev["path"] = "authz/shadow_decision" }
	rep := replayLines(t, newCandidate(t, current), logged(t, alice), line(t, bob, map[string]any{"allow": false}, shadow))
	if want := []QueryCount{{Path: "authz/shadow_decision", Count: 1}}; !reflect.DeepEqual(rep.OtherQueries, want) {
		t.Fatalf("other queries %+v, want %+v", rep.OtherQueries, want)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), "1 events were logged for the query authz/shadow_decision, not the candidate's data.authz.decision") {
		t.Errorf("text:\n%s", text.String())
	}
}

// A decision without principal_id gives API Gateway the token's subject:
// a candidate that names the subject changes nothing; another name does.
func TestReplayPrincipalDefaultsToTheSubject(t *testing.T) {
	log := line(t, alice, map[string]any{"allow": true}, nil)
	same := newCandidate(t, "package authz\n\ndecision := {\"allow\": true, \"principal_id\": input.token.subject}\n")
	if rep := replayLines(t, same, log); rep.Changed != 0 || rep.Replayed != 1 {
		t.Fatalf("the subject named: %+v", rep)
	}
	other := newCandidate(t, "package authz\n\ndecision := {\"allow\": true, \"principal_id\": \"service\"}\n")
	rep := replayLines(t, other, log)
	if rep.Changed != 1 || rep.Changes[0].Transition != "allow → allow (principal_id changed)" {
		t.Fatalf("another principal: %+v", rep)
	}
	var text bytes.Buffer
	rep.WriteText(&text)
	if !strings.Contains(text.String(), `principal:  "alice" → "service"`) {
		t.Errorf("text:\n%s", text.String())
	}
}
