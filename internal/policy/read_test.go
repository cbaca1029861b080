package policy

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReadBundle reads what Load reads: the same modules, layers, limits and
// signature check, and Compile on its bundle decides as Load's engine does.
func TestReadBundleReadsAsLoadDoes(t *testing.T) {
	ctx := context.Background()
	policyDir := writeBundle(t, map[string]string{
		"p.rego":      "package authz\n\ndecision := {\"allow\": input.request.path in data.open}\n",
		"p_test.rego": "package authz\n\ntest_x if true\n",
	})
	dataDir := writeBundle(t, map[string]string{"data.json": `{"open": ["/ok"]}`})

	b, err := ReadBundle(ctx, Options{Dirs: []string{policyDir, dataDir}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Modules) != 1 || !strings.HasSuffix(b.Modules[0].Path, "p.rego") || b.Modules[0].Parsed == nil {
		t.Fatalf("modules %+v: want the parsed p.rego alone, tests left out", b.Modules)
	}
	e, err := Compile(ctx, b, "", false)
	if err != nil {
		t.Fatal(err)
	}
	loaded := load(t, Options{Dirs: []string{policyDir, dataDir}})
	if e.Revision() != loaded.Revision() {
		t.Errorf("revision %q, Load's %q", e.Revision(), loaded.Revision())
	}
	for _, path := range []string{"/ok", "/no"} {
		d, err := e.Decide(ctx, rest("GET", path))
		want, wantErr := loaded.Decide(ctx, rest("GET", path))
		if err != nil || wantErr != nil || d.Allow != want.Allow {
			t.Errorf("%s: %+v, %v; Load's engine %+v, %v", path, d, err, want, wantErr)
		}
	}
}

func TestReadBundleErrors(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	files := map[string]string{"p.rego": "package authz\n\ndecision := {\"allow\": true}\n"}
	unsigned := filepath.Join(t.TempDir(), "unsigned.tar.gz")
	if err := os.WriteFile(unsigned, signedTarball(t, files, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	signed := filepath.Join(t.TempDir(), "signed.tar.gz")
	if err := os.WriteFile(signed, signedTarball(t, files, key), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadBundle(context.Background(), Options{Bundle: signed, PublicKey: publicPEM(t, key)}); err != nil || b.Manifest.Revision != "rev-42" {
		t.Fatalf("signed bundle with its key: %v", err)
	}
	bad := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"unsigned bundle with a key", Options{Bundle: unsigned, PublicKey: publicPEM(t, key)}, ".signatures.json"},
		{"no such file", Options{Bundle: filepath.Join(t.TempDir(), "nope.tar.gz")}, "no such file"},
		{"folder without Rego", Options{Dirs: []string{writeBundle(t, map[string]string{"data.json": "{}"})}}, "no Rego module"},
		{"not a folder", Options{Dirs: []string{unsigned}}, "not a directory"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ReadBundle(context.Background(), tt.opts); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ReadBundle error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
