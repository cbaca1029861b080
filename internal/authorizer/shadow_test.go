package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/metrics"
)

// shadowing is a Decider whose shadow query answers with shadow.
type shadowing struct {
	Decider
	shadow func() (any, error)
}

func (s shadowing) ShadowQuery() string { return "data.candidate.decision" }

func (s shadowing) ShadowValue(context.Context, ast.Value) (any, error) { return s.shadow() }

// TestAFailingShadowNeverChangesTheOutcome: whatever the shadow does, error,
// panic, a decision that is not one or the opposite decision, the response
// is the live policy's, and the shadow's verdict says what happened.
func TestAFailingShadowNeverChangesTheOutcome(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "alice", "admins")
	live := f.authorizer(t, "", nil).Authorize(context.Background(), restEvent("DELETE", "/orders/1", bearer(tok)))
	if live.Outcome != OutcomeAllow {
		t.Fatalf("live outcome %s", live.Outcome)
	}
	want, _ := json.Marshal(live.Response)
	for _, tt := range []struct {
		name   string
		shadow func() (any, error)
		agreed bool
		reason string
	}{
		{"error", func() (any, error) { return nil, errors.New("boom") }, false, "policy_error"},
		{"panic", func() (any, error) { panic("shadow bug") }, false, ReasonPanic},
		{"not a decision", func() (any, error) { return "yes", nil }, false, "decision_invalid"},
		{"denies", func() (any, error) { return map[string]any{"allow": false}, nil }, false, ""},
		{"agrees", func() (any, error) {
			return map[string]any{"allow": true, "principal_id": "alice", "grants": []any{
				map[string]any{"method": "GET", "path": "/health"}, map[string]any{"method": "*", "path": "*"}},
				"context": map[string]any{"tenant": "", "roles": []any{"admin"}}, "code": "other_code"}, nil
		}, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := f.authorizer(t, "", func(o *Options) { o.Decider = shadowing{Decider: o.Decider, shadow: tt.shadow} })
			res := a.Authorize(context.Background(), restEvent("DELETE", "/orders/1", bearer(tok)))
			got, _ := json.Marshal(res.Response)
			if res.Outcome != OutcomeAllow || string(got) != string(want) {
				t.Fatalf("outcome %s/%s, response %s; want the live %s", res.Outcome, res.Reason, got, want)
			}
			if sh := res.Shadow; sh == nil || sh.Agreed != tt.agreed || sh.Reason != tt.reason {
				t.Fatalf("shadow %+v, want agreed %v reason %q", sh, tt.agreed, tt.reason)
			}
		})
	}
}

// TestBrokenConfigurationIsCounted: a function whose configuration failed
// denies every request, and its lines carry the metrics, so that the alarm
// on error outcomes sees it.
func TestBrokenConfigurationIsCounted(t *testing.T) {
	out := &syncBuffer{}
	cfg, err := config.FromEnv(func(string) string { return "" }, false)
	if err == nil {
		t.Fatal("no AUTHZ_ISSUERS was accepted")
	}
	a := BrokenConfig(err, cfg, slog.New(slog.NewJSONHandler(out, nil)))
	if res := a.Authorize(context.Background(), restEvent("GET", "/health", nil)); res.Outcome != OutcomeError || res.Reason != ReasonConfig {
		t.Fatalf("outcome %s/%s", res.Outcome, res.Reason)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &line); err != nil {
		t.Fatal(err)
	}
	if err := metrics.Validate(line); err != nil || line["Outcome"] != "error" || line["Reason"] != ReasonConfig {
		t.Fatalf("EMF %v: %v", err, line)
	}
}
