// Command compare measures the project's warm decision against a hand-written
// authorizer (the floor) and against OPA's other deployments, in one
// interleaved run, and prints the results as Markdown tables with the targets
// of issue 12:
//
//	go run ./bench/compare [-rounds 15] [-burst 200ms] [-tokens 1000] [-fresh-cap 2000]
//
// A default run takes about a minute and a half on two cores. Progress goes
// to stderr, the tables to stdout.
//
// For each round, every variant runs for one short burst, in an order rotated
// from round to round; a variant's figure is the median over the rounds, and
// its ratio to the floor is the median of the ratios within each round, so
// that a noisy machine slows both sides of a ratio alike. Allocations are
// counted with runtime.MemStats over each burst.
//
// Variants, each on the small and the realistic event and token
// (bench/fixture):
//
//   - floor: bench/floor, a fresh token each call (tokens pre-minted and
//     cycled: it keeps nothing between calls);
//   - OPA server: the floor's verification and input, then POST
//     /v1/data/authz/decision to `go tool opa run --server` on loopback,
//     started and stopped here, then the floor's response;
//   - compile per request: the same around rego.New(...).PrepareForEval and
//     Eval on every call;
//   - project, fresh token: authorizer.Build, decision log through
//     logging.JSON to io.Discard, metrics on, Invoke; every call a token never
//     seen before (minted between bursts, enough for one burst at the last
//     speed measured and at most -fresh-cap; a burst that runs out ends
//     early, and the table says so), so that no cache of verified tokens
//     can help;
//   - project, same token: the same token on every call.
//
// A second table measures the project's policy engine alone
// (internal/policy) on the default policy with 10, 1,000 and 10,000 group
// bindings: evaluation time, load (prepare) time and retained heap.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/apigw-authz/authz/bench/fixture"
)

func main() {
	rounds := flag.Int("rounds", 15, "rounds of the interleaved run")
	burst := flag.Duration("burst", 200*time.Millisecond, "length of one variant's burst in a round")
	pool := flag.Int("tokens", 1000, "tokens per event pre-minted and cycled by the variants that keep nothing between calls")
	freshCap := flag.Int("fresh-cap", 2000, "most fresh tokens minted for one burst of the project with a fresh token; the burst ends early when they run out")
	flag.Parse()
	if *rounds < 1 || *burst <= 0 || *pool < 1 || *freshCap < 1 {
		fmt.Fprintln(os.Stderr, "compare: -rounds, -burst, -tokens and -fresh-cap must be positive")
		os.Exit(2)
	}
	if err := run(os.Stdout, options{rounds: *rounds, burst: *burst, pool: *pool, freshCap: *freshCap}); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type options struct {
	rounds   int
	burst    time.Duration
	pool     int
	freshCap int
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "compare: "+format+"\n", args...)
}

func run(w io.Writer, o options) error {
	ctx := context.Background()
	began := time.Now()
	header(w)

	iss, err := fixture.StartIssuer()
	if err != nil {
		return err
	}
	defer iss.Close()

	lat, err := latency(ctx, iss, o)
	if err != nil {
		return err
	}
	runtime.GC()
	pol, err := policyEval(ctx, iss, o)
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "## Decision latency\n\n")
	fmt.Fprintf(w, "%d rounds, each variant one %v burst per round in rotated order; medians over the rounds; ratios are the median of the per-round ratios (of time/op, wall clock). CPU/op is this process's CPU time per call (GC on other cores included, the OPA server's process not): far above time/op means parallel GC, far below means the machine was busy with something else.\n\n", o.rounds, o.burst)
	lat.table(w)
	fmt.Fprintf(w, "\n## Policy evaluation alone (internal/policy, the project's input)\n\n")
	pol.table(w)
	fmt.Fprintf(w, "\n## Targets (issue 12)\n\n")
	targets(w, lat, pol)
	fmt.Fprintf(w, "\nLoad average at the end: %s; the run took %v.\n", fixture.LoadAverage(), time.Since(began).Round(time.Second))
	progress("done in %v", time.Since(began).Round(time.Second))
	return nil
}

func header(w io.Writer) {
	args := ""
	if len(os.Args) > 1 {
		args = " " + strings.Join(os.Args[1:], " ")
	}
	fmt.Fprintf(w, "# Performance comparison\n\n")
	fmt.Fprintf(w, "- command: `go run ./bench/compare%s`\n", args)
	fmt.Fprintf(w, "- go version: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "- CPU: %s, %d logical CPUs, GOMAXPROCS %d\n", fixture.CPUModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "- date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- load average at the start: %s\n\n", fixture.LoadAverage())
}

// sample is one burst of one variant.
type sample struct {
	ns, allocs float64
	// cpu is this process's CPU time per call, all threads (GC included,
	// the OPA server's process not).
	cpu float64
	ops int
}

// measure runs op for one burst of length d, or until op reports that it has
// no more work, and returns the time and allocations per call.
func measure(d time.Duration, op func() (bool, error)) (sample, error) {
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	cpu0 := cpuTime()
	start := time.Now()
	deadline := start.Add(d)
	ops := 0
	for {
		more, err := op()
		if err != nil {
			return sample{}, err
		}
		if !more {
			break
		}
		ops++
		if time.Now().After(deadline) {
			break
		}
	}
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&m1)
	if ops == 0 {
		return sample{}, fmt.Errorf("a burst ran no call")
	}
	return sample{
		ns:     float64(elapsed.Nanoseconds()) / float64(ops),
		allocs: float64(m1.Mallocs-m0.Mallocs) / float64(ops),
		cpu:    float64(cpu.Nanoseconds()) / float64(ops),
		ops:    ops,
	}, nil
}

// medianOf is the median of one measure of samples.
func medianOf(samples []sample, measure func(sample) float64) float64 {
	xs := make([]float64, len(samples))
	for i, s := range samples {
		xs[i] = measure(s)
	}
	return median(xs)
}

func sampleNs(s sample) float64     { return s.ns }
func sampleAllocs(s sample) float64 { return s.allocs }
func sampleCPU(s sample) float64    { return s.cpu }

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// rotate returns xs starting at index r mod len(xs).
func rotate[T any](xs []T, r int) []T {
	r %= len(xs)
	return append(slices.Clone(xs[r:]), xs[:r]...)
}

func fmtNs(ns float64) string {
	switch {
	case math.IsNaN(ns):
		return "–"
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.1f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}

func fmtRatio(r float64) string {
	if math.IsNaN(r) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", r)
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// pick is the element of xs with key k.
func pick[T any](xs []T, key func(T) bool) T {
	for _, x := range xs {
		if key(x) {
			return x
		}
	}
	var zero T
	return zero
}
