package e2e

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// Bundles for the policy-delivery tests are built in the test process with
// OPA's own bundle writer and signer, so that what the function downloads is
// byte for byte what `opa build --signing-key` would produce.

// defaultRoots are the roots of the authorizer's default bundle
// (bundles/default/.manifest).
var defaultRoots = []string{"authz", "lib", "rbac", "system/log"}

// unsafeRego parses but does not compile: OPA reads a bundle holding it, and
// activation fails with "var x is unsafe".
const unsafeRego = "package authz\n\ndecision := {\"allow\": x}\n"

// bundleKey is a bundle-signing key pair under a key id, as OPA's `keys`
// section and `bundles.NAME.signing.keyid` name it.
type bundleKey struct {
	ID         string
	Algorithm  string // RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512
	PrivatePEM string
	PublicPEM  string
}

// newBundleKey generates a key pair for alg: RSA 2048 for RS* and PS*, the
// matching NIST curve for ES*.
func newBundleKey(t *testing.T, id, alg string) bundleKey {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		priv, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	default:
		t.Fatalf("newBundleKey: no key type for %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return bundleKey{
		ID:         id,
		Algorithm:  alg,
		PrivatePEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		PublicPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})),
	}
}

// keysConfig is the `keys` section of an OPA configuration that holds the
// public halves of keys under their ids.
func keysConfig(keys ...bundleKey) map[string]any {
	out := map[string]any{}
	for _, k := range keys {
		out[k.ID] = map[string]any{"algorithm": k.Algorithm, "key": k.PublicPEM}
	}
	return out
}

// verificationConfig is what the bundle plugin verifies with when the bundle's
// `signing.keyid` is keyid and `keys` holds keys.
func verificationConfig(t *testing.T, keyid string, keys ...bundleKey) *bundle.VerificationConfig {
	t.Helper()
	kc := map[string]*bundle.KeyConfig{}
	for _, k := range keys {
		kc[k.ID] = &bundle.KeyConfig{Key: k.PublicPEM, Algorithm: k.Algorithm}
	}
	vc := bundle.NewVerificationConfig(kc, keyid, "", nil)
	if err := vc.ValidateAndInjectDefaults(kc); err != nil {
		t.Fatal(err)
	}
	return vc
}

// bundleSpec is one bundle to build.
type bundleSpec struct {
	// Files are the bundle's Rego modules (*.rego) and data documents
	// (data.json, or DIR/data.json for data under DIR), by path in the bundle.
	// Modules are written as given, unparsed: a module that does not parse
	// makes a bundle that OPA refuses to read.
	Files map[string]string
	// Roots are the manifest's roots; nil writes none (the bundle owns all of
	// data, as OPA reads a manifest without roots).
	Roots []string
	// Revision is the manifest's revision.
	Revision string
	// SignWith signs the bundle with OPA's signer under the key's id; nil
	// leaves it unsigned.
	SignWith *bundleKey
	// Tamper, if set, edits the files after signing: the signature no longer
	// matches what the bundle holds.
	Tamper func(files map[string]string)
}

// buildBundle writes spec as a .tar.gz bundle with a manifest, signed or not.
func buildBundle(t *testing.T, spec bundleSpec) []byte {
	t.Helper()
	b := bundleOf(t, spec.Files)
	b.Manifest = bundle.Manifest{Revision: spec.Revision}
	if spec.Roots != nil {
		roots := slices.Clone(spec.Roots)
		b.Manifest.Roots = &roots
	}
	b.Manifest.SetRegoVersion(ast.RegoV1)
	if spec.SignWith != nil {
		k := spec.SignWith
		if err := b.GenerateSignature(bundle.NewSigningConfig(k.PrivatePEM, k.Algorithm, ""), k.ID, false); err != nil {
			t.Fatalf("signing the bundle with %s: %v", k.ID, err)
		}
	}
	if spec.Tamper != nil {
		files := maps.Clone(spec.Files)
		spec.Tamper(files)
		tampered := bundleOf(t, files)
		tampered.Manifest, tampered.Signatures = b.Manifest, b.Signatures
		b = tampered
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(b); err != nil {
		t.Fatalf("writing the bundle: %v", err)
	}
	return buf.Bytes()
}

// bundleOf lays files out as a bundle: modules under their paths, data
// documents merged into one data tree.
func bundleOf(t *testing.T, files map[string]string) bundle.Bundle {
	t.Helper()
	b := bundle.Bundle{Data: map[string]any{}}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		content := files[name]
		switch {
		case strings.HasSuffix(name, ".rego"):
			p := "/" + strings.TrimPrefix(name, "/")
			b.Modules = append(b.Modules, bundle.ModuleFile{URL: p, Path: p, Raw: []byte(content)})
		case path.Base(name) == "data.json":
			var doc map[string]any
			if err := json.Unmarshal([]byte(content), &doc); err != nil {
				t.Fatalf("bundle file %s: %v", name, err)
			}
			node := b.Data
			if dir := path.Dir(strings.TrimPrefix(name, "/")); dir != "." {
				for _, key := range strings.Split(dir, "/") {
					next, ok := node[key].(map[string]any)
					if !ok {
						next = map[string]any{}
						node[key] = next
					}
					node = next
				}
			}
			maps.Copy(node, doc)
		default:
			t.Fatalf("bundle file %s: only *.rego and data.json files", name)
		}
	}
	return b
}

// policyFolder reads a policy folder into bundle files: its *.rego files
// (tests left out) and data.json documents, by path relative to dir.
func policyFolder(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if (!strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego")) && name != "data.json" {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// defaultPolicy is the authorizer's default bundle as files: rego/*.rego,
// rego/lib/*.rego under lib/, and bundles/default/data.json. Its roots are
// defaultRoots.
func defaultPolicy(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	for _, src := range []struct{ dir, prefix string }{{"../rego", ""}, {"../rego/lib", "lib/"}, {"../bundles/default", ""}} {
		entries, err := os.ReadDir(src.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || (!strings.HasSuffix(name, ".rego") || strings.HasSuffix(name, "_test.rego")) && name != "data.json" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(src.dir, name))
			if err != nil {
				t.Fatal(err)
			}
			files[src.prefix+name] = string(b)
		}
	}
	return files
}

// readBundle reads a .tar.gz with OPA's bundle reader, verifying its signature
// when vc is not nil, as the bundle plugin does before activating it.
func readBundle(tarball []byte, vc *bundle.VerificationConfig) (bundle.Bundle, error) {
	return bundle.NewReader(bytes.NewReader(tarball)).WithBundleVerificationConfig(vc).Read()
}
