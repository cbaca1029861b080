package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// maxPeakRSS bounds the function's peak resident memory through a start-up on a
// bundle bomb: well under Lambda's smallest size (128 MiB) plus headroom, and
// far under what the bombs would take if read (64 GiB, 1.2 GiB).
const maxPeakRSS = 200 << 20

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// bombArchive builds a .tar.gz of files of zeros with the given sizes. With
// headerOnly, the archive ends after the first header: it announces the size and
// carries nothing.
func bombArchive(t *testing.T, headerOnly bool, sizes ...int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(gz)
	for i, size := range sizes {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("pad/%02d.bin", i), Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if headerOnly {
			break
		}
		if _, err := io.Copy(tw, io.LimitReader(zeroReader{}, size)); err != nil {
			t.Fatal(err)
		}
	}
	if !headerOnly {
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBundleLimits starts the function on bundle bombs, from a file and from a
// presigned-looking loopback URL, with a signing key configured as a hardened
// deployment has: the function must stay up with bounded memory, deny every
// request as a configuration error, say which limit the bundle broke, and log
// no credential of the URL.
func TestBundleLimits(t *testing.T) {
	iss := startIssuer(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	publicKey := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

	forty := make([]int64, 40)
	for i := range forty {
		forty[i] = 31 << 20
	}
	bombs := map[string][]byte{
		"header.tar.gz": bombArchive(t, true, 64<<30),
		"forty.tar.gz":  bombArchive(t, false, forty...),
	}
	dir := t.TempDir()
	for name, b := range bombs {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := bombs[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(b))
	}))
	defer srv.Close()
	const presigned = "?X-Amz-Credential=AKIAE2ESECRET%2F20260101%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Security-Token=E2ETOKENSECRET&X-Amz-Signature=E2ESIGNATURESECRET"
	secrets := []string{"AKIAE2ESECRET", "E2ETOKENSECRET", "E2ESIGNATURESECRET"}

	// A bundle in the package that breaks a limit is a configuration error; a
	// remote one is a download that failed: no policy yet (policy_not_ready),
	// and the next checks try again.
	cases := []struct {
		name    string
		bundle  string
		reason  string
		initLog string
	}{
		{"a header announcing 64 GiB, local file", filepath.Join(dir, "header.tar.gz"), "config_error", "the bundle holds a file larger than 32 MiB"},
		{"a header announcing 64 GiB, loopback http", srv.URL + "/header.tar.gz" + presigned, "policy_not_ready", "the bundle holds a file larger than 32 MiB"},
		{"40 files of 31 MiB, local file", filepath.Join(dir, "forty.tar.gz"), "config_error", "the bundle decompresses to more than 64 MiB"},
		{"40 files of 31 MiB, loopback http", srv.URL + "/forty.tar.gz" + presigned, "policy_not_ready", "the bundle decompresses to more than 64 MiB"},
	}
	rest := kinds[0]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fn := startFunction(t, map[string]string{
				"AUTHZ_ISSUERS":           issuersEnv(iss),
				"AUTHZ_BUNDLE":            c.bundle,
				"AUTHZ_BUNDLE_PUBLIC_KEY": publicKey,
			})
			res := fn.invoke(t, rest.event("GET", "/health", ""))
			checkOutcome(t, rest, res, want{outcome: "error"}, rest.arn("GET", "/health"))
			line := fn.decisionLog(t, fn.lastRequestID())
			if line["outcome"] != "error" || line["reason"] != c.reason {
				t.Fatalf("decision log %v, want reason %s", line, c.reason)
			}
			output := fn.text()
			if !strings.Contains(output, c.initLog) || c.reason == "config_error" && !strings.Contains(output, "AUTHZ_BUNDLE") {
				t.Fatalf("no start-up line says %q (and AUTHZ_BUNDLE for a configuration error)", c.initLog)
			}
			for _, s := range secrets {
				if strings.Contains(output, s) {
					t.Fatalf("the output repeats the credential %s", s)
				}
			}
			peak := procMemory(t, fn.process.cmd.Process.Pid, "VmHWM")
			t.Logf("VmHWM %.1f MiB", float64(peak)/(1<<20))
			if peak > maxPeakRSS {
				t.Fatalf("the function's peak memory was %d MiB, want under %d MiB", peak>>20, maxPeakRSS>>20)
			}
		})
	}
}
