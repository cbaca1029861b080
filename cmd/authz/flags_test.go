package main

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParseArgs(t *testing.T) {
	newFS := func() (*flag.FlagSet, *string, *bool) {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		return fs, fs.String("s", "", ""), fs.Bool("b", false, "")
	}
	tests := []struct {
		name    string
		args    []string
		max     int
		rest    []string
		s       string
		b       bool
		wantErr bool
	}{
		{name: "flags first", args: []string{"-s", "v", "--b", "a"}, max: 1, rest: []string{"a"}, s: "v", b: true},
		{name: "flags last", args: []string{"a", "--s", "v", "-b"}, max: 1, rest: []string{"a"}, s: "v", b: true},
		{name: "flags around", args: []string{"--s=v", "a", "--b=false"}, max: 1, rest: []string{"a"}, s: "v"},
		{name: "a value that looks like an argument", args: []string{"--s", "a"}, max: 0, s: "a"},
		{name: "a value that looks like a flag", args: []string{"--s", "-b"}, max: 0, s: "-b"},
		{name: "a bool flag takes no value", args: []string{"-b", "a"}, max: 1, rest: []string{"a"}, b: true},
		{name: "-- ends the flags", args: []string{"--", "-b"}, max: 1, rest: []string{"-b"}},
		{name: "-- after an argument", args: []string{"a", "-b", "--", "--s"}, max: 2, rest: []string{"a", "--s"}, b: true},
		{name: "- is an argument (stdin)", args: []string{"-", "-b"}, max: 1, rest: []string{"-"}, b: true},
		{name: "too many arguments", args: []string{"a", "-b", "c"}, max: 1, wantErr: true},
		{name: "no argument taken", args: []string{"-b", "a"}, max: 0, wantErr: true},
		{name: "a flag without its value", args: []string{"a", "--s"}, max: 1, wantErr: true},
		{name: "an unknown flag after an argument", args: []string{"a", "--nope"}, max: 1, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs, s, b := newFS()
			rest, err := parseArgs(fs, tt.args, tt.max)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error; arguments %q", rest)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(rest, tt.rest) && len(rest)+len(tt.rest) > 0 || *s != tt.s || *b != tt.b {
				t.Fatalf("arguments %q, -s %q, -b %v, %v; want %q, %q, %v", rest, *s, *b, err, tt.rest, tt.s, tt.b)
			}
		})
	}
}

// flagCase says how to give a flag a value other than its default, and how to
// read it back from the parsed flags.
type flagCase[T any] struct {
	value string // "" for a bool flag, given alone
	get   func(*T) string
}

func list(l listFlag) string { return strings.Join(l, "|") }

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// TestCheckFlagsInEitherOrder gives every flag of check (every one its flag set
// defines: a new flag without a case here fails the test) before and after the
// event file, and sees its value in the parsed flags.
func TestCheckFlagsInEitherOrder(t *testing.T) {
	cases := map[string]flagCase[checkFlags]{
		"kind":            {"http", func(f *checkFlags) string { return f.kind }},
		"method":          {"DELETE", func(f *checkFlags) string { return f.method }},
		"path":            {"/orders/7?x=1", func(f *checkFlags) string { return f.path }},
		"route":           {"/orders/{id}", func(f *checkFlags) string { return f.route }},
		"token":           {"a.b.c", func(f *checkFlags) string { return f.token }},
		"claims":          {"claims.json", func(f *checkFlags) string { return f.claims }},
		"dev-issuer":      {"", func(f *checkFlags) string { return boolText(f.devIssuer) }},
		"dev-profile":     {"entra", func(f *checkFlags) string { return f.devProfile }},
		"sub":             {"alice", func(f *checkFlags) string { return f.sub }},
		"groups":          {"admins,readers", func(f *checkFlags) string { return f.groups }},
		"roles":           {"Orders.Read", func(f *checkFlags) string { return f.roles }},
		"scopes":          {"orders:read orders:write", func(f *checkFlags) string { return f.scope }},
		"identity-source": {"$request.header.Authorization,$context.routeKey", func(f *checkFlags) string { return f.identitySource }},
		"json":            {"", func(f *checkFlags) string { return boolText(f.json) }},
		"fail-unsafe":     {"", func(f *checkFlags) string { return boolText(f.failUnsafe) }},
		"log":             {"", func(f *checkFlags) string { return boolText(f.log) }},
		"header":          {"X-Tier: gold", func(f *checkFlags) string { return list(f.headers) }},
		"bundle":          {"candidate.tar.gz", func(f *checkFlags) string { return list(f.bundles) }},
	}
	fs, _ := newCheckFlags(io.Discard)
	fs.VisitAll(func(fl *flag.Flag) {
		t.Run(fl.Name, func(t *testing.T) {
			if fl.Name == "event" {
				// The event file is the flag's value or the argument, not both.
				for _, args := range [][]string{{"e.json", "--event", "f.json"}, {"--event", "f.json", "e.json"}} {
					if _, err := parseCheckArgs(args, io.Discard); err == nil {
						t.Errorf("%q: no error for two event files", args)
					}
				}
				if f, err := parseCheckArgs([]string{"--event", "f.json", "--json"}, io.Discard); err != nil || f.event != "f.json" || !f.json {
					t.Errorf("--event f.json --json: %+v, %v", f, err)
				}
				return
			}
			c, ok := cases[fl.Name]
			if !ok {
				t.Fatalf("no case for --%s: add one", fl.Name)
			}
			flagArgs, want := []string{"--" + fl.Name, c.value}, c.value
			if c.value == "" {
				flagArgs, want = []string{"--" + fl.Name}, "true"
			}
			if want == fl.DefValue {
				t.Fatalf("the case's value for --%s is its default, which proves nothing", fl.Name)
			}
			other := "--log=false"
			if fl.Name == "log" {
				other = "--json=false"
			}
			for _, args := range [][]string{
				append([]string{"e.json"}, flagArgs...),
				append(append([]string{}, flagArgs...), "e.json"),
				{other, "e.json", "-" + fl.Name + "=" + want},
			} {
				f, err := parseCheckArgs(args, io.Discard)
				if err != nil {
					t.Fatalf("%q: %v", args, err)
				}
				if got := c.get(f); got != want || f.event != "e.json" {
					t.Errorf("%q: --%s is %q, event %q; want %q, e.json", args, fl.Name, got, f.event, want)
				}
			}
		})
	})
}

// TestServeFlags gives every flag of serve and sees its value in the parsed
// flags, and refuses an argument wherever it is.
func TestServeFlags(t *testing.T) {
	cases := map[string]flagCase[serveFlags]{
		"addr":            {"127.0.0.1:9090", func(f *serveFlags) string { return f.addr }},
		"kind":            {"http", func(f *serveFlags) string { return f.kind }},
		"cache-ttl":       {"1m0s", func(f *serveFlags) string { return f.ttl.String() }},
		"identity-source": {"$request.header.Authorization,$context.routeKey", func(f *serveFlags) string { return f.identitySource }},
		"backend":         {"http://127.0.0.1:3000", func(f *serveFlags) string { return f.backend }},
		"watch":           {"", func(f *serveFlags) string { return boolText(f.watch) }},
		"dev-issuer":      {"", func(f *serveFlags) string { return boolText(f.devIssuer) }},
		"dev-profile":     {"okta", func(f *serveFlags) string { return f.devProfile }},
		"dev-issuer-addr": {"127.0.0.1:9091", func(f *serveFlags) string { return f.devAddr }},
		"decision-log":    {"", func(f *serveFlags) string { return boolText(f.decisionLog) }},
		"bundle":          {"rego/lib", func(f *serveFlags) string { return list(f.bundles) }},
		"stage-variable":  {"env=dev", func(f *serveFlags) string { return list(f.stageVariables) }},
		"route":           {"GET /orders/{id}", func(f *serveFlags) string { return list(f.routes) }},
	}
	fs, _ := newServeFlags(io.Discard)
	fs.VisitAll(func(fl *flag.Flag) {
		t.Run(fl.Name, func(t *testing.T) {
			c, ok := cases[fl.Name]
			if !ok {
				t.Fatalf("no case for --%s: add one", fl.Name)
			}
			flagArgs, want := []string{"--" + fl.Name, c.value}, c.value
			if c.value == "" {
				flagArgs, want = []string{"--" + fl.Name}, "true"
			}
			if want == fl.DefValue {
				t.Fatalf("the case's value for --%s is its default, which proves nothing", fl.Name)
			}
			other := "--watch=false"
			if fl.Name == "watch" {
				other = "--dev-issuer=false"
			}
			for _, args := range [][]string{
				append([]string{other}, flagArgs...),
				append(append([]string{}, flagArgs...), other),
				{other, "-" + fl.Name + "=" + want},
			} {
				fs, f := newServeFlags(io.Discard)
				if _, err := parseArgs(fs, args, 0); err != nil {
					t.Fatalf("%q: %v", args, err)
				}
				if got := c.get(f); got != want {
					t.Errorf("%q: --%s is %q, want %q", args, fl.Name, got, want)
				}
			}
			for _, args := range [][]string{append([]string{"stray"}, flagArgs...), append(append([]string{}, flagArgs...), "stray")} {
				fs, _ := newServeFlags(io.Discard)
				if _, err := parseArgs(fs, args, 0); err == nil {
					t.Errorf("%q: no error for an argument", args)
				}
			}
		})
	})
}
