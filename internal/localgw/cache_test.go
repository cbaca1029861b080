package localgw

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/identity"
)

func TestCacheWarnings(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		rego   string // "" for the default policy
		kind   string
		method string
		path   string
		want   []string // substrings, one per expected warning
	}{
		{name: "the default policy is cache-safe", kind: "rest", method: "GET", path: "/orders/1"},
		{name: "the default policy, denied, is cache-safe", kind: "rest", method: "DELETE", path: "/orders/1"},
		{name: "no grants", kind: "rest", method: "GET", path: "/a",
			rego: `decision := {"allow": input.request.method == "GET"}`,
			want: []string{"has no grants", "the policy allows GET /another/route for this caller, but the cached policy refuses it"}},
		{name: "grants broader than the policy", kind: "rest", method: "GET", path: "/a",
			rego: `decision := {"allow": input.request.path == "/a", "grants": [{"method": "*", "path": "*"}]}`,
			want: []string{"the cached policy allows GET /another/route, which the policy denies", "the cached policy allows PATCH /x, which the policy denies", "PATCH /x/deeper"}},
		{name: "office hours", kind: "rest", method: "GET", path: "/a",
			rego: `decision := {"allow": time.clock(time.now_ns())[0] < 24, "grants": [{"method": "*", "path": "*"}], "context": {"hour": time.clock([input.request.time_ms * 1000000, "UTC"])[0]}}`,
			want: []string{"request.time_ms"}},
		{name: "source IP", kind: "rest", method: "GET", path: "/a",
			rego: `decision := {"allow": net.cidr_contains("127.0.0.0/8", input.request.source_ip), "grants": [{"method": "*", "path": "*"}]}`,
			want: []string{"request.source_ip"}},
		{name: "a header that is not an identity source", kind: "rest", method: "GET", path: "/a",
			rego: `decision := {"allow": input.request.headers["x-tier"] == "gold", "grants": [{"method": "*", "path": "*"}]}`,
			want: []string{"request.headers"}},
		{name: "simple responses and a route-dependent decision", kind: "http", method: "GET", path: "/a",
			rego: `decision := {"allow": input.request.method == "GET"}`,
			want: []string{"request.method and path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := config.FromEnv(func(string) string { return "" }, true)
			cfg.Issuers = []identity.IssuerConfig{{Issuer: f.iss.URL, Audiences: []string{f.iss.Audience()}}}
			cfg.SimpleResponses = tt.kind == "http"
			if tt.rego != "" {
				cfg.Bundle = writePolicy(t, "package authz\n\n"+tt.rego+"\n")
			}
			a, err := authorizer.Build(context.Background(), cfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			h.Set("Authorization", "Bearer "+f.token(t, "bob", "orders-readers"))
			h.Set("X-Tier", "gold")
			event, err := Event(Request{Kind: tt.kind, Method: tt.method, Path: tt.path, Headers: h}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			res := a.Authorize(context.Background(), event)
			got := CacheWarnings(context.Background(), a, res, identity.DefaultSources)
			if len(got) != len(tt.want) {
				t.Fatalf("%d warnings, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}
