package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/localgw"
)

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func check(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("authz check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		eventFile = fs.String("event", "", "an authorizer event `file` (JSON), or - for stdin; also the first argument")
		kind      = fs.String("kind", "rest", "with no event file, the event kind to build: "+strings.Join(localgw.Kinds, ", "))
		method    = fs.String("method", "GET", "with no event file, the request `method`")
		path      = fs.String("path", "/", "with no event file, the request `path`, with an optional ?query")
		route     = fs.String("route", "", "with no event file, the API's route `template` (default: the path)")
		token     = fs.String("token", "", "a bearer `token` for the request, verified against AUTHZ_ISSUERS or the dev issuer")
		devIssuer = fs.Bool("dev-issuer", false, "start a development OIDC issuer on loopback and trust it")
		sub       = fs.String("sub", "", "mint a token for this `subject` with the dev issuer (implies --dev-issuer)")
		groups    = fs.String("groups", "", "with --sub: comma-separated `groups` claim")
		roles     = fs.String("roles", "", "with --sub: comma-separated `roles` claim")
		scopes    = fs.String("scopes", "", "with --sub: space- or comma-separated `scope` claim")
		bundle    = fs.String("bundle", "", "a bundle `directory`, .tar.gz or URL (overrides AUTHZ_BUNDLE)")
		asJSON    = fs.Bool("json", false, "print one JSON object, for scripts")
		logs      = fs.Bool("log", false, "also print the decision-log line to stderr")
		headers   listFlag
	)
	fs.Var(&headers, "header", "with no event file, a request header `Name: value` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *eventFile == "" && fs.NArg() > 0 {
		*eventFile = fs.Arg(0)
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "authz check: "+format+"\n", a...)
		return exitUsage
	}
	if *sub != "" {
		*devIssuer = true
	}
	if *sub != "" && *token != "" {
		return fail("--sub mints a token; do not give --token as well")
	}

	cfg, err := config.FromEnv(os.Getenv, true) // a local tool: no issuer is needed for anonymous requests
	if err != nil {
		return fail("%v", err)
	}
	if *bundle != "" {
		cfg.Bundle = *bundle
	}
	var dev *devissuer.Issuer
	if *devIssuer {
		if dev, err = devissuer.Start(devissuer.Options{}); err != nil {
			return fail("%v", err)
		}
		defer dev.Close()
		cfg.Issuers = append(cfg.Issuers, identity.IssuerConfig{Issuer: dev.URL, Audiences: []string{dev.Audience()}})
	}
	if *sub != "" {
		claims := dev.Claims(*sub)
		claims["groups"] = splitList(*groups, ",")
		claims["roles"] = splitList(*roles, ",")
		claims["scope"] = strings.Join(splitList(*scopes, ", "), " ")
		if *token, err = dev.Mint(claims, nil); err != nil {
			return fail("minting a token: %v", err)
		}
	}

	var raw []byte
	switch {
	case *eventFile != "" && *token != "":
		return fail("put the token in the event file, or build the event from flags with --token")
	case *eventFile == "-":
		raw, err = io.ReadAll(stdin)
	case *eventFile != "":
		raw, err = os.ReadFile(*eventFile)
	default:
		h := http.Header{}
		for _, hv := range headers {
			name, value, ok := strings.Cut(hv, ":")
			if !ok {
				return fail("--header %q is not Name: value", hv)
			}
			h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		if *token != "" {
			h.Set("Authorization", "Bearer "+*token)
		}
		raw, err = localgw.Event(localgw.Request{Kind: *kind, Method: *method, Path: *path, Route: *route, Headers: h}, localgw.DefaultAPI)
	}
	if err != nil {
		return fail("%v", err)
	}

	logOut := io.Discard
	if *logs {
		logOut = stderr
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel}))
	ctx := context.Background()
	a, err := authorizer.Build(ctx, cfg, log)
	if err != nil {
		return fail("%v", err)
	}
	res := a.Authorize(ctx, raw)
	rep := newReport(res, a.Revision())
	if *asJSON {
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
	Outcome      string             `json:"outcome"`
	Status       int                `json:"status"`
	Reason       string             `json:"reason"`
	Error        string             `json:"error,omitempty"`
	DecisionID   string             `json:"decision_id"`
	Revision     string             `json:"policy_revision"`
	PrincipalID  string             `json:"principal_id,omitempty"`
	Reasons      []string           `json:"reasons,omitempty"`
	Input        map[string]any     `json:"input,omitempty"`
	Decision     any                `json:"decision,omitempty"`
	Response     any                `json:"response,omitempty"`
	MethodARN    string             `json:"method_arn,omitempty"`
	GatewayAllow *bool              `json:"api_gateway_allows,omitempty"`
	Context      map[string]any     `json:"context,omitempty"`
	Grants       []map[string]any   `json:"grants,omitempty"`
	res          *authorizer.Result `json:"-"`
}

func newReport(res *authorizer.Result, revision string) *report {
	r := &report{
		Outcome: string(res.Outcome), Reason: res.Reason, DecisionID: res.DecisionID, Revision: revision,
		PrincipalID: res.PrincipalID, Input: res.Input, Response: res.Response, res: res,
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
		r.Context = d.Context
		for _, g := range d.Grants {
			r.Grants = append(r.Grants, map[string]any{"method": g.Method, "path": g.Path})
		}
		r.Decision = map[string]any{"allow": d.Allow, "principal_id": d.PrincipalID, "grants": r.Grants,
			"context": d.Context, "usage_identifier_key": d.UsageIdentifierKey, "reasons": d.Reasons}
	}
	if res.Event != nil {
		r.MethodARN = res.Event.ARN.String()
		if allowed, ok := gatewayAllows(res.Response, r.MethodARN); ok {
			r.GatewayAllow = &allowed
		}
	}
	return r
}

// gatewayAllows applies API Gateway's rules to the response for the request's ARN.
func gatewayAllows(resp any, arn string) (bool, bool) {
	switch r := resp.(type) {
	case events.APIGatewayCustomAuthorizerResponse:
		return gateway.Allows(r.PolicyDocument, arn), true
	case events.APIGatewayV2CustomAuthorizerIAMPolicyResponse:
		return gateway.Allows(r.PolicyDocument, arn), true
	case events.APIGatewayV2CustomAuthorizerSimpleResponse:
		return r.IsAuthorized, true
	}
	return false, false
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
	if t := res.Token; t != nil {
		line("Token", "verified: issuer %s, subject %q", t.Issuer, t.Subject)
		line("", "groups %v, roles %v, scopes %v", t.Groups, t.Roles, t.Scopes)
	} else if res.Input != nil {
		line("Token", "none (anonymous request)")
	}
	if len(r.Reasons) > 0 {
		line("Reasons", "%s", strings.Join(r.Reasons, "\n             "))
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
	line("Decision", "%s (policy %s)", r.DecisionID, r.Revision)
	if res.Response != nil {
		b, _ := json.MarshalIndent(res.Response, "             ", "  ")
		line("Response", "%s", b)
	}
	if res.Input != nil {
		b, _ := json.MarshalIndent(res.Input, "             ", "  ")
		line("Input", "%s", b)
	}
}
