package localgw

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
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
			cfg.PolicyMentions = true // as authz check builds its core
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

// policyDirs writes the policy files into a folder and builds the authorizer
// on it, layered over rego/lib, trusting the fixture's issuer.
func (f *fixture) policyDirs(t *testing.T, simple bool, files map[string]string) *authorizer.Authorizer {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.FromEnv(func(string) string { return "" }, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuers = []identity.IssuerConfig{{Issuer: f.iss.URL, Audiences: []string{f.iss.Audience()}}}
	cfg.SimpleResponses = simple
	cfg.BundleDirs = []string{dir, filepath.Join("..", "..", "rego", "lib")}
	cfg.PolicyMentions = true // as authz check builds its core
	a, err := authorizer.Build(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// httpV2Event is the HTTP API payload 2.0 sample of testdata/events with the
// fixture's token, for method and path on the route routeKey.
func (f *fixture) httpV2Event(t *testing.T, routeKey, method, path string, params map[string]string, groups ...string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "events", "http-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(raw), "__TOKEN__", f.token(t, "bob", groups...))), &ev); err != nil {
		t.Fatal(err)
	}
	rc := ev["requestContext"].(map[string]any)
	ev["routeKey"], rc["routeKey"] = routeKey, routeKey
	ev["routeArn"] = "arn:aws:execute-api:eu-west-1:123456789012:h7k2m9p4q1/prod/" + method + path
	ev["rawPath"] = "/prod" + path
	rc["http"].(map[string]any)["method"] = method
	rc["http"].(map[string]any)["path"] = "/prod" + path
	ev["pathParameters"] = params
	out, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// $context.routeKey is the route template: every method of an ANY route,
// every path under a greedy parameter and every request of $default share
// one cache entry, so a cached yes for GET answers DELETE too.
func TestCacheWarningsRouteKeyIsTheRouteTemplate(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, "", true)
	sources, err := ParseIdentitySources("$request.header.Authorization,$context.routeKey")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, routeKey, path string
		params               map[string]string
		want                 string // "" for cache-safe
	}{
		{"an ANY route", "ANY /orders/{id}", "/orders/42", map[string]string{"id": "42"}, "request.method"},
		{"a greedy parameter", "GET /{proxy+}", "/orders/42", map[string]string{"proxy": "orders/42"}, "request.path"},
		{"the default route", "$default", "/orders/42", map[string]string{}, "request.method"},
		{"a route of one method and a parameter", "GET /orders/{id}", "/orders/42", map[string]string{"id": "42"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := a.Authorize(context.Background(), f.httpV2Event(t, tt.routeKey, "GET", tt.path, tt.params, "orders-readers"))
			if res.Outcome != authorizer.OutcomeAllow {
				t.Fatalf("outcome %s %s", res.Outcome, res.Err)
			}
			got := strings.Join(CacheWarnings(context.Background(), a, res, sources), "\n")
			if (got == "") != (tt.want == "") || !strings.Contains(got, tt.want) {
				t.Fatalf("warnings:\n%s\nwant one containing %q", got, tt.want)
			}
		})
	}
}

// The cached context, principal_id and usage identifier key reach the
// backend with every request the cached policy allows: computed from the
// request, they leak this request's values (an order, a tenant) into others.
func TestCacheWarningsSeeContextThatMovesWithTheRequest(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ name, rego string }{
		{"context from the path", `decision := {"allow": true, "grants": [{"method": "*", "path": "/orders/*"}], "context": {"order": split(input.request.path, "/")[2]}}`},
		{"a tenant from the path", `decision := {"allow": true, "grants": [{"method": "GET", "path": "/orders/*"}], "context": {"tenant": split(input.request.path, "/")[2]}}`},
		{"principal_id from the path", `decision := {"allow": true, "grants": [{"method": "*", "path": "*"}], "principal_id": input.request.path}`},
		{"usage_identifier_key from the path", `decision := {"allow": true, "grants": [{"method": "*", "path": "*"}], "usage_identifier_key": input.request.path}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.authorizer(t, "package authz\n\n"+tt.rego+"\n", false)
			h := http.Header{}
			h.Set("Authorization", "Bearer "+f.token(t, "bob"))
			event, err := Event(Request{Kind: "rest", Method: "GET", Path: "/orders/42", Headers: h}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			res := a.Authorize(context.Background(), event)
			got := strings.Join(CacheWarnings(context.Background(), a, res, IdentitySourcesOf(identity.DefaultSources)), "\n")
			if !strings.Contains(got, "GET /orders/43") || !strings.Contains(got, "reach the backend") {
				t.Fatalf("warnings:\n%s\nwant one naming GET /orders/43 and the backend", got)
			}
		})
	}
}

// A policy that reads OPA's clock (time.now_ns) depends on the time as much as
// one that reads input.request.time_ms.
func TestCacheWarningsSeeTheClock(t *testing.T) {
	f := newFixture(t)
	a := f.authorizer(t, `package authz

decision := {"allow": true, "grants": [{"method": "*", "path": "*"}], "context": {"hour": time.clock([time.now_ns(), "UTC"])[0]}}
`, false)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+f.token(t, "bob"))
	event, err := Event(Request{Kind: "rest", Method: "GET", Path: "/orders/42", Headers: h}, DefaultAPI)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(CacheWarnings(context.Background(), a, a.Authorize(context.Background(), event), IdentitySourcesOf(identity.DefaultSources)), "\n")
	if !strings.Contains(got, "time.now_ns") {
		t.Fatalf("warnings:\n%s\nwant one naming the clock", got)
	}
}

// Headers, query parameters and cookies the policy names are probed set when
// the request lacks them and removed when it has them: a cached allow of a
// request without X-Impersonate serves the request with it.
func TestCacheWarningsProbeTheNamesThePolicyReads(t *testing.T) {
	f := newFixture(t)
	tests := []struct{ name, rego, want string }{
		{"a header the request lacks", `allow if not input.request.headers["x-impersonate"]`, "request.headers"},
		{"a query parameter the request lacks", `allow if not input.request.query.debug`, "request.query"},
		{"a cookie the request lacks", `allow if object.get(input.request.cookies, "beta", "") == ""`, "request.cookies"},
		{"a header the request has", `allow if input.request.headers["x-tier"] == "gold"`, "request.headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.authorizer(t, "package authz\n\ndefault allow := false\n\n"+tt.rego+"\n\ndecision := {\"allow\": allow, \"grants\": [{\"method\": \"GET\", \"path\": \"/orders/*\"}]}\n", false)
			h := http.Header{}
			h.Set("Authorization", "Bearer "+f.token(t, "bob"))
			h.Set("X-Tier", "gold")
			event, err := Event(Request{Kind: "rest", Method: "GET", Path: "/orders/42", Headers: h}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			res := a.Authorize(context.Background(), event)
			if res.Outcome != authorizer.OutcomeAllow {
				t.Fatalf("outcome %s", res.Outcome)
			}
			got := strings.Join(CacheWarnings(context.Background(), a, res, IdentitySourcesOf(identity.DefaultSources)), "\n")
			if !strings.Contains(got, tt.want) {
				t.Fatalf("warnings:\n%s\nwant one containing %q", got, tt.want)
			}
		})
	}
}

// Paths the policy or its data name are probed: a policy that treats /admin
// or the data's /reports/* apart is unsafe under grants that cover them.
func TestCacheWarningsProbeThePathsThePolicyNames(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"a prefix in the policy", map[string]string{"p.rego": `package authz

default allow := false

allow if not startswith(input.request.path, "/admin")

decision := {"allow": allow, "grants": [{"method": "*", "path": "*"}]}
`}, "GET /admin"},
		{"a pattern in the data", map[string]string{"p.rego": `package authz

import data.lib.iam

default allow := false

allow if not private

private if {
	some p in data.private
	iam.covers({"method": "*", "path": p}, input.request)
}

decision := {"allow": allow, "grants": [{"method": "*", "path": "*"}]}
`, "data.json": `{"private": ["/reports/*/raw"]}`}, "GET /reports/x/raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := f.policyDirs(t, false, tt.files)
			h := http.Header{}
			h.Set("Authorization", "Bearer "+f.token(t, "bob"))
			event, err := Event(Request{Kind: "rest", Method: "GET", Path: "/orders/42", Headers: h}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			res := a.Authorize(context.Background(), event)
			got := strings.Join(CacheWarnings(context.Background(), a, res, IdentitySourcesOf(identity.DefaultSources)), "\n")
			if !strings.Contains(got, tt.want) {
				t.Fatalf("warnings:\n%s\nwant one containing %q", got, tt.want)
			}
		})
	}
}

// With the Cookie header among the identity sources, cookies are part of the
// cache key: a decision on a cookie is safe.
func TestCacheWarningsCookieHeaderSource(t *testing.T) {
	f := newFixture(t)
	rego := `package authz

decision := {"allow": input.request.cookies.beta == "1", "grants": [{"method": "*", "path": "*"}]}
`
	for _, tt := range []struct{ kind, sources string }{
		{"rest", "method.request.header.Authorization,method.request.header.Cookie"},
		{"http", "$request.header.Authorization,$request.header.Cookie"},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			sources, err := ParseIdentitySources(tt.sources)
			if err != nil {
				t.Fatal(err)
			}
			a := f.authorizer(t, rego, false)
			h := http.Header{}
			h.Set("Authorization", "Bearer "+f.token(t, "bob"))
			h.Set("Cookie", "beta=1; theme=dark")
			event, err := Event(Request{Kind: tt.kind, Method: "GET", Path: "/orders/42", Headers: h}, DefaultAPI)
			if err != nil {
				t.Fatal(err)
			}
			res := a.Authorize(context.Background(), event)
			if res.Outcome != authorizer.OutcomeAllow {
				t.Fatalf("outcome %s", res.Outcome)
			}
			if got := CacheWarnings(context.Background(), a, res, sources); len(got) != 0 {
				t.Fatalf("warnings, want none:\n%s", strings.Join(got, "\n"))
			}
		})
	}
}
