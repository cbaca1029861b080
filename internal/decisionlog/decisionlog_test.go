package decisionlog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/apigw-authz/authz/internal/metrics"
)

type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) decoded(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not a JSON line: %s", line)
		}
		out = append(out, m)
	}
	return out
}

// attached is a logger attached to a started plugin manager whose store
// holds rules as the bundle's system.log package.
func attached(t *testing.T, rules string, opts Options) (*Logger, *lines) {
	t.Helper()
	out := &lines{}
	l := New(slog.New(slog.NewJSONHandler(out, nil)), opts)
	b := &bundle.Bundle{Data: map[string]any{}}
	b.Manifest.Init()
	if rules != "" {
		parsed, err := ast.ParseModule("log.rego", rules)
		if err != nil {
			t.Fatal(err)
		}
		b.Modules = []bundle.ModuleFile{{URL: "log.rego", Path: "log.rego", Raw: []byte(rules), Parsed: parsed}}
	}
	cfg := []byte(`{"decision_logs":{"plugin":"` + SinkName + `","reporting":{"trigger":"manual"}}}`)
	m, err := plugins.New(cfg, "test", inmem.New(), plugins.InitBundles(map[string]*bundle.Bundle{"authz": b}), plugins.WithEnableVersionCheck(false))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Attach(m); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop(context.Background()) })
	return l, out
}

// entry is a decision whose input holds the typed maps the gateway builds.
func entry(id, path string) Entry {
	return Entry{
		DecisionID: id, Timestamp: time.Unix(1767225600, 0), Path: "authz/decision",
		Input: map[string]any{"request": map[string]any{"path": path,
			"headers": map[string]string{"x-api-key": "k-secret", "accept": "*/*"}, "cookies": map[string]string{"s": "c-secret"}}},
		Custom:   map[string]any{"outcome": "allow", "reason": "policy_allowed"},
		Measures: Measures{Outcome: "allow", Reason: "policy_allowed", Latency: time.Millisecond},
	}
}

const maskAndDrop = `package system.log

mask contains "/input/request/cookies"

mask contains "/input/request/headers/x-api-key"

drop if input.input.request.path == "/health"
`

// TestMaskRulesApplyToTheGatewaysTypedMaps: OPA's masking fails, and drops
// the event, on map[string]string; the input is handed over in JSON's types.
func TestMaskRulesApplyToTheGatewaysTypedMaps(t *testing.T) {
	l, out := attached(t, maskAndDrop, Options{Console: true, Metrics: MetricsOptions{Namespace: "Authz"}})
	l.Log(context.Background(), entry("d-1", "/orders/1"))
	got := out.decoded(t)
	if len(got) != 1 || got[0]["msg"] != "decision" {
		t.Fatalf("lines %v, want one decision line", got)
	}
	erased := got[0]["erased"].([]any)
	if !slices.Contains(erased, any("/input/request/cookies")) || !slices.Contains(erased, any("/input/request/headers/x-api-key")) {
		t.Fatalf("erased %v", erased)
	}
	if b, _ := json.Marshal(got[0]); bytes.Contains(b, []byte("secret")) {
		t.Fatalf("a masked value is in the line: %s", b)
	}
	if err := metrics.Validate(got[0]); err != nil {
		t.Fatalf("EMF: %v", err)
	}
}

func TestDroppedAndUnloggedDecisionsStillCount(t *testing.T) {
	l, out := attached(t, maskAndDrop, Options{Console: true, Metrics: MetricsOptions{Namespace: "Authz"}})
	l.Log(context.Background(), entry("d-health", "/health"))
	got := out.decoded(t)
	if len(got) != 1 || got[0]["msg"] != "decision metrics" || got[0]["input"] != nil || got[0]["Decisions"] != 1.0 {
		t.Fatalf("a dropped decision wrote %v, want its metrics only", got)
	}

	quiet, out := attached(t, maskAndDrop, Options{Console: false})
	quiet.Log(context.Background(), entry("d-2", "/orders/1"))
	if got := out.decoded(t); len(got) != 0 {
		t.Fatalf("with the log and the metrics off, a decision wrote %v", got)
	}
	e := entry("d-3", "/orders/1")
	e.Error = true
	quiet.Log(context.Background(), e)
	if got := out.decoded(t); len(got) != 1 || got[0]["level"] != "ERROR" || got[0]["msg"] != "decision" {
		t.Fatalf("an error outcome with the log off wrote %v, want its line", got)
	}
}

func TestLongStringsAreClippedAndListed(t *testing.T) {
	l, out := attached(t, "", Options{Console: true})
	e := entry("d-4", "/orders/"+strings.Repeat("a", 5000))
	e.Custom["method_arn"] = strings.Repeat("b", 5000)
	l.Log(context.Background(), e)
	got := out.decoded(t)
	if len(got) != 1 {
		t.Fatalf("lines %v", got)
	}
	b, _ := json.Marshal(got[0])
	if len(b) > 6000 {
		t.Fatalf("a line of %d bytes for 10,000 bytes of path and ARN", len(b))
	}
	clipped := got[0]["custom"].(map[string]any)["clipped"].([]any)
	if !slices.Contains(clipped, any("/input/request/path")) || !slices.Contains(clipped, any("/custom/method_arn")) {
		t.Fatalf("custom.clipped %v", clipped)
	}
	if p := e.Input["request"].(map[string]any)["path"].(string); len(p) != 5008 {
		t.Fatal("clipping changed the caller's input")
	}
}

func TestPlainKeepsJSONTypes(t *testing.T) {
	in := map[string]any{"a": map[string]string{"k": "v"}, "b": []string{"x"}, "c": []any{map[string]any{"d": 1.5}}, "e": true, "f": nil}
	out, _ := json.Marshal(plain(in))
	want, _ := json.Marshal(in)
	if !bytes.Equal(out, want) {
		t.Fatalf("plain changed the document: %s, want %s", out, want)
	}
	m := plain(in).(map[string]any)
	if _, ok := m["a"].(map[string]any); !ok {
		t.Fatalf("a typed map stayed typed: %T", m["a"])
	}
	if _, ok := m["b"].([]any); !ok {
		t.Fatalf("a typed list stayed typed: %T", m["b"])
	}
}

// panicky panics when it is encoded.
type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("encoder bug") }

// TestAFailingLineNeverFailsTheRequest: the response is settled before the
// line is written; a panic while writing it is logged, not raised.
func TestAFailingLineNeverFailsTheRequest(t *testing.T) {
	l, out := attached(t, "", Options{Console: true})
	e := entry("d-5", "/orders/1")
	e.Custom["bad"] = panicky{}
	l.Log(context.Background(), e) // must return
	got := out.decoded(t)
	if len(got) == 0 || got[len(got)-1]["msg"] != "writing the decision log failed" {
		t.Fatalf("lines %v, want the failure logged", got)
	}
}

// TestPublishedIsWhatALineCarries: a line with every measure holds exactly
// the metrics and dimension sets Published lists, so that alarms written
// against Published find their metrics.
func TestPublishedIsWhatALineCarries(t *testing.T) {
	l, out := attached(t, "", Options{Console: true, Metrics: MetricsOptions{Namespace: "Authz", Function: "authz"}})
	e := entry("d-all", "/orders/1")
	e.Measures = Measures{Outcome: "allow", Reason: "policy_allowed", Code: "role_grant",
		Latency: time.Millisecond, Verify: time.Microsecond, Eval: time.Microsecond, Shadow: ShadowAgreed}
	l.Log(context.Background(), e)
	got := out.decoded(t)
	if len(got) != 1 {
		t.Fatalf("lines %v", got)
	}
	carried := map[string][][]string{}
	for _, d := range got[0]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any) {
		directive := d.(map[string]any)
		var sets [][]string
		for _, set := range directive["Dimensions"].([]any) {
			var names []string
			for i, name := range set.([]any) {
				if i == 0 {
					if name != "Function" {
						t.Fatalf("a dimension set does not start with Function: %v", set)
					}
					continue
				}
				names = append(names, name.(string))
			}
			sets = append(sets, names)
		}
		for _, m := range directive["Metrics"].([]any) {
			name := m.(map[string]any)["Name"].(string)
			carried[name] = append(carried[name], sets...)
		}
	}
	if len(carried) != len(Published) {
		t.Errorf("the line carries %d metrics, Published lists %d: %v", len(carried), len(Published), carried)
	}
	for name, want := range Published {
		sets, ok := carried[name]
		if !ok {
			t.Errorf("%s is published but not carried", name)
			continue
		}
		if len(sets) != len(want) {
			t.Errorf("%s: dimension sets %v, Published says %v", name, sets, want)
			continue
		}
		for i := range want {
			if !slices.Equal(sets[i], want[i]) {
				t.Errorf("%s: dimension sets %v, Published says %v", name, sets, want)
			}
		}
	}
}
