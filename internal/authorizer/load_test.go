package authorizer

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad drives one authorizer from many goroutines for a bounded time,
// every request checked against the answer the same authorizer gave it alone:
// no error, no decision that differs under load, and no goroutine left
// behind. Throughput and heap are reported, not asserted (the machines are
// shared); make test runs it under the race detector as well.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("bounded load: a few seconds; -short leaves it out")
	}
	f := newFixture(t)
	a := f.authorizer(t, "", func(o *Options) {
		o.Log = slog.New(slog.DiscardHandler)
		o.Decisions = nil // the decision log written, and discarded
	})
	tokens := map[string]string{
		"admin": f.token(t, "alice", "admins"), "reader": f.token(t, "bob", "orders-readers"),
		"writer": f.token(t, "carol", "orders-writers"), "none": "",
		"forged": f.token(t, "mallory", "admins")[:100] + "x",
	}
	type request struct {
		who, method, path string
		event             []byte
	}
	var requests []request
	for who, tok := range tokens {
		headers := map[string]string{}
		if tok != "" {
			headers["Authorization"] = "Bearer " + tok
		}
		for _, method := range []string{"GET", "POST", "DELETE"} {
			for _, path := range []string{"/orders", "/orders/42", "/profile", "/health", "/admin/users"} {
				requests = append(requests, request{who, method, path, restEvent(method, path, headers)})
			}
		}
	}
	// Alone, first: the answers to hold the load to.
	want := make([]Outcome, len(requests))
	for i, r := range requests {
		want[i] = a.Authorize(context.Background(), r.event).Outcome
	}
	for i, r := range requests {
		if r.who == "admin" && want[i] != OutcomeAllow || r.who == "forged" && want[i] != OutcomeUnauthorized ||
			r.who == "reader" && r.method == "DELETE" && want[i] != OutcomeDeny {
			t.Fatalf("alone: %s %s %s is %s", r.who, r.method, r.path, want[i])
		}
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()

	const duration = 2 * time.Second
	workers := 4 * runtime.GOMAXPROCS(0)
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	stop := time.Now().Add(duration)
	for w := range workers {
		wg.Go(func() {
			for i := w; time.Now().Before(stop); i = (i + 7) % len(requests) {
				r := requests[i]
				res := a.Authorize(context.Background(), r.event)
				if res.Outcome != want[i] || res.Reason == ReasonPanic {
					errs <- fmt.Errorf("%s %s %s: %s/%s under load, %s alone (%v)", r.who, r.method, r.path, res.Outcome, res.Reason, want[i], res.Err)
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Nothing keeps running once the requests are answered.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after the load, %d before", n, goroutines)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	n := done.Load()
	t.Logf("%d decisions by %d goroutines in %s: %.0f a second, %.0f a second per core (GOMAXPROCS %d); heap in use %.1f MiB before, %.1f MiB after",
		n, workers, duration, float64(n)/duration.Seconds(), float64(n)/duration.Seconds()/float64(runtime.GOMAXPROCS(0)), runtime.GOMAXPROCS(0),
		float64(before.HeapInuse)/(1<<20), float64(after.HeapInuse)/(1<<20))
}
