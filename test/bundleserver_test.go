package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
)

// bundleFault is how the bundle server misbehaves, whatever version is current.
type bundleFault int

const (
	faultNone      bundleFault = iota
	faultStatus500             // 500 Internal Server Error, with a body
	faultHangUp                // the connection is closed without an answer
)

// bundleRequest is one request the bundle server received.
type bundleRequest struct {
	At          time.Time
	Method      string
	Path        string
	IfNoneMatch string // as received, "" when absent (OPA sends none until it has an ETag)
	Prefer      string // OPA's "modes=snapshot,delta"
	Status      int    // 0: no answer (the connection was cut by faultHangUp, the client gave up, or the server stopped)
	Version     string // the version answered with (200 or 304), "" otherwise
}

// bundleServer serves named versions of one bundle at one path on 127.0.0.1,
// as a bundle service does for OPA's bundle plugin: ETag on every answer, 304
// Not Modified when If-None-Match holds the current version's ETag. A test
// swaps the current version, injects faults and delays, stops the server and
// starts it again on the same port, and reads the log of requests.
type bundleServer struct {
	// URL is the service's base URL, http://127.0.0.1:PORT (OPA's
	// services.NAME.url).
	URL string
	// Resource is the bundle's path under URL, without the leading slash
	// (OPA's bundles.NAME.resource).
	Resource string

	addr string

	mu       sync.Mutex
	srv      *http.Server // nil while stopped
	versions map[string]servedBundle
	current  string
	fault    bundleFault
	delay    time.Duration
	down     chan struct{}   // closed when the server stops: cuts delays short
	arrived  int             // requests received, answered or not
	log      []bundleRequest // requests answered or given up
}

type servedBundle struct {
	body []byte
	etag string
}

// startBundleServer starts a bundle server for resource on a free loopback
// port, with no version yet (404 until one is served). It stops when the test
// ends.
func startBundleServer(t *testing.T, resource string) *bundleServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &bundleServer{
		URL:      "http://" + ln.Addr().String(),
		Resource: strings.TrimPrefix(resource, "/"),
		addr:     ln.Addr().String(),
		versions: map[string]servedBundle{},
	}
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

// BundleURL is the bundle's full URL (for AUTHZ_BUNDLE).
func (s *bundleServer) BundleURL() string { return s.URL + "/" + s.Resource }

// Put stores a version under name and returns its ETag, a digest of the
// bytes: two names with the same bytes share an ETag, as HTTP caches expect.
func (s *bundleServer) Put(name string, tarball []byte) string {
	sum := sha256.Sum256(tarball)
	v := servedBundle{body: bytes.Clone(tarball), etag: `"` + hex.EncodeToString(sum[:10]) + `"`}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.versions[name] = v
	return v.etag
}

// Serve makes the version stored under name the one the server answers with;
// a name never Put is a mistake in the test, and panics.
func (s *bundleServer) Serve(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.versions[name]; !ok {
		panic(fmt.Sprintf("bundle server: no version %q", name))
	}
	s.current = name
}

// ETag is the ETag of the version stored under name.
func (s *bundleServer) ETag(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[name].etag
}

// SetFault makes every following request fail as f says (faultNone: answer
// normally again).
func (s *bundleServer) SetFault(f bundleFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
}

// SetDelay holds every following request for d before it is answered (or
// failed): a slow server, or a hanging one with a d longer than the client's
// timeout. A request whose client gives up is logged with status 0.
func (s *bundleServer) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Stop takes the server down: the listener and every connection are closed,
// and the port refuses connections until Start.
func (s *bundleServer) Stop() {
	s.mu.Lock()
	srv, down := s.srv, s.down
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Close()
		close(down)
	}
}

// Start brings a stopped server back on the same port, with its versions,
// fault and delay as they were.
func (s *bundleServer) Start(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; allow the kernel a moment
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			s.serve(ln)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("bundle server: back on %s: %v", s.addr, err)
}

func (s *bundleServer) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle)}
	s.mu.Lock()
	s.srv = srv
	s.down = make(chan struct{})
	s.mu.Unlock()
	go srv.Serve(ln)
}

// Requests is the log of every request so far, oldest first.
func (s *bundleServer) Requests() []bundleRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bundleRequest(nil), s.log...)
}

// WaitRequests waits until the log holds at least n requests after the first
// skip ones, and returns those after skip.
func (s *bundleServer) WaitRequests(t *testing.T, skip, n int, timeout time.Duration) []bundleRequest {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		log := s.Requests()
		if len(log)-skip >= n {
			return log[skip:]
		}
		if time.Now().After(deadline) {
			t.Fatalf("bundle server: %d requests after the first %d in %v, want %d: %+v", len(log)-skip, skip, timeout, n, log)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// started is how many requests have arrived, including those still held.
func (s *bundleServer) started() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.arrived
}

func (s *bundleServer) handle(w http.ResponseWriter, r *http.Request) {
	entry := bundleRequest{
		At:          time.Now(),
		Method:      r.Method,
		Path:        r.URL.Path,
		IfNoneMatch: strings.Join(r.Header.Values("If-None-Match"), ", "),
		Prefer:      r.Header.Get("Prefer"),
	}
	defer func() {
		s.mu.Lock()
		s.log = append(s.log, entry)
		s.mu.Unlock()
	}()

	s.mu.Lock()
	s.arrived++
	delay, down := s.delay, s.down
	s.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-r.Context().Done():
			return
		case <-down:
			panic(http.ErrAbortHandler) // no answer: the connection is cut
		}
	}

	// What is current when the answer is made, after any delay.
	s.mu.Lock()
	fault, v, name := s.fault, s.versions[s.current], s.current
	s.mu.Unlock()

	switch {
	case r.URL.Path != "/"+s.Resource:
		entry.Status = http.StatusNotFound
		http.NotFound(w, r)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		entry.Status = http.StatusMethodNotAllowed
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", entry.Status)
		return
	case fault == faultStatus500:
		entry.Status = http.StatusInternalServerError
		http.Error(w, "bundle server: injected failure", entry.Status)
		return
	case fault == faultHangUp:
		panic(http.ErrAbortHandler) // the server closes the connection, no answer

	case name == "":
		entry.Status = http.StatusNotFound
		http.Error(w, "bundle server: no version served yet", entry.Status)
		return
	}

	entry.Version = name
	w.Header().Set("ETag", v.etag)
	if etagListMatches(r.Header.Values("If-None-Match"), v.etag) {
		entry.Status = http.StatusNotModified
		w.WriteHeader(entry.Status)
		return
	}
	entry.Status = http.StatusOK
	// application/gzip, not application/vnd.openpolicyagent.bundles: the
	// latter tells OPA that the server supports long polling, which it does not.
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", fmt.Sprint(len(v.body)))
	w.WriteHeader(entry.Status)
	if r.Method == http.MethodGet {
		w.Write(v.body)
	}
}

// etagListMatches is If-None-Match's weak comparison (RFC 9110, 13.1.2): the
// header values are lists of entity tags, or "*". OPA sends the ETag of its
// current bundle, then, with polling.superseded_etag_ttl_seconds, those of the
// bundles it replaced.
func etagListMatches(values []string, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, list := range values {
		for rest := strings.TrimSpace(list); rest != ""; rest = strings.TrimLeft(rest, " \t,") {
			if rest[0] == '*' {
				return true
			}
			rest = strings.TrimPrefix(rest, "W/")
			var tag string
			if rest[0] == '"' {
				end := strings.IndexByte(rest[1:], '"')
				if end < 0 {
					return false // malformed: never a match
				}
				tag, rest = rest[:end+2], rest[end+2:]
			} else { // an unquoted tag: tolerated, up to the next comma
				end := strings.IndexByte(rest, ',')
				if end < 0 {
					end = len(rest)
				}
				tag, rest = strings.TrimSpace(rest[:end]), rest[end:]
			}
			if tag == want {
				return true
			}
		}
	}
	return false
}

// --- Self-tests -------------------------------------------------------------

func TestBundleServerConditionalGET(t *testing.T) {
	s := startBundleServer(t, "bundles/authz.tar.gz")
	v1, v2 := []byte("bundle v1"), []byte("bundle v2")
	e1, e2 := s.Put("v1", v1), s.Put("v2", v2)
	if e1 == e2 || !strings.HasPrefix(e1, `"`) {
		t.Fatalf("ETags %s %s", e1, e2)
	}

	get := func(path string, inm ...string) (int, string, []byte) {
		t.Helper()
		req, err := http.NewRequest("GET", s.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range inm {
			req.Header.Add("If-None-Match", v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("ETag"), body
	}

	if code, _, _ := get("/bundles/authz.tar.gz"); code != 404 {
		t.Fatalf("before any version: %d, want 404", code)
	}
	s.Serve("v1")
	cases := []struct {
		name     string
		path     string
		inm      []string
		wantCode int
		wantBody []byte
	}{
		{"first download", "/bundles/authz.tar.gz", nil, 200, v1},
		{"empty If-None-Match", "/bundles/authz.tar.gz", []string{""}, 200, v1},
		{"unchanged", "/bundles/authz.tar.gz", []string{e1}, 304, nil},
		{"weak form", "/bundles/authz.tar.gz", []string{"W/" + e1}, 304, nil},
		{"in a list, as OPA sends superseded ETags", "/bundles/authz.tar.gz", []string{e2 + ", " + e1}, 304, nil},
		{"in a second header", "/bundles/authz.tar.gz", []string{e2, e1}, 304, nil},
		{"star", "/bundles/authz.tar.gz", []string{"*"}, 304, nil},
		{"another version's ETag", "/bundles/authz.tar.gz", []string{e2}, 200, v1},
		{"malformed list", "/bundles/authz.tar.gz", []string{`"unterminated`}, 200, v1},
		{"another path", "/bundles/other.tar.gz", nil, 404, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, etag, body := get(c.path, c.inm...)
			if code != c.wantCode {
				t.Fatalf("status %d, want %d", code, c.wantCode)
			}
			if c.wantCode != 404 && etag != e1 {
				t.Fatalf("ETag %q, want %q", etag, e1)
			}
			if c.wantBody != nil && !bytes.Equal(body, c.wantBody) || c.wantCode == 304 && len(body) != 0 {
				t.Fatalf("body %q", body)
			}
		})
	}

	s.Serve("v2")
	if code, etag, body := get("/bundles/authz.tar.gz", e1); code != 200 || etag != e2 || !bytes.Equal(body, v2) {
		t.Fatalf("after the swap: %d %s %q", code, etag, body)
	}
	if code, _, _ := get("/bundles/authz.tar.gz", e2); code != 304 {
		t.Fatalf("v2 unchanged: %d", code)
	}

	log := s.Requests()
	if len(log) != len(cases)+3 {
		t.Fatalf("%d requests logged, want %d", len(log), len(cases)+3)
	}
	last := log[len(log)-1]
	if last.Method != "GET" || last.Path != "/bundles/authz.tar.gz" || last.IfNoneMatch != e2 || last.Status != 304 || last.Version != "v2" {
		t.Fatalf("last request %+v", last)
	}
	if first := log[0]; first.Status != 404 || first.Version != "" {
		t.Fatalf("first request %+v", first)
	}
}

func TestBundleServerFaults(t *testing.T) {
	s := startBundleServer(t, "b.tar.gz")
	s.Put("v1", []byte("v1"))
	s.Serve("v1")
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(c *http.Client) (int, error) {
		resp, err := c.Get(s.BundleURL())
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	lastLogged := func() bundleRequest {
		t.Helper()
		log := s.WaitRequests(t, 0, 1, 2*time.Second)
		return log[len(log)-1]
	}

	t.Run("500", func(t *testing.T) {
		s.SetFault(faultStatus500)
		defer s.SetFault(faultNone)
		if code, err := get(client); err != nil || code != 500 {
			t.Fatalf("%d %v", code, err)
		}
		if r := lastLogged(); r.Status != 500 || r.Version != "" {
			t.Fatalf("logged %+v", r)
		}
	})
	t.Run("hang up", func(t *testing.T) {
		s.SetFault(faultHangUp)
		defer s.SetFault(faultNone)
		n := len(s.Requests())
		if code, err := get(client); err == nil {
			t.Fatalf("answered %d", code)
		}
		if r := lastLogged(); r.Status != 0 {
			t.Fatalf("logged %+v", r)
		}
		// Go's transport retries an idempotent request once when a reused
		// connection closes before any answer: one GET can log two requests.
		t.Logf("one GET, %d requests logged", len(s.Requests())-n)
	})
	t.Run("slow", func(t *testing.T) {
		s.SetDelay(300 * time.Millisecond)
		defer s.SetDelay(0)
		start := time.Now()
		if code, err := get(client); err != nil || code != 200 {
			t.Fatalf("%d %v", code, err)
		}
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Fatalf("answered after %v", took)
		}
	})
	t.Run("slower than the client waits", func(t *testing.T) {
		s.SetDelay(time.Minute)
		defer s.SetDelay(0)
		n := len(s.Requests())
		if code, err := get(&http.Client{Timeout: 200 * time.Millisecond}); err == nil {
			t.Fatalf("answered %d", code)
		}
		if r := s.WaitRequests(t, n, 1, 2*time.Second)[0]; r.Status != 0 {
			t.Fatalf("logged %+v", r)
		}
	})
	t.Run("down and back on the same port", func(t *testing.T) {
		s.SetDelay(time.Minute) // a request in flight when it goes down ends at once
		n := s.started()
		inFlight := make(chan error, 1)
		go func() { _, err := get(client); inFlight <- err }()
		for s.started() == n {
			time.Sleep(5 * time.Millisecond)
		}
		s.Stop()
		if err := <-inFlight; err == nil {
			t.Fatal("the request in flight was answered")
		}
		s.SetDelay(0)
		_, err := get(client)
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("while down: %v, want connection refused", err)
		}
		s.Start(t)
		if code, err := get(client); err != nil || code != 200 {
			t.Fatalf("back up: %d %v", code, err)
		}
	})
}

// TestBundleServerWithOPADownloader polls the server with OPA's own bundle
// downloader (in manual trigger mode), so that the server answers exactly what
// the function's OPA will send: no If-None-Match first, then the ETag it got;
// 304 while unchanged. A bundle that fails verification is downloaded again
// (200) at every poll: the ETag sent stays the last good one.
func TestBundleServerWithOPADownloader(t *testing.T) {
	key := newBundleKey(t, "current", "ES256")
	files := map[string]string{"authz/policy.rego": "package authz\n\ndecision := {\"allow\": data.rbac.open}\n", "rbac/data.json": `{"open": false}`}
	v1 := buildBundle(t, bundleSpec{Files: files, Roots: defaultRoots, Revision: "v1", SignWith: &key})
	files["rbac/data.json"] = `{"open": true}`
	v2 := buildBundle(t, bundleSpec{Files: files, Roots: defaultRoots, Revision: "v2", SignWith: &key})
	tampered := buildBundle(t, bundleSpec{Files: files, Roots: defaultRoots, Revision: "v3", SignWith: &key,
		Tamper: func(f map[string]string) { f["rbac/data.json"] = `{"open": "tampered"}` }})

	s := startBundleServer(t, "bundles/authz.tar.gz")
	e1, e2 := s.Put("v1", v1), s.Put("v2", v2)
	s.Put("v3", tampered)
	s.Serve("v1")

	client, err := rest.New([]byte(fmt.Sprintf(`{"url": %q}`, s.URL)), nil, rest.Logger(logging.NewNoOpLogger()))
	if err != nil {
		t.Fatal(err)
	}
	manual := plugins.TriggerManual
	config := download.Config{Trigger: &manual}
	if err := config.ValidateAndInjectDefaults(); err != nil {
		t.Fatal(err)
	}
	var got *bundle.Bundle
	d := download.New(config, client, s.Resource).
		WithBundleVerificationConfig(verificationConfig(t, "current", key)).
		WithBundleParserOpts(ast.ParserOptions{RegoVersion: ast.RegoV1}).
		WithCallback(func(_ context.Context, u download.Update) error { got = u.Bundle; return nil })
	ctx := context.Background()
	poll := func(wantRevision string) {
		t.Helper()
		got = nil
		if err := d.Trigger(ctx); err != nil {
			t.Fatalf("poll: %v", err)
		}
		switch {
		case wantRevision == "" && got != nil:
			t.Fatalf("poll: a bundle (%s), want none (304)", got.Manifest.Revision)
		case wantRevision != "" && (got == nil || got.Manifest.Revision != wantRevision):
			t.Fatalf("poll: %v, want revision %s", got, wantRevision)
		}
	}

	poll("v1")
	poll("")
	poll("")
	s.Serve("v2")
	poll("v2")
	poll("")
	s.Serve("v3")
	for range 2 {
		if err := d.Trigger(ctx); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
			t.Fatalf("tampered bundle: %v", err)
		}
	}

	want := []struct {
		inm     string
		status  int
		version string
	}{{"", 200, "v1"}, {e1, 304, "v1"}, {e1, 304, "v1"}, {e1, 200, "v2"}, {e2, 304, "v2"}, {e2, 200, "v3"}, {e2, 200, "v3"}}
	log := s.Requests()
	if len(log) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(log), len(want), log)
	}
	for i, w := range want {
		r := log[i]
		if r.IfNoneMatch != w.inm || r.Status != w.status || r.Version != w.version || r.Prefer != "modes=snapshot,delta" {
			t.Fatalf("request %d: %+v, want If-None-Match %q, %d, %s", i, r, w.inm, w.status, w.version)
		}
	}
}

// TestBundleServerBundles checks the bundle builders against OPA's reader: a
// bundle signed under a key id verifies with that key's public half, for RSA
// and ECDSA; every broken variant is refused for the reason it was built for.
func TestBundleServerBundles(t *testing.T) {
	rsaKey := newBundleKey(t, "rsa-2026", "RS256")
	ecKey := newBundleKey(t, "ec-2026", "ES256")
	psKey := newBundleKey(t, "ps-2026", "PS384")
	stranger := newBundleKey(t, "stranger", "ES256")
	files := defaultPolicy(t)
	configured := []bundleKey{rsaKey, ecKey, psKey}
	signed := func(k *bundleKey, tamper func(map[string]string)) bundleSpec {
		return bundleSpec{Files: files, Roots: defaultRoots, Revision: "r1", SignWith: k, Tamper: tamper}
	}

	cases := []struct {
		name    string
		spec    bundleSpec
		verify  bool   // read as the bundle plugin does with `signing` configured
		keyid   string // signing.keyid: it overrides the token's kid; "" looks the kid up in keys
		wantErr string
	}{
		{"signed RS256, kid looked up", signed(&rsaKey, nil), true, "", ""},
		{"signed ES256, kid looked up (rotation: another configured key)", signed(&ecKey, nil), true, "", ""},
		{"signed PS384, keyid configured", signed(&psKey, nil), true, "ps-2026", ""},
		{"signed by a configured key that signing.keyid does not name", signed(&ecKey, nil), true, "rsa-2026", "failed to verify JWT signature"},
		{"unsigned", signed(nil, nil), true, "", "bundle missing .signatures.json file"},
		{"unsigned, read without verification", signed(nil, nil), false, "", ""},
		{"unknown key id", signed(&stranger, nil), true, "", "verification key corresponding to ID stranger not found"},
		{"unknown key id, keyid configured", signed(&stranger, nil), true, "rsa-2026", "failed to verify JWT signature"},
		{"tampered data", signed(&rsaKey, func(f map[string]string) {
			f["data.json"] = strings.Replace(f["data.json"], `"orders-readers"`, `"everyone"`, 1)
		}),
			true, "", "digest mismatch"},
		{"tampered module", signed(&rsaKey, func(f map[string]string) { f["authz.rego"] += "\nallow if true\n" }), true, "", "digest mismatch"},
		{"a module added after signing", signed(&rsaKey, func(f map[string]string) { f["authz/backdoor.rego"] = "package authz\n" }),
			true, "", "file authz/backdoor.rego not included in bundle signature"},
		{"does not parse", bundleSpec{Files: map[string]string{"p.rego": "package authz\n\ndecision := {"}, Roots: []string{"authz"}, Revision: "r1"},
			false, "", "rego_parse_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var vc *bundle.VerificationConfig
			if c.verify {
				vc = verificationConfig(t, c.keyid, configured...)
			}
			b, err := readBundle(buildBundle(t, c.spec), vc)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("read: %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if b.Manifest.Revision != "r1" || b.Manifest.Roots == nil || strings.Join(*b.Manifest.Roots, ",") != "authz,lib,rbac,system/log" {
				t.Fatalf("manifest %+v", b.Manifest)
			}
			if len(b.Modules) != 3 || b.Data["rbac"] == nil {
				t.Fatalf("%d modules, data %v", len(b.Modules), b.Data)
			}
		})
	}

	t.Run("does not compile", func(t *testing.T) {
		tarball := buildBundle(t, bundleSpec{Files: map[string]string{"p.rego": unsafeRego}, Roots: []string{"authz"}, Revision: "bad", SignWith: &rsaKey})
		b, err := readBundle(tarball, verificationConfig(t, "", rsaKey))
		if err != nil {
			t.Fatalf("read: %v (it must read, and fail only when compiled)", err)
		}
		c := ast.NewCompiler()
		if c.Compile(b.ParsedModules("authz")); !c.Failed() || !strings.Contains(c.Errors.Error(), "var x is unsafe") {
			t.Fatalf("compile: %v", c.Errors)
		}
	})
	t.Run("a policy folder and the library", func(t *testing.T) {
		files := policyFolder(t, "../rego/examples/deny-list")
		for name, content := range policyFolder(t, "../rego/lib") {
			files["lib/"+name] = content
		}
		b, err := readBundle(buildBundle(t, bundleSpec{Files: files, Roots: []string{"authz", "deny_list", "lib"}, Revision: "deny-1", SignWith: &ecKey}), verificationConfig(t, "", ecKey))
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Modules) != 2 || b.Data["deny_list"] == nil || b.Manifest.Revision != "deny-1" {
			t.Fatalf("%d modules, data %v, manifest %+v", len(b.Modules), b.Data, b.Manifest)
		}
		c := ast.NewCompiler()
		if c.Compile(b.ParsedModules("deny")); c.Failed() {
			t.Fatalf("compile: %v", c.Errors)
		}
	})
	t.Run("keys section", func(t *testing.T) {
		k := keysConfig(rsaKey, ecKey)
		if len(k) != 2 || k["ec-2026"].(map[string]any)["algorithm"] != "ES256" || !strings.HasPrefix(k["rsa-2026"].(map[string]any)["key"].(string), "-----BEGIN PUBLIC KEY") {
			t.Fatalf("%v", k)
		}
	})
}
