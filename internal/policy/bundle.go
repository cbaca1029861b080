package policy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/apigw-authz/authz/bundles"
	"github.com/apigw-authz/authz/internal/loopback"
	"github.com/apigw-authz/authz/rego"
)

// MaxBundleBytes caps a bundle fetched over https and each file of any bundle.
const MaxBundleBytes = 32 << 20

// bundleFetchTimeout bounds the download of a remote bundle at start-up.
const bundleFetchTimeout = 20 * time.Second

// loadBundle reads the bundle the options name: directories layered into one,
// or source: "" for the embedded default bundle, a directory, a .tar.gz file, or
// an https:// (or loopback http://) URL of a .tar.gz. With a public key, the
// bundle must carry a valid signature.
func loadBundle(ctx context.Context, opts Options) (*bundle.Bundle, error) {
	source, publicKey := opts.Bundle, opts.PublicKey
	if len(opts.Dirs) > 0 {
		if source != "" || publicKey != "" {
			return nil, errors.New("policy: layered directories exclude a bundle and a signing key")
		}
		fsys := make(layers, len(opts.Dirs))
		for i, d := range opts.Dirs {
			if info, err := os.Stat(d); err != nil || !info.IsDir() {
				return nil, fmt.Errorf("bundle directory %q: not a directory", d)
			}
			fsys[i] = os.DirFS(d)
		}
		loader, err := bundle.NewFSLoader(fsys)
		if err != nil {
			return nil, err
		}
		return read(bundle.NewCustomReader(loader.WithFilter(skipTestsAndExamples)), nil, strings.Join(opts.Dirs, " + "))
	}
	var vc *bundle.VerificationConfig
	if publicKey != "" {
		if source == "" {
			return nil, errors.New("AUTHZ_BUNDLE_PUBLIC_KEY is set but AUTHZ_BUNDLE is not: the embedded bundle is not signed; set AUTHZ_BUNDLE to a signed bundle or unset the key")
		}
		var err error
		if vc, err = verificationConfig(publicKey); err != nil {
			return nil, fmt.Errorf("AUTHZ_BUNDLE_PUBLIC_KEY: %v", err)
		}
	}
	switch {
	case source == "":
		loader, err := bundle.NewFSLoader(embeddedFS())
		if err != nil {
			return nil, err
		}
		return read(bundle.NewCustomReader(loader.WithFilter(skipTests)), nil, "embedded default bundle")
	case strings.HasPrefix(source, "s3://"):
		return nil, fmt.Errorf("AUTHZ_BUNDLE %q: s3:// is not supported yet; use an https:// URL (for example an S3 presigned URL) or package the bundle with the function", source)
	case strings.HasPrefix(source, "https://"), strings.HasPrefix(source, "http://"):
		body, err := download(ctx, source)
		if err != nil {
			return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", source, err)
		}
		return read(bundle.NewReader(bytes.NewReader(body)), vc, source)
	}
	info, err := os.Stat(source)
	if err != nil {
		return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", source, err)
	}
	if info.IsDir() {
		loader := bundle.NewDirectoryLoader(source).WithFilter(skipTests)
		return read(bundle.NewCustomReader(loader), vc, source)
	}
	f, err := os.Open(source)
	if err != nil {
		return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", source, err)
	}
	defer f.Close()
	return read(bundle.NewReader(f), vc, source)
}

func read(r *bundle.Reader, vc *bundle.VerificationConfig, name string) (*bundle.Bundle, error) {
	r = r.WithSizeLimitBytes(MaxBundleBytes).WithProcessAnnotations(true)
	if vc != nil {
		r = r.WithBundleVerificationConfig(vc)
	} else {
		r = r.WithSkipBundleVerification(true)
	}
	b, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %v", name, err)
	}
	if len(b.Modules) == 0 {
		return nil, fmt.Errorf("reading %s: the bundle holds no Rego module", name)
	}
	return &b, nil
}

// skipTests leaves *_test.rego out of the bundle: tests are for opa test.
func skipTests(_ string, info fs.FileInfo, _ int) bool {
	return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
}

// skipTestsAndExamples also leaves out, below the top of a source folder, any
// examples folder: its policies are bundles of their own.
func skipTestsAndExamples(path string, info fs.FileInfo, depth int) bool {
	if info.IsDir() {
		return path != "." && info.Name() == "examples"
	}
	return skipTests(path, info, depth)
}

// embeddedFS is the default bundle: the Rego of rego/ over the manifest and data of
// bundles/default/.
func embeddedFS() fs.FS {
	data, err := fs.Sub(bundles.Default, "default")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return layers{rego.Files, data}
}

// download fetches a remote bundle once, at start-up, bounded in time and size.
func download(ctx context.Context, source string) ([]byte, error) {
	u, err := url.Parse(source)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return nil, errors.New("http:// is only allowed for loopback hosts; use https://")
	}
	ctx, cancel := context.WithTimeout(ctx, bundleFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
	if err != nil {
		return nil, err
	}
	client := &http.Client{CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("more than 3 redirects")
		}
		if r.URL.Scheme != "https" && !loopback.Host(r.URL.Hostname()) {
			return fmt.Errorf("refusing a redirect to %s://%s", r.URL.Scheme, r.URL.Host)
		}
		return nil
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBundleBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBundleBytes {
		return nil, fmt.Errorf("the bundle is over %d bytes", MaxBundleBytes)
	}
	return body, nil
}

// verificationConfig builds OPA's bundle verification from a PEM public key, or a
// path to one. Bundles are expected to be signed with key id "default", as
// `opa build --signing-key` does unless told otherwise.
func verificationConfig(key string) (*bundle.VerificationConfig, error) {
	pemText := key
	if !strings.Contains(key, "-----BEGIN") {
		b, err := os.ReadFile(key)
		if err != nil {
			return nil, fmt.Errorf("neither a PEM key nor a readable file: %v", err)
		}
		pemText = string(b)
	}
	block, _ := pem.Decode([]byte(pemText))
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("not a PKIX public key: %v", err)
	}
	var alg string
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("the RSA key has %d bits; at least 2048 are required", k.N.BitLen())
		}
		alg = "RS256"
	case *ecdsa.PublicKey:
		alg = map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[k.Curve.Params().BitSize]
	}
	if alg == "" {
		return nil, fmt.Errorf("a %T key is not supported; use RSA or ECDSA", pub)
	}
	keys := map[string]*bundle.KeyConfig{"default": {Key: pemText, Algorithm: alg}}
	return bundle.NewVerificationConfig(keys, "default", "", nil), nil
}

// revision identifies the policy in the decision log: the manifest's revision
// when it has one, else a digest of the bundle's modules and data.
func revision(b *bundle.Bundle) string {
	if b.Manifest.Revision != "" {
		return b.Manifest.Revision
	}
	h := sha256.New()
	mods := make([]bundle.ModuleFile, len(b.Modules))
	copy(mods, b.Modules)
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	for _, m := range mods {
		fmt.Fprintf(h, "%s\x00%d\x00", path.Clean(m.Path), len(m.Raw))
		h.Write(m.Raw)
	}
	data, _ := json.Marshal(b.Data) // maps marshal in key order
	h.Write(data)
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:12]
}
