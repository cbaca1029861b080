package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"github.com/apigw-authz/authz/internal/metrics"
)

// Secrets the requests of these tests carry besides the token: no line may
// hold them.
const (
	cookieSecret = "cookie-secret-5f1e"
	apiKeySecret = "apikey-secret-9c2d"
	tenantSecret = "tenant-secret-77ab"
)

// restEventWith is the REST event of kinds[0] with more headers.
func restEventWith(t *testing.T, method, path, auth string, more map[string]string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(kinds[0].event(method, path, auth), &ev); err != nil {
		t.Fatal(err)
	}
	h := ev["headers"].(map[string]any)
	multi := ev["multiValueHeaders"].(map[string]any)
	for k, v := range more {
		h[k] = v
		multi[k] = []string{v}
	}
	return mustJSON(ev)
}

// bundleDir writes files as a bundle folder, for AUTHZ_BUNDLE.
func bundleDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// decisionLine is the decision-log line of an invocation, raw and decoded
// as OPA's EventV1: a member of the wrong type fails the decoding.
func decisionLine(t *testing.T, fn *function, id string) (map[string]any, logs.EventV1) {
	t.Helper()
	m := fn.decisionLog(t, id)
	raw := rawLine(t, fn, m["decision_id"].(string))
	var ev logs.EventV1
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		t.Fatalf("the decision line is not an OPA decision-log event: %v\n%s", err, raw)
	}
	return m, ev
}

// rawLine is the line the function wrote for a decision id.
func rawLine(t *testing.T, fn *function, decisionID string) string {
	t.Helper()
	for _, line := range fn.output() {
		if strings.Contains(line, `"decision_id":"`+decisionID+`"`) && strings.Contains(line, `"msg":"decision"`) {
			return line
		}
	}
	t.Fatalf("no line for decision %s", decisionID)
	return ""
}

// checkEvent checks what every decision-log event holds.
func checkEvent(t *testing.T, m map[string]any, ev logs.EventV1) {
	t.Helper()
	if ev.DecisionID == "" || ev.Timestamp.IsZero() || ev.Path != "authz/decision" || ev.Labels["id"] == "" || ev.Labels["version"] == "" {
		t.Errorf("event header: id %q, timestamp %v, path %q, labels %v", ev.DecisionID, ev.Timestamp, ev.Path, ev.Labels)
	}
	if ev.Bundles["authz"].Revision == "" {
		t.Errorf("bundles %v: no revision", ev.Bundles)
	}
	if _, ok := ev.Metrics["timer_authz_total_ns"].(float64); !ok {
		t.Errorf("metrics %v", ev.Metrics)
	}
	for _, k := range []string{"outcome", "reason", "principal", "latency_ms", "method_arn", "request_id", "lambda_request_id"} {
		if _, ok := ev.Custom[k]; !ok {
			t.Errorf("custom lacks %s: %v", k, ev.Custom)
		}
	}
	if err := metrics.Validate(m); err != nil {
		t.Errorf("the line's EMF: %v", err)
	}
	if m["Outcome"] != ev.Custom["outcome"] || m["Reason"] != ev.Custom["reason"] || m["Decisions"] != 1.0 {
		t.Errorf("EMF members Outcome %v Reason %v Decisions %v, custom %v", m["Outcome"], m["Reason"], m["Decisions"], ev.Custom)
	}
}

// noLineHolds fails for each line of the function that holds one of secrets.
func noLineHolds(t *testing.T, fn *function, secrets ...string) {
	t.Helper()
	for i, line := range fn.output() {
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Errorf("line %d holds %q: %s", i+1, s, line)
			}
		}
	}
}

func TestDecisionLogEventsWithDefaultMasking(t *testing.T) {
	iss := startIssuer(t)
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AWS_LAMBDA_FUNCTION_NAME": "e2e-authorizer"})
	admin := mint(t, iss, "alice", groups("admins"))
	reader := mint(t, iss, "bob", groups("orders-readers"))
	expired := mint(t, iss, "carol", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
	extra := map[string]string{"Cookie": "session=" + cookieSecret + "; theme=dark", "X-Api-Key": apiKeySecret}

	type call struct {
		event            []byte
		outcome, reason  string
		input, masked    bool
		wantResultAllow  bool
		wantResultExists bool
	}
	calls := []call{
		{restEventWith(t, "GET", "/orders/1", "Bearer "+admin, extra), "allow", "policy_allowed", true, true, true, true},
		{restEventWith(t, "DELETE", "/orders/1", "Bearer "+reader, extra), "deny", "policy_denied", true, true, false, true},
		{restEventWith(t, "GET", "/orders/1", "Bearer "+expired, extra), "unauthorized", "token_expired", false, false, false, false},
		{[]byte(`{"type":"REQUEST"}`), "error", "event_invalid", false, false, false, false},
	}
	for _, c := range calls {
		fn.invoke(t, c.event)
		m, ev := decisionLine(t, fn, fn.lastRequestID())
		checkEvent(t, m, ev)
		if ev.Custom["outcome"] != c.outcome || ev.Custom["reason"] != c.reason {
			t.Fatalf("custom %v, want %s/%s", ev.Custom, c.outcome, c.reason)
		}
		if (ev.Input != nil) != c.input || (ev.Result != nil) != c.wantResultExists {
			t.Fatalf("%s: input %v, result %v", c.reason, ev.Input != nil, ev.Result != nil)
		}
		if c.wantResultExists {
			result := (*ev.Result).(map[string]any)
			if result["allow"] != c.wantResultAllow || result["code"] == "" || ev.Custom["code"] != result["code"] {
				t.Errorf("result %v, custom code %v", result, ev.Custom["code"])
			}
			if m["Code"] != result["code"] {
				t.Errorf("the EMF Code dimension is %v, the policy's code %v", m["Code"], result["code"])
			}
		}
		if c.masked {
			for _, p := range []string{"/input/request/cookies", "/input/request/headers/cookie", "/input/request/headers/x-api-key"} {
				if !slices.Contains(ev.Erased, p) {
					t.Errorf("erased %v lacks %s", ev.Erased, p)
				}
			}
			req := (*ev.Input).(map[string]any)["request"].(map[string]any)
			if _, ok := req["cookies"]; ok {
				t.Errorf("the cookies are in the logged input: %v", req)
			}
		}
		if m["Function"] != "e2e-authorizer" {
			t.Errorf("the EMF Function dimension is %v", m["Function"])
		}
	}
	noLineHolds(t, fn, cookieSecret, apiKeySecret)
}

func TestDecisionLogMaskAndDropRulesOfTheBundle(t *testing.T) {
	iss := startIssuer(t)
	files := withFile(defaultPolicy(t), "log.rego", `package system.log

mask contains "/input/token/claims/email"

mask contains {"op": "upsert", "path": "/input/request/headers/x-tenant", "value": "[masked]"}

drop if input.input.request.path == "/health"
`)
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_BUNDLE": bundleDir(t, files)})
	alice := mint(t, iss, "alice", func(c map[string]any) { c["groups"] = []string{"admins"}; c["email"] = "alice@example.com" })

	fn.invoke(t, restEventWith(t, "GET", "/orders/1", "Bearer "+alice, map[string]string{"X-Tenant": tenantSecret}))
	m, ev := decisionLine(t, fn, fn.lastRequestID())
	checkEvent(t, m, ev)
	if !slices.Contains(ev.Erased, "/input/token/claims/email") || !slices.Contains(ev.Masked, "/input/request/headers/x-tenant") {
		t.Fatalf("erased %v, masked %v", ev.Erased, ev.Masked)
	}
	input := (*ev.Input).(map[string]any)
	if _, ok := input["token"].(map[string]any)["claims"].(map[string]any)["email"]; ok || !strings.Contains(rawLine(t, fn, ev.DecisionID), `"claims":{`) {
		t.Error("the erased claim is in the line")
	}
	if h := input["request"].(map[string]any)["headers"].(map[string]any)["x-tenant"]; h != "[masked]" {
		t.Errorf("x-tenant is %v, want the upserted [masked]", h)
	}

	// The health check is dropped: no decision line, but its metrics.
	fn.invoke(t, kinds[0].event("GET", "/health", ""))
	id := fn.lastRequestID()
	var seen bool
	for deadline := time.Now().Add(5 * time.Second); !seen && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, l := range linesFrom(fn, 0) {
			if l.str("msg") == "decision metrics" && l["Outcome"] == "allow" && l["Reason"] == "policy_allowed" {
				if err := metrics.Validate(l); err != nil {
					t.Fatalf("the metrics line of a dropped decision: %v", err)
				}
				seen = true
			}
		}
	}
	if !seen {
		t.Fatal("no metrics line for the dropped decision")
	}
	for _, l := range linesFrom(fn, 0) {
		if custom, _ := l["custom"].(map[string]any); l.str("msg") == "decision" && custom["lambda_request_id"] == id {
			t.Fatalf("the dropped decision was written: %v", l)
		}
	}
	noLineHolds(t, fn, tenantSecret)
}

// shadowFiles is the default policy with two more packages: candidate, which
// denies what the live policy allows only for DELETE, and broken, whose
// decision is a runtime error.
func shadowFiles(t *testing.T) map[string]string {
	files := withFile(defaultPolicy(t), "candidate.rego", `package candidate

import data.authz

decision := object.union(authz.decision, {"allow": false, "code": "candidate_no_deletes", "reasons": ["the candidate forbids DELETE"]}) if {
	input.request.method == "DELETE"
}

decision := authz.decision if input.request.method != "DELETE"
`)
	return withFile(files, "broken.rego", `package broken

decision := {"allow": true, "n": to_number(input.request.path)}
`)
}

// shadowRun invokes the requests of the shadow tests on fn and returns the
// responses and decision lines.
func shadowRun(t *testing.T, fn *function, events [][]byte) ([]result, []map[string]any) {
	t.Helper()
	var results []result
	var lines []map[string]any
	for _, ev := range events {
		results = append(results, fn.invoke(t, ev))
		m, ev := decisionLine(t, fn, fn.lastRequestID())
		checkEvent(t, m, ev)
		lines = append(lines, m)
	}
	return results, lines
}

func TestShadowDecisions(t *testing.T) {
	iss := startIssuer(t)
	dir := bundleDir(t, shadowFiles(t))
	admin := mint(t, iss, "alice", groups("admins"))
	reader := mint(t, iss, "bob", groups("orders-readers"))
	events := [][]byte{
		kinds[0].event("GET", "/orders/1", "Bearer "+admin),
		kinds[0].event("DELETE", "/orders/1", "Bearer "+admin),
		kinds[0].event("DELETE", "/orders/1", "Bearer "+reader),
		kinds[0].event("GET", "/health", ""),
	}
	env := map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_BUNDLE": dir}
	live, _ := shadowRun(t, startFunction(t, env), events)

	shadowed, lines := shadowRun(t, startFunction(t, withEnv(env, map[string]string{"AUTHZ_SHADOW_QUERY": "data.candidate.decision"})), events)
	for i, line := range lines {
		if !bytes.Equal(shadowed[i].Response, live[i].Response) || (shadowed[i].Error == nil) != (live[i].Error == nil) {
			t.Errorf("request %d: the shadow changed the response: %s, without it %s", i, shadowed[i].Response, live[i].Response)
		}
		sh, _ := line["custom"].(map[string]any)["shadow"].(map[string]any)
		if sh == nil || sh["query"] != "data.candidate.decision" {
			t.Fatalf("request %d: custom.shadow %v", i, sh)
		}
		disagrees := i == 1 // the admin's DELETE, which the live policy allows
		if sh["agreed"] != !disagrees {
			t.Errorf("request %d: agreed %v, want %v: %v", i, sh["agreed"], !disagrees, sh)
		}
		if disagrees && (sh["allow"] != false || sh["code"] != "candidate_no_deletes" || sh["reasons"] == nil || sh["grants"] == nil) {
			t.Errorf("the disagreement does not say what the shadow decided: %v", sh)
		}
		if want := map[bool]float64{true: 1, false: 0}[disagrees]; line["ShadowDisagreements"] != want {
			t.Errorf("request %d: ShadowDisagreements %v, want %v", i, line["ShadowDisagreements"], want)
		}
	}

	failing, lines := shadowRun(t, startFunction(t, withEnv(env, map[string]string{"AUTHZ_SHADOW_QUERY": "data.broken.decision"})), events)
	for i, line := range lines {
		if !bytes.Equal(failing[i].Response, live[i].Response) || (failing[i].Error == nil) != (live[i].Error == nil) {
			t.Errorf("request %d: a failing shadow changed the response: %s, without it %s", i, failing[i].Response, live[i].Response)
		}
		custom := line["custom"].(map[string]any)
		sh, _ := custom["shadow"].(map[string]any)
		if sh == nil || sh["agreed"] != false || sh["reason"] != "policy_error" || sh["error"] == "" {
			t.Errorf("request %d: custom.shadow %v", i, sh)
		}
		if custom["outcome"] == "error" || line["ShadowErrors"] != 1.0 {
			t.Errorf("request %d: outcome %v, ShadowErrors %v", i, custom["outcome"], line["ShadowErrors"])
		}
	}
}

// TestReplayFindsWhatACandidateChanges replays the decision log of a run
// against the policy it ran and against a candidate that takes DELETE away
// from admins: the candidate changes every decision of the admin (grants,
// and the DELETE's allow) and nothing else.
func TestReplayFindsWhatACandidateChanges(t *testing.T) {
	iss := startIssuer(t)
	files := defaultPolicy(t)
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_BUNDLE": bundleDir(t, files)})
	admin := mint(t, iss, "alice", groups("admins"))
	reader := mint(t, iss, "bob", groups("orders-readers"))
	var adminIDs, others []string
	for _, c := range []struct {
		method, path, auth string
		admin              bool
	}{
		{"GET", "/orders/1", admin, true}, {"DELETE", "/orders/1", admin, true}, {"GET", "/orders/2", reader, false},
		{"DELETE", "/orders/2", reader, false}, {"GET", "/health", "", false}, {"GET", "/orders", "", false},
	} {
		auth := ""
		if c.auth != "" {
			auth = "Bearer " + c.auth
		}
		fn.invoke(t, kinds[0].event(c.method, c.path, auth))
		id := fn.decisionLog(t, fn.lastRequestID())["decision_id"].(string)
		if c.admin {
			adminIDs = append(adminIDs, id)
		} else {
			others = append(others, id)
		}
	}
	logFile := filepath.Join(t.TempDir(), "decisions.log")
	if err := os.WriteFile(logFile, []byte(strings.Join(fn.output(), "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	replay := func(dir string) (int, map[string]any) {
		cmd := exec.Command(authzBin, "replay", "--json", "--bundle", dir, logFile)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		var doc map[string]any
		if jerr := json.Unmarshal(out.Bytes(), &doc); jerr != nil {
			t.Fatalf("authz replay --json: %v (%v)\n%s\n%s", jerr, err, out.String(), errOut.String())
		}
		return exitCode(err), doc
	}

	code, doc := replay(bundleDir(t, files))
	if code != 0 {
		t.Fatalf("replaying against the same policy: exit %d: %v", code, doc)
	}

	candidate := withFile(files, "data.json", editData(t, files["data.json"], func(rbac map[string]any) {
		rbac["grants"].(map[string]any)["admin"] = []any{map[string]any{"method": "GET", "path": "*"}}
	}))
	code, doc = replay(bundleDir(t, candidate))
	if code != 1 {
		t.Fatalf("replaying against a candidate that changes decisions: exit %d, want 1: %v", code, doc)
	}
	changed := map[string]bool{}
	for _, c := range doc["changes"].([]any) {
		changed[c.(map[string]any)["decision_id"].(string)] = true
	}
	for _, id := range adminIDs {
		if !changed[id] {
			t.Errorf("the admin's decision %s is not reported as changed: %v", id, doc)
		}
	}
	for _, id := range others {
		if changed[id] {
			t.Errorf("decision %s is reported as changed; the candidate does not change it: %v", id, doc)
		}
	}
	if len(changed) != len(adminIDs) {
		t.Errorf("%d changes reported, want %d", len(changed), len(adminIDs))
	}
}

// collector is a decision-log service on loopback, as OPA's decision-log
// API defines it: POST of a gzipped JSON array of events.
type collector struct {
	mu     sync.Mutex
	events []map[string]any
	url    string
}

func startCollector(t *testing.T) *collector {
	t.Helper()
	c := &collector{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/logs" || r.Header.Get("Content-Encoding") != "gzip" {
			http.Error(w, "not a decision-log upload", http.StatusBadRequest)
			return
		}
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body, _ := io.ReadAll(zr)
		var events []map[string]any
		if err := json.Unmarshal(body, &events); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.events = append(c.events, events...)
		c.mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c.url = "http://" + ln.Addr().String()
	return c
}

func (c *collector) ids() map[string]map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[string]any{}
	for _, ev := range c.events {
		id, _ := ev["decision_id"].(string)
		out[id] = ev
	}
	return out
}

func TestDecisionLogUploadsEveryEvent(t *testing.T) {
	iss := startIssuer(t)
	c := startCollector(t)
	cfg := `{"services":{"collector":{"url":"` + c.url + `"}},` +
		`"decision_logs":{"service":"collector","reporting":{"min_delay_seconds":1,"max_delay_seconds":2}}}`
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_OPA_CONFIG": cfg})
	admin := mint(t, iss, "alice", groups("admins"))
	extra := map[string]string{"Cookie": "session=" + cookieSecret}
	var want []string
	for i := range 6 {
		if i == 3 {
			time.Sleep(1100 * time.Millisecond) // an upload is due at the next invocation
		}
		fn.invoke(t, restEventWith(t, "GET", "/orders/1", "Bearer "+admin, extra))
		want = append(want, fn.decisionLog(t, fn.lastRequestID())["decision_id"].(string))
	}
	if n := len(c.ids()); n == 0 || n >= len(want) {
		t.Errorf("%d events uploaded at invocation time, want the due ones only (some, not all %d)", n, len(want))
	}
	fn.api.mu.Lock()
	registered := fn.api.extensions
	fn.api.mu.Unlock()
	if registered != 1 {
		t.Fatalf("%d extensions registered; Lambda sends SIGTERM only to a function with one", registered)
	}
	// Lambda's shutdown: SIGTERM, then SIGKILL.
	if err := fn.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = c.ids(); len(got) == len(want) {
			break
		}
	}
	for _, id := range want {
		ev, ok := got[id]
		if !ok {
			t.Errorf("decision %s never reached the collector (%d of %d did)", id, len(got), len(want))
			continue
		}
		if !slices.Contains(anyStrings(ev["erased"]), "/input/request/cookies") {
			t.Errorf("the uploaded event is not masked: erased %v", ev["erased"])
		}
	}
	b, _ := json.Marshal(c.events)
	if bytes.Contains(b, []byte(cookieSecret)) {
		t.Error("an uploaded event holds the cookie")
	}
}

func anyStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
