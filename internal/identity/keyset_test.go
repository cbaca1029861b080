package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TestRefreshErrorSaysWhetherItTried checks that a failed refresh tells the
// caller what happened to its own request: a fetch made (or joined) and failed,
// or no fetch at all, the cooldown after the last failure holding it back.
func TestRefreshErrorSaysWhetherItTried(t *testing.T) {
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	clock := &fakeClock{t: time.Now()}
	ks := &keySet{url: srv.URL + "/keys", client: srv.Client(), cooldown: time.Minute, maxAge: time.Hour,
		now: clock.Now, log: slog.New(slog.DiscardHandler)}
	ctx := context.Background()

	tests := []struct {
		name         string
		advance      time.Duration
		fetches      int32
		want, refuse []string
	}{
		{"the caller's own fetch fails", 0, 1,
			[]string{"fetching the key set of " + srv.URL + "/keys failed: GET ", "503 Service Unavailable", "no new attempt for 1m0s"},
			[]string{"last fetch"}},
		{"within the cooldown, no fetch", 30 * time.Second, 1,
			[]string{"the last fetch of the key set of " + srv.URL + "/keys, 30s ago, failed", "no new attempt until 1m0s after it", "503 Service Unavailable"},
			[]string{"fetching the key set"}},
		{"after the cooldown, a fetch again", time.Minute, 2,
			[]string{"fetching the key set of " + srv.URL + "/keys failed: GET "},
			[]string{"last fetch"}},
	}
	for _, tt := range tests {
		clock.Advance(tt.advance)
		err := ks.refresh(ctx)
		if !Unavailable(err) {
			t.Fatalf("%s: %v, want %s", tt.name, err, ReasonUnavailable)
		}
		if n := fetches.Load(); n != tt.fetches {
			t.Errorf("%s: %d fetches, want %d", tt.name, n, tt.fetches)
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q\nlacks %q", tt.name, err, w)
			}
		}
		for _, r := range tt.refuse {
			if strings.Contains(err.Error(), r) {
				t.Errorf("%s: %q\nsays %q", tt.name, err, r)
			}
		}
	}
}

// TestUnknownKidWhileTheSetCannotBeFetched: a token whose key id the held
// set lacks may be signed with a key the provider has just published. While
// the set cannot be fetched, that is the provider's failure (unavailable: a
// Deny), not the token's (unknown key: Unauthorized, which sends a user with
// a good token to log in again); once the set answers without the key, it is
// the token's.
func TestUnknownKidWhileTheSetCannotBeFetched(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer srv.Close()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now()}
	ks := &keySet{url: srv.URL + "/keys", client: srv.Client(), cooldown: time.Minute, maxAge: time.Hour,
		now: clock.Now, log: slog.New(slog.DiscardHandler)}
	ks.set([]jose.JSONWebKey{{Key: priv.Public(), KeyID: "held", Algorithm: "RS256", Use: "sig"}}, clock.Now())

	for _, step := range []struct {
		name    string
		advance time.Duration
		down    bool
		want    string
	}{
		{"the fetch for it fails", 0, true, ReasonUnavailable},
		{"within the cooldown of that failure", 30 * time.Second, true, ReasonUnavailable},
		{"the set answers without it", time.Minute, false, ReasonUnknownKey},
	} {
		clock.Advance(step.advance)
		down.Store(step.down)
		if _, err := ks.candidates(context.Background(), "new", "RS256"); ReasonOf(err) != step.want {
			t.Fatalf("%s: %v, want %s", step.name, err, step.want)
		}
	}
	// The set it answered with has no key at all: the one held before is
	// gone too.
	if _, err := ks.candidates(context.Background(), "held", "RS256"); ReasonOf(err) != ReasonUnknownKey {
		t.Fatalf("the key the provider removed: %v", err)
	}
}
