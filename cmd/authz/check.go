package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/localgw"
	"github.com/apigw-authz/authz/internal/logging"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// exitUnsafe is check's exit status, with --fail-unsafe, for a decision whose
// cache verdict is UNSAFE.
const exitUnsafe = 6

// unverifiedBearer stands for the token in a request whose claims come from
// --claims: the claims verifier ignores it.
const unverifiedBearer = "unverified.claims.from-a-file"

// checkFlags are check's flags, parsed.
type checkFlags struct {
	event, kind, method, path, route      string
	token, claims                         string
	devIssuer                             bool
	devProfile, sub, groups, roles, scope string
	identitySource                        string
	json, log, failUnsafe                 bool
	headers, bundles                      listFlag
}

// newCheckFlags defines check's flags on a new flag set writing to stderr.
func newCheckFlags(stderr io.Writer) (*flag.FlagSet, *checkFlags) {
	fs := flag.NewFlagSet("authz check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	f := &checkFlags{}
	fs.StringVar(&f.event, "event", "", "an authorizer event `file` (JSON), or - for stdin; also the argument")
	fs.StringVar(&f.kind, "kind", "rest", "with no event file, the event kind to build: "+strings.Join(localgw.Kinds, ", "))
	fs.StringVar(&f.method, "method", "GET", "with no event file, the request `method`")
	fs.StringVar(&f.path, "path", "/", "with no event file, the request `path`, with an optional ?query")
	fs.StringVar(&f.route, "route", "", "with no event file, the API's route `template` (default: the path)")
	fs.StringVar(&f.token, "token", "", "a bearer `token` for the request, verified against AUTHZ_ISSUERS or the dev issuer")
	fs.StringVar(&f.claims, "claims", "", "UNVERIFIED claims for the request, from a JSON `file`: no signature is checked")
	fs.BoolVar(&f.devIssuer, "dev-issuer", false, "start a development OIDC issuer on loopback and trust it")
	fs.StringVar(&f.devProfile, "dev-profile", "generic", "with --sub, the token shape: "+strings.Join(devissuer.Profiles, ", "))
	fs.StringVar(&f.sub, "sub", "", "mint a token for this `subject` with the dev issuer (implies --dev-issuer)")
	fs.StringVar(&f.groups, "groups", "", "with --sub: comma-separated groups")
	fs.StringVar(&f.roles, "roles", "", "with --sub: comma-separated roles")
	fs.StringVar(&f.scope, "scopes", "", "with --sub: space- or comma-separated scopes")
	fs.StringVar(&f.identitySource, "identity-source", "", "the authorizer's identity sources, which key the cache, for the cache check: a comma `list` in API Gateway's syntax ($request.header.Authorization,$context.routeKey) or header:NAME, query:NAME, cookie:NAME, context:NAME, stage:NAME (default: AUTHZ_TOKEN_SOURCES)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object, for scripts")
	fs.BoolVar(&f.log, "log", false, "also print the decision-log line to stderr")
	fs.BoolVar(&f.failUnsafe, "fail-unsafe", false, "exit with status 6 when the cache verdict is UNSAFE, for a CI gate")
	fs.Var(&f.headers, "header", "with no event file, a request header `Name: value` (repeatable)")
	fs.Var(&f.bundles, "bundle", "a bundle `directory`, .tar.gz or URL (overrides AUTHZ_BUNDLE); repeat to layer directories")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `Usage: authz check [flags] [EVENT.json|-]

Decide one request with the authorizer's core, explain it, and say whether API
Gateway's authorizer cache would answer the caller's other requests as the
policy would. "Cache safe" means no disagreement on the requests it replayed
(counted in the output), not a proof for every request.

Flags (before or after the event file):
`)
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), `
Exit status: 0 allow, 3 deny (403), 4 unauthorized (401; also when the request
lacks an identity source given with --identity-source: API Gateway answers 401
without calling the authorizer), 5 the decision failed (403), 6 the cache
verdict is UNSAFE (with --fail-unsafe; in place of 0, 3 or 4), 2 usage or
configuration error.
`)
	}
	return fs, f
}

// parseCheckArgs parses check's flags, wherever they are, and its argument,
// the event file.
func parseCheckArgs(args []string, stderr io.Writer) (*checkFlags, error) {
	fs, f := newCheckFlags(stderr)
	rest, err := parseArgs(fs, args, 1)
	if err != nil {
		return nil, err
	}
	if len(rest) == 1 {
		if f.event != "" {
			fmt.Fprintf(stderr, "authz check: --event %s and the argument %s: give one event file\n", f.event, rest[0])
			return nil, errArguments
		}
		f.event = rest[0]
	}
	return f, nil
}

func check(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f, err := parseCheckArgs(args, stderr)
	if err != nil {
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "authz check: "+format+"\n", a...)
		return exitUsage
	}
	given := 0
	for _, v := range []string{f.sub, f.token, f.claims} {
		if v != "" {
			given++
		}
	}
	if given > 1 {
		return fail("give one of --sub, --token and --claims")
	}
	if f.sub != "" {
		f.devIssuer = true
	}

	cfg, err := config.FromEnv(os.Getenv, true) // a local tool: no issuer is needed for anonymous requests
	cfg.PolicyMentions = true                   // for the cache-safety probes
	if err != nil {
		return fail("%v", err)
	}
	dirs, source, err := chooseBundle(&cfg, f.bundles)
	if err != nil {
		return fail("%v", err)
	}
	idSources := localgw.IdentitySourcesOf(cfg.TokenSources)
	if f.identitySource != "" {
		if idSources, err = localgw.ParseIdentitySources(f.identitySource); err != nil {
			return fail("--identity-source: %v", err)
		}
	}
	token := f.token
	if f.devIssuer {
		dev, err := devissuer.Start(devissuer.Options{Profile: f.devProfile})
		if err != nil {
			return fail("%v", err)
		}
		defer dev.Close()
		cfg.Issuers = append(cfg.Issuers, identity.IssuerConfig{Issuer: dev.URL, Profile: f.devProfile,
			Audiences: []string{dev.AcceptedAudience()}, AccessTokenIssuer: dev.AccessTokenIssuer()})
		if f.sub != "" {
			p := devissuer.Principal{Subject: f.sub, Groups: splitList(f.groups, ","), Roles: splitList(f.roles, ","), Scopes: splitList(f.scope, ", ")}
			if token, err = dev.MintFor(p); err != nil {
				return fail("minting a token: %v", err)
			}
		}
	}
	var verifier authorizer.Verifier
	if f.claims != "" {
		claims, err := readClaims(f.claims)
		if err != nil {
			return fail("--claims: %v", err)
		}
		issuers, err := identity.New(cfg.Issuers, identity.Options{})
		if err != nil {
			return fail("%v", err)
		}
		verifier = claimsVerifier{issuers.Unverified(claims)}
		token = unverifiedBearer // the claims stand for a token
	}

	var raw []byte
	switch {
	case f.event == "-":
		raw, err = io.ReadAll(stdin)
	case f.event != "":
		raw, err = os.ReadFile(f.event)
	default:
		h := http.Header{}
		for _, hv := range f.headers {
			name, value, ok := strings.Cut(hv, ":")
			if !ok {
				return fail("--header %q is not Name: value", hv)
			}
			h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		raw, err = localgw.Event(localgw.Request{Kind: f.kind, Method: f.method, Path: f.path, Route: f.route, Headers: h}, localgw.DefaultAPI)
	}
	if err == nil && token != "" {
		// Put the token where the authorizer looks for it (AUTHZ_TOKEN_SOURCES).
		raw, err = localgw.WithToken(raw, cfg.TokenSources, token)
	}
	if err != nil {
		return fail("%v", err)
	}

	logOut := io.Discard
	if f.log {
		logOut = stderr
	}
	log := logging.JSON(logOut, cfg.LogLevel)
	ctx := context.Background()
	a, err := authorizer.BuildWithVerifier(ctx, cfg, log, verifier)
	if err != nil {
		return fail("%s", localgw.NameSourceFiles(err.Error(), dirs))
	}
	res := a.Authorize(ctx, raw)
	rep := newReport(res, a.Revision(), f.claims != "")
	rep.Source = source
	if f.identitySource != "" {
		// The authorizer's identity sources are known: without one of them
		// API Gateway answers 401 and never calls the authorizer.
		if ev, err := gateway.Decode(raw); err == nil {
			rep.identitySourcesMissing(idSources.Missing(ev))
		}
	}
	if len(rep.MissingSources) == 0 {
		verdict := localgw.CheckCache(ctx, a, res, idSources)
		rep.CacheWarnings, rep.CacheProbes = append(rep.CacheWarnings, verdict.Warnings...), verdict.Probes
	}
	rep.failUnsafe = f.failUnsafe
	if res.Decision != nil {
		rep.GrantWarnings = localgw.WildcardWarnings(res.Decision.Grants)
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, err)
			return exitFailure
		}
	} else {
		rep.print(stdout)
	}
	return rep.exitCode()
}

// claimsVerifier hands out claims read from a file, unverified.
type claimsVerifier struct{ token *identity.Token }

func (c claimsVerifier) Verify(context.Context, string) (*identity.Token, error) { return c.token, nil }

func readClaims(file string) (map[string]any, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("%s is not a JSON object: %v", file, err)
	}
	return claims, nil
}

func splitList(s, separators string) []string {
	out := []string{}
	for _, v := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(separators, r) }) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// report is what check shows of a decision; its JSON form is for scripts.
type report struct {
	Outcome      string         `json:"outcome"`
	Status       int            `json:"status"`
	Reason       string         `json:"reason"`
	Error        string         `json:"error,omitempty"`
	Unverified   bool           `json:"unverified_claims"`
	DecisionID   string         `json:"decision_id"`
	Revision     string         `json:"policy_revision"`
	Source       string         `json:"policy_source"`
	PrincipalID  string         `json:"principal_id,omitempty"`
	Reasons      []string       `json:"reasons,omitempty"`
	Input        map[string]any `json:"input,omitempty"`
	Decision     any            `json:"decision,omitempty"`
	Response     any            `json:"response,omitempty"`
	Context      any            `json:"context,omitempty"`
	MethodARN    string         `json:"method_arn,omitempty"`
	GatewayAllow *bool          `json:"api_gateway_allows,omitempty"`
	// MissingSources are the identity sources the request lacks: API Gateway
	// answers 401 without calling the authorizer, whatever it would decide.
	MissingSources []string `json:"identity_sources_missing,omitempty"`
	// CacheWarnings is never null: [] for a cache-safe decision.
	CacheWarnings []string `json:"cache_warnings"`
	// CacheProbes counts the caller's other requests with this request's
	// cache key that the cache check replayed.
	CacheProbes   int                `json:"cache_probes"`
	GrantWarnings []string           `json:"grant_warnings"`
	Grants        []map[string]any   `json:"grants,omitempty"`
	res           *authorizer.Result `json:"-"`
	failUnsafe    bool
}

func newReport(res *authorizer.Result, revision string, unverified bool) *report {
	r := &report{
		Outcome: string(res.Outcome), Reason: res.Reason, DecisionID: res.DecisionID, Revision: revision,
		Unverified: unverified, PrincipalID: res.PrincipalID, Input: res.Input, Response: res.Response, res: res,
		CacheWarnings: []string{},
	}
	switch res.Outcome {
	case authorizer.OutcomeAllow:
		r.Status = http.StatusOK
	case authorizer.OutcomeUnauthorized:
		r.Status = http.StatusUnauthorized
	default:
		r.Status = http.StatusForbidden
	}
	if res.Err != nil {
		r.Error = res.Err.Error()
	}
	if d := res.Decision; d != nil {
		r.Reasons = d.Reasons
		for _, g := range d.Grants {
			r.Grants = append(r.Grants, map[string]any{"method": g.Method, "path": g.Path})
		}
		r.Decision = map[string]any{"allow": d.Allow, "principal_id": d.PrincipalID, "grants": r.Grants,
			"context": d.Context, "usage_identifier_key": d.UsageIdentifierKey, "reasons": d.Reasons}
	}
	if res.Event != nil {
		r.MethodARN = res.Event.ARN.String()
		if view, ok := gateway.ViewOf(res.Response); ok {
			allowed := view.Effect(r.MethodARN) == "Allow"
			r.GatewayAllow, r.Context = &allowed, view.Context
		}
	}
	return r
}

// identitySourcesMissing makes the report API Gateway's 401 for a request
// without these identity sources, if any: the authorizer is not called.
func (r *report) identitySourcesMissing(missing localgw.IdentitySources) {
	if len(missing) == 0 {
		return
	}
	for _, src := range missing {
		r.MissingSources = append(r.MissingSources, localgw.IdentitySources{src}.String())
	}
	r.Outcome, r.Status, r.Reason = string(authorizer.OutcomeUnauthorized), http.StatusUnauthorized, "identity_source_missing"
	r.GatewayAllow = nil
}

func (r *report) exitCode() int {
	code := r.outcomeCode()
	if r.failUnsafe && len(r.CacheWarnings) > 0 && code != exitError && len(r.MissingSources) == 0 {
		return exitUnsafe
	}
	return code
}

func (r *report) outcomeCode() int {
	switch authorizer.Outcome(r.Outcome) {
	case authorizer.OutcomeAllow:
		return exitAllow
	case authorizer.OutcomeDeny:
		return exitDeny
	case authorizer.OutcomeUnauthorized:
		return exitUnauthorized
	default:
		return exitError
	}
}

func (r *report) print(w io.Writer) {
	res := r.res
	const indent = "\n             "
	line := func(label, format string, a ...any) {
		fmt.Fprintf(w, "%-12s "+format+"\n", append([]any{label}, a...)...)
	}
	var what string
	switch {
	case len(r.MissingSources) > 0:
		what = "UNAUTHORIZED: API Gateway answers 401 Unauthorized without calling the authorizer: the request lacks the identity source " + strings.Join(r.MissingSources, ", ")
	case res.Outcome == authorizer.OutcomeAllow:
		what = "ALLOW: API Gateway forwards the request to the backend"
	case res.Outcome == authorizer.OutcomeDeny:
		what = "DENY: API Gateway answers 403 Forbidden"
	case res.Outcome == authorizer.OutcomeUnauthorized:
		what = "UNAUTHORIZED: API Gateway answers 401 Unauthorized"
	default:
		what = "ERROR: the decision failed; API Gateway answers 403 Forbidden"
	}
	line("Outcome", "%s", what)
	line("Reason", "%s", r.Reason)
	if len(r.MissingSources) > 0 {
		line("Authorizer", "not called by API Gateway; had it been, it would answer %s (%s), as follows", res.Outcome, res.Reason)
	}
	if r.Error != "" {
		line("Why", "%s", r.Error)
	}
	if ev := res.Event; ev != nil {
		req := ev.Request
		line("Request", "%s %s %s (%s)", req.Kind, req.Method, req.Path, r.MethodARN)
	}
	switch t := res.Token; {
	case t != nil && r.Unverified:
		line("Token", "UNVERIFIED CLAIMS from a file (no signature checked): profile %s, subject %q", t.Profile, t.Subject)
		line("", "groups %v, roles %v, scopes %v", t.Groups, t.Roles, t.Scopes)
	case t != nil:
		line("Token", "verified: issuer %s (%s), subject %q", t.Issuer, t.Profile, t.Subject)
		line("", "groups %v, roles %v, scopes %v", t.Groups, t.Roles, t.Scopes)
		if t.GroupsOverage {
			line("", "GROUPS OVERAGE: the provider left groups out; the list is incomplete")
		}
	case res.Input != nil:
		line("Token", "none (anonymous request)")
	}
	if len(r.Reasons) > 0 {
		line("Reasons", "%s", strings.Join(r.Reasons, indent))
	}
	if r.PrincipalID != "" && res.Response != nil {
		line("Principal", "%s", r.PrincipalID)
	}
	if len(r.Grants) > 0 {
		parts := make([]string, len(r.Grants))
		for i, g := range r.Grants {
			parts[i] = fmt.Sprintf("%v %v", g["method"], g["path"])
		}
		line("Grants", "%s", strings.Join(parts, ", "))
	}
	if r.GatewayAllow != nil {
		verdict := "refuses"
		if *r.GatewayAllow {
			verdict = "allows"
		}
		line("Gateway", "the returned response %s %s", verdict, r.MethodARN)
	}
	if r.Context != nil {
		b, _ := json.Marshal(r.Context)
		line("Context", "$context.authorizer: %s", b)
	}
	switch {
	case res.Decision == nil:
	case len(r.MissingSources) > 0:
		line("Cache", "not checked: API Gateway calls no authorizer, and caches nothing, for a request without its identity sources")
	case len(r.CacheWarnings) == 0 && r.CacheProbes == 0:
		line("Cache", "safe: no other request of this caller that was tried has this request's cache key")
	case len(r.CacheWarnings) == 0:
		line("Cache", "safe: no disagreement on %d probed requests of this caller with this request's cache key (other verbs and paths, the paths the policy names, headers, query, cookies, times): a cached response answered them as the policy would; not a proof for every request", r.CacheProbes)
	default:
		line("Cache", "UNSAFE with authorizer caching on (TTL > 0):%s- %s", indent, strings.Join(r.CacheWarnings, indent+"- "))
	}
	if len(r.GrantWarnings) > 0 {
		line("Wildcards", "%s", strings.Join(r.GrantWarnings, indent))
	}
	line("Decision", "%s (policy %s, %s)", r.DecisionID, r.Revision, r.Source)
	if res.Response != nil {
		b, _ := json.MarshalIndent(res.Response, indent[1:], "  ")
		line("Response", "%s", b)
	}
	if res.Input != nil {
		b, _ := json.MarshalIndent(res.Input, indent[1:], "  ")
		line("Input", "%s", b)
	}
}
