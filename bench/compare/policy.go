package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/apigw-authz/authz/bench/fixture"
	"github.com/apigw-authz/authz/bench/peers"
	"github.com/apigw-authz/authz/internal/devissuer"
)

// loads is how many times each size is loaded; the table gives the medians.
const loads = 3

type evalCase struct {
	n       int
	shape   fixture.Shape
	samples []sample
}

type policyResult struct {
	cases   []*evalCase
	prepare map[int]time.Duration
	heap    map[int]uint64
}

func policyEval(ctx context.Context, iss *devissuer.Issuer, o options) (*policyResult, error) {
	inputs := map[fixture.Shape]map[string]any{}
	for _, shape := range fixture.Shapes {
		tok, err := fixture.Mint(iss, shape)
		if err != nil {
			return nil, err
		}
		if inputs[shape], err = peers.ProjectInput(ctx, iss, fixture.Event(shape, tok)); err != nil {
			return nil, err
		}
	}
	res := &policyResult{prepare: map[int]time.Duration{}, heap: map[int]uint64{}}
	engines := map[int]*peers.Bindings{}
	for _, n := range fixture.BindingCounts {
		var prep []float64
		var heap []float64
		for range loads {
			progress("loading the policy with %d group bindings", n)
			engines[n] = nil
			b, err := peers.LoadBindings(ctx, n)
			if err != nil {
				return nil, err
			}
			engines[n] = b
			prep = append(prep, float64(b.Prepare))
			heap = append(heap, float64(b.Heap))
		}
		res.prepare[n] = time.Duration(median(prep))
		res.heap[n] = uint64(median(heap))
		for _, shape := range fixture.Shapes {
			res.cases = append(res.cases, &evalCase{n: n, shape: shape})
		}
	}
	burst := func(c *evalCase, d time.Duration) (sample, error) {
		e, input := engines[c.n].Engine, inputs[c.shape]
		return measure(d, func() (bool, error) {
			if _, err := e.Evaluate(ctx, input); err != nil {
				return false, fmt.Errorf("%d bindings, %s input: %v", c.n, c.shape, err)
			}
			return true, nil
		})
	}
	progress("warming up the evaluations")
	for _, c := range res.cases {
		if _, err := burst(c, o.burst/2); err != nil {
			return nil, err
		}
	}
	for r := range o.rounds {
		progress("evaluation round %d/%d", r+1, o.rounds)
		for _, c := range rotate(res.cases, r) {
			s, err := burst(c, o.burst)
			if err != nil {
				return nil, err
			}
			c.samples = append(c.samples, s)
		}
	}
	return res, nil
}

func (p *policyResult) get(n int, shape fixture.Shape) *evalCase {
	return pick(p.cases, func(c *evalCase) bool { return c.n == n && c.shape == shape })
}

// ratio is the median over the rounds of the evaluation time at n bindings
// over the time at the smallest size.
func (p *policyResult) ratio(n int, shape fixture.Shape) float64 {
	a, b := p.get(n, shape), p.get(fixture.BindingCounts[0], shape)
	var rs []float64
	for i := range min(len(a.samples), len(b.samples)) {
		rs = append(rs, a.samples[i].ns/b.samples[i].ns)
	}
	return median(rs)
}

func (p *policyResult) table(w io.Writer) {
	base := fixture.BindingCounts[0]
	fmt.Fprintf(w, "| group bindings | eval, small | eval, realistic | allocs/op (realistic) | × %d bindings (small / realistic) | prepare (load) | retained heap |\n", base)
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|")
	for _, n := range fixture.BindingCounts {
		s, r := p.get(n, fixture.Small), p.get(n, fixture.Realistic)
		fmt.Fprintf(w, "| %d | %s | %s | %.0f | %s / %s | %s | %s |\n", n, fmtNs(medianOf(s.samples, sampleNs)), fmtNs(medianOf(r.samples, sampleNs)), medianOf(r.samples, sampleAllocs),
			fmtRatio(p.ratio(n, fixture.Small)), fmtRatio(p.ratio(n, fixture.Realistic)),
			fmtDuration(p.prepare[n]), fmtBytes(p.heap[n]))
	}
	fmt.Fprintf(w, "\nPrepare and heap: the median of %d loads (policy.Load of a bundle folder: read, compile, prepare); heap is HeapAlloc after a GC, minus before.\n", loads)
}

func fmtDuration(d time.Duration) string {
	if d >= time.Second {
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1e3)
}

func fmtBytes(b uint64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}

func targets(w io.Writer, l *latencyResult, p *policyResult) {
	fmt.Fprintln(w, "| target | measured | |")
	fmt.Fprintln(w, "|---|---:|---|")
	row := func(target string, measured string, ok bool) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", target, measured, met(ok))
	}
	for _, t := range []struct {
		shape fixture.Shape
		limit float64
	}{{fixture.Small, 1.25}, {fixture.Realistic, 1.5}} {
		r := l.ratio(vFresh, vFloor, t.shape)
		row(fmt.Sprintf("fresh token, %s: ≤ %.2f× floor", t.shape, t.limit), fmtRatio(r), r <= t.limit)
	}
	for _, shape := range fixture.Shapes {
		r := l.ratio(vSame, vFloor, shape)
		row(fmt.Sprintf("same token, %s: ≤ 1.00× floor", shape), fmtRatio(r), r <= 1.0)
	}
	for _, shape := range fixture.Shapes {
		r := l.ratio(vOPA, vFresh, shape)
		row(fmt.Sprintf("OPA server, %s: ≥ 5× the project's time (fresh token)", shape), fmtRatio(r), r >= 5)
	}
	for _, shape := range fixture.Shapes {
		r := l.ratio(vCompile, vFresh, shape)
		row(fmt.Sprintf("compile per request, %s: ≥ 20× the project's time (fresh token)", shape), fmtRatio(r), r >= 20)
	}
	big := fixture.BindingCounts[len(fixture.BindingCounts)-1]
	for _, shape := range fixture.Shapes {
		r := p.ratio(big, shape)
		row(fmt.Sprintf("%d bindings, %s input: evaluation ≤ 1.2× the %d case", big, shape, fixture.BindingCounts[0]), fmtRatio(r), r <= 1.2)
	}
	row(fmt.Sprintf("%d bindings: prepare ≤ 50 ms", big), fmtDuration(p.prepare[big]), p.prepare[big] <= 50*time.Millisecond)
	row(fmt.Sprintf("%d bindings: retained heap ≤ 16 MiB", big), fmtBytes(p.heap[big]), p.heap[big] <= 16<<20)
}
