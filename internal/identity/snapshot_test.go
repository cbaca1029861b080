package identity

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// countingTransport counts the requests a verifier sends.
type countingTransport struct {
	n    atomic.Int64
	base http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.base.RoundTrip(r)
}

// syncBuffer is a log destination for the verifier's background fetches.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *syncBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(s, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// takeSnapshot takes a snapshot of cfgs and reads it back from its bytes, as
// the authorizer reads the file authz jwks snapshot writes.
func takeSnapshot(t *testing.T, cfgs ...IssuerConfig) *Snapshot {
	t.Helper()
	s, err := TakeSnapshot(context.Background(), cfgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := s.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	read, err := ParseSnapshot(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	return read
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSnapshotVerifiesWithoutTheIdentityProvider(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			iss := startIssuer(t, alg)
			cfg := IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}} // discovered
			snap := takeSnapshot(t, cfg)
			if e := snap.Issuers[0]; e.Issuer != iss.URL || e.JWKSURI != iss.JWKSURL() || time.Since(e.TakenAt) > time.Minute || len(e.KeyIDs()) != 1 {
				t.Fatalf("entry %+v", e)
			}
			iss.Close() // the identity provider is down
			v := newVerifier(t, Options{Snapshot: snap}, cfg)
			if err := v.Warm(context.Background()); err != nil {
				t.Fatalf("Warm with every key set seeded: %v", err)
			}
			tok, err := v.Verify(context.Background(), mint(t, iss, iss.Claims("alice")))
			if err != nil {
				t.Fatalf("a token signed by a snapshotted key: %v", err)
			}
			if tok.Subject != "alice" {
				t.Fatalf("token %+v", tok)
			}
		})
	}
}

func TestSnapshotNeedsNoRequestBeforeItsKeysTurnStale(t *testing.T) {
	iss := startIssuer(t, "RS256")
	cfg := IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}}
	snap := takeSnapshot(t, cfg)
	requests := &countingTransport{base: http.DefaultTransport}
	clock := &fakeClock{t: time.Now()}
	v := newVerifier(t, Options{Snapshot: snap, Now: clock.Now, HTTPClient: &http.Client{Transport: requests}}, cfg)
	tok := mint(t, iss, iss.Claims("alice"))
	verify := func(when string) {
		t.Helper()
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	if err := v.Warm(context.Background()); err != nil {
		t.Fatal(err)
	}
	verify("at start")
	clock.Advance(snapshotRefreshWindow/5 - time.Second)
	verify("before the earliest refresh")
	if n := requests.n.Load(); n != 0 {
		t.Fatalf("%d requests before the seeded keys turned stale; want none (no discovery, no key set)", n)
	}
	clock.Advance(snapshotRefreshWindow)
	verify("once stale") // from the snapshot's keys while the refresh runs
	waitFor(t, "the background refresh", func() bool { return iss.KeySetFetches() == 2 })
	if n := requests.n.Load(); n != 1 {
		t.Fatalf("%d requests for the refresh, want 1 (the key set, no discovery)", n)
	}
}

func TestSnapshotUnknownKidFetchesUnderTheCooldown(t *testing.T) {
	iss := startIssuer(t, "RS256")
	cfg := IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}}
	snap := takeSnapshot(t, cfg)
	v := newVerifier(t, Options{Snapshot: snap, KeyCooldown: time.Hour}, cfg)
	if _, err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	before := iss.KeySetFetches()
	if _, err := v.Verify(context.Background(), mint(t, iss, iss.Claims("alice"))); err != nil {
		t.Fatalf("a key published after the snapshot: %v", err)
	}
	if n := iss.KeySetFetches() - before; n != 1 {
		t.Fatalf("%d fetches for a kid the snapshot lacks, want 1", n)
	}
	if _, err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	_, err := v.Verify(context.Background(), mint(t, iss, iss.Claims("alice")))
	if ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("another new kid within the cooldown: %v, want %s", err, ReasonUnknownKey)
	}
	if n := iss.KeySetFetches() - before; n != 1 {
		t.Fatalf("%d fetches within the cooldown, want 1", n)
	}
}

func TestSnapshotEntriesThatDoNotFit(t *testing.T) {
	a, b, c := startIssuer(t, "RS256"), startIssuer(t, "RS256"), startIssuer(t, "RS256")
	cfgA := IssuerConfig{Issuer: a.URL, Audiences: []string{a.Audience()}}
	cfgB := IssuerConfig{Issuer: b.URL, Audiences: []string{b.Audience()}, JWKSURI: b.JWKSURL()}
	cfgC := IssuerConfig{Issuer: c.URL, Audiences: []string{c.Audience()}}
	gone := startIssuer(t, "RS256")
	snap := takeSnapshot(t, cfgA, cfgB, IssuerConfig{Issuer: gone.URL, Audiences: []string{"x"}})
	// B's configured key set has moved since the snapshot: the snapshot's is
	// not used for it.
	moved := startIssuer(t, "RS256")
	cfgB.JWKSURI = moved.JWKSURL()

	var logs syncBuffer
	v := newVerifier(t, Options{Snapshot: snap, Logger: logs.logger()}, cfgA, cfgB, cfgC)
	a.Close()
	if _, err := v.Verify(context.Background(), mint(t, a, a.Claims("alice"))); err != nil {
		t.Fatalf("A, in the snapshot, with its identity provider down: %v", err)
	}
	if _, err := v.Verify(context.Background(), mint(t, b, b.Claims("bob"))); ReasonOf(err) != ReasonUnknownKey || moved.KeySetFetches() != 1 {
		t.Fatalf("B, whose jwks_uri changed: %v (%d fetches of the configured set); want the configured set fetched", err, moved.KeySetFetches())
	}
	if _, err := v.Verify(context.Background(), mint(t, c, c.Claims("carol"))); err != nil || c.KeySetFetches() != 1 {
		t.Fatalf("C, not in the snapshot: %v (%d fetches); want a live fetch", err, c.KeySetFetches())
	}
	out := logs.String()
	for _, want := range []string{`"snapshot_jwks_uri":"` + b.JWKSURL() + `"`, "the issuer is not configured; entry ignored", `"issuer":"` + gone.URL + `"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
	if !strings.Contains(out, `"msg":"key sets seeded from the JWKS snapshot","issuers":"`+a.URL+`"`) {
		t.Errorf("the log does not say which issuers were seeded:\n%s", out)
	}
}

func TestOldSnapshotIsUsedWithOneWarning(t *testing.T) {
	iss := startIssuer(t, "RS256")
	cfg := IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}}
	snap := takeSnapshot(t, cfg)
	tests := []struct {
		name  string
		age   time.Duration
		warns int
	}{
		{"a day old", 24 * time.Hour, 0},
		{"40 days old", 40 * 24 * time.Hour, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := *snap
			old.Issuers = slices.Clone(snap.Issuers)
			old.Issuers[0].TakenAt = time.Now().Add(-tt.age)
			var logs syncBuffer
			v := newVerifier(t, Options{Snapshot: &old, Logger: logs.logger()}, cfg)
			for range 3 {
				if _, err := v.Verify(context.Background(), mint(t, iss, iss.Claims("alice"))); err != nil {
					t.Fatal(err)
				}
			}
			if n := strings.Count(logs.String(), "the JWKS snapshot is older than 30 days"); n != tt.warns {
				t.Fatalf("%d warnings, want %d:\n%s", n, tt.warns, logs.String())
			}
		})
	}
}

// jwkJSON is one key as a key set member.
func jwkJSON(t *testing.T, key any, kid string, more map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	if len(more) == 0 {
		return b
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	for k, v := range more {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ = json.Marshal(m)
	return b
}

func snapshotJSON(t *testing.T, entries ...map[string]any) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"version": 1, "issuers": entries})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func entry(issuer string, keys ...json.RawMessage) map[string]any {
	return map[string]any{"issuer": issuer, "jwks_uri": issuer + "/keys", "taken_at": "2026-05-01T10:00:00Z",
		"key_set": map[string]any{"keys": keys}}
}

func TestParseSnapshotRefuses(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub := jwkJSON(t, &priv.PublicKey, "good", nil)
	const idp = "https://idp.example.com"
	noTime := entry(idp, pub)
	delete(noTime, "taken_at")
	plainHTTP := entry(idp, pub)
	plainHTTP["jwks_uri"] = "http://idp.example.com/keys"
	unknownField := entry(idp, pub)
	unknownField["etag"] = "x"

	tests := []struct {
		name, data, want string
	}{
		{"not JSON", "{", "not a JWKS snapshot"},
		{"data after the object", snapshotJSON(t, entry(idp, pub)) + "{}", "data after the JSON object"},
		{"another version", `{"version":2,"issuers":[]}`, "version 2 is not 1"},
		{"no issuer", `{"version":1,"issuers":[]}`, "no issuer"},
		{"an unknown field", snapshotJSON(t, unknownField), `unknown field "etag"`},
		{"an issuer twice", snapshotJSON(t, entry(idp, pub), entry(idp, pub)), "already entry 0"},
		{"no taken_at", snapshotJSON(t, noTime), `field "taken_at": required`},
		{"jwks_uri over http", snapshotJSON(t, plainHTTP), `field "jwks_uri"`},
		{"an RSA private key", snapshotJSON(t, entry(idp, pub, jwkJSON(t, priv, "leaked", nil))), `key 1 (kid "leaked") holds private key material`},
		{"an EC private key", snapshotJSON(t, entry(idp, jwkJSON(t, ec, "ec", map[string]any{"alg": "ES256"}))), "private key material"},
		{"a private member in capitals", snapshotJSON(t, entry(idp, jwkJSON(t, &priv.PublicKey, "k", map[string]any{"D": "AQAB"}))), `(member "D")`},
		{"a symmetric key", snapshotJSON(t, entry(idp, pub, json.RawMessage(`{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}`))), `kid "hmac"`},
		{"only an RSA key under 2048 bits", snapshotJSON(t, entry(idp, jwkJSON(t, &weak.PublicKey, "weak", nil))), "no key fit to verify signatures"},
		{"only an encryption key", snapshotJSON(t, entry(idp, jwkJSON(t, &priv.PublicKey, "enc", map[string]any{"use": "enc"}))), "no key fit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSnapshot([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}

	// Keys a fetch would skip are skipped beside a good one.
	s, err := ParseSnapshot([]byte(snapshotJSON(t, entry(idp, jwkJSON(t, &weak.PublicKey, "weak", nil), pub,
		jwkJSON(t, &priv.PublicKey, "enc", map[string]any{"use": "enc"})))))
	if err != nil {
		t.Fatal(err)
	}
	if ids := s.Issuers[0].KeyIDs(); !slices.Equal(ids, []string{"good"}) {
		t.Fatalf("usable keys %v, want [good]", ids)
	}
}

func TestReadSnapshotNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(broken, []byte(`{"version":1,"issuers":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{filepath.Join(dir, "missing.json"), "no such file"},
		{broken, "no issuer"},
		{dir, "is a directory"},
	} {
		if _, err := ReadSnapshot(tt.file); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.file) {
			t.Errorf("%s: %v, want the file named and %q", tt.file, err, tt.want)
		}
	}
}

func TestTakeSnapshotRefuses(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(body string, status int) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	leaky := serve(`{"keys":[`+string(jwkJSON(t, priv, "leaked", nil))+`]}`, http.StatusOK)
	empty := serve(`{"keys":[]}`, http.StatusOK)
	down := serve("", http.StatusServiceUnavailable)
	good := startIssuer(t, "RS256")

	cfgs := []IssuerConfig{
		{Issuer: good.URL, Audiences: []string{"api"}},
		{Issuer: leaky.URL, Audiences: []string{"api"}, JWKSURI: leaky.URL + "/keys"},
		{Issuer: empty.URL, Audiences: []string{"api"}, JWKSURI: empty.URL + "/keys"},
		{Issuer: down.URL, Audiences: []string{"api"}}, // discovery fails
	}
	_, err = TakeSnapshot(context.Background(), cfgs, Options{})
	if err == nil {
		t.Fatal("a snapshot with a private key, an empty set and an unreachable issuer was taken")
	}
	for _, want := range []string{
		"snapshot of " + leaky.URL + ": " + leaky.URL + "/keys: key 0 (kid \"leaked\") holds private key material",
		"snapshot of " + empty.URL + ": ", "no key fit",
		"snapshot of " + down.URL + ": discovery of " + down.URL,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%v\nlacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "snapshot of "+good.URL) {
		t.Errorf("the good issuer is blamed: %v", err)
	}
}

func TestTakeSnapshotFetchesASharedKeySetOnce(t *testing.T) {
	iss := startIssuer(t, "RS256")
	var cfgs []IssuerConfig
	for _, tenant := range []string{"a", "b", "c"} {
		cfgs = append(cfgs, IssuerConfig{Issuer: iss.URL + "/" + tenant, Audiences: []string{"api"}, JWKSURI: iss.JWKSURL()})
	}
	s, err := TakeSnapshot(context.Background(), cfgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := iss.KeySetFetches(); n != 1 || len(s.Issuers) != 3 || s.Issuers[2].Issuer != iss.URL+"/c" {
		t.Fatalf("%d fetches, entries %+v", n, s.Issuers)
	}
}

func TestSnapshotSeedsATemplateIssuer(t *testing.T) {
	keys := startIssuer(t, "RS256") // signs for every tenant, as Microsoft's common key set does
	const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	cfg := IssuerConfig{Issuer: keys.URL + "/{tenantid}/v2.0", Profile: "entra", Audiences: []string{"api://orders"},
		Tenants: []string{tenant}, JWKSURI: keys.JWKSURL()}
	snap := takeSnapshot(t, cfg)
	if snap.Issuers[0].Issuer != cfg.Issuer {
		t.Fatalf("entry %+v", snap.Issuers[0])
	}
	keys.Close()
	v := newVerifier(t, Options{Snapshot: snap}, cfg)
	claims := keys.Claims("")
	for k, val := range map[string]any{"iss": keys.URL + "/" + tenant + "/v2.0", "aud": "api://orders", "tid": tenant, "oid": "oid-1",
		"azp": "client-1", "scp": "Orders.Read", "ver": "2.0"} {
		claims[k] = val
	}
	if _, err := v.Verify(context.Background(), mint(t, keys, claims)); err != nil {
		t.Fatalf("a tenant's token with the common keys from the snapshot: %v", err)
	}
}
