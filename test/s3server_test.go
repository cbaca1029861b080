package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/download"
	"github.com/open-policy-agent/opa/v1/logging"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/rest"
)

// s3Request is one request the S3 server received.
type s3Request struct {
	At            time.Time
	Method        string
	Path          string // as sent, /BUCKET/KEY
	Key           string
	IfNoneMatch   string
	Status        int
	Code          string   // S3's error code; "" when served
	Reason        string   // why the request was refused
	SignedHeaders []string // as the Authorization header lists them
	PayloadHash   string   // X-Amz-Content-Sha256 as sent
	Token         bool     // X-Amz-Security-Token was sent
}

// s3Server is an S3-compatible endpoint on 127.0.0.1 for one bucket,
// path-style (http://127.0.0.1:PORT/BUCKET/KEY, what an S3 client does with
// AWS_ENDPOINT_URL_S3): GetObject and HeadObject with ETag and 304, every
// request's Signature V4 checked against one set of credentials. A refused
// request gets S3's XML error and its reason is logged.
type s3Server struct {
	// Endpoint is the value for AWS_ENDPOINT_URL_S3: http://127.0.0.1:PORT.
	Endpoint string
	Bucket   string

	t     *testing.T
	creds awsCredentials
	srv   *http.Server

	mu      sync.Mutex
	objects map[string]s3Object
	log     []s3Request
	ended   bool // the test has ended: no more t.Logf
}

type s3Object struct {
	body     []byte
	etag     string
	modified time.Time
}

// startS3Server serves bucket on a free loopback port, accepting only requests
// signed with creds, until the test ends.
func startS3Server(t *testing.T, bucket string, creds awsCredentials) *s3Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &s3Server{
		Endpoint: "http://" + ln.Addr().String(),
		Bucket:   bucket,
		t:        t,
		creds:    creds,
		objects:  map[string]s3Object{},
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.handle)}
	go s.srv.Serve(ln)
	t.Cleanup(func() {
		s.mu.Lock()
		s.ended = true
		s.mu.Unlock()
		s.srv.Close()
	})
	return s
}

// Env is the function's environment for this server: the credentials as
// Lambda sets them, and AWS_ENDPOINT_URL_S3.
func (s *s3Server) Env() map[string]string {
	env := s.creds.env()
	env["AWS_ENDPOINT_URL_S3"] = s.Endpoint
	return env
}

// ObjectURL is the s3:// URL of key (for AUTHZ_BUNDLE).
func (s *s3Server) ObjectURL(key string) string { return "s3://" + s.Bucket + "/" + key }

// PutObject stores body under key and returns its ETag: the quoted MD5 of
// the body, as S3 gives for a single-part upload.
func (s *s3Server) PutObject(key string, body []byte) string {
	sum := md5.Sum(body)
	o := s3Object{body: bytes.Clone(body), etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: time.Now().UTC().Truncate(time.Second)}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[key] = o
	return o.etag
}

// DeleteObject removes key: later GETs get 404 NoSuchKey.
func (s *s3Server) DeleteObject(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, key)
}

// Requests is the log of every request so far, oldest first.
func (s *s3Server) Requests() []s3Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]s3Request(nil), s.log...)
}

func (s *s3Server) handle(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	entry := s3Request{At: time.Now(), Method: r.Method, Path: r.URL.EscapedPath(), IfNoneMatch: strings.Join(r.Header.Values("If-None-Match"), ", ")}
	defer func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.log = append(s.log, entry)
		if entry.Code != "" && !s.ended {
			s.t.Logf("s3 server: %s %s: %d %s: %s", entry.Method, entry.Path, entry.Status, entry.Code, entry.Reason)
		}
	}()
	fail := func(status int, code, reason string) {
		entry.Status, entry.Code, entry.Reason = status, code, reason
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		xml.NewEncoder(w).Encode(struct {
			XMLName  xml.Name `xml:"Error"`
			Code     string
			Message  string
			Resource string
		}{Code: code, Message: reason, Resource: r.URL.Path})
	}

	info, err := verifySigV4(r, body, s.creds, "s3", time.Now())
	entry.SignedHeaders, entry.PayloadHash, entry.Token = info.SignedHeaders, info.PayloadHash, info.Token
	if err != nil {
		fail(err.Status, err.Code, err.Reason)
		return
	}

	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	entry.Key = key
	if bucket != s.Bucket {
		fail(http.StatusNotFound, "NoSuchBucket", fmt.Sprintf("no bucket %q here (path-style /%s/KEY only)", bucket, s.Bucket))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		fail(http.StatusMethodNotAllowed, "MethodNotAllowed", r.Method+" is not served: GetObject and HeadObject only")
		return
	}
	s.mu.Lock()
	o, ok := s.objects[key]
	s.mu.Unlock()
	if !ok || key == "" {
		fail(http.StatusNotFound, "NoSuchKey", fmt.Sprintf("no object %q", key))
		return
	}
	w.Header().Set("ETag", o.etag)
	w.Header().Set("Last-Modified", o.modified.Format(http.TimeFormat))
	if etagListMatches(r.Header.Values("If-None-Match"), o.etag) {
		entry.Status = http.StatusNotModified
		w.WriteHeader(entry.Status)
		return
	}
	entry.Status = http.StatusOK
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", fmt.Sprint(len(o.body)))
	w.WriteHeader(entry.Status)
	if r.Method == http.MethodGet {
		w.Write(o.body)
	}
}

// --- Self-tests -------------------------------------------------------------

// signedS3Request is a GET of key signed with aws-sdk-go-v2's signer.
func signedS3Request(t *testing.T, s *s3Server, key string, creds awsCredentials, service string, at time.Time, payloadHash string, header http.Header) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", s.Endpoint+"/"+s.Bucket+"/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds.sdk(), req, payloadHash, service, creds.Region, at,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestS3ServerVerifiesSigV4(t *testing.T) {
	creds := testAWSCredentials()
	s := startS3Server(t, "policy-bucket", creds)
	etag := s.PutObject("bundles/authz.tar.gz", []byte("the bundle"))

	withToken := func(c awsCredentials, tok string) awsCredentials { c.SessionToken = tok; return c }
	withSecret := func(c awsCredentials, sec string) awsCredentials { c.SecretAccessKey = sec; return c }
	withRegion := func(c awsCredentials, reg string) awsCredentials { c.Region = reg; return c }
	withKeyID := func(c awsCredentials, id string) awsCredentials { c.AccessKeyID = id; return c }
	now := time.Now()
	const key = "bundles/authz.tar.gz"

	cases := []struct {
		name     string
		key      string
		creds    awsCredentials
		service  string
		at       time.Time
		payload  string
		header   http.Header
		change   func(r *http.Request) // after signing
		wantCode int
		wantErr  string // S3 error code
	}{
		{"signed, hashed empty payload", key, creds, "s3", now, emptyPayloadHash, nil, nil, 200, ""},
		{"signed, UNSIGNED-PAYLOAD", key, creds, "s3", now, unsignedPayload, nil, nil, 200, ""},
		{"signed If-None-Match, unchanged", key, creds, "s3", now, emptyPayloadHash, http.Header{"If-None-Match": {etag}}, nil, 304, ""},
		{"signed empty If-None-Match", key, creds, "s3", now, emptyPayloadHash, http.Header{"If-None-Match": {""}}, nil, 200, ""},
		{"unsigned headers added by a proxy are ignored", key, creds, "s3", now, emptyPayloadHash, nil,
			func(r *http.Request) {
				r.Header.Set("X-Forwarded-For", "127.0.0.1")
				r.Header.Set("User-Agent", "proxy")
			}, 200, ""},
		{"clock 10 minutes off", key, creds, "s3", now.Add(-10 * time.Minute), emptyPayloadHash, nil, nil, 200, ""},
		{"wrong secret", key, withSecret(creds, "not-the-secret"), "s3", now, emptyPayloadHash, nil, nil, 403, "SignatureDoesNotMatch"},
		{"unknown access key", key, withKeyID(creds, "ASIAOTHERKEY"), "s3", now, emptyPayloadHash, nil, nil, 403, "InvalidAccessKeyId"},
		{"wrong region", key, withRegion(creds, "us-east-1"), "s3", now, emptyPayloadHash, nil, nil, 403, "AuthorizationHeaderMalformed"},
		{"wrong service", key, creds, "execute-api", now, emptyPayloadHash, nil, nil, 403, "AuthorizationHeaderMalformed"},
		{"missing session token", key, withToken(creds, ""), "s3", now, emptyPayloadHash, nil, nil, 403, "InvalidAccessKeyId"},
		{"wrong session token", key, withToken(creds, "another-token"), "s3", now, emptyPayloadHash, nil, nil, 403, "InvalidToken"},
		{"session token sent but not signed", key, withToken(creds, ""), "s3", now, emptyPayloadHash, nil,
			func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", creds.SessionToken) }, 403, "AccessDenied"},
		{"token swapped after signing", key, creds, "s3", now, emptyPayloadHash, nil,
			func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "forged") }, 403, "InvalidToken"},
		{"signed header tampered", key, creds, "s3", now, emptyPayloadHash, http.Header{"If-None-Match": {`"v1"`}},
			func(r *http.Request) { r.Header.Set("If-None-Match", etag) }, 403, "SignatureDoesNotMatch"},
		{"signed header dropped", key, creds, "s3", now, emptyPayloadHash, http.Header{"Prefer": {"modes=snapshot,delta"}},
			func(r *http.Request) { r.Header.Del("Prefer") }, 403, "AccessDenied"},
		{"path tampered", key, creds, "s3", now, emptyPayloadHash, nil,
			func(r *http.Request) { r.URL.Path = "/policy-bucket/bundles/other.tar.gz" }, 403, "SignatureDoesNotMatch"},
		{"date header tampered", key, creds, "s3", now, emptyPayloadHash, nil,
			func(r *http.Request) { r.Header.Set("X-Amz-Date", now.Add(time.Second).UTC().Format(amzDateFormat)) }, 403, "SignatureDoesNotMatch"},
		{"clock 20 minutes off", key, creds, "s3", now.Add(-20 * time.Minute), emptyPayloadHash, nil, nil, 403, "RequestTimeTooSkewed"},
		{"payload hash of another body", key, creds, "s3", now, "0000000000000000000000000000000000000000000000000000000000000000", nil, nil, 400, "XAmzContentSHA256Mismatch"},
		{"no x-amz-content-sha256", key, creds, "s3", now, emptyPayloadHash, nil,
			func(r *http.Request) { r.Header.Del("X-Amz-Content-Sha256") }, 403, "AccessDenied"}, // it was signed
		{"no Authorization", key, creds, "s3", now, emptyPayloadHash, nil, func(r *http.Request) { r.Header.Del("Authorization") }, 403, "AccessDenied"},
		{"presigned", key, creds, "s3", now, emptyPayloadHash, nil,
			func(r *http.Request) { r.URL.RawQuery = "X-Amz-Signature=abc"; r.Header.Del("Authorization") }, 403, "AccessDenied"},
		{"no such key", "bundles/missing.tar.gz", creds, "s3", now, emptyPayloadHash, nil, nil, 404, "NoSuchKey"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := signedS3Request(t, s, c.key, c.creds, c.service, c.at, c.payload, c.header)
			if c.change != nil {
				c.change(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != c.wantCode {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.wantCode, body)
			}
			log := s.Requests()
			last := log[len(log)-1]
			if last.Code != c.wantErr {
				t.Fatalf("error code %q (%s), want %q", last.Code, last.Reason, c.wantErr)
			}
			switch {
			case c.wantErr != "":
				var e struct{ Code, Message string }
				if err := xml.Unmarshal(body, &e); err != nil || e.Code != c.wantErr || e.Message == "" {
					t.Fatalf("S3 error body %s (%v)", body, err)
				}
			case c.wantCode == 200:
				if string(body) != "the bundle" || resp.Header.Get("ETag") != etag {
					t.Fatalf("body %q, ETag %s", body, resp.Header.Get("ETag"))
				}
			case c.wantCode == 304:
				if len(body) != 0 || resp.Header.Get("ETag") != etag {
					t.Fatalf("304 with body %q, ETag %s", body, resp.Header.Get("ETag"))
				}
			}
		})
	}

	t.Run("long-term keys, no token", func(t *testing.T) {
		longTerm := withToken(creds, "")
		s2 := startS3Server(t, "policy-bucket", longTerm)
		s2.PutObject(key, []byte("x"))
		for _, c := range []struct {
			creds awsCredentials
			want  int
		}{{longTerm, 200}, {creds, 403}} {
			resp, err := http.DefaultClient.Do(signedS3Request(t, s2, key, c.creds, "s3", now, emptyPayloadHash, nil))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("token %q: %d, want %d", c.creds.SessionToken, resp.StatusCode, c.want)
			}
		}
	})
}

// opaS3Client is OPA's REST client for the bucket with S3 signing from the
// environment's credentials: what the function's bundle plugin will use.
func opaS3Client(t *testing.T, s *s3Server, creds awsCredentials) rest.Client {
	t.Helper()
	for k, v := range creds.env() {
		t.Setenv(k, v)
	}
	t.Setenv("AWS_SECURITY_TOKEN", "") // OPA's fallback for a missing AWS_SESSION_TOKEN
	config := fmt.Sprintf(`{"url": %q, "credentials": {"s3_signing": {"environment_credentials": {}}}}`, s.Endpoint+"/"+s.Bucket)
	client, err := rest.New([]byte(config), nil, rest.Logger(logging.NewNoOpLogger()))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// TestS3ServerAcceptsOPASigner proves that the server accepts exactly what
// the product's OPA sends: its REST client with s3_signing and environment
// credentials, then its bundle downloader polling with ETag.
func TestS3ServerAcceptsOPASigner(t *testing.T) {
	creds := testAWSCredentials()
	s := startS3Server(t, "policy-bucket", creds)
	key := newBundleKey(t, "release", "RS256")
	files := defaultPolicy(t)
	v1 := buildBundle(t, bundleSpec{Files: files, Roots: defaultRoots, Revision: "v1", SignWith: &key})
	etag := s.PutObject("bundles/authz.tar.gz", v1)
	ctx := context.Background()

	t.Run("GET through the REST client", func(t *testing.T) {
		client := opaS3Client(t, s, creds)
		resp, err := client.Do(ctx, "GET", "bundles/authz.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, v1) {
			t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
		}
		r := s.Requests()[len(s.Requests())-1]
		if !r.Token || r.PayloadHash != emptyPayloadHash || r.Key != "bundles/authz.tar.gz" {
			t.Fatalf("logged %+v", r)
		}
		t.Logf("OPA signed %v, payload %s", r.SignedHeaders, r.PayloadHash)
	})

	t.Run("the bundle downloader polls with ETag", func(t *testing.T) {
		client := opaS3Client(t, s, creds)
		manual := plugins.TriggerManual
		config := download.Config{Trigger: &manual}
		if err := config.ValidateAndInjectDefaults(); err != nil {
			t.Fatal(err)
		}
		var got *bundle.Bundle
		d := download.New(config, client, "bundles/authz.tar.gz").
			WithBundleVerificationConfig(verificationConfig(t, "", key)).
			WithBundleParserOpts(ast.ParserOptions{RegoVersion: ast.RegoV1}).
			WithCallback(func(_ context.Context, u download.Update) error { got = u.Bundle; return nil })
		n := len(s.Requests())
		for i, want := range []string{"v1", "", ""} {
			got = nil
			if err := d.Trigger(ctx); err != nil {
				t.Fatalf("poll %d: %v", i, err)
			}
			if (got == nil) != (want == "") || got != nil && got.Manifest.Revision != want {
				t.Fatalf("poll %d: %v, want %q", i, got, want)
			}
		}
		log := s.Requests()[n:]
		for i, want := range []struct {
			inm    string
			status int
		}{{"", 200}, {etag, 304}, {etag, 304}} {
			if log[i].IfNoneMatch != want.inm || log[i].Status != want.status {
				t.Fatalf("request %d: %+v, want If-None-Match %q and %d", i, log[i], want.inm, want.status)
			}
		}
		// OPA signs every header it set but User-Agent: Prefer always,
		// If-None-Match once it has an ETag (before, it sends none).
		for i, want := range []string{"host;prefer;x-amz-content-sha256;x-amz-date;x-amz-security-token",
			"host;if-none-match;prefer;x-amz-content-sha256;x-amz-date;x-amz-security-token"} {
			if got := strings.Join(log[i].SignedHeaders, ";"); got != want || log[i].PayloadHash != emptyPayloadHash {
				t.Fatalf("poll %d signed %s (payload %s), want %s and the empty body's SHA-256", i, got, log[i].PayloadHash, want)
			}
		}
	})

	t.Run("wrong secret in the environment", func(t *testing.T) {
		wrong := creds
		wrong.SecretAccessKey = "not-the-secret"
		resp, err := opaS3Client(t, s, wrong).Do(ctx, "GET", "bundles/authz.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if r := s.Requests()[len(s.Requests())-1]; resp.StatusCode != 403 || r.Code != "SignatureDoesNotMatch" {
			t.Fatalf("status %d, logged %+v", resp.StatusCode, r)
		}
	})

	t.Run("no session token in the environment", func(t *testing.T) {
		noToken := creds
		noToken.SessionToken = ""
		resp, err := opaS3Client(t, s, noToken).Do(ctx, "GET", "bundles/authz.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if r := s.Requests()[len(s.Requests())-1]; resp.StatusCode != 403 || r.Code != "InvalidAccessKeyId" {
			t.Fatalf("status %d, logged %+v", resp.StatusCode, r)
		}
	})

	t.Run("a key that needs escaping", func(t *testing.T) {
		const odd = "bundles/team a+b/authz.tar.gz"
		s.PutObject(odd, v1)
		resp, err := opaS3Client(t, s, creds).Do(ctx, "GET", url.PathEscape("bundles")+"/"+url.PathEscape("team a+b")+"/authz.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if r := s.Requests()[len(s.Requests())-1]; resp.StatusCode != 200 {
			t.Fatalf("status %d, logged %+v", resp.StatusCode, r)
		}
	})
}
