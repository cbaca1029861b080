package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// fetched reports whether the key set of url has ended a successful fetch.
func (v *Verifier) fetched(url string) bool {
	v.mu.Lock()
	ks := v.keySets[url]
	v.mu.Unlock()
	if ks == nil {
		return false
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.keys != nil && ks.inflight == nil
}

// TestWarmSharedKeySetFetchedBeforeDiscoveryEnds orders the race of issue 8
// item 7 for good: issuer A names the shared key set by jwks_uri and fetches it;
// issuer B reaches the same key set by discovery, which answers only once A's
// fetch has ended. B must find the keys A fetched, not a cooldown error.
func TestWarmSharedKeySetFetchedBeforeDiscoveryEnds(t *testing.T) {
	iss := startIssuer(t, "RS256")
	var v atomic.Pointer[Verifier]
	discovery := httptest.NewServer(nil)
	t.Cleanup(discovery.Close)
	discovery.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for !v.Load().fetched(iss.JWKSURL()) {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Millisecond):
			}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"issuer": discovery.URL, "jwks_uri": iss.JWKSURL()})
	})
	v.Store(newVerifier(t, Options{},
		IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}, JWKSURI: iss.JWKSURL()},
		IssuerConfig{Issuer: discovery.URL, Audiences: []string{iss.Audience()}}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := v.Load().Warm(ctx); err != nil {
		t.Fatalf("Warm: %v", err)
	}
	if n := iss.KeySetFetches(); n != 1 {
		t.Fatalf("the shared key set was fetched %d times, want 1", n)
	}
}

// TestWarmManyIssuersShareOneKeySet starts many issuers on one key set, over and
// over: Warm must succeed and fetch the set once, whichever issuer comes last.
func TestWarmManyIssuersShareOneKeySet(t *testing.T) {
	iss := startIssuer(t, "RS256")
	for round := range 30 {
		before := iss.KeySetFetches()
		var cfgs []IssuerConfig
		for i := range 16 {
			cfgs = append(cfgs, IssuerConfig{Issuer: fmt.Sprintf("%s/tenant-%d", iss.URL, i), Audiences: []string{iss.Audience()}, JWKSURI: iss.JWKSURL()})
		}
		v := newVerifier(t, Options{}, cfgs...)
		if err := v.Warm(context.Background()); err != nil {
			t.Fatalf("round %d: Warm: %v", round, err)
		}
		if n := iss.KeySetFetches() - before; n != 1 {
			t.Fatalf("round %d: the shared key set was fetched %d times, want 1", round, n)
		}
	}
}

// TestRefreshWithinTheCooldownKeepsTheLastOutcome checks the other side: a
// refresh within the cooldown of a failed fetch still fails, without fetching.
func TestRefreshWithinTheCooldownKeepsTheLastOutcome(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: srv.URL, Audiences: []string{"api"}, JWKSURI: srv.URL + "/keys"})
	ks := v.keySet(srv.URL + "/keys")
	for i := range 3 {
		if err := ks.refresh(context.Background()); !Unavailable(err) {
			t.Fatalf("refresh %d of a key set that cannot be fetched: %v", i, err)
		}
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d fetches within the cooldown, want 1", n)
	}
}
