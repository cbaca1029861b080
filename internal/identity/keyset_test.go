package identity

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
