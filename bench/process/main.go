// Command process measures the authorizer as a process, item 6 of issue 12's
// benchmarks: cold start of the real Lambda binary (exec → ready, exec → first
// response) against a hand-written floor's, binary and zip size for both Lambda
// architectures, and peak RSS after many decisions. It builds the binaries as
// make package does, runs them under a fake Lambda Runtime API on 127.0.0.1 with
// a dev issuer on loopback, and prints a Markdown table with the targets.
//
// Cold start: each variant is started -runs times, interleaved (the order
// rotates every round), with a small REST event (bench/fixture) queued: the
// floor with a static key set, and bootstrap with the issuer found by discovery,
// with its jwks_uri configured, and with a key-set snapshot. Medians, and the
// median over rounds of each ratio to the floor's in the same round; the CPU
// time (user + sys) of the process up to its first response depends less on the
// machine's other work than the wall time does.
//
// Memory: -decisions invocations, one at a time as Lambda sends them, into
// bootstrap (issuer by discovery), with -tokens tokens of -shape minted
// beforehand and cycled; VmHWM and VmRSS from /proc/PID/status after a warm-up
// (10,000 decisions, or one per token if more) and at the end, and VmRSS's
// growth in between, which a leak makes grow with -decisions. The floor, driven
// the same way for -floor-decisions, shows the driver's own share of a round
// trip and a baseline RSS. Decision log lines are read from the pipe and
// discarded.
//
//	go run ./bench/process                  # everything
//	go run ./bench/process -coldstart -size # some parts
//	go run ./bench/process -coldstart -bootstrap /tmp/old/bootstrap  # another build
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/apigw-authz/authz/bench/fixture"
	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/identity"
)

// The targets.
const (
	readyRatioTarget = 2.0      // exec → ready ≤ 2× the floor's
	zipTarget        = 8 << 20  // zip ≤ 8 MiB
	rssTarget        = 48 << 20 // peak RSS ≤ 48 MiB
)

func main() {
	var (
		coldstart = flag.Bool("coldstart", false, "measure cold start (exec → ready, exec → first response)")
		size      = flag.Bool("size", false, "measure binary and zip sizes for arm64 and amd64")
		rss       = flag.Bool("rss", false, "measure peak RSS, and RSS after a warm-up and at the end, over many decisions")
		runs      = flag.Int("runs", 15, "cold starts of each variant, interleaved")
		decisions = flag.Int("decisions", 100_000, "decisions driven through the function for -rss")
		tokens    = flag.Int("tokens", 1_000, "distinct tokens cycled in -rss")
		floorN    = flag.Int("floor-decisions", 10_000, "decisions driven through the floor for -rss, as a reference")
		shape     = flag.String("shape", string(fixture.Realistic), "the event and token shape of -rss: small or realistic")
		prebuilt  = flag.String("bootstrap", "", "a bootstrap `file` built for this machine to measure in -coldstart and -rss instead of building ./cmd/authorizer (before/after comparisons)")
		verbose   = flag.Bool("v", false, "print what each function wrote in its first, unmeasured cold start")
	)
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./bench/process [-coldstart] [-size] [-rss] [flags]\n\nWith no part named, all three. Flags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if !*coldstart && !*size && !*rss {
		*coldstart, *size, *rss = true, true, true
	}
	if *shape != string(fixture.Small) && *shape != string(fixture.Realistic) {
		fatalf("-shape is small or realistic")
	}
	if *runs < 1 || *decisions < 1 || *tokens < 1 {
		fatalf("-runs, -decisions and -tokens must be positive")
	}
	if runtime.GOOS != "linux" {
		fatalf("the Lambda binaries are linux binaries, run on this machine: linux only")
	}
	if *prebuilt != "" && *size {
		fatalf("-bootstrap measures a given binary: not with -size, which builds both architectures")
	}
	if err := run(*size, *coldstart, *rss, *runs, *decisions, *tokens, *floorN, fixture.Shape(*shape), *prebuilt, *verbose); err != nil {
		fatalf("%v", err)
	}
}

func run(size, coldstart, rss bool, runs, decisions, tokens, floorN int, shape fixture.Shape, prebuilt string, verbose bool) error {
	began := time.Now()
	b, err := newBench()
	if err != nil {
		return err
	}
	defer b.close()
	b.verbose = verbose

	// Every binary the parts need, built at once: linking is mostly serial.
	arches := []string{runtime.GOARCH}
	if size {
		arches = []string{"arm64", "amd64"}
	}
	if err := b.prebuild(arches, prebuilt == ""); err != nil {
		return err
	}
	if prebuilt != "" {
		if err := b.useBootstrap(prebuilt); err != nil {
			return fmt.Errorf("-bootstrap: %v", err)
		}
	}
	var rows []row
	if size {
		r, err := b.sizes()
		if err != nil {
			return fmt.Errorf("size: %v", err)
		}
		rows = append(rows, r...)
	}
	if coldstart {
		r, err := b.coldStarts(runs)
		if err != nil {
			return fmt.Errorf("cold start: %v", err)
		}
		rows = append(rows, r...)
	}
	if rss {
		r, err := b.peakRSS(decisions, tokens, floorN, shape)
		if err != nil {
			return fmt.Errorf("rss: %v", err)
		}
		rows = append(rows, r...)
	}
	b.print(os.Stdout, rows, time.Since(began))
	return nil
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench/process: "+format+"\n", a...)
	os.Exit(1)
}

// bench holds what the parts share: the module, the binaries built so far, the
// dev issuer and its configurations.
type bench struct {
	root, dir, rev string
	built          map[string]string // name/goarch → path
	verbose        bool
	load           string // the load average when the run began
	given          string // the -bootstrap file, if any

	idp      *devissuer.Issuer
	jwks     []byte // the issuer's public key set, for the floor
	data     []byte // the default policy's data, for the floor
	snapshot string // a key-set snapshot file of the issuer
}

func newBench() (b *bench, err error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "authz-bench-process-")
	if err != nil {
		return nil, err
	}
	b = &bench{root: root, dir: dir, rev: revision(root), built: map[string]string{}, load: fixture.LoadAverage()}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	if b.idp, err = fixture.StartIssuer(); err != nil {
		return nil, err
	}
	keys, err := fixture.Keys(b.idp)
	if err != nil {
		return nil, err
	}
	if b.jwks, err = json.Marshal(keys); err != nil {
		return nil, err
	}
	if b.data, err = os.ReadFile(filepath.Join(root, "bundles", "default", "data.json")); err != nil {
		return nil, err
	}
	// What authz jwks snapshot writes.
	snap, err := identity.TakeSnapshot(context.Background(), []identity.IssuerConfig{{Issuer: b.idp.URL, Audiences: []string{b.idp.Audience()}}}, identity.Options{})
	if err != nil {
		return nil, err
	}
	data, err := snap.Bytes()
	if err != nil {
		return nil, err
	}
	b.snapshot = filepath.Join(dir, "jwks-snapshot.json")
	if err := os.WriteFile(b.snapshot, data, 0o644); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *bench) close() {
	if b.idp != nil {
		b.idp.Close()
	}
	os.RemoveAll(b.dir)
}

// binary builds pkg for linux/goarch once, into its own folder (the function's
// /var/task), and returns its path.
func (b *bench) binary(name, pkg, goarch string) (string, error) {
	key := name + "/" + goarch
	if p, ok := b.built[key]; ok {
		return p, nil
	}
	dir := filepath.Join(b.dir, name+"-"+goarch)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p, err := buildLambda(b.root, dir, "bootstrap", pkg, goarch, b.rev)
	if err != nil {
		return "", err
	}
	b.built[key] = p
	return p, nil
}

// prebuild builds the floor and, with authorizer, bootstrap for each
// architecture, concurrently.
func (b *bench) prebuild(arches []string, authorizer bool) error {
	type build struct{ name, pkg, goarch, path string }
	var builds []*build
	for _, goarch := range arches {
		if authorizer {
			builds = append(builds, &build{name: "authorizer", pkg: authorizerPkg, goarch: goarch})
		}
		builds = append(builds, &build{name: "floor", pkg: floorPkg, goarch: goarch})
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, bl := range builds {
		dir := filepath.Join(b.dir, bl.name+"-"+bl.goarch)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		wg.Go(func() { bl.path, errs[i] = buildLambda(b.root, dir, "bootstrap", bl.pkg, bl.goarch, b.rev) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, bl := range builds {
		b.built[bl.name+"/"+bl.goarch] = bl.path
	}
	return nil
}

// useBootstrap copies file into its own folder and measures it as the host's
// bootstrap.
func (b *bench) useBootstrap(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dir := filepath.Join(b.dir, "given")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := filepath.Join(dir, "bootstrap")
	if err := os.WriteFile(p, data, 0o755); err != nil {
		return err
	}
	b.built["authorizer/"+runtime.GOARCH] = p
	b.given = file
	return nil
}

// issuers is AUTHZ_ISSUERS for the dev issuer, found by discovery or, with
// jwksURI, at its key set's URL.
func (b *bench) issuers(jwksURI bool) string {
	iss := map[string]any{"issuer": b.idp.URL, "audiences": []string{b.idp.Audience()}}
	if jwksURI {
		iss["jwks_uri"] = b.idp.JWKSURL()
	}
	data, _ := json.Marshal([]any{iss})
	return string(data)
}

// floorEnv configures the floor binary (see floorbin).
func (b *bench) floorEnv() []string {
	return []string{
		"FLOOR_ISSUER=" + b.idp.URL,
		"FLOOR_AUDIENCE=" + b.idp.Audience(),
		"FLOOR_JWKS=" + string(b.jwks),
		"FLOOR_DATA=" + string(b.data),
	}
}

// allowed says whether an answer is an IAM policy that allows the call.
func allowed(a answer) bool {
	return !a.error && bytes.Contains(a.body, []byte(`"Allow"`))
}

// row is one line of the table.
type row struct {
	part, measure, figure, target, met string
}

func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func (b *bench) print(w io.Writer, rows []row, took time.Duration) {
	cmd := "go run ./bench/process"
	if len(os.Args) > 1 {
		cmd += " " + strings.Join(os.Args[1:], " ")
	}
	rev := b.rev
	if rev == "" {
		rev = "uncommitted changes"
	}
	fmt.Fprintf(w, "Command: `%s` (%s)\n\n", cmd, rev)
	if b.given != "" {
		fmt.Fprintf(w, "bootstrap: %s, not built from this tree\n\n", b.given)
	}
	fmt.Fprintf(w, "Machine: %s, %d CPUs, %s/%s; %s; load average %s at start, %s at end\n\n",
		fixture.CPUModel(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), b.load, fixture.LoadAverage())
	fmt.Fprintln(w, "| part | measure | figure | target | met |")
	fmt.Fprintln(w, "|---|---|---:|---|---|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", r.part, r.measure, r.figure, r.target, r.met)
	}
	fmt.Fprintf(w, "\nRun time %.0f s, builds included.\n", took.Seconds())
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func mib2(n int64) string { return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20)) }

func us(d time.Duration) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
