package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/apigw-authz/authz/bench/fixture"
)

// sizes builds bootstrap and the floor for both Lambda architectures and
// reports each binary and its zip.
func (b *bench) sizes() ([]row, error) {
	var rows []row
	for _, goarch := range []string{"arm64", "amd64"} {
		for _, bin := range []struct{ name, pkg, label string }{
			{"authorizer", authorizerPkg, "bootstrap"},
			{"floor", floorPkg, "floor"},
		} {
			p, err := b.binary(bin.name, bin.pkg, goarch)
			if err != nil {
				return nil, err
			}
			info, err := os.Stat(p)
			if err != nil {
				return nil, err
			}
			z, err := zipSize(p)
			if err != nil {
				return nil, err
			}
			r := row{part: "size", measure: fmt.Sprintf("%s linux/%s: binary, zip (archive/zip, deflate)", bin.label, goarch),
				figure: mib2(info.Size()) + ", " + mib2(z)}
			if iz := infoZipSize(p); iz > 0 {
				r.figure += " (zip -q: " + mib2(iz) + ")"
			}
			if bin.name == "authorizer" {
				r.target, r.met = "zip ≤ 8 MiB", verdict(z <= zipTarget)
			}
			rows = append(rows, r)
		}
	}
	return rows, nil
}

// A variant is one way to start a function for the cold start.
type variant struct {
	label  string
	bin    string
	env    []string
	floor  bool
	ready  []time.Duration
	answer []time.Duration
	cpu    []time.Duration
}

// coldStarts starts each variant runs times, interleaved (the order rotates
// every round), each with a REST event queued, and reports the medians of exec
// → ready and exec → first response, and the median over rounds of each
// variant's ratio to the floor's in the same round.
func (b *bench) coldStarts(runs int) ([]row, error) {
	host := runtime.GOARCH
	authz, err := b.binary("authorizer", authorizerPkg, host)
	if err != nil {
		return nil, err
	}
	floor, err := b.binary("floor", floorPkg, host)
	if err != nil {
		return nil, err
	}
	token, err := fixture.Mint(b.idp, fixture.Small)
	if err != nil {
		return nil, err
	}
	event := fixture.Event(fixture.Small, token)
	variants := []*variant{
		{label: "floor (static key set)", bin: floor, floor: true, env: b.floorEnv()},
		{label: "bootstrap, discovery + key set fetched", bin: authz, env: []string{"AUTHZ_ISSUERS=" + b.issuers(false)}},
		{label: "bootstrap, jwks_uri fetched", bin: authz, env: []string{"AUTHZ_ISSUERS=" + b.issuers(true)}},
		{label: "bootstrap, key-set snapshot", bin: authz, env: []string{"AUTHZ_ISSUERS=" + b.issuers(false), "AUTHZ_JWKS_SNAPSHOT=" + b.snapshot}},
	}
	// One start of each, unmeasured: the page cache holds the binaries.
	for _, v := range variants {
		if _, _, _, err := b.coldStart(v, event); err != nil {
			return nil, fmt.Errorf("%s: %v", v.label, err)
		}
	}
	b.verbose = false
	for r := range runs {
		for i := range variants {
			v := variants[(r+i)%len(variants)]
			ready, first, cpu, err := b.coldStart(v, event)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", v.label, err)
			}
			v.ready = append(v.ready, ready)
			v.answer = append(v.answer, first)
			v.cpu = append(v.cpu, cpu)
		}
	}
	floorV := variants[0]
	part := fmt.Sprintf("cold start, %d runs, linux/%s", runs, host)
	var rows []row
	for _, v := range variants {
		r := row{part: part, measure: v.label + ": exec → ready", figure: ms(median(v.ready))}
		if !v.floor {
			ratio := medianRatio(v.ready, floorV.ready)
			r.figure += fmt.Sprintf(" (%.2f× floor)", ratio)
			r.target, r.met = "≤ 2× floor", verdict(ratio <= readyRatioTarget)
		}
		rows = append(rows, r)
	}
	for _, v := range variants {
		r := row{part: part, measure: v.label + ": exec → first response", figure: ms(median(v.answer))}
		if !v.floor {
			r.figure += fmt.Sprintf(" (%.2f× floor)", medianRatio(v.answer, floorV.answer))
		}
		rows = append(rows, r)
	}
	// CPU time depends less on what else the machine runs than wall time.
	for _, v := range variants {
		r := row{part: part, measure: v.label + ": CPU time (user + sys) to first response", figure: ms(median(v.cpu))}
		if !v.floor {
			r.figure += fmt.Sprintf(" (%.2f× floor)", medianRatio(v.cpu, floorV.cpu))
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// coldStart starts v with event queued and returns exec → ready, exec → first
// response, and the CPU time the process used (it is killed once it has
// answered, idle, waiting for the next invocation); the response must allow the
// call.
func (b *bench) coldStart(v *variant, event []byte) (ready, first, cpu time.Duration, err error) {
	f, err := startFunction(v.bin, v.env, event)
	if err != nil {
		return 0, 0, 0, err
	}
	defer func() {
		f.stop()
		if b.verbose {
			fmt.Fprintf(os.Stderr, "%s, started %s, wrote:\n%s\n", v.label, f.exec.UTC().Format(time.RFC3339Nano), f.output.head())
		}
	}()
	if ready, err = f.awaitReady(10 * time.Second); err != nil {
		return 0, 0, 0, f.fail(err)
	}
	a, err := f.awaitAnswer(10 * time.Second)
	if err != nil {
		return 0, 0, 0, f.fail(err)
	}
	if !allowed(a) {
		return 0, 0, 0, f.fail(fmt.Errorf("the first response does not allow GET /orders/42: %s", a.body))
	}
	f.stop()
	st := f.cmd.ProcessState
	return ready, a.at.Sub(f.exec), st.UserTime() + st.SystemTime(), nil
}

// peakRSS drives decisions invocations, one at a time, into bootstrap started
// with discovery, with tokens of the shape cycled among a number minted
// beforehand, and reports VmHWM and VmRSS after a warm-up and at the end, VmRSS's
// growth in between, the rate, and the median round trip with tokens not seen
// before and seen before. The floor, driven the same way for at most
// floorDecisions, gives the driver's own cost and a baseline RSS.
func (b *bench) peakRSS(decisions, tokens, floorDecisions int, shape fixture.Shape) ([]row, error) {
	authz, err := b.binary("authorizer", authorizerPkg, runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	floor, err := b.binary("floor", floorPkg, runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	minted, err := fixture.MintN(b.idp, shape, min(tokens, decisions))
	if err != nil {
		return nil, err
	}
	events := fixture.Events(shape, minted)
	part := fmt.Sprintf("memory, linux/%s, %s event and token", runtime.GOARCH, shape)
	var rows []row
	for _, d := range []struct {
		label string
		bin   string
		env   []string
		n     int
		floor bool
	}{
		{"bootstrap", authz, []string{"AUTHZ_ISSUERS=" + b.issuers(false)}, decisions, false},
		{"floor", floor, b.floorEnv(), min(floorDecisions, decisions), true},
	} {
		if d.n < 1 {
			continue
		}
		s, err := drive(d.bin, d.env, events, d.n)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", d.label, err)
		}
		if !d.floor && s.lines < int64(d.n) {
			return nil, fmt.Errorf("%s: %d log lines for %d decisions: is the decision log on?", d.label, s.lines, d.n)
		}
		if s.warmUp > 0 {
			rows = append(rows, row{part: part, measure: fmt.Sprintf("%s: after %s decisions (warm-up: every token seen): VmHWM, VmRSS", d.label, thousands(s.warmUp)),
				figure: mib(s.warm.hwm) + ", " + mib(s.warm.rss)})
		}
		r := row{part: part, measure: fmt.Sprintf("%s: after %s decisions (%s tokens): VmHWM (peak RSS), VmRSS", d.label, thousands(d.n), thousands(len(events))),
			figure: mib(s.end.hwm) + ", " + mib(s.end.rss)}
		if !d.floor {
			r.target, r.met = "peak ≤ 48 MiB", verdict(s.end.hwm <= rssTarget)
		}
		rows = append(rows, r)
		if s.warmUp > 0 {
			// Reported, not judged: flat is what a leak-free function shows
			// once its caches are full, and the garbage collector's timing
			// moves either reading by a little.
			rows = append(rows, row{part: part, measure: fmt.Sprintf("%s: VmRSS growth from %s to %s decisions", d.label, thousands(s.warmUp), thousands(d.n)),
				figure: fmt.Sprintf("%+.1f MiB", float64(s.end.rss-s.warm.rss)/(1<<20))})
		}
		rows = append(rows,
			row{part: part, measure: d.label + ": decisions per second, one at a time through the fake Runtime API",
				figure: fmt.Sprintf("%.0f/s", float64(d.n)/s.took.Seconds())},
			row{part: part, measure: d.label + ": round trip p50, token not seen before / seen before",
				figure: us(s.fresh) + " / " + us(s.repeated)},
		)
	}
	return rows, nil
}

// memory is a reading of /proc/PID/status.
type memory struct{ hwm, rss int64 }

// driven is what drive measured.
type driven struct {
	warm, end       memory // after warmUp decisions, at the end
	warmUp          int    // 0 when n is no more than a warm-up
	took            time.Duration
	fresh, repeated time.Duration // median round trips
	lines           int64         // of output
}

// drive starts bin with env and sends it n invocations, one at a time, cycling
// events; each must be allowed.
func drive(bin string, env []string, events [][]byte, n int) (driven, error) {
	var s driven
	f, err := startFunction(bin, env, nil)
	if err != nil {
		return s, err
	}
	defer f.stop()
	if _, err := f.awaitReady(10 * time.Second); err != nil {
		return s, f.fail(err)
	}
	// The warm-up reading is taken once every token has been seen and the
	// function's caches hold what they will hold: what grows after it grows
	// with the number of decisions.
	warmUp := max(10_000, len(events))
	rtt := make([]time.Duration, n)
	start := time.Now()
	for i := range n {
		sent := time.Now()
		a, err := f.invoke(events[i%len(events)], 10*time.Second)
		if err != nil {
			return s, f.fail(fmt.Errorf("decision %d: %v", i+1, err))
		}
		rtt[i] = a.at.Sub(sent)
		if !allowed(a) {
			return s, f.fail(fmt.Errorf("decision %d does not allow GET /orders/42: %s", i+1, a.body))
		}
		if i+1 == warmUp && n > warmUp {
			if s.warm.hwm, s.warm.rss, err = f.memory(); err != nil {
				return s, err
			}
			s.warmUp = warmUp
		}
	}
	s.took = time.Since(start)
	if s.end.hwm, s.end.rss, err = f.memory(); err != nil {
		return s, err
	}
	s.lines, _ = f.output.count()
	s.fresh = median(rtt[:min(len(events), n)])
	if n > len(events) {
		s.repeated = median(rtt[len(events):])
	}
	return s, nil
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianRatio is the median over rounds of a[i]/b[i].
func medianRatio(a, b []time.Duration) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = float64(a[i]) / float64(b[i])
	}
	slices.Sort(r)
	n := len(r)
	if n%2 == 1 {
		return r[n/2]
	}
	return (r[n/2-1] + r[n/2]) / 2
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
