package e2e

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// copyTree copies the repository folder src (relative to the repository root)
// into dst, so that a test may edit it.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	root := filepath.Join("..", src)
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if d.Name() == "examples" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// server is `authz serve` running as a subprocess.
type server struct {
	*process
	base, issuer string
}

// waitFor waits until the server's output holds text.
func (s *server) waitFor(t *testing.T, text string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(s.text(), text) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("authz serve never printed %q", text)
}

func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	addr, issuerAddr := freeAddr(t), freeAddr(t)
	s := &server{base: "http://" + addr, issuer: "http://" + issuerAddr}
	s.process = startProcess(t, os.Interrupt, nil, authzBin,
		append([]string{"serve", "--addr", addr, "--dev-issuer", "--dev-issuer-addr", issuerAddr}, args...)...)
	s.waitFor(t, "Local API Gateway")
	return s
}

// mintToken runs `authz token` against the server's dev issuer.
func (s *server) mintToken(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(authzBin, append([]string{"token", "--issuer", s.issuer}, args...)...).Output()
	if err != nil {
		t.Fatalf("authz token %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

func (s *server) call(t *testing.T, method, path, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServe drives `authz serve` the way a new user does after `make run`: the
// three printed requests, a token from `authz token`, then an edit of the policy
// seen without a restart.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	regoDir, dataDir := filepath.Join(dir, "rego"), filepath.Join(dir, "data")
	copyTree(t, "rego", regoDir)
	copyTree(t, "bundles/default", dataDir)
	s := startServe(t, "--watch", "--bundle", regoDir, "--bundle", dataDir)
	s.waitFor(t, "curl -i http://")

	admin := s.mintToken(t, "--sub", "alice", "--groups", "admins")
	reader := s.mintToken(t, "--sub", "bob", "--groups", "orders-readers")

	status, body := s.call(t, "DELETE", "/orders/42", admin)
	var echo struct {
		Message    string
		Method     string
		Authorizer map[string]any
	}
	if status != 200 || json.Unmarshal([]byte(body), &echo) != nil || echo.Method != "DELETE" ||
		echo.Authorizer["principalId"] != "alice" || echo.Authorizer["roles"] != "admin" {
		t.Fatalf("admin: %d %s", status, body)
	}
	if status, body = s.call(t, "DELETE", "/orders/42", reader); status != 403 ||
		strings.TrimSpace(body) != `{"Message":"User is not authorized to access this resource with an explicit deny"}` {
		t.Fatalf("reader: %d %s", status, body)
	}
	if status, body = s.call(t, "GET", "/orders", ""); status != 401 || strings.TrimSpace(body) != `{"message":"Unauthorized"}` {
		t.Fatalf("no token: %d %s", status, body)
	}
	// A page that rebinds its own name to 127.0.0.1 gets nothing.
	req, _ := http.NewRequest("DELETE", s.base+"/orders/42", nil)
	req.Host = "attacker.example"
	req.Header.Set("Authorization", "Bearer "+admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("a request for another host name: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if status, _ = s.call(t, "GET", "/orders/7", reader); status != 200 {
		t.Fatalf("reader reads: %d", status)
	}
	// Every provider's shape, each verified under its own profile.
	for _, profile := range []string{"okta", "entra", "adfs", "cognito"} {
		tok := s.mintToken(t, "--profile", profile, "--sub", "pat", "--groups", "admins")
		if status, body = s.call(t, "DELETE", "/orders/9", tok); status != 200 {
			t.Fatalf("%s-shaped admin token: %d %s", profile, status, body)
		}
	}
	// A cached policy answers the reader's next request without the authorizer.
	if status, _ = s.call(t, "GET", "/orders/8", reader); status != 200 || !strings.Contains(s.text(), "cache=hit") {
		t.Fatalf("second read: %d, output:\n%s", status, s.text())
	}

	// The policy changes on disk: readers may now delete orders.
	data, err := os.ReadFile(filepath.Join(dataDir, "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `{"method": "GET", "path": "/orders/*"},`, `{"method": "GET", "path": "/orders/*"},
        {"method": "DELETE", "path": "/orders/*"},`, 1)
	if edited == string(data) {
		t.Fatal("the data file did not have the expected reader grant to extend")
	}
	if err := os.WriteFile(filepath.Join(dataDir, "data.json"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "policy reloaded")
	if status, body = s.call(t, "DELETE", "/orders/42", reader); status != 200 {
		t.Fatalf("reader deletes after the edit: %d %s", status, body)
	}

	// A policy that does not compile leaves the last good one in force.
	if err := os.WriteFile(filepath.Join(regoDir, "broken.rego"), []byte("package authz\n\nbroken := {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s.waitFor(t, "policy reload failed")
	if broken := filepath.Join(regoDir, "broken.rego") + ":"; !strings.Contains(s.text(), broken) {
		t.Fatalf("the reload error does not name %s\n%s", broken, s.text())
	}
	if status, _ = s.call(t, "DELETE", "/orders/42", reader); status != 200 {
		t.Fatalf("after a broken edit: %d", status)
	}
	for _, line := range strings.Split(s.text(), "\n") {
		if strings.Contains(line, "msg=request") && (strings.Contains(line, admin) || strings.Contains(line, reader)) {
			t.Fatalf("a request log line holds a token: %s", line)
		}
	}
}

func TestServeHTTPAPIWithoutCache(t *testing.T) {
	s := startServe(t, "--kind", "http", "--cache-ttl", "0")
	reader := s.mintToken(t, "--sub", "bob", "--groups", "orders-readers")
	if status, body := s.call(t, "DELETE", "/orders/1", reader); status != 403 || strings.TrimSpace(body) != `{"message":"Forbidden"}` {
		t.Fatalf("denied: %d %s", status, body)
	}
	if status, body := s.call(t, "GET", "/orders/1", reader); status != 200 || !strings.Contains(body, `"roles": [`) {
		t.Fatalf("allowed, with payload 2.0 context kept as an array: %d %s", status, body)
	}
	if strings.Contains(s.text(), "cache=hit") {
		t.Fatal("a cache hit with the cache off")
	}
}

func TestServeRefusesNonLoopback(t *testing.T) {
	out, err := exec.Command(authzBin, "serve", "--addr", "0.0.0.0:8080").CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "must be a loopback IP and port") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}

// TestCheck runs `authz check` as a policy author would in a script or CI.
func TestCheck(t *testing.T) {
	unsafePolicy := t.TempDir()
	os.WriteFile(filepath.Join(unsafePolicy, "p.rego"), []byte("package authz\n\ndecision := {\"allow\": input.request.method == \"GET\"}\n"), 0o644)
	claims := filepath.Join(t.TempDir(), "claims.json")
	os.WriteFile(claims, []byte(`{"iss":"https://idp.example.com","sub":"dana","groups":["admins"]}`), 0o644)
	event := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(event, kinds[3].event("DELETE", "/orders/1", ""), 0o644)
	candidate := t.TempDir()
	os.WriteFile(filepath.Join(candidate, "p.rego"), []byte("package authz\n\ndecision := {\"allow\": true, \"reasons\": [\"the candidate policy\"]}\n"), 0o644)
	requestGrants := t.TempDir()
	os.WriteFile(filepath.Join(requestGrants, "p.rego"), []byte(requestGrantsPolicy), 0o644)

	tests := []struct {
		name string
		args []string
		code int
		want []string
		env  []string
	}{
		{"admin", []string{"--sub", "alice", "--groups", "admins", "--method", "DELETE", "--path", "/orders/42"}, 0,
			[]string{"ALLOW", "role admin grants * *", "Cache        safe"}, nil},
		{"reader on a forbidden route", []string{"--sub", "bob", "--groups", "orders-readers", "--method", "DELETE", "--path", "/orders/42"}, 3,
			[]string{"DENY: API Gateway answers 403", "no grant of the roles [reader] covers DELETE /orders/42", "refuses"}, nil},
		{"no token", []string{"--path", "/orders"}, 4, []string{"UNAUTHORIZED", "no_token"}, nil},
		{"unverified claims are marked", []string{"--claims", claims, "--path", "/orders"}, 0, []string{"UNVERIFIED CLAIMS"}, nil},
		{"claims with an event file", []string{"--claims", claims, event}, 0, []string{"UNVERIFIED CLAIMS", "http DELETE /orders/1"}, nil},
		{"a minted token put into an event file", []string{"--sub", "alice", "--groups", "admins", event}, 0,
			[]string{"ALLOW", "http DELETE /orders/1", `verified: issuer`}, nil},
		{"claims with a cookie token source", []string{"--claims", claims, "--path", "/orders"}, 0, []string{"UNVERIFIED CLAIMS"},
			[]string{"AUTHZ_TOKEN_SOURCES=cookie:id_token"}},
		{"a cache-unsafe policy", []string{"--bundle", unsafePolicy, "--sub", "erin", "--path", "/a"}, 0,
			[]string{"UNSAFE", "has no grants", "the policy allows GET /another/route for this caller, but the cached policy refuses it"}, nil},
		{"an event file, then --bundle", []string{event, "--bundle", candidate}, 0,
			[]string{"ALLOW", "the candidate policy", "http DELETE /orders/1"}, nil},
		{"grants that move with the request", []string{"--bundle", requestGrants, "--sub", "erin", "--path", "/invoices/7"}, 0,
			[]string{"UNSAFE", "the policy allows GET /invoices/8 for this caller, but the cached policy refuses it", "the grants change with the request"}, nil},
		{"HTTP API, simple responses, keyed on the token alone", []string{"--kind", "http", "--sub", "bob", "--groups", "orders-readers", "--path", "/orders/1"}, 0,
			[]string{"UNSAFE", "request.method and path"}, nil},
		{"HTTP API, simple responses, keyed on the token and the route", []string{"--kind", "http", "--sub", "bob", "--groups", "orders-readers", "--path", "/orders/1",
			"--identity-source", "$request.header.Authorization,$context.routeKey"}, 0, []string{"Cache        safe"}, nil},
		{"an Entra-shaped token", []string{"--dev-profile", "entra", "--sub", "frank", "--roles", "Orders.Read", "--path", "/orders/1"}, 0,
			[]string{"(entra)", "roles [Orders.Read]"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(authzBin, append([]string{"check"}, tt.args...)...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, tt.env...)
			out, err := cmd.CombinedOutput()
			if code := exitCode(err); code != tt.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	cmd := exec.Command(authzBin, "check", "--json", "--sub", "bob", "--groups", "orders-readers", "--method", "GET", "--path", "/orders/1")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Outcome       string   `json:"outcome"`
		Status        int      `json:"status"`
		Allows        bool     `json:"api_gateway_allows"`
		CacheWarnings []string `json:"cache_warnings"`
		Input         struct {
			Token struct{ Subject string } `json:"token"`
		} `json:"input"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Outcome != "allow" || rep.Status != 200 || !rep.Allows || len(rep.CacheWarnings) != 0 || rep.Input.Token.Subject != "bob" {
		t.Fatalf("report %+v", rep)
	}
}

// requestGrantsPolicy grants exactly the request's route: the cached policy of
// GET /invoices/7 refuses GET /invoices/8, which the policy allows.
const requestGrantsPolicy = `package authz

default allow := false

allow if {
	input.request.method == "GET"
	startswith(input.request.path, "/invoices/")
}

decision := {"allow": allow, "grants": [{"method": input.request.method, "path": input.request.path}]}
`

// TestServeGrantsThatMoveWithTheRequest: what authz check calls UNSAFE, authz
// serve shows.
func TestServeGrantsThatMoveWithTheRequest(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte(requestGrantsPolicy), 0o644)
	s := startServe(t, "--bundle", dir)
	tok := s.mintToken(t, "--sub", "erin")
	if status, body := s.call(t, "GET", "/invoices/7", tok); status != 200 {
		t.Fatalf("GET /invoices/7: %d %s", status, body)
	}
	if status, body := s.call(t, "GET", "/invoices/8", tok); status != 403 {
		t.Fatalf("GET /invoices/8: %d %s; want 403 from the cache", status, body)
	}
	s.waitFor(t, `outcome="cached result"`)
}

// TestServeIdentitySourcesOfAPIGateway: the README's configuration for HTTP
// APIs with simple responses, in API Gateway's syntax, keys the cache on the
// route too; without the route, a cached yes answers another route.
func TestServeIdentitySourcesOfAPIGateway(t *testing.T) {
	for _, tt := range []struct {
		sources      string
		deleteStatus int
	}{
		{"$request.header.Authorization", 200}, // the cached yes of GET answers DELETE
		{"$request.header.Authorization,$context.routeKey", 403},
	} {
		s := startServe(t, "--kind", "http", "--identity-source", tt.sources)
		reader := s.mintToken(t, "--sub", "bob", "--groups", "orders-readers")
		if status, body := s.call(t, "GET", "/orders/1", reader); status != 200 {
			t.Fatalf("%s: GET: %d %s", tt.sources, status, body)
		}
		if status, body := s.call(t, "DELETE", "/orders/1", reader); status != tt.deleteStatus {
			t.Fatalf("%s: DELETE: %d %s, want %d", tt.sources, status, body, tt.deleteStatus)
		}
		if status, _ := s.call(t, "GET", "/orders/1", ""); status != 401 {
			t.Fatalf("%s: no token: %d", tt.sources, status)
		}
		// The request's log line is written after the response.
		s.waitFor(t, "identity source missing")
	}
}

// TestServeBannerFitsTheBundle: with a policy of the author's, the banner
// names it and prints requests that do not pretend to be the default policy's.
func TestServeBannerFitsTheBundle(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package authz\n\ndecision := {\"allow\": input.token.subject == \"alice\", \"grants\": [{\"method\": \"*\", \"path\": \"*\"}]}\n"), 0o644)
	s := startServe(t, "--bundle", dir)
	s.waitFor(t, "curl -i")
	s.waitFor(t, "Bearer ") // the banner's request with a token
	banner := s.text()
	if strings.Contains(banner, "default policy, paste") || strings.Contains(banner, "/orders/42") || !strings.Contains(banner, dir) {
		t.Fatalf("the banner does not fit the bundle:\n%s", banner)
	}
	var curl string
	for _, line := range strings.Split(banner, "\n") {
		if strings.Contains(line, "curl -i") && strings.Contains(line, "Bearer ") {
			curl = line
		}
	}
	_, tok, _ := strings.Cut(curl, "Bearer ")
	fields := strings.Fields(curl)
	if len(fields) < 3 || !strings.HasPrefix(fields[2], s.base) {
		t.Fatalf("no request with a token in the banner:\n%s", banner)
	}
	if status, body := s.call(t, "GET", strings.TrimPrefix(fields[2], s.base), strings.TrimSuffix(tok, "'")); status != 200 {
		t.Fatalf("the banner's request: %d %s", status, body)
	}
}

// TestCheckRouteKeyOfAnANYRoute: $context.routeKey is the route template, so
// the cached yes of GET on `ANY /orders/{id}` answers DELETE on it too; the
// verdict must say UNSAFE, and --fail-unsafe must fail the CI step.
func TestCheckRouteKeyOfAnANYRoute(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "events", "http-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	event := strings.NewReplacer(`"routeKey": "DELETE /orders/{id}"`, `"routeKey": "ANY /orders/{id}"`,
		"/prod/DELETE/", "/prod/GET/", `"method": "DELETE"`, `"method": "GET"`).Replace(string(raw))
	file := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(file, []byte(event), 0o644)
	args := []string{"check", file, "--sub", "bob", "--groups", "orders-readers", "--identity-source", "$request.header.Authorization,$context.routeKey"}
	cmd := exec.Command(authzBin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != 0 || !strings.Contains(string(out), "UNSAFE") || !strings.Contains(string(out), "DELETE /orders/42") {
		t.Fatalf("exit %d, want 0 and UNSAFE naming DELETE /orders/42:\n%s", code, out)
	}
	cmd = exec.Command(authzBin, append(args, "--fail-unsafe")...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err = cmd.CombinedOutput()
	if code := exitCode(err); code != 6 {
		t.Fatalf("--fail-unsafe: exit %d, want 6:\n%s", code, out)
	}
}

// TestServeRoutesKeyTheCacheAsAPIGateway: with the API's routes given, a cache
// keyed on $context.routeKey keeps one entry per route, as API Gateway's does:
// the reader's answer for /orders/7 answers /orders/8 from the cache, and a
// request no route takes is answered 404 without the authorizer. Without
// --route, the banner says that the route key is per path here.
func TestServeRoutesKeyTheCacheAsAPIGateway(t *testing.T) {
	const sources = "$request.header.Authorization,$context.routeKey"
	s := startServe(t, "--kind", "http", "--identity-source", sources, "--route", "GET /orders/{id}", "--route", "get /health")
	s.waitFor(t, "Routes: GET /orders/{id}, GET /health;")
	reader := s.mintToken(t, "--sub", "bob", "--groups", "orders-readers")
	for _, path := range []string{"/orders/7", "/orders/8"} {
		if status, body := s.call(t, "GET", path, reader); status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
	}
	s.waitFor(t, `path=/orders/8 route="GET /orders/{id}" status=200 outcome="cached result" cache=hit`)
	if status, body := s.call(t, "DELETE", "/orders/7", reader); status != 404 || strings.TrimSpace(body) != `{"message":"Not Found"}` {
		t.Fatalf("DELETE /orders/7, no route: %d %s", status, body)
	}
	s.waitFor(t, `outcome="no route: authorizer not called"`)

	perPath := startServe(t, "--kind", "http", "--identity-source", sources)
	perPath.waitFor(t, "Note: without --route, the identity source $context.routeKey is per path here")

	out, err := exec.Command(authzBin, "serve", "--route", "$default").CombinedOutput()
	if code := exitCode(err); code != 2 || !strings.Contains(string(out), "--route: REST APIs have no $default route") {
		t.Fatalf("serve --kind rest --route $default: exit %d: %s", code, out)
	}
}
