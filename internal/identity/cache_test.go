package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// clock is a settable clock for the verifier.
type clock struct{ at atomic.Int64 }

func (c *clock) now() time.Time      { return time.Unix(0, c.at.Load()) }
func (c *clock) set(t time.Time)     { c.at.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.at.Add(int64(d)) }
func newClock(t time.Time) *clock    { c := &clock{}; c.set(t); return c }
func kidOf(t *testing.T, tok string) string {
	t.Helper()
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal([]byte(mustHeader(t, tok)), &h); err != nil || h.KID == "" {
		t.Fatalf("no kid in %s: %v", mustHeader(t, tok), err)
	}
	return h.KID
}

// verifyCached verifies tok until the cache holds it: the first verification
// of a key set's first token fetches the set, which is a change of keys, and
// is not cached.
func verifyCached(t *testing.T, v *Verifier, tok string) *Token {
	t.Helper()
	for range 2 {
		got, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := v.cache.entries[cacheKey(tok)]; ok {
			return got
		}
	}
	t.Fatal("a verified token is not cached")
	return nil
}

func cachedVerifier(t *testing.T, iss *devissuer.Issuer, c *clock, size int) *Verifier {
	t.Helper()
	return newVerifier(t, Options{Now: c.now, KeyCooldown: time.Second, TokenCacheSize: size},
		IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}})
}

// TestCachedTokenSkipsTheSignatureCheck: a token presented again verifies
// from the cache (the key set is not asked again, even when its server is
// gone), and what a caller does with its copy changes nothing for the next.
func TestCachedTokenSkipsTheSignatureCheck(t *testing.T) {
	iss := startIssuer(t, "RS256")
	c := newClock(time.Now())
	v := cachedVerifier(t, iss, c, 0)
	claims := iss.Claims("alice")
	claims["groups"] = []any{"admins"}
	tok := mint(t, iss, claims)
	first := verifyCached(t, v, tok)
	first.Groups[0] = "changed by the caller"
	first.Claims["groups"].([]any)[0] = "changed by the caller"
	hits := v.cache.hits.Load()
	for range 3 {
		again, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Fatalf("a verified token, again: %v", err)
		}
		if again.Subject != "alice" || again.Groups[0] != "admins" || again.Claims["groups"].([]any)[0] != "admins" {
			t.Fatalf("the cached token is %+v", again)
		}
		again.Groups[0] = "changed again"
	}
	if got := v.cache.hits.Load() - hits; got != 3 {
		t.Fatalf("%d of 3 verifications came from the cache", got)
	}
}

// TestCacheHoldsOnlySuccesses: a token that fails is checked in full each
// time, and leaves nothing in the cache.
func TestCacheHoldsOnlySuccesses(t *testing.T) {
	iss := startIssuer(t, "RS256")
	c := newClock(time.Now())
	v := cachedVerifier(t, iss, c, 0)
	good := mint(t, iss, iss.Claims("alice"))
	bad := withoutSignature(good) + "AAAA"
	for range 2 {
		if _, err := v.Verify(context.Background(), bad); ReasonOf(err) != ReasonMalformed && ReasonOf(err) != ReasonSignature {
			t.Fatalf("a forged token: %v", err)
		}
	}
	if n := len(v.cache.entries); n != 0 {
		t.Fatalf("%d entries after failures only", n)
	}
}

// TestCachedTokenExpires: the cache never answers past the token's exp.
func TestCachedTokenExpires(t *testing.T) {
	iss := startIssuer(t, "RS256")
	start := time.Now()
	c := newClock(start)
	v := cachedVerifier(t, iss, c, 0)
	claims := iss.Claims("alice")
	claims["exp"] = start.Add(time.Minute).Unix()
	tok := mint(t, iss, claims)
	verifyCached(t, v, tok)
	c.set(time.Unix(start.Add(time.Minute).Unix(), 0)) // exactly exp
	if _, err := v.Verify(context.Background(), tok); ReasonOf(err) != ReasonExpired {
		t.Fatalf("at exp: %v, want %s", err, ReasonExpired)
	}
}

// TestCacheForgetsTokensOfARemovedKey: once the identity provider removes a
// key and the verifier sees the new set, a token that key signed is refused,
// though it verified (and was cached) before.
func TestCacheForgetsTokensOfARemovedKey(t *testing.T) {
	iss := startIssuer(t, "RS256")
	c := newClock(time.Now())
	v := cachedVerifier(t, iss, c, 0)
	old := mint(t, iss, iss.Claims("alice"))
	verifyCached(t, v, old)
	if _, err := iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	if err := iss.Retire(kidOf(t, old)); err != nil {
		t.Fatal(err)
	}
	c.add(2 * time.Second) // past the cooldown
	// A token of the new key makes the verifier fetch the set again.
	if _, err := v.Verify(context.Background(), mint(t, iss, iss.Claims("bob"))); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), old); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("a token of a removed key, cached before: %v, want %s", err, ReasonUnknownKey)
	}
}

// TestCacheSkipsStaleKeys: keys older than KeyMaxAge are refreshed by the
// next verification; a cached token does not skip that refresh.
func TestCacheSkipsStaleKeys(t *testing.T) {
	iss := startIssuer(t, "RS256")
	start := time.Now()
	c := newClock(start)
	v := newVerifier(t, Options{Now: c.now, KeyCooldown: time.Second, KeyMaxAge: time.Minute},
		IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}})
	claims := iss.Claims("alice")
	claims["exp"] = start.Add(time.Hour).Unix()
	tok := mint(t, iss, claims)
	verifyCached(t, v, tok)
	fetches := iss.KeySetFetches()
	c.add(2 * time.Minute)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if iss.KeySetFetches() != fetches+1 {
		t.Fatalf("stale keys: %d fetches after the cached token, want %d", iss.KeySetFetches(), fetches+1)
	}
}

// TestCacheIsBounded: no more entries than its size, however many tokens.
func TestCacheIsBounded(t *testing.T) {
	iss := startIssuer(t, "ES256")
	c := newClock(time.Now())
	v := cachedVerifier(t, iss, c, 3)
	for i := range 10 {
		if _, err := v.Verify(context.Background(), mint(t, iss, iss.Claims(fmt.Sprint("user-", i)))); err != nil {
			t.Fatal(err)
		}
		if n := len(v.cache.entries); n > 3 {
			t.Fatalf("%d entries, bound 3", n)
		}
	}
	off := cachedVerifier(t, iss, c, -1)
	if off.cache != nil {
		t.Fatal("TokenCacheSize -1 still caches")
	}
}

// TestCacheUnderConcurrency: concurrent verifications of the same and of
// different tokens, some failing, agree with the uncached verifier (run with
// -race in make test).
func TestCacheUnderConcurrency(t *testing.T) {
	iss := startIssuer(t, "ES256")
	c := newClock(time.Now())
	v := cachedVerifier(t, iss, c, 8)
	var toks []string
	for i := range 16 {
		toks = append(toks, mint(t, iss, iss.Claims(fmt.Sprint("user-", i))))
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				tok := toks[(i*7+w)%len(toks)]
				want := fmt.Sprint("user-", (i*7+w)%len(toks))
				if i%5 == 0 {
					if _, err := v.Verify(context.Background(), tok+"x"); err == nil {
						errs <- errors.New("a forged token verified")
						return
					}
					continue
				}
				got, err := v.Verify(context.Background(), tok)
				if err != nil || got.Subject != want {
					errs <- fmt.Errorf("%s: got %v, %v", want, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestCacheBoundsItsBytes: however many entries are allowed, the raw tokens
// held stay within cacheBytes, and a token over maxCachedToken is verified
// every time rather than cached.
func TestCacheBoundsItsBytes(t *testing.T) {
	iss := startIssuer(t, "ES256")
	c := newClock(time.Now())
	v := cachedVerifier(t, iss, c, 100000)
	pad := strings.Repeat("x", 5000) // a token of some 7 KB
	for i := range 200 {
		claims := iss.Claims(fmt.Sprint("user-", i))
		claims["pad"] = pad
		tok := mint(t, iss, claims)
		for range 2 {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatal(err)
			}
		}
		if v.cache.bytes > cacheBytes {
			t.Fatalf("%d bytes held, bound %d", v.cache.bytes, cacheBytes)
		}
	}
	held := 0
	for _, e := range v.cache.entries {
		held += e.size
	}
	if held != v.cache.bytes || len(v.cache.entries) == 0 {
		t.Fatalf("%d entries of %d bytes, counted %d", len(v.cache.entries), held, v.cache.bytes)
	}
	claims := iss.Claims("big")
	claims["pad"] = strings.Repeat("y", 9000) // some 12 KB: under MaxTokenBytes, over maxCachedToken
	big := mint(t, iss, claims)
	for range 2 {
		if _, err := v.Verify(context.Background(), big); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := v.cache.entries[cacheKey(big)]; ok {
		t.Fatal("a token over maxCachedToken was cached")
	}
}
