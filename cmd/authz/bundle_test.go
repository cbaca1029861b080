package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/apigw-authz/authz/internal/policy"
)

// The example every bundle test builds: a policy folder and the library.
var (
	oktaGroups = filepath.Join("..", "..", "rego", "examples", "okta-groups")
	regoLib    = filepath.Join("..", "..", "rego", "lib")
)

// readBundle reads an archive the way OPA does, without checking a signature.
func readBundle(t *testing.T, file string) bundle.Bundle {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := bundle.NewReader(f).WithSkipBundleVerification(true).Read()
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	return b
}

// archiveNames lists the entries of a .tar.gz.
func archiveNames(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tr := tar.NewReader(gz); ; {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
}

// decide asks the loaded policy about a caller in groups calling method path.
func decide(t *testing.T, e *policy.Engine, groups []any, method, path string) bool {
	t.Helper()
	input := map[string]any{
		"token":   map[string]any{"subject": "alice", "groups": groups, "roles": []any{}, "scopes": []any{}},
		"request": map[string]any{"kind": "rest", "method": method, "path": path},
	}
	d, err := e.Decide(context.Background(), input)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return d.Allow
}

// writeKey writes a private key as PEM in the given encoding and returns the
// file and the public key's PEM, as AUTHZ_BUNDLE_PUBLIC_KEY would hold it.
func writeKey(t *testing.T, key crypto.Signer, pkcs8 bool) (file, public string) {
	t.Helper()
	var block *pem.Block
	switch k := key.(type) {
	case *rsa.PrivateKey:
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	}
	if pkcs8 {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	file = filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return file, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// tamper rewrites one file of a bundle archive, keeping the rest (and the
// signatures) as they are.
func tamper(t *testing.T, archive, name string, edit func([]byte) []byte) string {
	t.Helper()
	raw, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(gz)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimPrefix(h.Name, "/") == name {
			body, found = edit(body), true
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	if !found {
		t.Fatalf("%s holds no %s", archive, name)
	}
	tw.Close()
	zw.Close()
	file := filepath.Join(t.TempDir(), "tampered.tar.gz")
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestBundleBuildsAPolicyFolderAndTheLibAsOneBundle(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bundle.tar.gz")
	// Flags after the folder are flags too.
	code, stdout, stderr := runAuthz(t, "", "bundle", oktaGroups, "--lib", regoLib, "-o", out)
	if code != exitAllow {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b := readBundle(t, out)
	if got, want := *b.Manifest.Roots, []string{"authz", "lib/iam", "okta_groups"}; !slices.Equal(got, want) {
		t.Errorf("roots %q, want %q", got, want)
	}
	if !strings.HasPrefix(b.Manifest.Revision, "sha256:") {
		t.Errorf("revision %q, want a digest of the content", b.Manifest.Revision)
	}
	if b.Manifest.RegoVersion == nil || *b.Manifest.RegoVersion != 1 {
		t.Errorf("rego_version %v, want 1", b.Manifest.RegoVersion)
	}
	var packages []string
	for _, m := range b.Modules {
		if strings.HasSuffix(m.Path, "_test.rego") {
			t.Errorf("the bundle holds the test %s", m.Path)
		}
		packages = append(packages, m.Parsed.Package.Path.String())
	}
	slices.Sort(packages)
	if want := []string{"data.authz", "data.lib.iam"}; !slices.Equal(packages, want) {
		t.Errorf("packages %q, want %q", packages, want)
	}
	if !strings.Contains(stdout, out) || !strings.Contains(stdout, b.Manifest.Revision) {
		t.Errorf("the output names neither the file nor the revision:\n%s", stdout)
	}

	e, err := policy.Load(context.Background(), policy.Options{Bundle: out})
	if err != nil {
		t.Fatalf("the authorizer refuses the bundle: %v", err)
	}
	if e.Revision() != b.Manifest.Revision {
		t.Errorf("the authorizer logs revision %q, the manifest says %q", e.Revision(), b.Manifest.Revision)
	}
	if !decide(t, e, []any{"orders-readers"}, "GET", "/orders/42") || decide(t, e, []any{"orders-readers"}, "DELETE", "/orders/42") {
		t.Error("the bundle does not decide as okta-groups does")
	}

	// The same folders give the same revision; --revision names it.
	runAuthz(t, "", "bundle", "--lib", regoLib, "-o", out+".2", oktaGroups)
	if again := readBundle(t, out+".2"); again.Manifest.Revision != b.Manifest.Revision {
		t.Errorf("revision %q, then %q for the same content", b.Manifest.Revision, again.Manifest.Revision)
	}
	if code, _, stderr := runAuthz(t, "", "bundle", "--lib", regoLib, "--revision", "v1.2.3+abc", "-o", out, oktaGroups); code != exitAllow {
		t.Fatalf("--revision: exit %d: %s", code, stderr)
	}
	if got := readBundle(t, out).Manifest.Revision; got != "v1.2.3+abc" {
		t.Errorf("revision %q, want v1.2.3+abc", got)
	}
}

func TestBundleSignsAsTheAuthorizerVerifies(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, otherPublic := writeKey(t, otherKey, true)
	tests := []struct {
		name  string
		key   crypto.Signer
		pkcs8 bool
		alg   string
	}{
		{"RSA, PKCS #1", rsaKey, false, ""},
		{"RSA, PKCS #8, RS256 named", rsaKey, true, "RS256"},
		{"ECDSA P-256, SEC 1", p256, false, ""},
		{"ECDSA P-256, PKCS #8, ES256 named", p256, true, "ES256"},
		{"ECDSA P-384", p384, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keyFile, public := writeKey(t, tt.key, tt.pkcs8)
			out := filepath.Join(t.TempDir(), "signed.tar.gz")
			args := []string{"bundle", "--lib", regoLib, "--signing-key", keyFile, "-o", out}
			if tt.alg != "" {
				args = append(args, "--signing-alg", tt.alg)
			}
			if code, stdout, stderr := runAuthz(t, "", append(args, oktaGroups)...); code != exitAllow {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if names := archiveNames(t, out); !slices.Contains(names, "/.signatures.json") {
				t.Fatalf("the bundle carries no signature: %q", names)
			}
			ctx := context.Background()
			e, err := policy.Load(ctx, policy.Options{Bundle: out, PublicKey: public})
			if err != nil {
				t.Fatalf("the authorizer refuses the signed bundle: %v", err)
			}
			if !decide(t, e, []any{"orders-admins"}, "DELETE", "/orders/42") {
				t.Error("the signed bundle does not decide as okta-groups does")
			}
			if _, err := policy.Load(ctx, policy.Options{Bundle: out, PublicKey: otherPublic}); err == nil || !strings.Contains(err.Error(), "signature") {
				t.Errorf("a bundle signed by another key: %v", err)
			}
			for file, edit := range map[string]func([]byte) []byte{
				"data.json": func(b []byte) []byte {
					return bytes.Replace(b, []byte(`"orders-readers"`), []byte(`"Everyone"`), 1)
				},
				"policy.rego": func(b []byte) []byte { return append(b, "\nallow := true\n"...) },
			} {
				tampered := tamper(t, out, file, edit)
				if _, err := policy.Load(ctx, policy.Options{Bundle: tampered, PublicKey: public}); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
					t.Errorf("a bundle with %s changed after signing: %v", file, err)
				}
			}
		})
	}

	// An unsigned bundle is refused where a key is expected.
	unsigned := filepath.Join(t.TempDir(), "unsigned.tar.gz")
	if code, _, stderr := runAuthz(t, "", "bundle", "--lib", regoLib, "-o", unsigned, oktaGroups); code != exitAllow {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, public := writeKey(t, p256, true)
	if _, err := policy.Load(context.Background(), policy.Options{Bundle: unsigned, PublicKey: public}); err == nil {
		t.Error("an unsigned bundle was accepted with a public key")
	}
}

func TestBundleRefusesWhatTheAuthorizerWouldRefuse(t *testing.T) {
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakFile, _ := writeKey(t, weakRSA, true)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaFile, _ := writeKey(t, rsaKey, false)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecFile, _ := writeKey(t, p256, false)
	notAKey := filepath.Join(t.TempDir(), "secret.txt")
	os.WriteFile(notAKey, []byte("a shared secret"), 0o600)

	// A policy that reads a misspelt input field: the input schema refuses it.
	misspelt := t.TempDir()
	os.WriteFile(filepath.Join(misspelt, "policy.rego"), []byte(`# METADATA
# schemas:
#   - input: schema.input
package authz

decision := {"allow": count(input.token.group) > 0}
`), 0o644)
	// A policy that defines no decision.
	noDecision := t.TempDir()
	os.WriteFile(filepath.Join(noDecision, "policy.rego"), []byte("package other\n\nx := 1\n"), 0o644)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no folder", nil, exitUsage, "DIR"},
		{"a folder that does not exist", []string{"/nonexistent"}, exitUsage, "/nonexistent"},
		{"an RSA key of 1024 bits", []string{"--signing-key", weakFile, oktaGroups}, exitFailure, "2048"},
		{"RSA with PS256", []string{"--signing-key", rsaFile, "--signing-alg", "PS256", oktaGroups}, exitUsage, "RS256"},
		{"ECDSA P-256 with ES384", []string{"--signing-key", ecFile, "--signing-alg", "ES384", oktaGroups}, exitUsage, "ES256"},
		{"a shared secret", []string{"--signing-key", notAKey, oktaGroups}, exitUsage, "PEM"},
		{"a misspelt input field", []string{misspelt}, exitFailure, "group"},
		{"no decision", []string{noDecision}, exitFailure, "data.authz.decision"},
		{"the policy without the lib", []string{oktaGroups}, exitFailure, "iam"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle.tar.gz")
			code, stdout, stderr := runAuthz(t, "", append([]string{"bundle", "-o", out}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, tt.code, tt.want, stdout, stderr)
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("a refused bundle left %v behind", entries[0].Name())
			}
		})
	}
}

func TestBundleLayersFoldersAsTheLocalToolsDo(t *testing.T) {
	// The default bundle's sources: the policy folder, whose examples/ is left
	// out below its top, and the folder of the manifest and data.
	out := filepath.Join(t.TempDir(), "default.tar.gz")
	root := filepath.Join("..", "..")
	code, stdout, stderr := runAuthz(t, "", "bundle", "-o", out, filepath.Join(root, "rego"), filepath.Join(root, "bundles", "default"))
	if code != exitAllow {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	b := readBundle(t, out)
	if got, want := *b.Manifest.Roots, []string{"authz", "lib/iam", "rbac", "system/log"}; !slices.Equal(got, want) {
		t.Errorf("roots %q, want %q", got, want)
	}
	if b.Manifest.Metadata["name"] != "default" {
		t.Errorf("the source manifest's metadata is lost: %v", b.Manifest.Metadata)
	}
	for _, m := range b.Modules {
		if strings.Contains(m.Path, "examples") {
			t.Errorf("the bundle holds %s", m.Path)
		}
	}

	// Where two folders hold the same file, the first wins, and authz says so.
	shadow := t.TempDir()
	os.WriteFile(filepath.Join(shadow, "data.json"), []byte(`{"extra": true}`), 0o644)
	code, _, stderr = runAuthz(t, "", "bundle", "-o", out, oktaGroups, regoLib, shadow)
	if code != exitAllow || !strings.Contains(stderr, filepath.Join(shadow, "data.json")) {
		t.Fatalf("exit %d; stderr does not name the hidden file:\n%s", code, stderr)
	}
	if got := *readBundle(t, out).Manifest.Roots; slices.Contains(got, "extra") {
		t.Errorf("roots %q hold the hidden data", got)
	}
}

// TestBundleWhereOPABuildFails shows the command it replaces failing.
func TestBundleWhereOPABuildFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool opa")
	}
	cmd := exec.Command("go", "tool", "opa", "build", "-b", "rego/examples/okta-groups", "-b", "rego/lib", "-o", filepath.Join(t.TempDir(), "b.tar.gz"))
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "overlapped roots") {
		t.Logf("opa build -b FOLDER -b rego/lib no longer fails as it did: %v\n%s", err, out)
	}
	if code, _, stderr := runAuthz(t, "", "bundle", "-o", filepath.Join(t.TempDir(), "b.tar.gz"), oktaGroups, regoLib); code != exitAllow {
		t.Fatalf("authz bundle FOLDER rego/lib: exit %d: %s", code, stderr)
	}
}

// TestBundleSignsUnderAKeyID: for a rotation the signature names its key, and
// the authorizer, given several keys by id, verifies with the one it names.
func TestBundleSignsUnderAKeyID(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyFile, public := writeKey(t, key, true)
	out := filepath.Join(t.TempDir(), "rotated.tar.gz")
	if code, stdout, stderr := runAuthz(t, "", "bundle", "--lib", regoLib, "--signing-key", keyFile, "--key-id", "2026-11", "-o", out, oktaGroups); code != exitAllow || !strings.Contains(stdout, `key id "2026-11"`) {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	old, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, oldPublic := writeKey(t, old, true)
	both, _ := json.Marshal(map[string]string{"2026-10": oldPublic, "2026-11": public})
	if _, err := policy.Load(context.Background(), policy.Options{Bundle: out, PublicKey: string(both)}); err != nil {
		t.Fatalf("refused with both keys by id: %v", err)
	}
	// A single key is configured under "default", which OPA uses whatever key
	// id the signature names: the key itself still has to match.
	if _, err := policy.Load(context.Background(), policy.Options{Bundle: out, PublicKey: public}); err != nil {
		t.Fatalf("refused with its single key: %v", err)
	}
	if _, err := policy.Load(context.Background(), policy.Options{Bundle: out, PublicKey: oldPublic}); err == nil {
		t.Fatal("accepted with another single key")
	}
	onlyOld, _ := json.Marshal(map[string]string{"2026-10": oldPublic})
	if _, err := policy.Load(context.Background(), policy.Options{Bundle: out, PublicKey: string(onlyOld)}); err == nil {
		t.Fatal("accepted without its key")
	}
	if code, _, stderr := runAuthz(t, "", "bundle", "--lib", regoLib, "--signing-key", keyFile, "--key-id", " ", "-o", out, oktaGroups); code != exitUsage || !strings.Contains(stderr, "--key-id is empty") {
		t.Fatalf("an empty key id: exit %d, %s", code, stderr)
	}
}
