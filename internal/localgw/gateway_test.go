package localgw

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/identity"
)

type fixture struct {
	iss   *devissuer.Issuer
	calls atomic.Int64
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	iss, err := devissuer.Start(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return &fixture{iss: iss, now: time.Now()}
}

// core builds the authorizer core on the policy in rego ("" for the embedded
// default policy), counting its calls.
func (f *fixture) core(t *testing.T, rego string, simple bool) Authorize {
	t.Helper()
	a := f.authorizer(t, rego, simple)
	return func(ctx context.Context, event []byte) *authorizer.Result {
		f.calls.Add(1)
		return a.Authorize(ctx, event)
	}
}

// authorizer builds the authorizer on the policy in rego ("" for the embedded
// default policy), trusting the fixture's issuer.
func (f *fixture) authorizer(t *testing.T, rego string, simple bool) *authorizer.Authorizer {
	t.Helper()
	cfg, err := config.FromEnv(func(string) string { return "" }, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Issuers = []identity.IssuerConfig{{Issuer: f.iss.URL, Audiences: []string{f.iss.Audience()}}}
	cfg.SimpleResponses = simple
	cfg.PolicyMentions = true // as authz check builds its core
	if rego != "" {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(rego), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg.Bundle = dir
	}
	a, err := authorizer.Build(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) token(t *testing.T, sub string, groups ...string) string {
	t.Helper()
	tok, err := f.iss.MintFor(devissuer.Principal{Subject: sub, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (f *fixture) gateway(t *testing.T, kind string, ttl time.Duration, core Authorize) *Gateway {
	return New(Options{Kind: kind, API: DefaultAPI, IdentitySources: IdentitySourcesOf(identity.DefaultSources), CacheTTL: ttl,
		Now: func() time.Time { return f.now }}, core)
}

func do(t *testing.T, g http.Handler, method, path, token string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, r)
	return w
}

func TestGatewayStatusesAndBodies(t *testing.T) {
	f := newFixture(t)
	g := f.gateway(t, "rest", 0, f.core(t, "", false))
	admin, reader := f.token(t, "alice", "admins"), f.token(t, "bob", "orders-readers")

	w := do(t, g, "GET", "/orders", "")
	if w.Code != 401 || strings.TrimSpace(w.Body.String()) != `{"message":"Unauthorized"}` || f.calls.Load() != 0 {
		t.Fatalf("no token: %d %s (authorizer called %d times)", w.Code, w.Body, f.calls.Load())
	}
	w = do(t, g, "GET", "/orders", "not-a-token")
	if w.Code != 401 || w.Header().Get("X-Amzn-Errortype") != "UnauthorizedException" {
		t.Fatalf("a bad token: %d %s", w.Code, w.Body)
	}
	w = do(t, g, "DELETE", "/orders/42?force=1", admin, "X-Authorizer-Context", `{"roles":"forged"}`, "X-Authorizer_Principal-Id", "root")
	var echo struct {
		Method, Path string
		Query        map[string][]string
		Authorizer   map[string]any
		Headers      map[string]string
	}
	if err := json.Unmarshal(w.Body.Bytes(), &echo); err != nil || w.Code != 200 {
		t.Fatalf("admin: %d %s", w.Code, w.Body)
	}
	if echo.Method != "DELETE" || echo.Path != "/orders/42" || echo.Query["force"][0] != "1" ||
		echo.Authorizer["principalId"] != "alice" || echo.Authorizer["roles"] != "admin" {
		t.Fatalf("echo %+v", echo)
	}
	if strings.Contains(w.Body.String(), admin) || strings.Contains(w.Body.String(), "forged") || strings.Contains(w.Body.String(), "root") {
		t.Fatalf("the echo shows the token or a forged context: %s", w.Body)
	}
	w = do(t, g, "DELETE", "/orders/42", reader)
	if w.Code != 403 || !strings.Contains(w.Body.String(), "with an explicit deny") || w.Header().Get("X-Amzn-Errortype") != "AccessDeniedException" {
		t.Fatalf("reader: %d %s", w.Code, w.Body)
	}
}

func TestGatewayCacheLikeAPIGateway(t *testing.T) {
	f := newFixture(t)
	g := f.gateway(t, "rest", 300*time.Second, f.core(t, "", false))
	reader := f.token(t, "bob", "orders-readers")
	step := func(method, path string, want, calls int) {
		t.Helper()
		if w := do(t, g, method, path, reader); w.Code != want || f.calls.Load() != int64(calls) {
			t.Fatalf("%s %s: %d %s after %d authorizer calls; want %d after %d", method, path, w.Code, w.Body, f.calls.Load(), want, calls)
		}
	}
	step("GET", "/orders/1", 200, 1)    // miss
	step("GET", "/orders/2", 200, 1)    // hit: the grants cover it
	step("DELETE", "/orders/1", 403, 1) // hit: nothing in the cached policy allows it
	f.now = f.now.Add(301 * time.Second)
	step("GET", "/orders/2", 200, 2) // expired
	g.Replace(f.core(t, "", false))
	step("GET", "/orders/2", 200, 3) // a new policy empties the cache
}

// Without grants, a cached policy names only the first request's ARN: the
// caller's next allowed request is refused from the cache. This is what the
// gateway is there to show before it happens in AWS.
func TestGatewayShowsACacheUnsafePolicy(t *testing.T) {
	f := newFixture(t)
	core := f.core(t, "package authz\n\ndecision := {\"allow\": input.request.method == \"GET\"}\n", false)
	tok := f.token(t, "carol")
	cachedGW := f.gateway(t, "rest", 300*time.Second, core)
	if w := do(t, cachedGW, "GET", "/a", tok); w.Code != 200 {
		t.Fatalf("first request: %d", w.Code)
	}
	if w := do(t, cachedGW, "GET", "/b", tok); w.Code != 403 || !strings.Contains(w.Body.String(), `"User is not authorized to access this resource"}`) {
		t.Fatalf("a request the policy allows, answered from a cached policy without grants: %d %s", w.Code, w.Body)
	}
	uncached := f.gateway(t, "rest", 0, core)
	if w := do(t, uncached, "GET", "/b", tok); w.Code != 200 {
		t.Fatalf("with caching off: %d", w.Code)
	}
}

func TestGatewayHTTPSimpleResponses(t *testing.T) {
	f := newFixture(t)
	g := f.gateway(t, "http", 0, f.core(t, "", true))
	if w := do(t, g, "GET", "/orders/1", f.token(t, "bob", "orders-readers")); w.Code != 200 || !strings.Contains(w.Body.String(), `"roles"`) {
		t.Fatalf("allowed: %d %s", w.Code, w.Body)
	}
	if w := do(t, g, "DELETE", "/orders/1", f.token(t, "bob", "orders-readers")); w.Code != 403 || strings.TrimSpace(w.Body.String()) != `{"message":"Forbidden"}` {
		t.Fatalf("denied: %d %s", w.Code, w.Body)
	}
}

func writePolicy(t *testing.T, rego string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A result the old policy decided while the policy was being replaced must not
// be cached for the new one.
func TestGatewayDoesNotCacheAReplacedPolicysResult(t *testing.T) {
	f := newFixture(t)
	var g *Gateway
	allow := f.core(t, "", false)
	deny := f.core(t, "package authz\n\ndecision := {\"allow\": false}\n", false)
	slow := func(ctx context.Context, event []byte) *authorizer.Result {
		res := allow(ctx, event)
		g.Replace(deny) // the policy changes while this decision is made
		return res
	}
	g = f.gateway(t, "rest", 300*time.Second, slow)
	tok := f.token(t, "alice", "admins")
	if w := do(t, g, "GET", "/orders", tok); w.Code != 200 {
		t.Fatalf("first request: %d", w.Code)
	}
	if w := do(t, g, "GET", "/orders", tok); w.Code != 403 {
		t.Fatalf("the next request was answered from a result of the replaced policy: %d", w.Code)
	}
}

// A cached Deny names the denied request's ARN. When that ARN holds a '*', IAM
// reads it as a wildcard, so the cached policy also refuses the caller's other
// requests it covers, explicitly, even where the grants allow them: the gateway
// must show that refusal as API Gateway would, not let the request through.
func TestGatewayAppliesACachedDenyWhoseARNHasAStar(t *testing.T) {
	f := newFixture(t)
	core := f.core(t, "package authz\n\ndecision := {\"allow\": input.request.path != \"/orders/*\", \"grants\": [{\"method\": \"GET\", \"path\": \"*\"}]}\n", false)
	g := f.gateway(t, "rest", 300*time.Second, core)
	tok := f.token(t, "dave")
	tests := []struct {
		path     string
		want     int
		explicit bool
	}{
		{"/orders/*", 403, true},       // denied by the policy; the answer is cached
		{"/orders/*/items", 403, true}, // the cached Deny of .../GET/orders/* covers it
		{"/orders/1", 403, true},       // ... and this
		{"/orders", 200, false},        // the cached Allow of the grant covers it, no Deny does
	}
	for _, tt := range tests {
		w := do(t, g, "GET", tt.path, tok)
		if w.Code != tt.want || strings.Contains(w.Body.String(), "explicit deny") != tt.explicit {
			t.Errorf("GET %s: %d %s; want %d, explicit deny %v", tt.path, w.Code, strings.TrimSpace(w.Body.String()), tt.want, tt.explicit)
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("the authorizer was called %d times, want once: the later requests are answered from the cache", n)
	}
}

// TestGatewayCacheKeepsDenyingAmbiguousPaths: with the cache on, a reader's
// cached grant of GET /orders/* answered GET /orders/%2e%2e/admin/users with
// 200, without asking the authorizer, whose path rule refuses it. The Deny of
// ambiguous paths that travels with the grants answers it from the cache too.
func TestGatewayCacheKeepsDenyingAmbiguousPaths(t *testing.T) {
	f := newFixture(t)
	g := f.gateway(t, "rest", 300*time.Second, f.core(t, "", false))
	tok := f.token(t, "bob", "orders-readers")
	if w := do(t, g, "GET", "/orders/1", tok); w.Code != 200 {
		t.Fatalf("GET /orders/1: %d", w.Code)
	}
	for _, path := range []string{"/orders/%2e%2e/admin/users", "/orders/..%2Fadmin/users", "/orders/../admin/users",
		"/orders/..;/admin/users", `/orders/..%5Cadmin`, "/orders/%252e%252e/admin"} {
		if w := do(t, g, "GET", path, tok); w.Code != 403 || !strings.Contains(w.Body.String(), "explicit deny") {
			t.Errorf("GET %s from the cache: %d %s; want 403, explicit deny", path, w.Code, strings.TrimSpace(w.Body.String()))
		}
	}
	if w := do(t, g, "GET", "/orders/2", tok); w.Code != 200 {
		t.Errorf("GET /orders/2: %d; the grant itself must still be allowed from the cache", w.Code)
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("the authorizer was called %d times; the test means to exercise the cache", n)
	}
}

// What authz check predicts of a policy whose grants move with the request,
// authz serve shows: the caller's next invoice is refused from the cache.
func TestGatewayShowsGrantsThatMoveWithTheRequest(t *testing.T) {
	f := newFixture(t)
	policy := "package authz\n\n" + requestGrants + "\n"
	tok := f.token(t, "bob")
	g := f.gateway(t, "rest", 300*time.Second, f.core(t, policy, false))
	if w := do(t, g, "GET", "/invoices/7", tok); w.Code != 200 {
		t.Fatalf("GET /invoices/7: %d", w.Code)
	}
	if w := do(t, g, "GET", "/invoices/8", tok); w.Code != 403 || f.calls.Load() != 1 {
		t.Fatalf("GET /invoices/8: %d after %d authorizer calls; want 403 from the cache", w.Code, f.calls.Load())
	}
	a := f.authorizer(t, policy, false)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	event, _ := Event(Request{Kind: "rest", Method: "GET", Path: "/invoices/7", Headers: h}, DefaultAPI)
	warnings := CacheWarnings(context.Background(), a, a.Authorize(context.Background(), event), IdentitySourcesOf(identity.DefaultSources))
	if !strings.Contains(strings.Join(warnings, "\n"), "GET /invoices/8") {
		t.Fatalf("authz check does not predict the refusal of GET /invoices/8: %q", warnings)
	}
}

// The README's configuration for HTTP APIs with simple responses keys the
// cache on the route too: a cached yes for one route no longer answers
// another. Every source must be present, or 401 without the authorizer.
func TestGatewayIdentitySourcesOfAPIGateway(t *testing.T) {
	f := newFixture(t)
	reader := f.token(t, "bob", "orders-readers")
	tests := []struct {
		name, sources string
		stage         map[string]string
		deleteStatus  int
	}{
		{"the token only: a cached yes answers DELETE", "$request.header.Authorization", nil, 200},
		{"the token and the route key", "$request.header.Authorization,$context.routeKey", nil, 403},
		{"REST syntax, the method", "method.request.header.Authorization,context.httpMethod", nil, 403},
		{"a stage variable", "$request.header.Authorization,$stageVariables.env", map[string]string{"env": "dev"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sources, err := ParseIdentitySources(tt.sources)
			if err != nil {
				t.Fatal(err)
			}
			f.calls.Store(0)
			api := DefaultAPI
			api.StageVariables = tt.stage
			g := New(Options{Kind: "http", API: api, IdentitySources: sources, CacheTTL: 300 * time.Second,
				Now: func() time.Time { return f.now }}, f.core(t, "", true))
			if w := do(t, g, "GET", "/orders/1", reader); w.Code != 200 {
				t.Fatalf("GET: %d", w.Code)
			}
			if w := do(t, g, "DELETE", "/orders/1", reader); w.Code != tt.deleteStatus {
				t.Fatalf("DELETE: %d, want %d", w.Code, tt.deleteStatus)
			}
			calls := f.calls.Load()
			if w := do(t, g, "GET", "/orders/1", ""); w.Code != 401 || f.calls.Load() != calls {
				t.Fatalf("no token: %d, authorizer called %d times more", w.Code, f.calls.Load()-calls)
			}
		})
	}
	sources, _ := ParseIdentitySources("$request.header.Authorization,$stageVariables.env")
	g := New(Options{Kind: "http", API: DefaultAPI, IdentitySources: sources, CacheTTL: 300 * time.Second}, f.core(t, "", true))
	f.calls.Store(0)
	if w := do(t, g, "GET", "/orders/1", reader); w.Code != 401 || f.calls.Load() != 0 {
		t.Fatalf("a stage without the variable: %d, authorizer called %d times", w.Code, f.calls.Load())
	}
}

// TestGatewayKeysTheCacheOnTheRoute: with the routes of the API given, a cache
// keyed on $context.routeKey (or REST's resourcePath) is shared by the
// requests of one route, as in API Gateway: the reader's cached answer for
// /orders/7 answers /orders/8 without the authorizer. A request no route
// takes is answered as API Gateway answers it, without the authorizer.
func TestGatewayKeysTheCacheOnTheRoute(t *testing.T) {
	f := newFixture(t)
	reader := f.token(t, "bob", "orders-readers")
	tests := []struct {
		kind, sources string
		routes        []string
		calls         int64 // after GET /orders/7 then /orders/8
		noRoute       int
		noRouteBody   string
	}{
		{"http", "$request.header.Authorization,$context.routeKey", []string{"GET /orders/{id}"}, 1,
			404, `{"message":"Not Found"}`},
		{"rest", "method.request.header.Authorization,context.resourcePath", []string{"GET /orders/{id}"}, 1,
			403, `{"message":"Missing Authentication Token"}`},
		{"http", "$request.header.Authorization,$context.routeKey", nil, 2, 0, ""}, // per path without routes
	}
	for _, tt := range tests {
		t.Run(tt.kind+" "+strings.Join(tt.routes, ","), func(t *testing.T) {
			sources, err := ParseIdentitySources(tt.sources)
			if err != nil {
				t.Fatal(err)
			}
			var routes Routes
			if tt.routes != nil {
				if routes, err = ParseRoutes(tt.kind, tt.routes); err != nil {
					t.Fatal(err)
				}
			}
			f.calls.Store(0)
			g := New(Options{Kind: tt.kind, API: DefaultAPI, IdentitySources: sources, CacheTTL: 300 * time.Second, Routes: routes,
				Now: func() time.Time { return f.now }}, f.core(t, "", tt.kind == "http"))
			for _, path := range []string{"/orders/7", "/orders/8"} {
				if w := do(t, g, "GET", path, reader); w.Code != 200 {
					t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
				}
			}
			if n := f.calls.Load(); n != tt.calls {
				t.Errorf("the authorizer was called %d times for /orders/7 and /orders/8, want %d", n, tt.calls)
			}
			if tt.noRoute == 0 {
				return
			}
			calls := f.calls.Load()
			w := do(t, g, "DELETE", "/orders/7", reader)
			if w.Code != tt.noRoute || strings.TrimSpace(w.Body.String()) != tt.noRouteBody || f.calls.Load() != calls {
				t.Errorf("DELETE /orders/7, no route: %d %s after %d more authorizer calls; want %d %s, none",
					w.Code, strings.TrimSpace(w.Body.String()), f.calls.Load()-calls, tt.noRoute, tt.noRouteBody)
			}
		})
	}
}
