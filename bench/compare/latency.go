package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/apigw-authz/authz/bench/fixture"
	"github.com/apigw-authz/authz/bench/peers"
	"github.com/apigw-authz/authz/internal/devissuer"
)

// Variant names, in the order of the table.
const (
	vFloor   = "floor"
	vOPA     = "OPA server"
	vCompile = "compile per request"
	vFresh   = "project, fresh token"
	vSame    = "project, same token"
	// vQuiet is the project without its decision line and metrics
	// (AUTHZ_DECISION_LOG=false AUTHZ_METRICS=off), as the floor, which
	// logs nothing: the difference is what the decision log costs.
	vQuiet = "project, fresh token, no decision log"
)

var variantOrder = []string{vFloor, vOPA, vCompile, vFresh, vSame, vQuiet}

// variant is one implementation on one shape of event and token.
type variant struct {
	name   string
	shape  fixture.Shape
	invoke func(context.Context, []byte) ([]byte, error)
	// next gives the event of the next call, false when there is none left.
	next func() ([]byte, bool)
	// before runs ahead of each burst, outside the measurement.
	before  func(last float64) error
	samples []sample
	// last is the time per call of the last burst, warm-up included.
	last float64
}

type latencyResult struct {
	variants []*variant
	rounds   int
	fresh    []*freshQueue
	freshCap int
}

// cycle hands out the events in turn, forever.
func cycle(events [][]byte) func() ([]byte, bool) {
	i := 0
	return func() ([]byte, bool) {
		ev := events[i]
		i = (i + 1) % len(events)
		return ev, true
	}
}

// freshQueue hands out events of tokens never used before, and mints more
// between bursts: enough for a burst at the last speed measured, at most cap.
type freshQueue struct {
	name   string // the variant it feeds
	iss    *devissuer.Issuer
	shape  fixture.Shape
	burst  time.Duration
	cap    int
	events [][]byte
	// short counts the bursts that ended because the queue ran out.
	short int
}

func (q *freshQueue) next() ([]byte, bool) {
	if len(q.events) == 0 {
		q.short++
		return nil, false
	}
	ev := q.events[0]
	q.events[0] = nil
	q.events = q.events[1:]
	return ev, true
}

// topUp mints tokens so that the queue holds enough for one burst at lastNs
// per call (or want, when lastNs is not known).
func (q *freshQueue) topUp(lastNs float64, want int) error {
	if lastNs > 0 {
		want = int(math.Ceil(float64(q.burst.Nanoseconds())/lastNs*1.5)) + 16
	}
	want = min(want, q.cap)
	if len(q.events) >= want {
		return nil
	}
	tokens, err := fixture.MintN(q.iss, q.shape, want-len(q.events))
	if err != nil {
		return err
	}
	q.events = append(q.events[:len(q.events):len(q.events)], fixture.Events(q.shape, tokens)...)
	return nil
}

func latency(ctx context.Context, iss *devissuer.Issuer, o options) (*latencyResult, error) {
	fl, err := peers.Floor(iss)
	if err != nil {
		return nil, err
	}
	progress("building the project's authorizer")
	project, err := fixture.Project(ctx, iss, io.Discard)
	if err != nil {
		return nil, err
	}
	defer func() { _ = project.Close(ctx) }()
	quiet, err := fixture.ProjectWith(ctx, iss, io.Discard, map[string]string{"AUTHZ_DECISION_LOG": "false", "AUTHZ_METRICS": "off"})
	if err != nil {
		return nil, err
	}
	defer func() { _ = quiet.Close(ctx) }()
	progress("starting go tool opa run --server")
	server, err := peers.StartOPAServer(ctx)
	if err != nil {
		return nil, err
	}
	defer server.Stop()
	compiler, err := peers.NewCompiler()
	if err != nil {
		return nil, err
	}
	opa := &peers.Peer{Floor: fl, Decide: server.Decide}
	compile := &peers.Peer{Floor: fl, Decide: compiler.Decide}

	var variants []*variant
	var fresh []*freshQueue
	for _, shape := range fixture.Shapes {
		progress("minting %d %s tokens", o.pool, shape)
		tokens, err := fixture.MintN(iss, shape, o.pool)
		if err != nil {
			return nil, err
		}
		pool := fixture.Events(shape, tokens)
		same := fixture.Event(shape, tokens[0])
		q := &freshQueue{name: vFresh, iss: iss, shape: shape, burst: o.burst, cap: o.freshCap}
		qq := &freshQueue{name: vQuiet, iss: iss, shape: shape, burst: o.burst, cap: o.freshCap}
		fresh = append(fresh, q, qq)
		variants = append(variants,
			&variant{name: vFloor, shape: shape, invoke: fl.Invoke, next: cycle(pool)},
			&variant{name: vOPA, shape: shape, invoke: opa.Invoke, next: cycle(pool)},
			&variant{name: vCompile, shape: shape, invoke: compile.Invoke, next: cycle(pool)},
			&variant{name: vFresh, shape: shape, invoke: project.Invoke, next: q.next,
				before: func(last float64) error { return q.topUp(last, 64) }},
			&variant{name: vSame, shape: shape, invoke: project.Invoke, next: func() ([]byte, bool) { return same, true }},
			&variant{name: vQuiet, shape: shape, invoke: quiet.Invoke, next: qq.next,
				before: func(last float64) error { return qq.topUp(last, 64) }},
		)
	}

	burst := func(v *variant, d time.Duration) (sample, error) {
		if v.before != nil {
			if err := v.before(v.last); err != nil {
				return sample{}, err
			}
		}
		s, err := measure(d, func() (bool, error) {
			ev, ok := v.next()
			if !ok {
				return false, nil
			}
			if _, err := v.invoke(ctx, ev); err != nil {
				return false, fmt.Errorf("%s, %s event: %v", v.name, v.shape, err)
			}
			return true, nil
		})
		v.last = s.ns
		return s, err
	}

	// A warm-up burst each: connections, caches, the first estimate of speed.
	progress("warming up")
	for _, v := range variants {
		if _, err := burst(v, o.burst/2); err != nil {
			return nil, err
		}
	}
	for _, q := range fresh {
		q.short = 0
	}
	for r := range o.rounds {
		progress("round %d/%d", r+1, o.rounds)
		for _, v := range rotate(variants, r) {
			s, err := burst(v, o.burst)
			if err != nil {
				return nil, err
			}
			v.samples = append(v.samples, s)
		}
	}
	return &latencyResult{variants: variants, rounds: o.rounds, fresh: fresh, freshCap: o.freshCap}, nil
}

// get is the variant of that name and shape.
func (l *latencyResult) get(name string, shape fixture.Shape) *variant {
	return pick(l.variants, func(v *variant) bool { return v.name == name && v.shape == shape })
}

// ratio is the median over the rounds of num's time over den's.
func (l *latencyResult) ratio(num, den string, shape fixture.Shape) float64 {
	a, b := l.get(num, shape), l.get(den, shape)
	var rs []float64
	for i := range min(len(a.samples), len(b.samples)) {
		rs = append(rs, a.samples[i].ns/b.samples[i].ns)
	}
	return median(rs)
}

func (v *variant) calls() int {
	n := 0
	for _, s := range v.samples {
		n += s.ops
	}
	return n
}

func (l *latencyResult) table(w io.Writer) {
	fmt.Fprintln(w, "| variant | event | time/op | allocs/op | × floor | project (fresh) faster by | CPU/op | calls |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|")
	for _, shape := range fixture.Shapes {
		for _, name := range variantOrder {
			v := l.get(name, shape)
			faster := math.NaN()
			if name == vOPA || name == vCompile {
				faster = l.ratio(name, vFresh, shape)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.0f | %s | %s | %s | %d |\n", name, shape, fmtNs(medianOf(v.samples, sampleNs)), medianOf(v.samples, sampleAllocs),
				fmtRatio(l.ratio(name, vFloor, shape)), fmtRatio(faster), fmtNs(medianOf(v.samples, sampleCPU)), v.calls())
		}
	}
	for _, q := range l.fresh {
		if q.short > 0 {
			fmt.Fprintf(w, "\n%s, %s: %d of %d bursts ended early, when the tokens minted for them (at most -fresh-cap %d) ran out; time/op is still per call.\n",
				q.name, q.shape, q.short, l.rounds, l.freshCap)
		}
	}
}
