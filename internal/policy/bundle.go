package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
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
	"github.com/apigw-authz/authz/internal/logging"
	"github.com/apigw-authz/authz/internal/loopback"
	"github.com/apigw-authz/authz/rego"
)

// Limits on a bundle. OPA's readers hold every file of a bundle in memory at
// once, before they check its signature, and then parse its data and compile its
// policy, which takes several times the size of the files. So whoever can write
// the bundle location could otherwise exhaust the function's memory (128 MiB to
// 10 GiB) with a small archive. The limits are checked before OPA reads anything,
// and are far above what authorization policies and their data take (the
// default bundle is a few KiB): a bundle near them already needs hundreds of MiB
// to compile, so they refuse nothing a Lambda could load.
const (
	// MaxBundleBytes caps a bundle archive as stored or downloaded, compressed.
	MaxBundleBytes = 32 << 20
	// MaxBundleFileBytes caps each file of a bundle, uncompressed. It is what
	// capped each file before the other limits came, so no bundle that loaded
	// then is refused for one of its files now.
	MaxBundleFileBytes = 32 << 20
	// MaxBundleDecompressedBytes caps a whole bundle, uncompressed: the tar
	// stream of an archive (headers included), the files of a directory. Two
	// files at MaxBundleFileBytes fit; a gzip bomb of 1,000:1 does not.
	MaxBundleDecompressedBytes = 64 << 20
	// MaxBundleEntries caps the entries of an archive (of every type) or of a
	// directory tree (files and folders). Each costs OPA a buffer and a
	// descriptor even when empty; ten thousand is more than any policy
	// repository holds.
	MaxBundleEntries = 10000
	// MaxSignaturesBytes caps a bundle's .signatures.json. OPA decodes it as
	// JSON before it can check anything, and JSON such as ["","",…] takes some
	// thirty times its size in memory; a signature over ten thousand files
	// takes well under a MiB.
	MaxSignaturesBytes = 1 << 20
)

// EmbeddedRevision is the revision of the embedded default bundle: the
// commit it was built from, which `make build` and `make package` set with
// -ldflags -X. Empty, as in `go build` and tests, the bundle's digest stands
// for it.
var EmbeddedRevision string

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
		return ReadDirs(opts.Dirs)
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
		// The embedded bundle is part of the build: no limit to check.
		loader, err := bundle.NewFSLoader(embeddedFS())
		if err != nil {
			return nil, err
		}
		b, err := read(bundle.NewCustomReader(loader.WithFilter(skipTests)), nil, "embedded default bundle")
		if err == nil && b.Manifest.Revision == "" {
			b.Manifest.Revision = EmbeddedRevision
		}
		return b, err
	case strings.HasPrefix(source, "s3://"):
		return nil, fmt.Errorf("AUTHZ_BUNDLE %q: s3:// is not supported yet; use an https:// URL (for example an S3 presigned URL) or package the bundle with the function", logging.RedactURL(source))
	case strings.HasPrefix(source, "https://"), strings.HasPrefix(source, "http://"):
		// A presigned URL carries a credential in its query string: no error
		// may repeat it, so every error names the URL without it.
		name := logging.RedactURL(source)
		archive, err := download(ctx, source)
		if err != nil {
			return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", name, err)
		}
		return readArchive(archive, vc, name)
	}
	info, err := os.Stat(source)
	if err != nil {
		return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", source, err)
	}
	if info.IsDir() {
		var tally treeTally
		if err := tally.walk(os.DirFS(source)); err != nil {
			return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", source, err)
		}
		loader := bundle.NewDirectoryLoader(source).WithFilter(skipTests).WithSizeLimitBytes(MaxBundleFileBytes)
		return read(bundle.NewCustomReader(loader), vc, source)
	}
	archive, err := readFile(source)
	if err != nil {
		return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", source, err)
	}
	return readArchive(archive, vc, source)
}

// readArchive reads a .tar.gz bundle once checkArchive has found it within the
// limits. OPA's tarball loader checks each file's size too, from its header,
// before it allocates the file.
func readArchive(archive []byte, vc *bundle.VerificationConfig, name string) (*bundle.Bundle, error) {
	if err := checkArchive(archive); err != nil {
		return nil, fmt.Errorf("AUTHZ_BUNDLE %q: %v", name, err)
	}
	loader := bundle.NewTarballLoaderWithBaseURL(bytes.NewReader(archive), "").WithSizeLimitBytes(MaxBundleFileBytes)
	return read(bundle.NewCustomReader(loader), vc, name)
}

// ReadDirs reads source folders as one bundle, the first winning where two hold
// the same file, within the bundle limits, leaving out what LeftOut says: a
// policy folder and a data folder, such as rego and bundles/default, or a
// policy folder and rego/lib. It checks no signature.
func ReadDirs(dirs []string) (*bundle.Bundle, error) {
	name := strings.Join(dirs, " + ")
	fsys := make(layers, len(dirs))
	for i, d := range dirs {
		if info, err := os.Stat(d); err != nil || !info.IsDir() {
			return nil, fmt.Errorf("bundle directory %q: not a directory", d)
		}
		fsys[i] = os.DirFS(d)
	}
	// Each folder is checked on its own: where layers overlap, a file is
	// counted twice, which only makes the limits stricter.
	var tally treeTally
	for _, layer := range fsys {
		if err := tally.walk(layer); err != nil {
			return nil, fmt.Errorf("bundle directories %s: %v", name, err)
		}
	}
	loader, err := bundle.NewFSLoader(fsys)
	if err != nil {
		return nil, err
	}
	loader = loader.WithFilter(skipTestsAndExamples).WithSizeLimitBytes(MaxBundleFileBytes)
	return read(bundle.NewCustomReader(loader), nil, name)
}

func read(r *bundle.Reader, vc *bundle.VerificationConfig, name string) (*bundle.Bundle, error) {
	r = r.WithSizeLimitBytes(MaxBundleFileBytes).WithProcessAnnotations(true)
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

var (
	errArchiveTooLarge = fmt.Errorf("the bundle archive is larger than %d MiB", MaxBundleBytes>>20)
	errTooManyEntries  = fmt.Errorf("the bundle has more than %d entries", MaxBundleEntries)
	errDecompressed    = fmt.Errorf("the bundle decompresses to more than %d MiB", MaxBundleDecompressedBytes>>20)
)

func errFileTooLarge(name string) error {
	return fmt.Errorf("the bundle holds a file larger than %d MiB: %q", MaxBundleFileBytes>>20, name)
}

// checkEntry refuses a file of a bundle, before anything reads it, for what
// OPA would do with it before the signature check: hold size bytes, and decode
// .signatures.json and patch.json as JSON.
func checkEntry(name string, size int64) error {
	switch {
	case size > MaxBundleFileBytes:
		return errFileTooLarge(name)
	case bundle.IsSignaturesFile(name) && size > MaxSignaturesBytes:
		return fmt.Errorf("the bundle's signatures file %q is larger than %d MiB", name, MaxSignaturesBytes>>20)
	case path.Base(name) == "patch.json":
		// A delta bundle holds no policy of its own: it could never be loaded
		// here, and OPA decodes its patch before any signature check.
		return fmt.Errorf("the bundle holds %q: delta bundles are not supported", name)
	}
	return nil
}

// checkArchive reads a gzip-compressed tar archive through, keeping none of it,
// and refuses it when it breaks a limit. OPA's tarball loader reads every file
// into memory on its first call, sized by the headers, before OPA checks the
// signature: this pass runs the same decoders over the same bytes first, so OPA
// is only given what it can hold.
func checkArchive(archive []byte) error {
	gz, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("not a .tar.gz: %v", err)
	}
	// The limit is on the tar stream itself, not on the files' sizes alone, so
	// that headers (up to a MiB each for PAX records) count too.
	stream := &capReader{r: gz, left: MaxBundleDecompressedBytes}
	tr := tar.NewReader(stream)
	// The sizes the headers announce are what OPA allocates. A sparse file
	// announces far more than the stream holds, so they are added up too.
	var announced int64
	for entries := 0; ; entries++ {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if stream.over {
			return errDecompressed
		}
		if err != nil {
			return fmt.Errorf("not a .tar.gz: %v", err)
		}
		if entries == MaxBundleEntries {
			return errTooManyEntries
		}
		if err := checkEntry(h.Name, h.Size); err != nil {
			return err
		}
		if announced += h.Size; announced > MaxBundleDecompressedBytes {
			return errDecompressed
		}
		if _, err := io.Copy(io.Discard, tr); err != nil {
			if stream.over {
				return errDecompressed
			}
			return fmt.Errorf("not a .tar.gz: %v", err)
		}
	}
}

// capReader passes at most left bytes through; past that it fails, and says so
// in over, whatever the tar reader makes of the error.
type capReader struct {
	r    io.Reader
	left int64
	over bool
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.over {
		return 0, errDecompressed
	}
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if int64(n) > c.left {
		c.over = true
		return 0, errDecompressed
	}
	c.left -= int64(n)
	return n, err
}

// treeTally counts a bundle directory's entries and adds up its files' sizes.
type treeTally struct {
	entries int
	bytes   int64
}

// walk adds the tree of fsys to the tally and refuses it when it breaks a
// limit. It reads the listings only, no file, so that a directory is checked as
// cheaply as OPA's loader lists it. Tests and examples, which OPA leaves out,
// are counted too: that makes the limits a little stricter, never looser.
// Symbolic links are not followed, as OPA's loaders do not follow them.
func (t *treeTally) walk(fsys fs.FS) error {
	return fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name == "." {
			return nil
		}
		if t.entries++; t.entries > MaxBundleEntries {
			return errTooManyEntries
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := checkEntry(name, info.Size()); err != nil {
			return err
		}
		if t.bytes += info.Size(); t.bytes > MaxBundleDecompressedBytes {
			return fmt.Errorf("the bundle's files add up to more than %d MiB", MaxBundleDecompressedBytes>>20)
		}
		return nil
	})
}

// skipTests leaves *_test.rego out of the bundle: tests are for opa test.
func skipTests(_ string, info fs.FileInfo, _ int) bool {
	return !info.IsDir() && strings.HasSuffix(info.Name(), "_test.rego")
}

// skipTestsAndExamples is LeftOut as an OPA loader filter.
func skipTestsAndExamples(path string, info fs.FileInfo, _ int) bool {
	return LeftOut(path, info)
}

// LeftOut reports whether a file or folder of a source folder stays out of the
// bundle: a *_test.rego (tests are for opa test) and, below the top of the
// folder, any examples folder (its policies are bundles of their own).
func LeftOut(path string, info fs.FileInfo) bool {
	if info.IsDir() {
		return path != "." && info.Name() == "examples"
	}
	return skipTests(path, info, 0)
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
// Its errors never carry a URL's user information or query string.
func download(ctx context.Context, source string) ([]byte, error) {
	u, err := url.Parse(source)
	if err != nil {
		return nil, withoutCredentials(err)
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return nil, errors.New("http:// is only allowed for loopback hosts; use https://")
	}
	ctx, cancel := context.WithTimeout(ctx, bundleFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, source, nil)
	if err != nil {
		return nil, withoutCredentials(err)
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
		return nil, withoutCredentials(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET: %s", resp.Status)
	}
	if resp.ContentLength > MaxBundleBytes {
		return nil, errArchiveTooLarge
	}
	body, err := readAtMost(resp.Body)
	if err != nil {
		return nil, withoutCredentials(err)
	}
	return body, nil
}

// withoutCredentials rewrites an error of the HTTP client: a *url.Error repeats
// the URL it failed on (after a redirect, the URL it was sent to), and the
// client quotes a Location header it cannot parse. Every URL in the text loses
// its user information and query string.
func withoutCredentials(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s %q: %s", ue.Op, logging.RedactURL(ue.URL), logging.Clean(ue.Err.Error()))
	}
	return errors.New(logging.Clean(err.Error()))
}

// readFile reads a local bundle archive, refusing it before reading when it is
// larger than MaxBundleBytes.
func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if info.Size() > MaxBundleBytes {
		return nil, errArchiveTooLarge
	}
	return readAtMost(f)
}

// readAtMost reads r to the end, refusing more than MaxBundleBytes: a local
// file may grow after its size was checked, and a server may send no length.
func readAtMost(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxBundleBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxBundleBytes {
		return nil, errArchiveTooLarge
	}
	return b, nil
}

// DefaultKeyID is the key id of a single AUTHZ_BUNDLE_PUBLIC_KEY, as `opa
// build --signing-key` and `authz bundle` sign unless told otherwise.
const DefaultKeyID = "default"

// PublicKeys reads AUTHZ_BUNDLE_PUBLIC_KEY: a PEM public key or a path to one,
// under key id "default", or a JSON object of key ids to PEM keys or paths, for
// a rotation ({"2026-10": "...", "2026-11": "/var/task/keys/2026-11.pem"}).
// A key id is never empty: OPA once verified a bundle against an empty one
// without checking its signature (GHSA-g2pf-6v5v-qcc8). RSA keys must have at
// least 2048 bits.
func PublicKeys(setting string) (map[string]*bundle.KeyConfig, error) {
	setting = strings.TrimSpace(setting)
	named := map[string]string{DefaultKeyID: setting}
	if strings.HasPrefix(setting, "{") {
		named = nil
		if err := json.Unmarshal([]byte(setting), &named); err != nil {
			return nil, fmt.Errorf("not a JSON object of key ids to PEM keys: %v", err)
		}
		if len(named) == 0 {
			return nil, errors.New("the JSON object names no key")
		}
	}
	keys := make(map[string]*bundle.KeyConfig, len(named))
	for id, key := range named {
		if strings.TrimSpace(id) == "" {
			return nil, errors.New("a key id is empty")
		}
		kc, err := publicKey(key)
		if err != nil {
			if len(named) > 1 || id != DefaultKeyID {
				return nil, fmt.Errorf("key %q: %v", id, err)
			}
			return nil, err
		}
		keys[id] = kc
	}
	return keys, nil
}

// publicKey reads one PEM public key, or a path to one, and names its OPA
// signing algorithm.
func publicKey(key string) (*bundle.KeyConfig, error) {
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
	return &bundle.KeyConfig{Key: pemText, Algorithm: alg}, nil
}

// verificationConfig builds OPA's bundle verification from
// AUTHZ_BUNDLE_PUBLIC_KEY. A single key verifies under key id "default"; with
// several, the signature's own key id chooses among them.
func verificationConfig(setting string) (*bundle.VerificationConfig, error) {
	keys, err := PublicKeys(setting)
	if err != nil {
		return nil, err
	}
	keyID := ""
	if _, ok := keys[DefaultKeyID]; ok && len(keys) == 1 {
		keyID = DefaultKeyID
	}
	return bundle.NewVerificationConfig(keys, keyID, "", nil), nil
}

// ReadArchive reads a .tar.gz bundle from r, at most MaxBundleBytes of it,
// and checks it against the bundle limits before anything parses it. It gives
// the bytes back for OPA's reader.
func ReadArchive(r io.Reader) ([]byte, error) {
	b, err := readAtMost(r)
	if err != nil {
		return nil, err
	}
	if err := checkArchive(b); err != nil {
		return nil, err
	}
	return b, nil
}

// revision identifies the policy in the decision log: the manifest's revision
// when it has one, else a digest of the bundle's modules and data.
func revision(b *bundle.Bundle) string {
	if b.Manifest.Revision != "" {
		return b.Manifest.Revision
	}
	return Digest(b)
}

// Digest identifies a bundle by its modules and data, whatever its manifest
// says: "sha256:" and twelve hexadecimal digits.
func Digest(b *bundle.Bundle) string {
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
