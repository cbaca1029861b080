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
		want   []string // substrings of the warnings; none for a cache-safe decision
	}{
		{name: "the default policy is cache-safe", kind: "rest", method: "GET", path: "/orders/1"},
		{name: "the default policy, denied, is cache-safe", kind: "rest", method: "DELETE", path: "/orders/1"},
		{name: "no grants", kind: "rest", method: "GET", path: "/a",
			rego: `decision := {"allow": input.request.method == "GET"}`,
			want: []string{"has no grants", "the policy allows GET /another/route for this caller, but the cached policy refuses it",
				"the policy allows GET /other-a for this caller"}},
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
			got := CacheWarnings(context.Background(), a, res, IdentitySourcesOf(identity.DefaultSources))
			if (len(got) == 0) != (len(tt.want) == 0) {
				t.Fatalf("%d warnings, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("no warning contains %q:\n%s", w, all)
				}
			}
		})
	}
}

// Grants computed from the request move with it: the cached policy of one
// request answers the caller's next requests with grants for another route.
// The check must see it on the routes next to this one, in both directions.
func TestCacheWarningsSeeGrantsThatMoveWithTheRequest(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		rego string
		want []string
	}{
		{name: "grants of this route only",
			rego: requestGrants,
			want: []string{"the policy allows GET /invoices/8 for this caller, but the cached policy refuses it",
				"the grants change with the request"}},
		{name: "grants wider than the policy, from the request",
			rego: `owners := {"7": "bob", "8": "carol"}

default allow := false

allow if {
	input.request.method == "GET"
	not owners[split(input.request.path, "/")[2]]
}

allow if {
	input.request.method == "GET"
	owners[split(input.request.path, "/")[2]] == input.token.subject
}

decision := {"allow": allow, "grants": [{"method": "GET", "path": sprintf("/%s/*", [split(input.request.path, "/")[1]])}]}`,
			want: []string{"the cached policy allows GET /invoices/8, which the policy denies"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.authorizer(t, "package authz\n\n"+tt.rego+"\n", false)
			h := http.Header{}
			h.Set("Authorization", "Bearer "+f.token(t, "bob"))
			event, err := Event(Request{Kind: "rest", Method: "GET", Path: "/invoices/7", Headers: h}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			res := a.Authorize(context.Background(), event)
			if res.Outcome != authorizer.OutcomeAllow {
				t.Fatalf("outcome %s", res.Outcome)
			}
			got := strings.Join(CacheWarnings(context.Background(), a, res, IdentitySourcesOf(identity.DefaultSources)), "\n")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("the warnings lack %q:\n%s", w, got)
				}
			}
		})
	}
}

// requestGrants grants exactly the request's route: cache-safe in appearance,
// since the cached policy allows this request and the policy allows it too.
const requestGrants = `default allow := false

allow if {
	input.request.method == "GET"
	startswith(input.request.path, "/invoices/")
}

decision := {"allow": allow, "grants": [{"method": input.request.method, "path": input.request.path}]}`

// With simple responses, $context.routeKey among the identity sources keys the
// cache per route: a decision that depends on the route is then safe, one
// that depends on the path within a route (/orders/{id}) is not.
func TestCacheWarningsWithARouteKey(t *testing.T) {
	f := newFixture(t)
	byID := `package authz

decision := {"allow": input.request.path == "/orders/1"}
`
	tests := []struct {
		name, rego, sources, route string
		want                       string // "" for cache-safe
	}{
		{"the token alone", "", "$request.header.Authorization", "", "request.method and path"},
		{"the token and the route key", "", "$request.header.Authorization,$context.routeKey", "", ""},
		{"REST syntax: the method and the resource", "", "method.request.header.Authorization,context.httpMethod,context.resourcePath", "/orders/{id}", ""},
		{"the method alone", "", "$request.header.Authorization,$context.httpMethod", "", "request.method and path"},
		{"a decision on the path within the route", byID, "$request.header.Authorization,$context.routeKey", "/orders/{id}", "request.path,"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sources, err := ParseIdentitySources(tt.sources)
			if err != nil {
				t.Fatal(err)
			}
			a := f.authorizer(t, tt.rego, true)
			h := http.Header{}
			h.Set("Authorization", "Bearer "+f.token(t, "bob", "orders-readers"))
			event, err := Event(Request{Kind: "http", Method: "GET", Path: "/orders/1", Route: tt.route, Headers: h}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(CacheWarnings(context.Background(), a, a.Authorize(context.Background(), event), sources), "\n")
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("warnings:\n%s\nwant one containing %q", got, tt.want)
			}
		})
	}
}
