// Package bench holds the Go benchmarks of the performance comparison (issue
// 12), the variants of bench/compare as testing.B benchmarks, for go test
// -bench and benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 10 ./bench | tee new.txt
//	go tool benchstat old.txt new.txt   (benchstat: golang.org/x/perf)
//
// bench/compare is the run to quote: it interleaves the variants, which a
// noisy machine needs; these run one after the other.
package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/apigw-authz/authz/bench/fixture"
	"github.com/apigw-authz/authz/bench/floor"
	"github.com/apigw-authz/authz/bench/peers"
	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/devissuer"
)

// poolSize is how many tokens of each shape the variants that keep nothing
// between calls cycle through.
const poolSize = 500

// shared is what every benchmark uses, set up on first use and torn down
// after the last.
var shared struct {
	once    sync.Once
	err     error
	iss     *devissuer.Issuer
	floor   *floor.Authorizer
	project *authorizer.Authorizer
	pools   map[fixture.Shape][][]byte
}

func setup(b *testing.B) {
	b.Helper()
	shared.once.Do(func() {
		s := &shared
		if s.iss, s.err = fixture.StartIssuer(); s.err != nil {
			return
		}
		if s.floor, s.err = peers.Floor(s.iss); s.err != nil {
			return
		}
		if s.project, s.err = fixture.Project(context.Background(), s.iss, nil); s.err != nil {
			return
		}
		s.pools = map[fixture.Shape][][]byte{}
		for _, shape := range fixture.Shapes {
			tokens, err := fixture.MintN(s.iss, shape, poolSize)
			if err != nil {
				s.err = err
				return
			}
			s.pools[shape] = fixture.Events(shape, tokens)
		}
	})
	if shared.err != nil {
		b.Fatal(shared.err)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.project != nil {
		_ = shared.project.Close(context.Background())
	}
	if shared.iss != nil {
		shared.iss.Close()
	}
	os.Exit(code)
}

type invoker func(context.Context, []byte) ([]byte, error)

// cycling measures invoke on the shape's pooled events, in turn.
func cycling(b *testing.B, shape fixture.Shape, invoke invoker) {
	ctx := context.Background()
	events := shared.pools[shape]
	if _, err := invoke(ctx, events[0]); err != nil { // warm
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := invoke(ctx, events[i]); err != nil {
			b.Fatal(err)
		}
		i = (i + 1) % len(events)
	}
}

// BenchmarkFloor is the hand-written authorizer, a fresh token each call.
func BenchmarkFloor(b *testing.B) {
	setup(b)
	for _, shape := range fixture.Shapes {
		b.Run(string(shape), func(b *testing.B) { cycling(b, shape, shared.floor.Invoke) })
	}
}

// BenchmarkProject is the project's authorizer (authorizer.Build, decision log
// to io.Discard, metrics on, Invoke): fresh, a token never seen before on each
// call (minted with the timer stopped); same, one token on every call.
func BenchmarkProject(b *testing.B) {
	setup(b)
	ctx := context.Background()
	for _, shape := range fixture.Shapes {
		b.Run("fresh/"+string(shape), func(b *testing.B) {
			batch := 4 * runtime.GOMAXPROCS(0) * 16
			var queue [][]byte
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if len(queue) == 0 {
					b.StopTimer()
					tokens, err := fixture.MintN(shared.iss, shape, batch)
					if err != nil {
						b.Fatal(err)
					}
					queue = fixture.Events(shape, tokens)
					b.StartTimer()
				}
				ev := queue[0]
				queue = queue[1:]
				if _, err := shared.project.Invoke(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("same/"+string(shape), func(b *testing.B) {
			ev := shared.pools[shape][0]
			if _, err := shared.project.Invoke(ctx, ev); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := shared.project.Invoke(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOPAServer is the floor's verification and response around a
// decision asked of `go tool opa run --server` on loopback over HTTP.
func BenchmarkOPAServer(b *testing.B) {
	setup(b)
	server, err := peers.StartOPAServer(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(server.Stop)
	peer := &peers.Peer{Floor: shared.floor, Decide: server.Decide}
	for _, shape := range fixture.Shapes {
		b.Run(string(shape), func(b *testing.B) { cycling(b, shape, peer.Invoke) })
	}
}

// BenchmarkCompilePerRequest is the floor's verification and response around
// rego.New(...).PrepareForEval and Eval on every call.
func BenchmarkCompilePerRequest(b *testing.B) {
	setup(b)
	compiler, err := peers.NewCompiler()
	if err != nil {
		b.Fatal(err)
	}
	peer := &peers.Peer{Floor: shared.floor, Decide: compiler.Decide}
	for _, shape := range fixture.Shapes {
		b.Run(string(shape), func(b *testing.B) { cycling(b, shape, peer.Invoke) })
	}
}

// BenchmarkPolicyBindings is the project's policy engine alone, on the input
// the project builds for the realistic event and token, with N group
// bindings; it reports the load (prepare) time and the heap the load retained.
func BenchmarkPolicyBindings(b *testing.B) {
	setup(b)
	ctx := context.Background()
	input, err := peers.ProjectInput(ctx, shared.iss, shared.pools[fixture.Realistic][0])
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range fixture.BindingCounts {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			loaded, err := peers.LoadBindings(ctx, n)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := loaded.Engine.Evaluate(ctx, input); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := loaded.Engine.Evaluate(ctx, input); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(loaded.Prepare.Microseconds())/1e3, "prepare-ms")
			b.ReportMetric(float64(loaded.Heap)/(1<<20), "heap-MiB")
		})
	}
}
