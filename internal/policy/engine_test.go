package policy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// writeBundle writes files (path → content) into a new directory.
func writeBundle(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func load(t *testing.T, opts Options) *Engine {
	t.Helper()
	e, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func rest(method, path string) map[string]any {
	return map[string]any{"request": map[string]any{"kind": "rest", "method": method, "path": path}}
}

func TestEmbeddedDefaultPolicy(t *testing.T) {
	e := load(t, Options{})
	if !strings.HasPrefix(e.Revision(), "sha256:") {
		t.Errorf("revision %q, want a digest", e.Revision())
	}
	d, err := e.Decide(context.Background(), rest("GET", "/health"))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || d.PrincipalID != "anonymous" || len(d.Grants) != 1 {
		t.Fatalf("anonymous health check: %+v", d)
	}
	input := rest("GET", "/orders/7")
	input["token"] = map[string]any{"subject": "u1", "groups": []string{"orders-readers"}, "roles": []string{}, "scopes": []string{}, "tenant": "acme"}
	d, err = e.Decide(context.Background(), input)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allow || d.PrincipalID != "u1" || d.Context["tenant"] != "acme" {
		t.Fatalf("reader: %+v", d)
	}
	// The same policy, loaded again, has the same revision.
	if again := load(t, Options{}); again.Revision() != e.Revision() {
		t.Errorf("revision changed between loads: %s, %s", e.Revision(), again.Revision())
	}
}

func TestDecisionFailures(t *testing.T) {
	tests := []struct {
		name   string
		rego   string
		reason string
	}{
		{"conflicting values", `package authz
decision := {"allow": true} if input.request.method == "GET"
decision := {"allow": false} if input.request.path == "/x"`, ReasonEval},
		{"a built-in that fails", `package authz
decision := {"allow": to_number(input.request.path) > 0}`, ReasonEval},
		{"division by zero", `package authz
decision := {"allow": count(input.request.path) / 0 > 1}`, ReasonEval},
		{"undefined", `package authz
decision := {"allow": true} if input.request.method == "NEVER"`, ReasonUndefined},
		{"not an object", `package authz
decision := true`, ReasonInvalid},
		{"allow is a string", `package authz
decision := {"allow": "true"}`, ReasonInvalid},
		{"allow missing", `package authz
decision := {"grants": []}`, ReasonInvalid},
		{"a grant the contract refuses", `package authz
decision := {"allow": true, "grants": [{"method": "GET"}]}`, ReasonInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := load(t, Options{Bundle: writeBundle(t, map[string]string{"policy.rego": tt.rego})})
			d, err := e.Decide(context.Background(), rest("GET", "/x"))
			if err == nil || d != nil {
				t.Fatalf("Decide = %+v, %v; want an error", d, err)
			}
			if ReasonOf(err) != tt.reason {
				t.Fatalf("reason %q (%v), want %q", ReasonOf(err), err, tt.reason)
			}
		})
	}
}

func TestEvaluationHonoursTheDeadline(t *testing.T) {
	e := load(t, Options{Bundle: writeBundle(t, map[string]string{"policy.rego": `package authz
decision := {"allow": count([x | some x in numbers.range(1, 100000000); x % 7 == 0]) > 0}`})})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Decide(ctx, rest("GET", "/"))
	if ReasonOf(err) != ReasonEval || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("a slow policy past its deadline: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("evaluation ran %s past a 50ms deadline", time.Since(start))
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		opts    func(t *testing.T) Options
		wantErr string
	}{
		{"syntax error names the file and line", func(t *testing.T) Options {
			return Options{Bundle: writeBundle(t, map[string]string{"policy.rego": "package authz\n\ndecision := {\n"})}
		}, "policy.rego:4: rego_parse_error"},
		{"unsafe variable", func(t *testing.T) Options {
			return Options{Bundle: writeBundle(t, map[string]string{"policy.rego": "package authz\ndecision := {\"allow\": x}\n"})}
		}, "var x is unsafe"},
		{"type error", func(t *testing.T) Options {
			return Options{Bundle: writeBundle(t, map[string]string{"policy.rego": "package authz\ndecision := {\"allow\": count(1) > 0}\n"})}
		}, "rego_type_error"},
		{"query defined nowhere", func(t *testing.T) Options {
			return Options{Bundle: writeBundle(t, map[string]string{"policy.rego": "package other\nx := 1\n"})}
		}, "AUTHZ_QUERY data.authz.decision: no rule or data"},
		{"query in a package that lacks it", func(t *testing.T) Options {
			return Options{Bundle: writeBundle(t, map[string]string{"policy.rego": "package authz\nallow := true\n"})}
		}, "AUTHZ_QUERY data.authz.decision: no rule or data"},
		{"query not a reference", func(t *testing.T) Options { return Options{Query: "1 + 1"} }, "AUTHZ_QUERY"},
		{"query outside data", func(t *testing.T) Options { return Options{Query: "input.x"} }, "must be a reference into data"},
		{"no such bundle", func(t *testing.T) Options { return Options{Bundle: "/nonexistent/bundle"} }, "AUTHZ_BUNDLE \"/nonexistent/bundle\""},
		{"an empty bundle", func(t *testing.T) Options {
			return Options{Bundle: writeBundle(t, map[string]string{"data.json": "{}"})}
		}, "holds no Rego module"},
		{"s3", func(t *testing.T) Options { return Options{Bundle: "s3://bucket/bundle.tar.gz"} }, "s3:// is not supported yet"},
		{"http off loopback", func(t *testing.T) Options { return Options{Bundle: "http://example.com/b.tar.gz"} }, "only allowed for loopback"},
		{"key without a bundle", func(t *testing.T) Options { return Options{PublicKey: "x"} }, "the embedded bundle is not signed"},
		{"key that is not a key", func(t *testing.T) Options {
			return Options{Bundle: writeBundle(t, map[string]string{"p.rego": "package authz\ndecision := {\"allow\": false}\n"}), PublicKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n"}
		}, "AUTHZ_BUNDLE_PUBLIC_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Load(context.Background(), tt.opts(t))
			if err == nil || e != nil {
				t.Fatalf("Load succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestQueryMayNameAnotherRule(t *testing.T) {
	dir := writeBundle(t, map[string]string{"p.rego": `package gateway.v2
verdict := {"allow": true, "reasons": ["custom query"]}`})
	e := load(t, Options{Bundle: dir, Query: "data.gateway.v2.verdict"})
	d, err := e.Decide(context.Background(), rest("GET", "/"))
	if err != nil || !d.Allow || d.Reasons[0] != "custom query" {
		t.Fatalf("Decide = %+v, %v", d, err)
	}
}

// signedTarball builds a .tar.gz of the files, signed with key when it is not nil.
func signedTarball(t *testing.T, files map[string]string, key *rsa.PrivateKey) []byte {
	t.Helper()
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader(writeBundle(t, files))).Read()
	if err != nil {
		t.Fatal(err)
	}
	b.Manifest.Revision = "rev-42"
	if key != nil {
		pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
		if err := b.GenerateSignature(bundle.NewSigningConfig(string(pemKey), "RS256", ""), "default", false); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func publicPEM(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestBundlesFromTarballsURLsAndSignatures(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	files := map[string]string{"p.rego": "package authz\ndecision := {\"allow\": input.request.path == \"/ok\"}\n"}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	signed := write("signed.tar.gz", signedTarball(t, files, key))
	unsigned := write("unsigned.tar.gz", signedTarball(t, files, nil))
	keyFile := write("key.pem", []byte(publicPEM(t, key)))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, filepath.Base(r.URL.Path)))
	}))
	defer srv.Close()

	good := []struct {
		name string
		opts Options
	}{
		{"unsigned tarball", Options{Bundle: unsigned}},
		{"signed tarball, key inline", Options{Bundle: signed, PublicKey: publicPEM(t, key)}},
		{"signed tarball, key file", Options{Bundle: signed, PublicKey: keyFile}},
		{"signed tarball over loopback http", Options{Bundle: srv.URL + "/signed.tar.gz", PublicKey: keyFile}},
	}
	for _, tt := range good {
		t.Run(tt.name, func(t *testing.T) {
			e := load(t, tt.opts)
			if e.Revision() != "rev-42" {
				t.Errorf("revision %q, want the manifest's", e.Revision())
			}
			d, err := e.Decide(context.Background(), rest("GET", "/ok"))
			if err != nil || !d.Allow {
				t.Fatalf("Decide = %+v, %v", d, err)
			}
		})
	}

	// Different content with a valid signature by the wrong signer.
	wrongSigner := write("wrong.tar.gz", signedTarball(t, map[string]string{"p.rego": "package authz\ndecision := {\"allow\": true}\n"}, other))
	bad := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"unsigned bundle with a key", Options{Bundle: unsigned, PublicKey: keyFile}, ".signatures.json"},
		{"signed by another key", Options{Bundle: wrongSigner, PublicKey: keyFile}, "verification"},
		{"missing URL", Options{Bundle: srv.URL + "/nope.tar.gz"}, "404"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Load(context.Background(), tt.opts); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestSchemaAnnotatedPoliciesAreTypeChecked(t *testing.T) {
	policy := func(field string) string {
		return "# METADATA\n# schemas:\n#   - input: schema.input\npackage authz\n\ndecision := {\"allow\": input.request." + field + " == \"GET\"}\n"
	}
	if _, err := Load(context.Background(), Options{Bundle: writeBundle(t, map[string]string{"p.rego": policy("method")})}); err != nil {
		t.Fatalf("a correct field: %v", err)
	}
	_, err := Load(context.Background(), Options{Bundle: writeBundle(t, map[string]string{"p.rego": policy("metod")})})
	if err == nil || !strings.Contains(err.Error(), "undefined ref: input.request.metod") {
		t.Fatalf("a misspelt field: %v", err)
	}
	// Without the annotation the policy is not checked, and the field is just undefined.
	if _, err := Load(context.Background(), Options{Bundle: writeBundle(t, map[string]string{"p.rego": "package authz\n\ndecision := {\"allow\": input.request.metod == \"GET\"}\n"})}); err != nil {
		t.Fatalf("an unannotated policy: %v", err)
	}
}

func TestLayeredSourceDirectories(t *testing.T) {
	// The repository's own folders, as `authz serve --watch` reads them.
	rego, data := filepath.Join("..", "..", "rego"), filepath.Join("..", "..", "bundles", "default")
	layered := load(t, Options{Dirs: []string{rego, data}})
	embedded := load(t, Options{})
	if layered.Revision() != embedded.Revision() {
		t.Fatalf("the source folders give revision %s, the embedded bundle %s", layered.Revision(), embedded.Revision())
	}
	examples := writeBundle(t, map[string]string{
		"p.rego":            "package authz\ndecision := {\"allow\": true}\n",
		"examples/x/p.rego": "package authz\ndecision := {\"allow\": false}\n",
		"p_test.rego":       "package authz_test\ntest_x if true\n",
		"lib/helper.rego":   "package lib.helper\nx := 1\n",
	})
	e := load(t, Options{Dirs: []string{examples}})
	d, err := e.Decide(context.Background(), rest("GET", "/"))
	if err != nil || !d.Allow {
		t.Fatalf("examples must stay out of a source folder's bundle: %+v, %v", d, err)
	}
	if _, err := Load(context.Background(), Options{Dirs: []string{"/nonexistent"}}); err == nil {
		t.Fatal("a missing folder was accepted")
	}
}
