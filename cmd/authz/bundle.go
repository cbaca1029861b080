package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/apigw-authz/authz/internal/policy"
)

// buildBundle is authz bundle: policy folders read as one bundle, layered as
// authz serve --bundle DIR --bundle DIR reads them, written as the .tar.gz the
// authorizer loads, with a manifest that owns exactly what the folders define,
// and signed when a key is given. opa build cannot do this: with -b, two
// folders without a manifest both claim the whole of data ("manifest has
// overlapped roots"), and without -b it can neither sign nor write roots.
func buildBundle(args []string, stdout, stderr io.Writer) int {
	set := flag.NewFlagSet("authz bundle", flag.ContinueOnError)
	set.SetOutput(stderr)
	var (
		lib      = set.String("lib", "", "a library `folder` layered under the policy folders, such as rego/lib")
		out      = set.String("o", "bundle.tar.gz", "the bundle `file` to write")
		revision = set.String("revision", "", "the manifest's `revision`, such as a commit id (default: a digest of the policy and data)")
		keyFile  = set.String("signing-key", "", "sign the bundle with this PEM private key `file` (RSA of 2048 bits or more, or ECDSA)")
		keyID    = set.String("key-id", policy.DefaultKeyID, "the signature's key `id`: \"default\" verifies with a single AUTHZ_BUNDLE_PUBLIC_KEY; another names one key of several, for a rotation")
		alg      = set.String("signing-alg", "", "the signing `algorithm`: the one the authorizer verifies the key with, RS256 for RSA, ES256, ES384 or ES512 for ECDSA (default: that one)")
	)
	set.Usage = func() {
		fmt.Fprint(stderr, `Usage: authz bundle [flags] DIR...

Reads the folders as one bundle, the first winning where two hold the same
file (as authz serve --bundle DIR --bundle DIR does), leaves out *_test.rego
and examples/ folders, and writes a .tar.gz with a .manifest whose roots are
the packages and top-level data keys it holds. It loads the result as the
authorizer would (with the public key of --signing-key, and AUTHZ_QUERY) and
writes nothing it would refuse.

  authz bundle --lib rego/lib -o bundle.tar.gz rego/examples/okta-groups
  authz bundle --lib rego/lib --signing-key key.pem --revision "$(git rev-parse HEAD)" mypolicy

Flags:
`)
		set.PrintDefaults()
	}
	dirs, err := parseArgs(set, args, len(args)) // any number of folders
	if err != nil {
		return exitUsage
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "authz bundle: "+format+"\n", a...)
		return code
	}
	if *lib != "" {
		dirs = append(dirs, *lib)
	}
	if len(dirs) == 0 {
		set.Usage()
		return fail(exitUsage, "give at least one policy folder DIR")
	}
	for _, d := range dirs {
		if info, err := os.Stat(d); err != nil || !info.IsDir() {
			return fail(exitUsage, "%q is not a folder", d)
		}
	}
	var key *signingKey
	if *keyFile != "" {
		if key, err = readSigningKey(*keyFile, *alg); err != nil {
			return fail(exitUsage, "--signing-key %s: %v", *keyFile, err)
		}
	} else if *alg != "" {
		return fail(exitUsage, "--signing-alg needs --signing-key")
	}

	for _, s := range shadowedFiles(dirs) {
		fmt.Fprintf(stderr, "authz bundle: %s is left out: %s holds the same file, and the first folder wins\n", s.hidden, s.by)
	}
	b, err := policy.ReadDirs(dirs)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	if err := setManifest(b, *revision); err != nil {
		return fail(exitFailure, "%v", err)
	}
	if key != nil {
		if strings.TrimSpace(*keyID) == "" {
			return fail(exitUsage, "--key-id is empty: OPA once accepted bundles under an empty key id without checking them (GHSA-g2pf-6v5v-qcc8)")
		}
		key.id = *keyID
		if err := b.GenerateSignature(bundle.NewSigningConfig(key.pem, key.alg, ""), key.id, false); err != nil {
			return fail(exitFailure, "signing: %v", err)
		}
	}
	if err := writeChecked(b, *out, key); err != nil {
		if *lib == "" && strings.Contains(err.Error(), "data.lib.") {
			return fail(exitFailure, "%v\n(the policy uses the library: add --lib rego/lib, or the folder that holds iam.rego)", err)
		}
		return fail(exitFailure, "%v", err)
	}

	signed := "unsigned"
	if key != nil {
		signed = fmt.Sprintf("signed with %s, key id %q: set AUTHZ_BUNDLE_PUBLIC_KEY to its public key", key.alg, key.id)
	}
	fmt.Fprintf(stdout, "%s: %d modules, roots %s, revision %s, %s\n", *out, len(b.Modules), strings.Join(*b.Manifest.Roots, " "), b.Manifest.Revision, signed)
	return exitAllow
}

// setManifest gives the bundle the roots of what it defines and a revision,
// keeping the metadata and Rego version of a manifest the folders held. The
// roots are computed, not taken from such a manifest, so that the bundle owns
// what it holds and nothing else; a signature read from the folders is dropped.
func setManifest(b *bundle.Bundle, revision string) error {
	roots, err := bundleRoots(b)
	if err != nil {
		return err
	}
	if revision == "" {
		revision = policy.Digest(b)
	}
	m := bundle.Manifest{
		Revision:         revision,
		Roots:            &roots,
		Metadata:         b.Manifest.Metadata,
		RegoVersion:      b.Manifest.RegoVersion,
		FileRegoVersions: b.Manifest.FileRegoVersions,
	}
	if m.RegoVersion == nil {
		m.SetRegoVersion(ast.RegoV1)
	}
	b.Manifest = m
	b.Signatures = bundle.SignaturesConfig{}
	// Written and signed under one name each, as read.
	for i := range b.Modules {
		b.Modules[i].URL = b.Modules[i].Path
	}
	return nil
}

// bundleRoots are the paths of the bundle's packages and the keys of its data,
// less those inside another, sorted.
func bundleRoots(b *bundle.Bundle) ([]string, error) {
	var all [][]string
	for _, m := range b.Modules {
		p, err := storage.NewPathForRef(m.Parsed.Package.Path)
		if err != nil {
			return nil, fmt.Errorf("%s: package %v: %v", m.Path, m.Parsed.Package.Path, err)
		}
		all = append(all, p)
	}
	for key := range b.Data {
		if key == "" || strings.Contains(key, "/") {
			return nil, fmt.Errorf("the data key %q cannot be a bundle root", key)
		}
		all = append(all, []string{key})
	}
	// The shortest first, so that a root is kept before those it contains.
	sort.Slice(all, func(i, j int) bool {
		if len(all[i]) != len(all[j]) {
			return len(all[i]) < len(all[j])
		}
		return slices.Compare(all[i], all[j]) < 0
	})
	var roots []string
	for _, p := range all {
		if r := strings.Join(p, "/"); !bundle.RootPathsContain(roots, r) {
			roots = append(roots, r)
		}
	}
	sort.Strings(roots)
	return roots, nil
}

// writeChecked writes the bundle to out only once the authorizer's own loading
// has accepted it: the bundle limits, the signature (with the key's public
// half), the compile against the input schema, the decision query.
func writeChecked(b *bundle.Bundle, out string, key *signingKey) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".authz-bundle-*.tar.gz")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if err := bundle.NewWriter(tmp).Write(*b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the bundle: %v", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	opts := policy.Options{Bundle: tmp.Name(), Query: os.Getenv("AUTHZ_QUERY")}
	if key != nil {
		opts.PublicKey = key.public
		if key.id != policy.DefaultKeyID {
			// Verified as the authorizer verifies a rotation: by the
			// signature's own key id, among the keys it names.
			named, _ := json.Marshal(map[string]string{key.id: key.public})
			opts.PublicKey = string(named)
		}
	}
	if _, err := policy.Load(context.Background(), opts); err != nil {
		return fmt.Errorf("the authorizer would refuse this bundle: %v", err)
	}
	// A bundle is no secret: readable as a file opa build writes.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// signingKey is a private key for OPA's signer, with what the authorizer
// needs to verify its signatures.
type signingKey struct {
	pem    string // the private key, PEM
	alg    string // the JWS algorithm
	public string // the public key, PEM, as AUTHZ_BUNDLE_PUBLIC_KEY holds it
	id     string // the key id the signature names
}

// readSigningKey reads a PEM private key. The authorizer verifies an RSA key
// with RS256 and an ECDSA key with the algorithm of its curve, so those are the
// only algorithms a bundle it should load may be signed with.
func readSigningKey(file, alg string) (*signingKey, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("no PEM block: give an RSA or ECDSA private key in PEM")
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("an encrypted key: decrypt it first (openssl pkey -in key.pem -out plain.pem)")
	default:
		return nil, fmt.Errorf("a PEM %q block: give an RSA or ECDSA private key", block.Type)
	}
	if err != nil {
		return nil, err
	}
	var want string
	switch k := key.(type) {
	case *rsa.PrivateKey:
		want = "RS256"
	case *ecdsa.PrivateKey:
		want = map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[k.Curve.Params().BitSize]
	}
	if want == "" {
		return nil, fmt.Errorf("a %T key: the authorizer verifies RSA and ECDSA (P-256, P-384, P-521) keys only", key)
	}
	if alg != "" && alg != want {
		return nil, fmt.Errorf("the authorizer verifies this key with %s only: leave --signing-alg out or give %s", want, want)
	}
	der, err := x509.MarshalPKIXPublicKey(key.(crypto.Signer).Public())
	if err != nil {
		return nil, err
	}
	return &signingKey{
		pem:    string(pem.EncodeToMemory(block)), // without what surrounds the block
		alg:    want,
		public: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
	}, nil
}

// shadow is a file of a later folder hidden by the same file in an earlier one.
type shadow struct{ hidden, by string }

// shadowedFiles lists the bundle files of the folders that the layering
// hides, so that data is never left out without a word.
func shadowedFiles(dirs []string) []shadow {
	first := map[string]string{}
	var out []shadow
	for _, d := range dirs {
		fs.WalkDir(os.DirFS(d), ".", func(name string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil // the reader reports it
			}
			info, err := e.Info()
			if err != nil {
				return nil
			}
			if policy.LeftOut(name, info) {
				if e.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if e.IsDir() || !isBundleFile(name) {
				return nil
			}
			file := filepath.Join(d, filepath.FromSlash(name))
			if by, ok := first[name]; ok {
				out = append(out, shadow{hidden: file, by: by})
			} else {
				first[name] = file
			}
			return nil
		})
	}
	return out
}

// isBundleFile says whether OPA's bundle reader reads a file of this name.
func isBundleFile(name string) bool {
	switch path.Base(name) {
	case "data.json", "data.yaml", "data.yml", ".manifest", ".signatures.json":
		return true
	}
	return strings.HasSuffix(name, ".rego")
}
