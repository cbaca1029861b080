package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// ordersEvent is a REST event for GET /orders without a token, which the
// default policy refuses (401).
const ordersEvent = `{"type":"REQUEST","methodArn":"arn:aws:execute-api:eu-west-1:1:api/prod/GET/orders","path":"/orders","httpMethod":"GET"}`

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// allowAll is a policy folder that allows everything, with a reason to recognise it.
func allowAll(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "p.rego", "package authz\n\ndecision := {\"allow\": true, \"reasons\": [\"the candidate policy\"]}\n")
	return dir
}

// Go's flag package stops at the first argument that is not a flag: `authz
// check EVENT.json --bundle candidate` evaluated the embedded policy, a CI gate
// testing the wrong policy.
func TestCheckReadsFlagsAfterTheEventFile(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	event := writeFile(t, t.TempDir(), "event.json", ordersEvent)
	candidate := allowAll(t)
	for _, args := range [][]string{
		{"check", event, "--bundle", candidate, "--json"},
		{"check", "--json", event, "--bundle", candidate},
		{"check", "--bundle", candidate, "--json", event},
		{"check", "--bundle", candidate, "--json", "--", event},
	} {
		code, out, errOut := runAuthz(t, "", args...)
		var rep struct {
			Outcome string   `json:"outcome"`
			Reasons []string `json:"reasons"`
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Errorf("%v: exit %d, not the JSON report (--json ignored?): %v\n%s%s", args, code, err, out, errOut)
			continue
		}
		if code != exitAllow || rep.Outcome != "allow" || len(rep.Reasons) != 1 || rep.Reasons[0] != "the candidate policy" {
			t.Errorf("%v: exit %d, outcome %q, reasons %v: not the candidate policy (--bundle ignored?)", args, code, rep.Outcome, rep.Reasons)
		}
	}
}

func TestCheckArgumentsUsage(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	dir := t.TempDir()
	a, b := writeFile(t, dir, "a.json", ordersEvent), writeFile(t, dir, "b.json", ordersEvent)
	for _, args := range [][]string{
		{"check", a, b},
		{"check", a, "--json", b},
		{"check", "--event", a, b},
		{"check", a, "--path"}, // a flag without its value
		{"check", a, "--", "--json"},
	} {
		if code, out, errOut := runAuthz(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (usage)\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
}

// signedBundle writes a .tar.gz bundle of files, signed with key unless it is nil,
// as `opa build --signing-key` would.
func signedBundle(t *testing.T, file string, files map[string]string, key *rsa.PrivateKey) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		writeFile(t, dir, name, content)
	}
	b, err := bundle.NewCustomReader(bundle.NewDirectoryLoader(dir)).Read()
	if err != nil {
		t.Fatal(err)
	}
	b.Manifest.Revision = "signed-rev"
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
	return writeFile(t, t.TempDir(), file, buf.String())
}

// --bundle replaces AUTHZ_BUNDLE, and AUTHZ_BUNDLE_PUBLIC_KEY applies to the
// bundle it names: signed is accepted, unsigned refused, wherever the flag is.
func TestCheckBundleFlagWithPublicKey(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHZ_BUNDLE_PUBLIC_KEY", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	files := map[string]string{"p.rego": "package authz\n\ndecision := {\"allow\": true, \"reasons\": [\"the signed policy\"]}\n"}
	signed := signedBundle(t, "signed.tar.gz", files, key)
	unsigned := signedBundle(t, "unsigned.tar.gz", files, nil)
	unsignedDir := allowAll(t)
	event := writeFile(t, t.TempDir(), "event.json", ordersEvent)

	for _, args := range [][]string{
		{"check", "--bundle", signed, event},
		{"check", event, "--bundle", signed},
		{"check", "--bundle", signed, "--path", "/orders"},
	} {
		code, out, errOut := runAuthz(t, "", args...)
		if code != exitAllow || !strings.Contains(out, "the signed policy") || !strings.Contains(out, "signed-rev") {
			t.Errorf("%v: exit %d, want %d from the signed bundle\n%s%s", args, code, exitAllow, out, errOut)
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "--bundle", unsigned, event}, ".signatures.json"},
		{[]string{"check", event, "--bundle", unsigned}, ".signatures.json"},
		{[]string{"check", "--bundle", unsignedDir, event}, ".signatures.json"},
		{[]string{"check", "--bundle", unsignedDir, "--bundle", allowAll(t), event}, "AUTHZ_BUNDLE_PUBLIC_KEY"},
		{[]string{"check", event}, "AUTHZ_BUNDLE_PUBLIC_KEY"},
	} {
		code, out, errOut := runAuthz(t, "", tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d, want %d and an error naming %q\n%s%s", tt.args, code, exitUsage, tt.want, out, errOut)
		}
	}
}

// The README's configuration for HTTP APIs with simple responses keys the
// cache on the token and the route: authz check must accept it, in API
// Gateway's syntax, and find it safe.
func TestCheckIdentitySourcesOfAPIGateway(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	reader := []string{"check", "--kind", "http", "--sub", "bob", "--groups", "orders-readers", "--path", "/orders/1"}
	tests := []struct {
		name    string
		sources string
		safe    bool
	}{
		{"the token only", "", false},
		{"HTTP API syntax", "$request.header.Authorization,$context.routeKey", true},
		{"short syntax", "header:authorization,context:routeKey", true},
		{"REST syntax", "method.request.header.Authorization, context.httpMethod, context.resourcePath", true},
		{"the method only", "$request.header.Authorization,$context.httpMethod", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := reader
			if tt.sources != "" {
				args = append(append([]string{}, reader...), "--identity-source", tt.sources)
			}
			code, out, errOut := runAuthz(t, "", args...)
			if code != exitAllow {
				t.Fatalf("exit %d\n%s%s", code, out, errOut)
			}
			if safe := strings.Contains(out, "Cache        safe"); safe != tt.safe {
				t.Fatalf("cache safe: %v, want %v\n%s", safe, tt.safe, out)
			}
		})
	}
	for _, bad := range []string{"$request.body.x", "context:", "method.request.path.id", "$context.noSuchVariable", "header"} {
		if code, _, errOut := runAuthz(t, "", append(append([]string{}, reader...), "--identity-source", bad)...); code != exitUsage || !strings.Contains(errOut, "--identity-source") {
			t.Errorf("--identity-source %q: exit %d, %s", bad, code, errOut)
		}
	}
}

// API Gateway has no one-segment wildcard: a grant's '*' between two literal
// segments also matches deeper paths.
func TestCheckWarnsOfWildcardsCrossingSegments(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	dir := t.TempDir()
	writeFile(t, dir, "p.rego", `package authz

decision := {"allow": true, "grants": [{"method": "GET", "path": "/tenants/*/invoices"}, {"method": "GET", "path": "/orders/*"}]}
`)
	code, out, errOut := runAuthz(t, "", "check", "--bundle", dir, "--sub", "alice", "--path", "/tenants/acme/invoices")
	if code != exitAllow || !strings.Contains(out, "GET /tenants/*/invoices") || !strings.Contains(out, "/tenants/x/y/invoices") || strings.Contains(out, "/orders/x/y") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runAuthz(t, "", "check", "--json", "--bundle", dir, "--sub", "alice", "--path", "/tenants/acme/invoices")
	var rep struct {
		GrantWarnings []string `json:"grant_warnings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitAllow || len(rep.GrantWarnings) != 1 {
		t.Fatalf("exit %d, %v: %s", code, err, out)
	}
}

// serve takes no argument: one, wherever it is, is a usage error, not the end
// of the flags (which left --addr and the rest unread).
func TestServeRefusesArguments(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "stray", "--addr", "127.0.0.1:0", "--cache-ttl", "0"},
		{"serve", "--addr", "127.0.0.1:0", "stray"},
		{"serve", "--addr", "127.0.0.1:0", "--", "--cache-ttl"},
	} {
		done := make(chan int, 1)
		var errOut bytes.Buffer
		go func() { done <- run(args, strings.NewReader(""), &bytes.Buffer{}, &errOut) }()
		select {
		case code := <-done:
			if code != exitUsage {
				t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: serve started, reading no flag after the argument", args)
		}
	}
}
