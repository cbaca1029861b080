package authorizer

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// loadDecisions turns TestLoad into a soak: a count of decisions rather than
// a time, long enough for a slow leak to show in the heap figures.
var loadDecisions = flag.Int("load.decisions", 0,
	"TestLoad drives this many decisions (a soak: 1000000 takes about 2 minutes) instead of driving for 2 s, and reports the heap after the first 10,000 and at the end")

// TestLoad drives one authorizer from many goroutines for a bounded time,
// every request checked against the answer the same authorizer gave it alone:
// no error, no decision that differs under load, and no goroutine left
// behind. Throughput and heap are reported, not asserted (the machines are
// shared); make test runs it under the race detector as well. With
// -load.decisions N it runs N decisions instead, and reports the heap after a
// warm-up as well, so that before and after a million decisions compare
// caches already filled.
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

	workers := 4 * runtime.GOMAXPROCS(0)
	goroutines := runtime.NumGoroutine()
	before := loadHeapAfterGC()

	// drive runs the workers until more, given the number of the decision a
	// worker is about to make (from 1), says no, and returns the decisions
	// made and the time they took. The first wrong answer stops its worker.
	drive := func(more func(k int64) bool) (int64, time.Duration) {
		var claimed, done atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		start := time.Now()
		for w := range workers {
			wg.Go(func() {
				for i := w; more(claimed.Add(1)); i = (i + 7) % len(requests) {
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
		took := time.Since(start)
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		return done.Load(), took
	}

	var n int64
	var took time.Duration
	heaps := fmt.Sprintf("heap %s before", before)
	if *loadDecisions > 0 {
		const warmUp = 10_000
		total := int64(max(*loadDecisions, warmUp))
		n, took = drive(func(k int64) bool { return k <= warmUp })
		// Measured between the phases, with no request in flight, as at the
		// end: the difference is what the decisions in between left behind.
		warm := loadHeapAfterGC()
		n2, took2 := drive(func(k int64) bool { return k <= total-warmUp })
		n, took = n+n2, took+took2
		heaps += fmt.Sprintf(", %s after %d decisions", warm, warmUp)
	} else {
		const duration = 2 * time.Second
		stop := time.Now().Add(duration)
		n, took = drive(func(int64) bool { return time.Now().Before(stop) })
	}

	// Nothing keeps running once the requests are answered.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > goroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > goroutines {
		t.Errorf("%d goroutines after the load, %d before", g, goroutines)
	}
	heaps += fmt.Sprintf(", %s after %d", loadHeapAfterGC(), n)
	rate := float64(n) / took.Seconds()
	t.Logf("%d decisions by %d goroutines in %s: %.0f a second, %.0f a second per core (GOMAXPROCS %d); %d goroutines after, %d before; %s",
		n, workers, took.Round(time.Millisecond), rate, rate/float64(runtime.GOMAXPROCS(0)), runtime.GOMAXPROCS(0),
		runtime.NumGoroutine(), goroutines, heaps)
}

// loadHeap is the live heap and the heap in use (live objects and the spans
// that hold them), read after a collection so that garbage does not count.
type loadHeap struct{ live, inUse uint64 }

func loadHeapAfterGC() loadHeap {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return loadHeap{m.HeapAlloc, m.HeapInuse}
}

func (h loadHeap) String() string {
	return fmt.Sprintf("%.1f MiB live (%.1f MiB in use)", float64(h.live)/(1<<20), float64(h.inUse)/(1<<20))
}
