package policy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// maxRefusalAlloc bounds what Load may allocate to refuse a bundle that breaks a
// limit: less than one file of the bombs, so a refusal keeps none of them.
const maxRefusalAlloc = 16 << 20

// member is one entry of a test archive: size bytes of zeros, or body.
type member struct {
	name string
	size int64
	body string
	// headerOnly announces size and writes no body: the archive ends after the
	// header, as in the 212-byte bomb.
	headerOnly bool
	// sparse writes a PAX 1.0 sparse file of size bytes that is all hole: a
	// few hundred bytes in the archive, size bytes once Go's tar reader has
	// expanded it.
	sparse bool
}

var policyMember = member{name: "p.rego", body: "package authz\ndecision := {\"allow\": input.request.path == \"/ok\"}\n"}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// tarball builds a gzip-compressed tar of the members, and says how many bytes
// the tar stream has once decompressed.
func tarball(t testing.TB, members ...member) ([]byte, int64) {
	t.Helper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // zeros still shrink ~1000:1, in a fraction of the time
	if err != nil {
		t.Fatal(err)
	}
	raw := &countingWriter{w: gz}
	tw := tar.NewWriter(raw)
	for _, m := range members {
		size := m.size
		if m.body != "" {
			size = int64(len(m.body))
		}
		if m.sparse {
			// archive/tar cannot write sparse files: the blocks are written
			// by hand, between two members.
			if err := tw.Flush(); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Write(sparseMember(m.name, m.size)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if m.headerOnly {
			if err := tw.Flush(); err == nil {
				t.Fatal("a header-only member must leave the archive unfinished")
			}
			if err := gz.Close(); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes(), raw.n
		}
		var body io.Reader = io.LimitReader(zeros{}, size)
		if m.body != "" {
			body = strings.NewReader(m.body)
		}
		if _, err := io.Copy(tw, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), raw.n
}

// sparseMember is a PAX 1.0 sparse file as GNU tar writes it (tar --sparse
// --sparse-version=1.0 --format=posix): an extended header naming the real name
// and size, then a regular member whose body is the sparse map, here one empty
// data region, so that the whole file is a hole.
func sparseMember(name string, size int64) []byte {
	record := func(k, v string) string {
		// A PAX record's length counts its own digits.
		n := len(k) + len(v) + 3
		for n != len(fmt.Sprintf("%d %s=%s\n", n, k, v)) {
			n = len(fmt.Sprintf("%d %s=%s\n", n, k, v))
		}
		return fmt.Sprintf("%d %s=%s\n", n, k, v)
	}
	records := record("GNU.sparse.major", "1") + record("GNU.sparse.minor", "0") +
		record("GNU.sparse.name", name) + record("GNU.sparse.realsize", fmt.Sprint(size))
	var out []byte
	out = append(out, ustarHeader("PaxHeaders/"+name, tar.TypeXHeader, int64(len(records)))...)
	out = append(out, padBlock([]byte(records))...)
	out = append(out, ustarHeader("GNUSparseFile.0/"+name, tar.TypeReg, 512)...)
	return append(out, padBlock([]byte("1\n0\n0\n"))...)
}

// ustarHeader is one 512-byte ustar header block.
func ustarHeader(name string, typeflag byte, size int64) []byte {
	h := make([]byte, 512)
	copy(h[0:100], name)
	copy(h[100:108], "0000644\x00")
	copy(h[108:116], "0000000\x00")
	copy(h[116:124], "0000000\x00")
	copy(h[124:136], fmt.Sprintf("%011o\x00", size))
	copy(h[136:148], "00000000000\x00")
	h[156] = typeflag
	copy(h[257:263], "ustar\x00")
	copy(h[263:265], "00")
	copy(h[148:156], "        ")
	sum := 0
	for _, c := range h {
		sum += int(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return h
}

func padBlock(b []byte) []byte {
	return append(b, make([]byte, (512-len(b)%512)%512)...)
}

// presigned is the query of an S3 presigned URL; none of its values, nor a URL's
// user information, may appear in an error.
const presigned = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLESECRET%2F20260101%2Feu-west-1%2Fs3%2Faws4_request" +
	"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=SESSIONTOKENSECRET&X-Amz-SignedHeaders=host&X-Amz-Signature=SIGNATURESECRET"

var secrets = []string{"AKIAEXAMPLESECRET", "SESSIONTOKENSECRET", "SIGNATURESECRET", "REDIRECTSECRET", "alice", "PASSWORDSECRET"}

func assertNoSecret(t *testing.T, err error) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("the error repeats the credential %s: %v", s, err)
		}
	}
}

// serveFiles serves the archives by path on 127.0.0.1, with a Content-Length, and
// ignores the query.
func serveFiles(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// loadMeasured loads opts and says how many bytes were allocated meanwhile.
func loadMeasured(t *testing.T, opts Options) (*Engine, uint64, error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e, err := Load(context.Background(), opts)
	runtime.ReadMemStats(&after)
	return e, after.TotalAlloc - before.TotalAlloc, err
}

func mib(n int64) string { return fmt.Sprintf("%d MiB", n>>20) }

func TestBundleArchiveLimits(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fileLimit := "holds a file larger than " + mib(MaxBundleFileBytes)
	totalLimit := "decompresses to more than " + mib(MaxBundleDecompressedBytes)

	header64GiB, _ := tarball(t, policyMember, member{name: "bomb.bin", size: 64 << 30, headerOnly: true})
	fileOver, _ := tarball(t, policyMember, member{name: "pad/a.bin", size: MaxBundleFileBytes + 1})
	forty := []member{policyMember}
	for i := range 40 {
		forty = append(forty, member{name: fmt.Sprintf("pad/%02d.bin", i), size: 31 << 20})
	}
	fortyFiles, _ := tarball(t, forty...)
	// A tar member takes a 512-byte header and its body rounded up to 512 bytes;
	// the archive ends with two zero blocks. This fills the total to the byte.
	fill := int64(MaxBundleDecompressedBytes - MaxBundleFileBytes - 3*512 - 512 - 2*512)
	totalOver, n := tarball(t, policyMember, member{name: "pad/a.bin", size: MaxBundleFileBytes}, member{name: "pad/b.bin", size: fill + 1})
	if n <= MaxBundleDecompressedBytes || n > MaxBundleDecompressedBytes+512 {
		t.Fatalf("fixture: the archive decompresses to %d bytes, want just over %d", n, MaxBundleDecompressedBytes)
	}
	many := []member{policyMember}
	for i := range MaxBundleEntries {
		many = append(many, member{name: fmt.Sprintf("many/%05d.bin", i), body: "x"})
	}
	tooMany, _ := tarball(t, many...)
	tooBig := make([]byte, MaxBundleBytes+1)
	// Each sparse file is under the file limit, and the stream is a few KiB:
	// only the sizes the headers announce show the 1.2 GiB OPA would allocate.
	sparse := []member{policyMember}
	for i := range 40 {
		sparse = append(sparse, member{name: fmt.Sprintf("pad/%02d.bin", i), size: 31 << 20, sparse: true})
	}
	sparseFiles, _ := tarball(t, sparse...)
	// OPA decodes these as JSON before any signature check.
	signatures, _ := tarball(t, policyMember, member{name: ".signatures.json", size: MaxSignaturesBytes + 1})
	patch, _ := tarball(t, policyMember, member{name: "patch.json", body: `{"data":[]}`})

	if len(header64GiB) > 1024 || len(fortyFiles) > 2<<20 {
		t.Fatalf("fixture: the bombs take %d and %d bytes, want them small", len(header64GiB), len(fortyFiles))
	}

	tests := []struct {
		name    string
		archive []byte
		wantErr string
	}{
		{"a header announcing 64 GiB", header64GiB, fileLimit},
		{"a file one byte over the file limit", fileOver, fileLimit},
		{"40 files of 31 MiB", fortyFiles, totalLimit},
		{"a total one block over the limit", totalOver, totalLimit},
		{"one entry too many", tooMany, fmt.Sprintf("has more than %d entries", MaxBundleEntries)},
		{"an archive over the compressed limit", tooBig, "the bundle archive is larger than " + mib(MaxBundleBytes)},
		{"40 sparse files of 31 MiB", sparseFiles, totalLimit},
		{"a signatures file over its limit", signatures, "signatures file \".signatures.json\" is larger than 1 MiB"},
		{"a delta bundle", patch, "delta bundles are not supported"},
	}
	dir := t.TempDir()
	files := map[string][]byte{}
	for i, tt := range tests {
		files[fmt.Sprintf("%d.tar.gz", i)] = tt.archive
	}
	srv := serveFiles(t, files)
	host := strings.TrimPrefix(srv.URL, "http://")
	for i, tt := range tests {
		local := filepath.Join(dir, fmt.Sprintf("%d.tar.gz", i))
		if err := os.WriteFile(local, tt.archive, 0o644); err != nil {
			t.Fatal(err)
		}
		sources := []struct{ name, bundle, names string }{
			{"local file", local, local},
			{"loopback http", "http://alice:PASSWORDSECRET@" + host + fmt.Sprintf("/%d.tar.gz", i) + presigned, host + fmt.Sprintf("/%d.tar.gz", i)},
		}
		for _, src := range sources {
			t.Run(tt.name+"/"+src.name, func(t *testing.T) {
				// With a key configured the limits must still come first: the
				// signature is checked only on what OPA has read.
				e, alloc, err := loadMeasured(t, Options{Bundle: src.bundle, PublicKey: publicPEM(t, key)})
				t.Logf("TotalAlloc during Load: %.1f MiB; %v", float64(alloc)/(1<<20), err)
				if err == nil || e != nil {
					t.Fatal("Load accepted the bundle")
				}
				for _, want := range []string{"AUTHZ_BUNDLE", src.names, tt.wantErr} {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("error %q, want it to contain %q", err, want)
					}
				}
				assertNoSecret(t, err)
				// The bound is checked without the race detector (make test's
				// go-test does): its instrumentation allocates several times
				// what the code does, so under -race only the refusal is.
				if alloc > maxRefusalAlloc && !raceDetector {
					t.Fatalf("Load allocated %d MiB to refuse the bundle, want under %d MiB", alloc>>20, maxRefusalAlloc>>20)
				}
			})
		}
	}
}

func TestBundleArchivesAtTheLimitsLoad(t *testing.T) {
	// The total to the byte, with one file at the file limit.
	fill := int64(MaxBundleDecompressedBytes - MaxBundleFileBytes - 3*512 - 512 - 2*512)
	full, n := tarball(t, policyMember, member{name: "pad/a.bin", size: MaxBundleFileBytes}, member{name: "pad/b.bin", size: fill})
	if n != MaxBundleDecompressedBytes {
		t.Fatalf("fixture: the archive decompresses to %d bytes, want %d", n, MaxBundleDecompressedBytes)
	}
	many := []member{policyMember}
	for i := range MaxBundleEntries - 1 {
		many = append(many, member{name: fmt.Sprintf("many/%05d.bin", i), body: "x"})
	}
	manyEntries, _ := tarball(t, many...)
	archives := map[string][]byte{"full.tar.gz": full, "many.tar.gz": manyEntries}
	srv := serveFiles(t, archives)
	dir := t.TempDir()
	for name, archive := range archives {
		local := filepath.Join(dir, name)
		if err := os.WriteFile(local, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, source := range []string{local, srv.URL + "/" + name + presigned} {
			t.Run(name+"/"+source[:4], func(t *testing.T) {
				e, alloc, err := loadMeasured(t, Options{Bundle: source})
				t.Logf("TotalAlloc during Load: %.1f MiB", float64(alloc)/(1<<20))
				if err != nil {
					t.Fatal(err)
				}
				d, err := e.Decide(context.Background(), rest("GET", "/ok"))
				if err != nil || !d.Allow {
					t.Fatalf("Decide = %+v, %v", d, err)
				}
			})
		}
	}
}

// sparseFiles creates files of the given sizes without using the disk for them.
func sparseFiles(t *testing.T, dir string, sizes map[string]int64) {
	t.Helper()
	made := map[string]bool{}
	for name, size := range sizes {
		p := filepath.Join(dir, name)
		if parent := filepath.Dir(p); !made[parent] {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			made[parent] = true
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			err = f.Truncate(size)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestBundleDirectoryLimits(t *testing.T) {
	var full string
	withPolicy := func(t *testing.T, sizes map[string]int64) string {
		dir := writeBundle(t, map[string]string{policyMember.name: policyMember.body})
		sparseFiles(t, dir, sizes)
		return dir
	}
	tests := []struct {
		name    string
		dir     func(t *testing.T) string
		wantErr string // "" when the bundle must load
	}{
		{"a file of 64 GiB", func(t *testing.T) string {
			return withPolicy(t, map[string]int64{"bomb.bin": 64 << 30})
		}, "holds a file larger than " + mib(MaxBundleFileBytes)},
		{"40 files of 31 MiB", func(t *testing.T) string {
			sizes := map[string]int64{}
			for i := range 40 {
				sizes[fmt.Sprintf("pad/%02d.bin", i)] = 31 << 20
			}
			return withPolicy(t, sizes)
		}, "files add up to more than " + mib(MaxBundleDecompressedBytes)},
		{"one byte over the total", func(t *testing.T) string {
			return withPolicy(t, map[string]int64{"a.bin": MaxBundleFileBytes, "b.bin": MaxBundleDecompressedBytes - MaxBundleFileBytes - int64(len(policyMember.body)) + 1})
		}, "files add up to more than " + mib(MaxBundleDecompressedBytes)},
		// The tree at every limit, then with one more entry: ten thousand files
		// take seconds to create on some file systems, so the two share them.
		{"at every limit", func(t *testing.T) string {
			sizes := map[string]int64{"a.bin": MaxBundleFileBytes, "b.bin": MaxBundleDecompressedBytes - MaxBundleFileBytes - int64(len(policyMember.body))}
			for i := range MaxBundleEntries - 4 { // p.rego, a.bin, b.bin, many/
				sizes[fmt.Sprintf("many/%05d.bin", i)] = 0
			}
			full = withPolicy(t, sizes)
			return full
		}, ""},
		{"one entry too many", func(t *testing.T) string {
			sparseFiles(t, full, map[string]int64{"many/extra.bin": 0})
			return full
		}, fmt.Sprintf("has more than %d entries", MaxBundleEntries)},
	}
	for _, tt := range tests {
		dir := tt.dir(t)
		for _, src := range []struct {
			name string
			opts Options
		}{
			{"AUTHZ_BUNDLE", Options{Bundle: dir}},
			{"layered directories", Options{Dirs: []string{dir}}},
		} {
			t.Run(tt.name+"/"+src.name, func(t *testing.T) {
				e, alloc, err := loadMeasured(t, src.opts)
				t.Logf("TotalAlloc during Load: %.1f MiB", float64(alloc)/(1<<20))
				if tt.wantErr == "" {
					if err != nil {
						t.Fatal(err)
					}
					if d, err := e.Decide(context.Background(), rest("GET", "/ok")); err != nil || !d.Allow {
						t.Fatalf("Decide = %+v, %v", d, err)
					}
					return
				}
				if err == nil || e != nil {
					t.Fatal("Load accepted the bundle")
				}
				for _, want := range []string{dir, tt.wantErr} {
					if !strings.Contains(err.Error(), want) {
						t.Fatalf("error %q, want it to contain %q", err, want)
					}
				}
				if src.opts.Bundle != "" && !strings.Contains(err.Error(), "AUTHZ_BUNDLE") {
					t.Fatalf("error %q does not name AUTHZ_BUNDLE", err)
				}
				// The bound is checked without the race detector (make test's
				// go-test does): its instrumentation allocates several times
				// what the code does, so under -race only the refusal is.
				if alloc > maxRefusalAlloc && !raceDetector {
					t.Fatalf("Load allocated %d MiB to refuse the bundle, want under %d MiB", alloc>>20, maxRefusalAlloc>>20)
				}
			})
		}
	}
}

func TestBundleURLErrorsCarryNoCredentials(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := closed.Addr().String()
	closed.Close() // nothing listens there now

	mux := http.NewServeMux()
	mux.HandleFunc("/forbidden/b.tar.gz", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "SignatureDoesNotMatch", http.StatusForbidden)
	})
	mux.HandleFunc("/away/b.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://bundles.example.com/elsewhere/b.tar.gz?X-Amz-Signature=REDIRECTSECRET", http.StatusFound)
	})
	mux.HandleFunc("/down/b.tar.gz", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+down+"/gone/b.tar.gz?X-Amz-Signature=REDIRECTSECRET", http.StatusFound)
	})
	mux.HandleFunc("/garbage/b.tar.gz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("not a bundle"))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	tests := []struct {
		name      string
		hostPath  string // the configured URL without scheme, user information and query
		wantCause string
	}{
		{"the server answers 403", host + "/forbidden/b.tar.gz", "403 Forbidden"},
		{"nothing listens", down + "/nowhere/b.tar.gz", "connection refused"},
		{"a redirect off loopback http", host + "/away/b.tar.gz", "refusing a redirect to http://bundles.example.com"},
		{"a redirect to where nothing listens", host + "/down/b.tar.gz", down + "/gone/b.tar.gz"},
		{"a body that is not a bundle", host + "/garbage/b.tar.gz", "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(context.Background(), Options{Bundle: "http://alice:PASSWORDSECRET@" + tt.hostPath + presigned})
			if err == nil {
				t.Fatal("Load succeeded")
			}
			t.Log(err)
			for _, want := range []string{"AUTHZ_BUNDLE", tt.hostPath, tt.wantCause} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q, want it to contain %q", err, want)
				}
			}
			assertNoSecret(t, err)
		})
	}
}

func TestBundleUnsignedOverHTTPWithAKeyIsRefused(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{policyMember.name: policyMember.body}
	srv := serveFiles(t, map[string][]byte{"unsigned.tar.gz": signedTarball(t, files, nil), "signed.tar.gz": signedTarball(t, files, key)})
	if _, err := Load(context.Background(), Options{Bundle: srv.URL + "/signed.tar.gz", PublicKey: publicPEM(t, key)}); err != nil {
		t.Fatalf("the signed bundle: %v", err)
	}
	_, err = Load(context.Background(), Options{Bundle: srv.URL + "/unsigned.tar.gz", PublicKey: publicPEM(t, key)})
	if err == nil || !strings.Contains(err.Error(), ".signatures.json") {
		t.Fatalf("the unsigned bundle: %v, want a missing signature", err)
	}
}
