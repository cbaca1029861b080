package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/localgw"
	"github.com/apigw-authz/authz/internal/policy"
	"github.com/apigw-authz/authz/internal/replay"
)

// exitChanged is replay's exit status when a decision changes or could not
// be replayed: the candidate is not proven to change nothing.
const exitChanged = 1

// replayFlags are replay's flags, parsed.
type replayFlags struct {
	bundles          listFlag
	publicKey, query string
	json             bool
	limit            int
}

// newReplayFlags defines replay's flags on a new flag set writing to stderr.
func newReplayFlags(stderr io.Writer) (*flag.FlagSet, *replayFlags) {
	fs := flag.NewFlagSet("authz replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &replayFlags{}
	fs.Var(&f.bundles, "bundle", "the candidate: a bundle `directory`, .tar.gz or URL; repeat to layer directories (a policy folder, then a data folder)")
	fs.StringVar(&f.publicKey, "public-key", "", "verify the candidate's signature with this PEM public `key` or key file, as AUTHZ_BUNDLE_PUBLIC_KEY does (default: AUTHZ_BUNDLE_PUBLIC_KEY)")
	fs.StringVar(&f.query, "query", "", "the decision `query` (default: AUTHZ_QUERY, else "+policy.DefaultQuery+")")
	fs.BoolVar(&f.json, "json", false, "print one JSON document, for scripts")
	fs.IntVar(&f.limit, "limit", 20, "list at most `n` changed decisions and n unreplayable ones (0: all); the counts are always complete")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: authz replay --bundle CANDIDATE [flags] LOGFILE...

Re-decide the decisions of the authorizer's decision log with a candidate
policy, offline, and show those that would change: counted by route and by
transition (deny → allow, allow → allow (grants changed), ...), then one by
one. Each event is decided on its logged (masked) input, with OPA's clock at
its logged timestamp.

A decision changes when its class (allow, deny, error:<reason>) changes, or
when, with the same class, the response does: principal_id, grants (as a
set), context, usage_identifier_key. Reasons and code alone change nothing.

An event whose input the mask rules erased or replaced where the candidate
reads it (a masked header the candidate tests, say) is not replayed: it is
listed with the pointer and the candidate's rule that reads it. Events the
policy was never asked about (no input: refused before it) are counted and
skipped.

LOGFILE is a file of decision-log lines (CloudWatch Logs, an export of it,
gzip-compressed or not, text before each JSON object allowed) or - for
stdin. Lines without a decision_id are skipped; a decision_id seen twice
counts once.

Flags (before or after the log files):
`)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), `
Exit status: 0 no replayed decision changes and every decision was replayed;
1 a decision changes, or one could not be replayed (the proof is incomplete);
2 usage error, an unreadable log, a log with no decision event, a candidate
that cannot be read or does not compile.
`)
	}
	return fs, f
}

func replayLogs(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, f := newReplayFlags(stderr)
	files, err := parseArgs(fs, args, math.MaxInt)
	if err != nil {
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "authz replay: "+format+"\n", a...)
		return exitUsage
	}
	if len(f.bundles) == 0 {
		return fail("give the candidate policy with --bundle (a directory, .tar.gz or URL): replay compares the log with a candidate")
	}
	if len(files) == 0 {
		return fail("give one or more decision-log files, or - for stdin")
	}
	stdinUsed := false
	for _, name := range files {
		if name == "-" {
			if stdinUsed {
				return fail("- (stdin) is given twice")
			}
			stdinUsed = true
		}
	}
	if f.publicKey == "" {
		f.publicKey = strings.TrimSpace(os.Getenv("AUTHZ_BUNDLE_PUBLIC_KEY"))
	}
	if f.query == "" {
		f.query = strings.TrimSpace(os.Getenv("AUTHZ_QUERY"))
	}
	if err := policy.CheckQuery(f.query); err != nil {
		return fail("--query: %v", err)
	}

	// The candidate is read as check and serve read --bundle.
	cfg := config.Config{BundlePublicKey: f.publicKey}
	dirs, source, err := chooseBundle(&cfg, f.bundles)
	if err != nil {
		return fail("%v", err)
	}
	ctx := context.Background()
	b, err := policy.ReadBundle(ctx, policy.Options{Bundle: cfg.Bundle, PublicKey: cfg.BundlePublicKey, Dirs: cfg.BundleDirs})
	if err != nil {
		return fail("the candidate %s: %s", source, localgw.NameSourceFiles(err.Error(), dirs))
	}
	name := func(at string) string { return localgw.NameSourceFiles(at, dirs) }
	cand, err := replay.NewCandidate(ctx, b, f.query, name)
	if err != nil {
		return fail("the candidate %s: %s", source, localgw.NameSourceFiles(err.Error(), dirs))
	}

	rp := replay.New(cand, f.limit)
	for _, file := range files {
		stats, err := readLogFile(ctx, rp, file, stdin)
		if err != nil {
			return fail("%v", err)
		}
		if stats.Decisions == 0 {
			return fail("%s holds no decision-log event (%d lines, none with a decision_id): is it the authorizer's log?", stats.Name, stats.Lines)
		}
	}
	rep := rp.Report()
	rep.Candidate = source
	if rep.Replayed+rep.Unreplayable == 0 {
		return fail("nothing to replay: none of the %d decision events holds an input, so the policy was asked about none of them (%d refused before it); are these the authorizer's OPA decision-log lines?",
			rep.Events, rep.NotEvaluated)
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "authz replay:", err)
		return exitFailure
	}
	if !rep.Clean() {
		return exitChanged
	}
	return exitAllow
}

// readLogFile replays one log file, or stdin for "-".
func readLogFile(ctx context.Context, rp *replay.Replay, file string, stdin io.Reader) (replay.FileStats, error) {
	if file == "-" {
		return rp.ReadLog(ctx, stdin, "(stdin)")
	}
	in, err := os.Open(file)
	if err != nil {
		return replay.FileStats{}, err
	}
	defer in.Close()
	return rp.ReadLog(ctx, in, file)
}
