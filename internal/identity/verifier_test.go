package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/apigw-authz/authz/internal/devissuer"
)

func startIssuer(t *testing.T, alg string) *devissuer.Issuer {
	t.Helper()
	iss, err := devissuer.Start(devissuer.Options{Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return iss
}

func newVerifier(t testing.TB, opts Options, cfgs ...IssuerConfig) *Verifier {
	t.Helper()
	v, err := New(cfgs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mint(t *testing.T, iss *devissuer.Issuer, claims map[string]any) string {
	t.Helper()
	tok, err := iss.Mint(claims, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64JSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// craft builds a compact JWS from any header and claims, signed by sign (which
// may be nil for a made-up signature).
func craft(t *testing.T, header, claims map[string]any, sign func(input []byte) []byte) string {
	t.Helper()
	input := b64JSON(t, header) + "." + b64JSON(t, claims)
	sig := []byte("not-a-signature")
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + b64(sig)
}

func rsaSigner(t *testing.T, key *rsa.PrivateKey) func([]byte) []byte {
	return func(input []byte) []byte {
		h := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, h[:])
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
}

func TestVerifyAcceptsAValidToken(t *testing.T) {
	for _, alg := range []string{"RS256", "PS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			iss := startIssuer(t, alg)
			v := newVerifier(t, Options{}, IssuerConfig{Issuer: iss.URL, Audiences: []string{"other", iss.Audience()}})
			claims := iss.Claims("alice")
			claims["aud"] = []string{"unrelated", iss.Audience()}
			claims["scope"] = "orders:read orders:write,profile"
			claims["groups"] = []any{"admins", "Domain Users", "admins", ""}
			claims["roles"] = "Orders.Admin"
			claims["email"] = "alice@example.com"
			claims["name"] = "Alice"
			claims["azp"] = "client-1"
			claims["tid"] = "acme"
			claims["big"] = json.Number("12345678901234567890")
			tok, err := v.Verify(context.Background(), mint(t, iss, claims))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := &Token{
				Issuer: iss.URL, Profile: "generic", Subject: "alice", Audience: []string{"unrelated", iss.Audience()},
				ClientID: "client-1", Tenant: "acme", Email: "alice@example.com", Name: "Alice",
				Scopes: []string{"orders:read", "orders:write", "profile"},
				Groups: []string{"admins", "Domain Users"}, Roles: []string{"Orders.Admin"},
				ExpiresAt: claims["exp"].(int64), IssuedAt: claims["iat"].(int64),
			}
			got := *tok
			got.Claims = nil
			if !reflect.DeepEqual(&got, want) {
				t.Fatalf("token\n got %+v\nwant %+v", &got, want)
			}
			if tok.Claims["big"] != json.Number("12345678901234567890") {
				t.Errorf("a large number claim lost precision: %v", tok.Claims["big"])
			}
			if tok.Claims["sub"] != "alice" {
				t.Errorf("claims lack sub: %v", tok.Claims)
			}
		})
	}
}

func mustHeader(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestVerifyRefusesAnAlgorithmTheIssuerDoesNotAllow(t *testing.T) {
	iss := startIssuer(t, "ES256")
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}, Algorithms: []string{"RS256"}})
	if _, err := v.Verify(context.Background(), mint(t, iss, iss.Claims("a"))); ReasonOf(err) != ReasonAlgorithm {
		t.Fatalf("an ES256 token for an RS256-only issuer: %v", err)
	}
	if n := iss.KeySetFetches(); n != 0 {
		t.Fatalf("refusing on alg fetched the key set %d times", n)
	}
}

func TestUnknownIssuerCostsNoFetch(t *testing.T) {
	iss := startIssuer(t, "RS256")
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: "http://127.0.0.1:1", Audiences: []string{"x"}})
	for range 20 {
		if _, err := v.Verify(context.Background(), mint(t, iss, iss.Claims("a"))); ReasonOf(err) != ReasonUnknownIssuer {
			t.Fatalf("reason %q", ReasonOf(err))
		}
	}
	if n := iss.KeySetFetches(); n != 0 {
		t.Fatalf("%d key set fetches for an unconfigured issuer", n)
	}
}

func TestKeyRotationAndUnknownKidFlood(t *testing.T) {
	iss := startIssuer(t, "RS256")
	clock := &fakeClock{t: time.Now()}
	v := newVerifier(t, Options{Now: clock.Now, KeyCooldown: 15 * time.Second},
		IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}})
	ctx := context.Background()
	if _, err := v.Verify(ctx, mint(t, iss, iss.Claims("a"))); err != nil {
		t.Fatal(err)
	}
	if n := iss.KeySetFetches(); n != 1 {
		t.Fatalf("first token: %d fetches, want 1", n)
	}
	// A flood of tokens with made-up kids: at most one refetch per cooldown.
	clock.Advance(16 * time.Second)
	rogue, _ := rsa.GenerateKey(rand.Reader, 2048)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			tok := craft(t, map[string]any{"alg": "RS256", "kid": "flood-" + string(rune('a'+i%26))}, iss.Claims("a"), rsaSigner(t, rogue))
			if _, err := v.Verify(ctx, tok); ReasonOf(err) != ReasonUnknownKey {
				t.Errorf("flood token: %v", err)
			}
		})
	}
	wg.Wait()
	if n := iss.KeySetFetches(); n != 2 {
		t.Fatalf("after a 50-token flood: %d fetches, want 2 (one refetch)", n)
	}
	// The provider rotates; within the cooldown the new kid is not fetched yet.
	if _, err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	rotated := mint(t, iss, iss.Claims("a"))
	if _, err := v.Verify(ctx, rotated); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("within the cooldown: %v", err)
	}
	clock.Advance(16 * time.Second)
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("after the cooldown the rotated key must be fetched: %v", err)
	}
	if n := iss.KeySetFetches(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
}

func TestKeysSurviveAFailedRefresh(t *testing.T) {
	iss := startIssuer(t, "RS256")
	clock := &fakeClock{t: time.Now()}
	v := newVerifier(t, Options{Now: clock.Now, KeyMaxAge: time.Minute},
		IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}})
	ctx := context.Background()
	tok := mint(t, iss, iss.Claims("a"))
	if _, err := v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	iss.Close() // the provider goes away
	clock.Advance(2 * time.Minute)
	for range 3 {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("stale keys must keep working while the provider is down: %v", err)
		}
	}
}

func TestProviderDownIsUnavailableNotUnauthorized(t *testing.T) {
	iss := startIssuer(t, "RS256")
	tok := mint(t, iss, iss.Claims("a"))
	v := newVerifier(t, Options{HTTPTimeout: time.Second}, IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}})
	iss.Close()
	_, err := v.Verify(context.Background(), tok)
	if !Unavailable(err) {
		t.Fatalf("a provider that cannot be reached: %v, want %s", err, ReasonUnavailable)
	}
	// Within the cooldown, no new attempt is made and the answer is the same.
	if _, err := v.Verify(context.Background(), tok); !Unavailable(err) {
		t.Fatalf("second try: %v", err)
	}
}

func TestJWKSURISkipsDiscovery(t *testing.T) {
	iss := startIssuer(t, "ES256")
	var discovery int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		discovery++
		http.NotFound(w, r)
	}))
	defer srv.Close()
	claims := iss.Claims("a")
	claims["iss"] = srv.URL // an issuer without discovery
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: srv.URL, Audiences: []string{iss.Audience()}, JWKSURI: iss.JWKSURL()})
	if _, err := v.Verify(context.Background(), mint(t, iss, claims)); err != nil {
		t.Fatal(err)
	}
	if discovery != 0 {
		t.Fatalf("discovery was fetched %d times despite jwks_uri", discovery)
	}
}

func TestResponsesAreCapped(t *testing.T) {
	iss := startIssuer(t, "RS256")
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No Content-Length: the cap must hold while reading.
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[],"pad":"`))
		for range 64 {
			w.Write([]byte(strings.Repeat("a", 1024)))
			w.(http.Flusher).Flush()
		}
		w.Write([]byte(`"}`))
	}))
	defer big.Close()
	v := newVerifier(t, Options{MaxResponseBytes: 16 << 10},
		IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}, JWKSURI: big.URL})
	if _, err := v.Verify(context.Background(), mint(t, iss, iss.Claims("a"))); !Unavailable(err) {
		t.Fatalf("an oversized key set: %v", err)
	}
}

func TestParseKeySetKeepsOnlySigningKeys(t *testing.T) {
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	good, _ := rsa.GenerateKey(rand.Reader, 2048)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk := func(key any, kid, use string, extra map[string]any) json.RawMessage {
		b, err := (&jose.JSONWebKey{Key: key, KeyID: kid, Use: use}).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		json.Unmarshal(b, &m)
		for k, v := range extra {
			m[k] = v
		}
		b, _ = json.Marshal(m)
		return b
	}
	set, _ := json.Marshal(map[string]any{"keys": []json.RawMessage{
		jwk(&good.PublicKey, "ok-rsa", "sig", nil),
		jwk(&ec.PublicKey, "ok-ec", "", nil),
		jwk(good, "private-given", "sig", nil), // only its public half is kept
		jwk(&small.PublicKey, "too-small", "sig", nil),
		jwk(&good.PublicKey, "for-encryption", "enc", nil),
		jwk(&good.PublicKey, "ops-without-verify", "", map[string]any{"key_ops": []string{"encrypt"}}),
		jwk(&good.PublicKey, "hmac-alg", "", map[string]any{"alg": "HS256"}),
		jwk([]byte("0123456789abcdef0123456789abcdef"), "symmetric", "sig", nil),
		json.RawMessage(`{"kty":"OKP","crv":"X448","x":"AAAA","kid":"unsupported"}`),
		json.RawMessage(`"not an object"`),
	}})
	keys, err := parseKeySet(set)
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range keys {
		kids = append(kids, k.KeyID)
		if !k.IsPublic() {
			t.Errorf("key %s kept private material", k.KeyID)
		}
	}
	if want := []string{"ok-rsa", "ok-ec", "private-given"}; !reflect.DeepEqual(kids, want) {
		t.Fatalf("kept %v, want %v", kids, want)
	}
	if _, err := parseKeySet([]byte(`<html>`)); err == nil {
		t.Fatal("a non-JSON key set was accepted")
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestHangingDiscoveryHonoursTheDeadline(t *testing.T) {
	iss := startIssuer(t, "RS256")
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	claims := iss.Claims("a")
	claims["iss"] = hang.URL
	tok := mint(t, iss, claims)
	v := newVerifier(t, Options{HTTPTimeout: 5 * time.Second}, IssuerConfig{Issuer: hang.URL, Audiences: []string{iss.Audience()}})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := v.Verify(ctx, tok)
			if !Unavailable(err) {
				t.Errorf("a hanging discovery: %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Verify returned after %s, long past its 200ms deadline", d)
			}
		})
	}
	wg.Wait()
}

// TestARemovedKeyStopsVerifyingOnceStale: the request that finds the keys
// stale waits for the refresh. Left to the background, the fetch would be
// frozen with the Lambda process as soon as the request was answered, time out
// at the next thaw, and a key the provider removed would verify for as long as
// requests come further apart than the fetch timeout.
func TestARemovedKeyStopsVerifyingOnceStale(t *testing.T) {
	iss := startRawIssuer(t)
	clock := &fakeClock{t: time.Now()}
	v := newVerifier(t, Options{Now: clock.Now, KeyMaxAge: time.Minute, KeyCooldown: time.Second}, iss.config())
	tok := iss.sign(t, rawHeader, rawClaims)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	iss.removeKeys() // the provider revokes its key
	clock.Advance(2 * time.Minute)
	if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("a removed key, its set stale: %v, want %s", err, ReasonUnknownKey)
	}
}
