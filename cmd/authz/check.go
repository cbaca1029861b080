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
	json, log                             bool
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
	fs.Var(&f.headers, "header", "with no event file, a request header `Name: value` (repeatable)")
	fs.Var(&f.bundles, "bundle", "a bundle `directory`, .tar.gz or URL (overrides AUTHZ_BUNDLE); repeat to layer directories")
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
	if err != nil {
		return fail("%v", err)
	}
	dirs, err := chooseBundle(&cfg, f.bundles)
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
	rep.CacheWarnings = localgw.CacheWarnings(ctx, a, res, idSources)
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
	Outcome       string             `json:"outcome"`
	Status        int                `json:"status"`
	Reason        string             `json:"reason"`
	Error         string             `json:"error,omitempty"`
	Unverified    bool               `json:"unverified_claims"`
	DecisionID    string             `json:"decision_id"`
	Revision      string             `json:"policy_revision"`
	PrincipalID   string             `json:"principal_id,omitempty"`
	Reasons       []string           `json:"reasons,omitempty"`
	Input         map[string]any     `json:"input,omitempty"`
	Decision      any                `json:"decision,omitempty"`
	Response      any                `json:"response,omitempty"`
	Context       any                `json:"context,omitempty"`
	MethodARN     string             `json:"method_arn,omitempty"`
	GatewayAllow  *bool              `json:"api_gateway_allows,omitempty"`
	CacheWarnings []string           `json:"cache_warnings"`
	GrantWarnings []string           `json:"grant_warnings"`
	Grants        []map[string]any   `json:"grants,omitempty"`
	res           *authorizer.Result `json:"-"`
}

func newReport(res *authorizer.Result, revision string, unverified bool) *report {
	r := &report{
		Outcome: string(res.Outcome), Reason: res.Reason, DecisionID: res.DecisionID, Revision: revision,
		Unverified: unverified, PrincipalID: res.PrincipalID, Input: res.Input, Response: res.Response, res: res,
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

func (r *report) exitCode() int {
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
	switch res.Outcome {
	case authorizer.OutcomeAllow:
		what = "ALLOW: API Gateway forwards the request to the backend"
	case authorizer.OutcomeDeny:
		what = "DENY: API Gateway answers 403 Forbidden"
	case authorizer.OutcomeUnauthorized:
		what = "UNAUTHORIZED: API Gateway answers 401 Unauthorized"
	default:
		what = "ERROR: the decision failed; API Gateway answers 403 Forbidden"
	}
	line("Outcome", "%s", what)
	line("Reason", "%s", r.Reason)
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
	case len(r.CacheWarnings) == 0:
		line("Cache", "safe: a cached response answers this caller's other requests as the policy would")
	default:
		line("Cache", "UNSAFE with authorizer caching on (TTL > 0):%s- %s", indent, strings.Join(r.CacheWarnings, indent+"- "))
	}
	if len(r.GrantWarnings) > 0 {
		line("Wildcards", "%s", strings.Join(r.GrantWarnings, indent))
	}
	line("Decision", "%s (policy %s)", r.DecisionID, r.Revision)
	if res.Response != nil {
		b, _ := json.MarshalIndent(res.Response, indent[1:], "  ")
		line("Response", "%s", b)
	}
	if res.Input != nil {
		b, _ := json.MarshalIndent(res.Input, indent[1:], "  ")
		line("Input", "%s", b)
	}
}
