package delivery

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/apigw-authz/authz/internal/logging"
	"github.com/apigw-authz/authz/internal/policy"
)

// signer signs bundles as `authz bundle --signing-key` does.
type signer struct {
	key   *ecdsa.PrivateKey
	keyID string
}

func newSigner(t *testing.T, keyID string) *signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &signer{key: k, keyID: keyID}
}

func (s *signer) publicPEM(t *testing.T) string {
	der, err := x509.MarshalPKIXPublicKey(&s.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// policyAllowing is a policy that allows what its data's "allowed" path says,
// and names its revision in the context, so that a decision shows which
// bundle made it.
const policyAllowing = `package authz

decision := {"allow": input.request.path == data.rules.allowed, "context": {"rev": data.rules.rev}}
`

// bundleOf writes a bundle: one module, data, a revision, signed by s when s
// is not nil.
func bundleOf(t *testing.T, rego, revision, allowed string, s *signer) []byte {
	t.Helper()
	b := bundle.Bundle{
		Manifest: bundle.Manifest{Revision: revision, Roots: &[]string{"authz", "rules"}},
		Modules:  []bundle.ModuleFile{{URL: "/authz.rego", Path: "/authz.rego", Raw: []byte(rego), Parsed: ast.MustParseModule(rego)}},
		Data:     map[string]any{"rules": map[string]any{"allowed": allowed, "rev": revision}},
	}
	if s != nil {
		der, err := x509.MarshalECPrivateKey(s.key)
		if err != nil {
			t.Fatal(err)
		}
		priv := string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
		if err := b.GenerateSignature(bundle.NewSigningConfig(priv, "ES256", ""), s.keyID, false); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bundleServer serves one bundle at /b.tar.gz with ETags, and counts the
// answers it gives.
type bundleServer struct {
	*httptest.Server
	mu      sync.Mutex
	body    []byte
	fail    int // a status to answer instead, 0 for none
	ok, not atomic.Int64
}

func startBundleServer(t testing.TB, body []byte) *bundleServer {
	s := &bundleServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body, fail := s.body, s.fail
		s.mu.Unlock()
		if fail != 0 {
			http.Error(w, "failing", fail)
			return
		}
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:8]) + `"`
		if r.Header.Get("If-None-Match") == etag {
			s.not.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		s.ok.Add(1)
		w.Header().Set("ETag", etag)
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *bundleServer) serve(body []byte, fail int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body, s.fail = body, fail
}

// syncBuffer is a log sink safe for OPA's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, opts Options) (*Policy, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	p, err := Start(context.Background(), opts, logging.JSON(logs, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop(context.Background()) })
	return p, logs
}

func decide(t *testing.T, p *Policy, path string) (allowed bool, rev string, reason string) {
	t.Helper()
	d, err := p.Decide(context.Background(), map[string]any{"request": map[string]any{"path": path}})
	if err != nil {
		return false, "", policy.ReasonOf(err)
	}
	rev, _ = d.Context["rev"].(string)
	return d.Allow, rev, ""
}

// TestHotUpdatesKeepTheLastGoodPolicy follows a bundle service through new
// revisions and broken ones: decisions follow each good revision, and every
// broken one leaves the last good policy in force.
func TestHotUpdatesKeepTheLastGoodPolicy(t *testing.T) {
	sign := newSigner(t, "default")
	other := newSigner(t, "default")
	srv := startBundleServer(t, bundleOf(t, policyAllowing, "v1", "/a", sign))
	p, logs := start(t, Options{Bundle: srv.URL + "/b.tar.gz", PublicKey: sign.publicPEM(t), PollInterval: time.Hour})
	ctx := context.Background()

	if ok, rev, _ := decide(t, p, "/a"); !ok || rev != "v1" || p.Revision() != "v1" {
		t.Fatalf("v1: allow %v, rev %q, revision %q", ok, rev, p.Revision())
	}
	// An unchanged bundle costs a 304 and no activation.
	if err := p.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.not.Load() != 1 || strings.Count(logs.String(), `"msg":"policy activated"`) != 1 {
		t.Fatalf("unchanged: %d 304s, activations:\n%s", srv.not.Load(), logs.String())
	}
	srv.serve(bundleOf(t, policyAllowing, "v2", "/b", sign), 0)
	if err := p.Check(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, rev, _ := decide(t, p, "/b"); !ok || rev != "v2" {
		t.Fatalf("v2: allow %v, rev %q", ok, rev)
	}

	forged := bundleOf(t, policyAllowing, "v3", "/c", other)
	broken := []struct {
		name   string
		body   []byte
		status int
		log    string // a line must say this
	}{
		{"signed by another key", forged, 0, "verif"},
		{"unsigned", bundleOf(t, policyAllowing, "v3", "/c", nil), 0, ".signatures.json"},
		{"tampered after signing", tamper(t, sign), 0, "digest mismatch"},
		{"does not compile", bundleOf(t, "package authz\n\ndecision := {\"allow\": x}\n", "v3", "/c", sign), 0, "unsafe"},
		{"does not define the decision", bundleOf(t, "package authz\n\nother := true\n", "v3", "/c", sign), 0, "no rule or data of the bundle defines it"},
		{"a server error", nil, http.StatusInternalServerError, "500"},
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			srv.serve(b.body, b.status)
			before := logs.String()
			err := p.Check(ctx)
			if ok, rev, _ := decide(t, p, "/b"); !ok || rev != "v2" || p.Revision() != "v2" {
				t.Fatalf("after %s: allow %v, rev %q, revision %q (check: %v)", b.name, ok, rev, p.Revision(), err)
			}
			said := strings.TrimPrefix(logs.String(), before) + errorText(err)
			if b.log != "" && !strings.Contains(said, b.log) {
				t.Fatalf("nothing says %q:\n%s", b.log, said)
			}
		})
	}
}

// tamper gives a bundle signed by s whose data was changed after signing: its
// signature kept, read with verification so that the reader keeps it.
func tamper(t *testing.T, s *signer) []byte {
	t.Helper()
	keys := map[string]*bundle.KeyConfig{s.keyID: {Key: s.publicPEM(t), Algorithm: "ES256"}}
	good, err := bundle.NewReader(bytes.NewReader(bundleOf(t, policyAllowing, "v3", "/c", s))).
		WithBundleVerificationConfig(bundle.NewVerificationConfig(keys, s.keyID, "", nil)).Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(good.Signatures.Signatures) == 0 {
		t.Fatal("fixture: the signature was not kept")
	}
	good.Data["rules"].(map[string]any)["allowed"] = "/everything"
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(good); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestColdStartWithTheServiceDown: without a bundle, every decision fails with
// policy_not_ready; once the service answers, the next requests bring the
// policy in without a restart.
// (A service that refuses connections and comes back on the same port is
// test/delivery_coldstart_test.go's, through the binary; here it answers 503.)
func TestColdStartWithTheServiceDown(t *testing.T) {
	srv := startBundleServer(t, bundleOf(t, policyAllowing, "v1", "/a", nil))
	srv.serve(nil, http.StatusServiceUnavailable)
	p, _ := start(t, Options{Bundle: srv.URL + "/b.tar.gz", PollInterval: time.Hour})
	if ok, _, reason := decide(t, p, "/a"); ok || reason != policy.ReasonNotReady || p.Revision() != "none" {
		t.Fatalf("before any bundle: allow %v, reason %q, revision %q", ok, reason, p.Revision())
	}
	srv.serve(bundleOf(t, policyAllowing, "v1", "/a", nil), 0)
	// Requests keep being denied until a check, due a second after the last
	// one while no bundle is active, brings the bundle in.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ok, rev, _ := decide(t, p, "/a"); ok {
			if rev != "v1" {
				t.Fatalf("rev %q", rev)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the policy never came in")
}

// TestDownloadsKeepTheBundleLimits: OPA's downloader holds every file of a
// bundle in memory before it checks anything; the services' clients measure a
// bundle first.
func TestDownloadsKeepTheBundleLimits(t *testing.T) {
	sign := newSigner(t, "default")
	srv := startBundleServer(t, bundleOf(t, policyAllowing, "v1", "/a", sign))
	p, logs := start(t, Options{Bundle: srv.URL + "/b.tar.gz", PublicKey: sign.publicPEM(t), PollInterval: time.Hour})
	srv.serve(zeroBomb(t, 40, 31<<20), 0)
	err := p.Check(context.Background())
	if ok, rev, _ := decide(t, p, "/a"); !ok || rev != "v1" {
		t.Fatalf("after the bomb: allow %v, rev %q", ok, rev)
	}
	if said := logs.String() + errorText(err); !strings.Contains(said, "decompresses to more than 64 MiB") {
		t.Fatalf("nothing names the limit:\n%s", said)
	}
}

// zeroBomb is a gzip-compressed tar of n files of size zero bytes each.
func zeroBomb(t *testing.T, n int, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := newGzipTar(&buf)
	for i := 0; i < n; i++ {
		gz.add(t, "pad/"+string(rune('a'+i%26))+string(rune('a'+i/26))+".bin", size)
	}
	gz.close(t)
	return buf.Bytes()
}
