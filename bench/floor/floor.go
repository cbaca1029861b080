// Package floor is the hand-written authorizer the performance comparison
// (issue 12) measures the project against: what a team would write without a
// policy engine. It decodes the event once into aws-lambda-go's types, takes
// the bearer token, verifies it with go-oidc against static keys, maps the
// token's groups, roles and scopes to roles and grants with map lookups (the
// default policy's logic in plain Go), and answers the IAM policy the project
// answers: an Allow of every grant as resource ARNs, and a Deny of the method
// ARN when no grant covers the request.
//
// It is the floor: straightforward and honest, neither tuned nor slowed down.
// Its parts (Read, Decide, Respond, Input) also serve the peers that ask
// another engine for the decision, so that they differ from it only there.
package floor

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// ErrUnauthorized is the error API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized") //nolint:staticcheck // API Gateway matches this exact text

// Grant is a method ("*" for any) and an IAM path pattern.
type Grant struct {
	Method string `json:"method"`
	Path   string `json:"path"`
}

// Data is the default policy's data (data.rbac) in Go types.
type Data struct {
	// Public grants are granted to everyone, with or without a token.
	Public []Grant
	// Bindings maps "groups", "roles" and "scopes", then a value of that
	// claim, to roles.
	Bindings map[string]map[string][]string
	// Grants maps a role to what it grants.
	Grants map[string][]Grant
}

// ParseData reads Data from the policy's data document ({"rbac": {...}}), as
// JSON or as decoded JSON (map[string]any).
func ParseData(doc any) (Data, error) {
	b, ok := doc.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(doc); err != nil {
			return Data{}, err
		}
	}
	var d struct {
		RBAC struct {
			Public   []Grant                        `json:"public"`
			Bindings map[string]map[string][]string `json:"bindings"`
			Grants   map[string][]Grant             `json:"grants"`
		} `json:"rbac"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return Data{}, fmt.Errorf("floor: the data document: %v", err)
	}
	return Data{Public: d.RBAC.Public, Bindings: d.RBAC.Bindings, Grants: d.RBAC.Grants}, nil
}

// Authorizer is the hand-written authorizer. It is safe for concurrent use.
type Authorizer struct {
	verifier *oidc.IDTokenVerifier
	data     Data
}

// New returns an authorizer trusting tokens of issuer for audience, signed by
// one of keys.
func New(issuer, audience string, keys *jose.JSONWebKeySet, data Data) *Authorizer {
	var public []crypto.PublicKey
	for _, k := range keys.Keys {
		public = append(public, k.Key)
	}
	v := oidc.NewVerifier(issuer, &oidc.StaticKeySet{PublicKeys: public}, &oidc.Config{ClientID: audience})
	return &Authorizer{verifier: v, data: data}
}

// Invoke is a raw Lambda handler: the event's bytes in, the response's JSON
// out, or ErrUnauthorized.
func (a *Authorizer) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	r, err := a.Read(ctx, event)
	if err != nil {
		return nil, err
	}
	d := a.Decide(r)
	if !d.Allow && r.Token == nil {
		return nil, ErrUnauthorized
	}
	return Respond(r, d)
}

// Claims are the claims the decision reads.
type Claims struct {
	Subject string   `json:"sub"`
	Tenant  string   `json:"tid"`
	Groups  []string `json:"groups"`
	Roles   []string `json:"roles"`
	Scp     string   `json:"scp"`
	Scope   string   `json:"scope"`
}

// Scopes are the token's scopes: scope or scp, split on spaces.
func (c *Claims) Scopes() []string {
	s := c.Scope
	if s == "" {
		s = c.Scp
	}
	return strings.Fields(s)
}

// Request is an event read and its token, if any, verified.
type Request struct {
	Event events.APIGatewayCustomAuthorizerRequestTypeRequest
	// Method and Path are what the method ARN names; prefix is the ARN up to
	// the verb (arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/).
	Method, Path string
	prefix       string
	// Token is the verified token, nil without one; Claims are its claims.
	Token  *oidc.IDToken
	Claims Claims
}

// Read decodes the event, takes the bearer token and verifies it. A token that
// is malformed or fails verification is ErrUnauthorized.
func (a *Authorizer) Read(ctx context.Context, event []byte) (*Request, error) {
	r := &Request{}
	if err := json.Unmarshal(event, &r.Event); err != nil {
		return nil, fmt.Errorf("floor: the event: %v", err)
	}
	var err error
	if r.prefix, r.Method, r.Path, err = parseARN(r.Event.MethodArn); err != nil {
		return nil, err
	}
	raw, ok := bearer(r.Event.Headers)
	if !ok {
		return nil, ErrUnauthorized
	}
	if raw == "" {
		return r, nil
	}
	tok, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, ErrUnauthorized
	}
	if err := tok.Claims(&r.Claims); err != nil {
		return nil, ErrUnauthorized
	}
	r.Token = tok
	return r, nil
}

// bearer returns the token of the Authorization header: "" without the header,
// false when it is not a bearer token.
func bearer(headers map[string]string) (string, bool) {
	h, ok := headers["Authorization"]
	if !ok {
		for k, v := range headers {
			if strings.EqualFold(k, "Authorization") {
				h, ok = v, true
				break
			}
		}
	}
	if !ok {
		return "", true
	}
	scheme, tok, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// parseARN splits an execute-api method ARN into the prefix up to the verb,
// the verb and the path ("/..." or "").
func parseARN(arn string) (prefix, method, path string, err error) {
	fields := strings.SplitN(arn, ":", 6)
	if len(fields) != 6 || fields[0] != "arn" || fields[2] != "execute-api" {
		return "", "", "", fmt.Errorf("floor: %q is not an execute-api ARN", arn)
	}
	rest := fields[5]
	segments := strings.SplitN(rest, "/", 4)
	if len(segments) < 3 {
		return "", "", "", fmt.Errorf("floor: ARN %q lacks an API id, stage or verb", arn)
	}
	prefix = arn[:len(arn)-len(rest)] + segments[0] + "/" + segments[1] + "/"
	method = segments[2]
	if len(segments) == 4 {
		path = "/" + segments[3]
	}
	return prefix, method, path, nil
}

// Decision is what the default policy decides.
type Decision struct {
	Allow       bool
	PrincipalID string
	// Grants are every grant of the caller, public ones included, each once.
	Grants []Grant
	// Roles are the caller's roles, sorted; Tenant is the token's tenant.
	Roles  []string
	Tenant string
}

// Decide applies the default policy: the token's groups, roles and scopes bind
// to roles, roles grant methods and path patterns, public routes are granted
// to everyone, and the request is allowed when a grant covers it.
func (a *Authorizer) Decide(r *Request) Decision {
	d := Decision{PrincipalID: "anonymous"}
	grants := make(map[Grant]bool, len(a.data.Public)+8)
	add := func(g Grant) {
		if !grants[g] {
			grants[g] = true
			d.Grants = append(d.Grants, g)
		}
		if !d.Allow && covers(g, r.Method, r.Path) {
			d.Allow = true
		}
	}
	for _, g := range a.data.Public {
		add(g)
	}
	if r.Token != nil {
		c := &r.Claims
		if c.Subject != "" {
			d.PrincipalID = c.Subject
		}
		d.Tenant = c.Tenant
		roles := map[string]bool{}
		bind := func(kind string, values []string) {
			bound := a.data.Bindings[kind]
			for _, v := range values {
				for _, role := range bound[v] {
					if !roles[role] {
						roles[role] = true
						d.Roles = append(d.Roles, role)
					}
				}
			}
		}
		bind("groups", c.Groups)
		bind("roles", c.Roles)
		bind("scopes", c.Scopes())
		sort.Strings(d.Roles)
		for _, role := range d.Roles {
			for _, g := range a.data.Grants[role] {
				add(g)
			}
		}
	}
	return d
}

// covers reports whether a grant covers a request, as lib.iam.covers does.
func covers(g Grant, method, path string) bool {
	if g.Method != "*" && strings.ToUpper(g.Method) != method {
		return false
	}
	return wildcardMatch(g.Path, path)
}

// verbs are the methods a grant of "*" stands for in an ARN.
var verbs = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// Resources are the ARNs on the request's API and stage that cover the
// grants: one per verb for a method of "*", none for a grant that is not a
// path (a WebSocket route key).
func (r *Request) Resources(grants []Grant) []string {
	out := make([]string, 0, len(grants)+len(verbs))
	for _, g := range grants {
		if !strings.HasPrefix(g.Path, "/") && !strings.HasPrefix(g.Path, "*") {
			continue
		}
		if g.Method == "*" {
			for _, v := range verbs {
				out = append(out, r.prefix+v+g.Path)
			}
			continue
		}
		out = append(out, r.prefix+g.Method+g.Path)
	}
	return out
}

// Respond encodes the response for a decision: an Allow of every grant, and
// a Deny of the method ARN first when the request is denied.
func Respond(r *Request, d Decision) ([]byte, error) {
	resources := r.Resources(d.Grants)
	var statements []events.IAMPolicyStatement
	if !d.Allow {
		statements = append(statements, statement("Deny", []string{r.Event.MethodArn}))
	}
	if len(resources) > 0 {
		statements = append(statements, statement("Allow", resources))
	}
	resp := events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:    d.PrincipalID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: statements},
		Context:        map[string]any{"tenant": d.Tenant, "roles": strings.Join(d.Roles, ",")},
	}
	return json.Marshal(resp)
}

func statement(effect string, resources []string) events.IAMPolicyStatement {
	return events.IAMPolicyStatement{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: resources}
}

// Input is the policy's input document for the request, shaped as the
// project's (input.request and input.token), for the peers that ask a Rego
// engine: headers lower-cased without the Authorization header the token came
// from, and the token's named fields beside every claim.
func (r *Request) Input() (map[string]any, error) {
	e := &r.Event
	headers := make(map[string]any, len(e.Headers))
	for k, v := range e.Headers {
		k = strings.ToLower(k)
		if k != "authorization" {
			headers[k] = v
		}
	}
	request := map[string]any{
		"kind":            "rest",
		"method":          r.Method,
		"path":            r.Path,
		"raw_path":        e.Path,
		"route":           e.Resource,
		"route_key":       r.Method + " " + e.Resource,
		"headers":         headers,
		"query":           stringMap(e.QueryStringParameters),
		"path_params":     stringMap(e.PathParameters),
		"stage_variables": stringMap(e.StageVariables),
		"cookies":         map[string]any{},
		"source_ip":       e.RequestContext.Identity.SourceIP,
		"user_agent":      headers["user-agent"],
		"api_id":          e.RequestContext.APIID,
		"stage":           e.RequestContext.Stage,
		"account_id":      e.RequestContext.AccountID,
		"region":          strings.SplitN(e.MethodArn, ":", 5)[3],
		"domain_name":     headers["host"],
		"request_id":      e.RequestContext.RequestID,
		"time_ms":         0, // not in aws-lambda-go's type of this event
		"method_arn":      e.MethodArn,
		"connection_id":   "",
	}
	input := map[string]any{"request": request}
	if r.Token == nil {
		return input, nil
	}
	var claims map[string]any
	if err := r.Token.Claims(&claims); err != nil {
		return nil, err
	}
	c := &r.Claims
	clientID, _ := claims["azp"].(string)
	name, _ := claims["name"].(string)
	email, _ := claims["email"].(string)
	input["token"] = map[string]any{
		"issuer":         r.Token.Issuer,
		"profile":        "generic",
		"subject":        c.Subject,
		"audience":       nonNil(r.Token.Audience),
		"client_id":      clientID,
		"tenant":         c.Tenant,
		"email":          email,
		"name":           name,
		"scopes":         nonNil(c.Scopes()),
		"groups":         nonNil(c.Groups),
		"roles":          nonNil(c.Roles),
		"groups_overage": false,
		"expires_at":     r.Token.Expiry.Unix(),
		"issued_at":      r.Token.IssuedAt.Unix(),
		"claims":         claims,
	}
	return input, nil
}

// FromPolicy reads a decision document of the default policy (allow,
// principal_id, grants, context) as decoded JSON.
func FromPolicy(doc map[string]any) (Decision, error) {
	var d Decision
	allow, ok := doc["allow"].(bool)
	if !ok {
		return d, errors.New("floor: the decision has no boolean allow")
	}
	d.Allow = allow
	d.PrincipalID, _ = doc["principal_id"].(string)
	grants, _ := doc["grants"].([]any)
	for _, g := range grants {
		m, _ := g.(map[string]any)
		method, _ := m["method"].(string)
		path, _ := m["path"].(string)
		d.Grants = append(d.Grants, Grant{Method: method, Path: path})
	}
	if ctx, ok := doc["context"].(map[string]any); ok {
		d.Tenant, _ = ctx["tenant"].(string)
		roles, _ := ctx["roles"].([]any)
		for _, r := range roles {
			if s, ok := r.(string); ok {
				d.Roles = append(d.Roles, s)
			}
		}
		slices.Sort(d.Roles)
	}
	return d, nil
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// wildcardMatch matches s against an IAM pattern: '*' matches any run of
// characters and '?' exactly one; nothing else is special. On a mismatch the
// last '*' takes one more character and matching resumes after it.
func wildcardMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		if p < len(pattern) && pattern[p] == '*' {
			star, mark = p, i
			p++
			continue
		}
		_, n := utf8.DecodeRuneInString(s[i:])
		if p < len(pattern) {
			_, pn := utf8.DecodeRuneInString(pattern[p:])
			if pattern[p] == '?' || pattern[p:p+pn] == s[i:i+n] {
				p += pn
				i += n
				continue
			}
		}
		if star < 0 {
			return false
		}
		_, m := utf8.DecodeRuneInString(s[mark:])
		mark += m
		p, i = star+1, mark
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
