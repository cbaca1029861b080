package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/internal/awsgolden"
	"github.com/apigw-authz/authz/internal/decision"
)

// The fuzz targets of this file drive the adapter end to end, one per event
// kind: an event built from a sample with fuzzed pieces (so that nearly every
// input decodes and the responses are what gets explored), plus one target of
// arbitrary bytes. Every event that decodes is answered with Allow, Deny and
// Fail by each Responder a deployment can run, and held to what API Gateway
// must be told:
//
//   - Fail allows nothing, to any ARN, and denies the request's own;
//   - Allow allows the request, and its Allow statement names exactly the
//     decision's grants and, only when they do not cover it, the request's
//     ARN, free of wildcards; with grants, its Deny of ambiguous paths is
//     there and covers no ARN the policy allows; refusing with
//     ErrNotRepresentable is always acceptable, allowing more never is;
//   - Deny explicitly denies the request's ARN and allows only the grants;
//   - every Resource fits API Gateway's 512 characters;
//   - the response has the format and context API Gateway expects of the
//     event's kind, and encodes;
//   - nothing panics, and an event that fails to decode is answered with Fail
//     alone, as the authorizer does.
//
// A grant's Resources are taken as ARN.Resources names them: that they cover
// what the policy's own matching does is FuzzRegoVsIAM's to check, and that
// the Deny of ambiguous paths agrees with the path rule FuzzAmbiguousPathDeny's.
// go test runs the targets on their seeds and on testdata/fuzz.

// FuzzRESTEvent fuzzes REST REQUEST events, and with httpAPI the HTTP API
// payload 1.0 events of the same shape.
func FuzzRESTEvent(f *testing.F) {
	sample := sampleEvents(f)["rest-request-edge.json"]
	type seed struct {
		method, path, stage, apiID, account, region, headerName, headerValue, query, grants, context string
		httpAPI                                                                                      bool
	}
	for _, s := range []seed{
		{"GET", "/orders/urn:acme:42/items%2F7", "prod", "abc123", "123456789012", "eu-west-1", "X-Trace", "b", "blue", "GET /orders/*\n* /profile", "acme", false},
		{"GET", "/orders/42", "prod", "abc123", "123456789012", "eu-west-1", "Authorization", "Bearer x.y.z", "10", "GET /orders/*", "acme", true},
		{"GET", "/orders/*/items", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "GET /orders/*", "", false},
		{"GET", "/orders/*/items", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "", "", false},
		{"GET", "/orders/?/items", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "* /orders/*/items", "", false},
		{"*", "/orders/1", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "GET /orders/*", "", false},
		{"?", "/orders/1", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "", "", false},
		{"GET", "/" + strings.Repeat("a", MaxResourceLength), "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "GET /a*", "", false},
		{"GET", "/" + strings.Repeat("é", MaxResourceLength), "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "", "", false},
		{"GET", "/orders/1", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "GET /orders/*\nGET /" + strings.Repeat("a", MaxResourceLength), "", false},
		{"GET", "/orders/%2e%2e/admin/users", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "GET /orders/*", "", false},
		{"GET", "/orders/../admin/users", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "GET /orders/*\n* *", "", true},
		{"GET", `/orders/..\admin`, "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "GET /orders/*", "", false},
		{"GET", "/café/日本/😀", "prod", "abc123", "123456789012", "eu-west-1", "X-Ünï", "☃", "日本", "GET /caf?/*", "ünïcødé", false},
		{"POST", "/orders/42/$connect", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "* $connect", "", false},
		{"", "$connect", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "* $connect", "", false},
		{"POST", "", "prod", "abc123", "123456789012", "eu-west-1", "", "", "", "POST *", "", false},
		{"GET", "/", "*", "abc123", "123456789012", "eu-west-1", "", "", "", "GET /*", "", false},
		// A prefix so long that a grant fits and the Deny of ambiguous paths
		// does not (TestGrantsWhoseAmbiguousPathDenyCannotFit).
		{"GET", "/orders/1", strings.Repeat("s", 457), "abc123", "123456789012", "eu-west-1", "", "", "", "GET *", "", false},
		{"", "", "", "", "", "", "", "", "", "", "", false},
	} {
		f.Add(s.method, s.path, s.stage, s.apiID, s.account, s.region, s.headerName, s.headerValue, s.query, s.grants, s.context, s.httpAPI)
	}
	f.Fuzz(func(t *testing.T, method, path, stage, apiID, account, region, headerName, headerValue, query, grants, context string, httpAPI bool) {
		raw := edited(t, sample, func(ev map[string]any) {
			ev["methodArn"] = executeAPIARN("aws", region, account, apiID, stage, method+path)
			ev["httpMethod"], ev["path"] = method, path
			if httpAPI {
				ev["version"] = "1.0"
			}
			rc := object(ev, "requestContext")
			rc["httpMethod"], rc["path"], rc["stage"], rc["apiId"], rc["accountId"] = method, "/"+stage+path, stage, apiID, account
			object(ev, "headers")[headerName] = headerValue
			object(ev, "multiValueHeaders")[headerName] = []any{headerValue}
			object(ev, "queryStringParameters")["q"] = query
			object(ev, "multiValueQueryStringParameters")["q"] = []any{query}
		})
		checkEvent(t, raw, grants, context)
	})
}

// FuzzHTTPEvent fuzzes HTTP API payload 2.0 events, answered with an IAM
// policy and with a simple response.
func FuzzHTTPEvent(f *testing.F) {
	sample := sampleEvents(f)["http-v2-route.json"]
	type seed struct {
		method, path, rawPath, routeKey, stage, apiID, account, region, headerName, headerValue, query, grants, context string
	}
	for _, s := range []seed{
		{"DELETE", "/orders/42", "/prod/orders/42", "DELETE /orders/{id}", "prod", "h77api", "123456789012", "eu-west-1", "x-multi", "a,b", "true,yes", "DELETE /orders/*", "acme"},
		{"", "$default", "/my/path", "$default", "$default", "h77api", "123456789012", "eu-west-1", "", "", "", "* $default", "acme"},
		{"", "$default", "/my/path", "$default", "$default", "h77api", "123456789012", "eu-west-1", "", "", "", "GET /orders/*", ""},
		{"GET", "/$default", "/$default", "$default", "$default", "h77api", "123456789012", "eu-west-1", "", "", "", "* *", ""},
		{"GET", "/files/*", "/prod/files/*", "GET /files/{proxy+}", "prod", "h77api", "123456789012", "eu-west-1", "", "", "", "GET /files/*", ""},
		{"GET", "/files/?", "/prod/files/?", "ANY /{proxy+}", "prod", "h77api", "123456789012", "eu-west-1", "", "", "", "", ""},
		{"GET", "/" + strings.Repeat("a", MaxResourceLength), "/prod/a", "ANY /{proxy+}", "prod", "h77api", "123456789012", "eu-west-1", "", "", "", "GET /a*", ""},
		{"GET", "/orders/%2e%2e/admin", "/prod/orders/%2e%2e/admin", "GET /orders/{proxy+}", "prod", "h77api", "123456789012", "eu-west-1", "", "", "", "GET /orders/*", ""},
		{"GET", "/orders/1", "/prod/orders/../admin", "GET /orders/{id}", "prod", "h77api", "123456789012", "eu-west-1", "", "", "", "GET /orders/*", ""},
		{"GET", "/日本/é", "/prod/%E6%97%A5%E6%9C%AC/%C3%A9", "GET /{proxy+}", "prod", "h77api", "123456789012", "eu-west-1", "cookie", "a=☃", "é", "GET /日本/*", "ünïcødé"},
		{"*", "/orders", "/prod/orders", "GET /orders", "prod", "h77api", "123456789012", "eu-west-1", "", "", "", "GET /orders", ""},
		{"", "", "", "", "", "", "", "", "", "", "", "", ""},
	} {
		f.Add(s.method, s.path, s.rawPath, s.routeKey, s.stage, s.apiID, s.account, s.region, s.headerName, s.headerValue, s.query, s.grants, s.context)
	}
	f.Fuzz(func(t *testing.T, method, path, rawPath, routeKey, stage, apiID, account, region, headerName, headerValue, query, grants, context string) {
		raw := edited(t, sample, func(ev map[string]any) {
			ev["routeArn"] = executeAPIARN("aws", region, account, apiID, stage, method+path)
			ev["routeKey"], ev["rawPath"], ev["rawQueryString"] = routeKey, rawPath, "q="+url.QueryEscape(query)
			rc := object(ev, "requestContext")
			rc["routeKey"], rc["stage"], rc["apiId"], rc["accountId"] = routeKey, stage, apiID, account
			h := object(rc, "http")
			h["method"], h["path"] = method, rawPath
			object(ev, "headers")[headerName] = headerValue
			object(ev, "queryStringParameters")["q"] = query
		})
		checkEvent(t, raw, grants, context)
	})
}

// FuzzWebSocketEvent fuzzes WebSocket $connect REQUEST events, whose ARN ends
// in a route key rather than a verb and a path.
func FuzzWebSocketEvent(f *testing.F) {
	sample := sampleEvents(f)["websocket-connect.json"]
	type seed struct {
		routeKey, stage, apiID, account, region, connectionID, headerName, headerValue, query, grants, context string
	}
	for _, s := range []seed{
		{"$connect", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "Ln5mBcLBjoECIeQ=", "Sec-WebSocket-Protocol", "chat", "general", "* $connect", "chat"},
		{"$connect", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "Ln5mBcLBjoECIeQ=", "", "", "", "", ""},
		{"$connect", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "c", "", "", "", "GET /orders/*\n* *", ""},
		{"$default", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "c", "", "", "", "* $connect", ""},
		{"$conn?ct", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "c", "", "", "", "", ""},
		{"*", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "c", "", "", "", "* $connect", ""},
		{"$" + strings.Repeat("c", MaxResourceLength), "prod", "ws7api9xyz", "123456789012", "eu-west-1", "c", "", "", "", "* $c*", ""},
		{"$connect/%2e%2e", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "c", "", "", "", "* $connect*", ""},
		{"$connect😀", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "c", "User-Agent", "☃", "日本", "* $connect?", "ünïcødé"},
		{"GET/orders", "prod", "ws7api9xyz", "123456789012", "eu-west-1", "c", "", "", "", "GET /orders", ""},
		{"", "", "", "", "", "", "", "", "", "", ""},
	} {
		f.Add(s.routeKey, s.stage, s.apiID, s.account, s.region, s.connectionID, s.headerName, s.headerValue, s.query, s.grants, s.context)
	}
	f.Fuzz(func(t *testing.T, routeKey, stage, apiID, account, region, connectionID, headerName, headerValue, query, grants, context string) {
		raw := edited(t, sample, func(ev map[string]any) {
			ev["methodArn"] = executeAPIARN("aws", region, account, apiID, stage, routeKey)
			rc := object(ev, "requestContext")
			rc["routeKey"], rc["stage"], rc["apiId"], rc["accountId"], rc["connectionId"] = routeKey, stage, apiID, account, connectionID
			object(ev, "headers")[headerName] = headerValue
			object(ev, "multiValueHeaders")[headerName] = []any{headerValue}
			object(ev, "queryStringParameters")["q"] = query
			object(ev, "multiValueQueryStringParameters")["q"] = []any{query}
		})
		checkEvent(t, raw, grants, context)
	})
}

// FuzzTokenEvent fuzzes REST TOKEN events, whose ARN is all there is of the
// request, in any partition.
func FuzzTokenEvent(f *testing.F) {
	sample := sampleEvents(f)["token-root.json"]
	type seed struct {
		partition, method, path, stage, apiID, account, region, token, grants, context string
	}
	for _, s := range []seed{
		{"aws-cn", "GET", "/", "v1", "tok123", "123456789012", "cn-north-1", "Bearer header.payload.signature", "", ""},
		{"aws", "GET", "/", "*", "ymy8tbxw7b", "123456789012", "us-west-2", "allow", "GET /*", "acme"},
		{"aws-us-gov", "PUT", "/orders/*", "prod", "tok123", "123456789012", "us-gov-west-1", "", "PUT /orders/*", ""},
		{"aws", "GET", "/orders/?", "prod", "tok123", "123456789012", "eu-west-1", "x", "", ""},
		{"aws", "*", "/orders", "prod", "tok123", "123456789012", "eu-west-1", "x", "GET /orders\n* /profile", ""},
		{"aws", "GET", "/" + strings.Repeat("a", MaxResourceLength), "prod", "tok123", "123456789012", "eu-west-1", "x", "GET *", ""},
		{"aws", "GET", "/a/%2e%2e/b", "prod", "tok123", "123456789012", "eu-west-1", "x", "GET /a/*", ""},
		{"aws", "GET", "/ünï/😀", "prod", "tok123", "123456789012", "eu-west-1", "Bearer ☃", "GET /ünï/?", "ünïcødé"},
		{"aws", "", "$connect", "prod", "tok123", "123456789012", "eu-west-1", "x", "* $connect", ""},
		{"", "", "", "", "", "", "", "", "", ""},
	} {
		f.Add(s.partition, s.method, s.path, s.stage, s.apiID, s.account, s.region, s.token, s.grants, s.context)
	}
	f.Fuzz(func(t *testing.T, partition, method, path, stage, apiID, account, region, token, grants, context string) {
		raw := edited(t, sample, func(ev map[string]any) {
			ev["methodArn"] = executeAPIARN(partition, region, account, apiID, stage, method+path)
			ev["authorizationToken"] = token
		})
		checkEvent(t, raw, grants, context)
	})
}

// FuzzEventBytes fuzzes the whole event as bytes, so that Decode meets what no
// sample's shape leads to: other types, versions and field types, broken JSON.
func FuzzEventBytes(f *testing.F) {
	var seeds [][]byte
	samples := sampleEvents(f)
	for _, name := range sortedKeys(samples) {
		seeds = append(seeds, samples[name])
	}
	for _, name := range []string{"apigw-custom-auth-request-type-request.json", "apigw-custom-auth-request.json",
		"apigw-v2-custom-authorizer-v1-request.json", "apigw-v2-custom-authorizer-v2-request.json"} {
		seeds = append(seeds, awsgolden.Read(f, name))
	}
	const arn = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/"
	for _, s := range []string{
		`{"type":"REQUEST"`, `null`, `[]`, `{}`, `{"type":"TOKEN","methodArn":""}`,
		`{"type":"REQUEST","version":"2.0","routeArn":"` + arn + `$default","requestContext":{"http":{"method":"PATCH"}}}`,
		`{"type":"REQUEST","version":"1.0","methodArn":"` + arn + `*/*"}`,
		`{"type":"REQUEST","methodArn":"` + arn + `$connect"}`,
		`{"type":"REQUEST","methodArn":"` + arn + `GET/a/\u0000"}`,
		`{"type":"REQUEST","methodArn":"` + arn + `GET/a/\ud800"}`,
		`{"type":"TOKEN","methodArn":"` + arn + `GET/` + strings.Repeat("%2e", 200) + `"}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	for _, s := range seeds {
		f.Add(s, "GET /orders/*\n* $connect\n* /profile")
	}
	f.Fuzz(func(t *testing.T, event []byte, grants string) {
		checkEvent(t, event, grants, "acme")
	})
}

// fuzzPrincipal is the principal every response is shaped for; the adapter
// passes it through as it is.
const fuzzPrincipal = "principal-1"

// fuzzResponders are the Responders a deployment can run: the path rule on or
// off, and simple responses for HTTP payload 2.0 (which other kinds ignore).
var fuzzResponders = []Responder{{}, {AllowAmbiguousPaths: true}, {SimpleResponses: true}}

// eventCase is one event and the decisions to answer it with. Its methods hold
// the invariants and report the input with any breach.
type eventCase struct {
	t           *testing.T
	raw         []byte
	ev          *Event
	allow, deny *decision.Decision
}

// checkEvent decodes raw and holds every response to it to the invariants,
// with the allow and deny decisions of grants (lines of "METHOD PATH") and a
// context holding value.
func checkEvent(t *testing.T, raw []byte, grants, value string) {
	t.Helper()
	allow, deny := fuzzDecisions(t, grants, value)
	ev, err := Decode(raw)
	c := &eventCase{t: t, raw: raw, ev: ev, allow: allow, deny: deny}
	if err != nil {
		if !errors.Is(err, ErrEvent) {
			c.fatalf("Decode error %v is not ErrEvent", err)
		}
		if ev != nil && !slices.Contains([]Kind{KindREST, KindToken, KindHTTP, KindWebSocket}, ev.Kind) {
			c.fatalf("Decode failed with an event of kind %q", ev.Kind)
		}
		// The authorizer answers an event it cannot read with Fail, given what
		// Decode still returned, and with nothing else.
		for _, r := range fuzzResponders {
			c.checkFail(r)
		}
		return
	}
	if ev == nil {
		c.fatalf("Decode returned neither an event nor an error")
	}
	for _, r := range fuzzResponders {
		c.checkFail(r)
		c.checkAllow(r)
		c.checkDeny(r)
	}
}

// fuzzDecisions returns the decisions a policy could return with the grants of
// spec, one "METHOD PATH" a line: allowing and denying, with a context that
// holds value in every shape the responses treat differently. A grant the
// decision schema refuses is left out, as it never reaches a Responder.
func fuzzDecisions(t *testing.T, spec, value string) (allow, deny *decision.Decision) {
	var grants []any
	for line := range strings.SplitSeq(spec, "\n") {
		method, path, _ := strings.Cut(line, " ")
		g := map[string]any{"method": method, "path": path}
		if _, err := decision.Parse(map[string]any{"allow": true, "grants": []any{g}}); err == nil {
			grants = append(grants, g)
		}
	}
	doc := func(allow bool) map[string]any {
		return map[string]any{"allow": allow, "grants": grants, "usage_identifier_key": "usage-key-1",
			"context": map[string]any{"value": value, "list": []any{value, json.Number("7"), nil, true},
				"object": map[string]any{"value": value}, "null": nil}}
	}
	var err error
	if allow, err = decision.Parse(doc(true)); err != nil {
		t.Fatalf("the allow decision for %q: %v", spec, err)
	}
	if deny, err = decision.Parse(doc(false)); err != nil {
		t.Fatalf("the deny decision for %q: %v", spec, err)
	}
	return allow, deny
}

func (c *eventCase) fatalf(format string, args ...any) {
	c.t.Helper()
	c.t.Fatalf("%s\nevent: %s\ngrants: %q", fmt.Sprintf(format, args...), c.raw, c.allow.Grants)
}

// arn is the request's ARN, or "" when Decode could not read one.
func (c *eventCase) arn() string {
	if c.ev == nil {
		return ""
	}
	return c.ev.ARN.String()
}

// checkFail: Fail denies the request's ARN, or everything without one, and
// allows nothing at all.
func (c *eventCase) checkFail(r Responder) {
	c.t.Helper()
	view := c.checkShape(r, nil, r.Fail(c.ev, fuzzPrincipal))
	for _, arn := range c.probes() {
		if got := view.Effect(arn); got == "Allow" {
			c.fatalf("%+v: Fail allows %s", r, arn)
		}
	}
	if view.Policy == nil {
		return // a simple response, which authorizes nothing (checked above)
	}
	want := "*"
	if arn := c.arn(); arn != "" {
		want = denyResource(arn)
		if got := view.Effect(arn); got != "Deny" {
			c.fatalf("%+v: Fail answers %q for the request's ARN, not Deny", r, got)
		}
	}
	if st := view.Policy.Statement; len(st) != 1 || st[0].Effect != "Deny" || !slices.Equal(st[0].Resource, []string{want}) {
		c.fatalf("%+v: Fail's policy is %+v, not a Deny of %q alone", r, st, want)
	}
}

// checkAllow: Allow lets the request through and allows nothing but the grants
// and, when they do not cover it, the request's own wildcard-free ARN; with
// grants it carries the Deny of ambiguous paths, which no allowed ARN falls
// under. It may refuse instead: the caller then answers with Fail.
func (c *eventCase) checkAllow(r Responder) {
	c.t.Helper()
	resp, err := r.Allow(c.ev, c.allow, fuzzPrincipal)
	if err != nil {
		if !errors.Is(err, ErrNotRepresentable) || resp != nil {
			c.fatalf("%+v: Allow = %v, %v; want no response and ErrNotRepresentable", r, resp, err)
		}
		return
	}
	view := c.checkShape(r, c.allow, resp)
	arn := c.arn()
	if got := view.Effect(arn); got != "Allow" {
		c.fatalf("%+v: Allow answers %q for the request's own ARN", r, got)
	}
	if view.Policy == nil {
		return
	}
	granted := c.granted()
	ambiguous := c.ambiguousDeny(r)
	st := view.Policy.Statement
	if len(st) != 1+min(len(ambiguous), 1) || st[0].Effect != "Allow" ||
		len(ambiguous) > 0 && (st[1].Effect != "Deny" || !slices.Equal(st[1].Resource, ambiguous)) {
		c.fatalf("%+v: Allow's policy is %+v, not an Allow and, with grants, the Deny of ambiguous paths", r, st)
	}
	switch allowed := st[0].Resource; {
	case slices.Equal(allowed, granted):
	case len(allowed) == len(granted)+1 && slices.Equal(allowed[:len(granted)], granted) &&
		allowed[len(granted)] == arn && !c.ev.ARN.HasWildcard() && !Allows(policy(statement("Allow", granted)), arn):
	default:
		c.fatalf("%+v: Allow allows %q; the grants are %q, the request's ARN %q", r, allowed, granted, arn)
	}
	if len(ambiguous) == 0 {
		return
	}
	// The probes' attack forms after the API and stage (the grants' ARNs
	// with a dot-dot segment, plain or encoded, in place of their '*') must
	// not get through, whatever grant covers them.
	prefix := c.arnPrefix()
	for _, p := range c.probes() {
		rest, ok := strings.CutPrefix(p, prefix)
		attack := ok && (strings.Contains(rest, "/../") || strings.Contains(strings.ToLower(rest), "%2e%2e"))
		if attack && view.Effect(p) == "Allow" {
			c.fatalf("%+v: Allow allows %s, an ambiguous path", r, p)
		}
	}
}

// checkDeny: Deny explicitly denies the request's ARN and allows the grants and
// nothing else, so that a cached policy answers as the policy would.
func (c *eventCase) checkDeny(r Responder) {
	c.t.Helper()
	resp, err := r.Deny(c.ev, c.deny, fuzzPrincipal)
	if err != nil {
		if !errors.Is(err, ErrNotRepresentable) || resp != nil {
			c.fatalf("%+v: Deny = %v, %v; want no response and ErrNotRepresentable", r, resp, err)
		}
		return
	}
	view := c.checkShape(r, c.deny, resp)
	arn := c.arn()
	if view.Policy == nil {
		if got := view.Effect(arn); got == "Allow" {
			c.fatalf("%+v: Deny's simple response authorizes the request", r)
		}
		return
	}
	if got := view.Effect(arn); got != "Deny" {
		c.fatalf("%+v: Deny answers %q for the request's ARN, not Deny", r, got)
	}
	granted := c.granted()
	denied := append([]string{denyResource(arn)}, c.ambiguousDeny(r)...)
	st := view.Policy.Statement
	if len(st) != 1+min(len(granted), 1) || st[0].Effect != "Deny" || !slices.Equal(st[0].Resource, denied) ||
		len(granted) > 0 && (st[1].Effect != "Allow" || !slices.Equal(st[1].Resource, granted)) {
		c.fatalf("%+v: Deny's policy is %+v; want a Deny of %q and an Allow of the grants %q", r, st, denied, granted)
	}
}

// checkShape holds a response to the format API Gateway expects of the event's
// kind, with the principal, the context (flattened to scalars where API
// Gateway wants them) and the usage key of d, which is nil for Fail; and every
// Resource to API Gateway's limit. It returns what API Gateway sees of it.
func (c *eventCase) checkShape(r Responder, d *decision.Decision, resp any) View {
	c.t.Helper()
	var (
		ctx   map[string]any
		usage string
	)
	if d != nil {
		ctx, usage = d.Context, d.UsageIdentifierKey
	}
	v2 := c.ev != nil && c.ev.Kind == KindHTTP && c.ev.PayloadVersion == "2.0"
	switch resp := resp.(type) {
	case events.APIGatewayV2CustomAuthorizerSimpleResponse:
		if !v2 || !r.SimpleResponses {
			c.fatalf("%+v: a simple response to an event that wants an IAM policy", r)
		}
		if !reflect.DeepEqual(resp.Context, ctx) {
			c.fatalf("%+v: simple response context %v, want the decision's %v", r, resp.Context, ctx)
		}
	case events.APIGatewayV2CustomAuthorizerIAMPolicyResponse:
		if !v2 || r.SimpleResponses {
			c.fatalf("%+v: a payload 2.0 IAM response to an event that wants another", r)
		}
		if resp.PrincipalID != fuzzPrincipal || !reflect.DeepEqual(resp.Context, ctx) {
			c.fatalf("%+v: principal %q and context %v, want %q and the decision's %v", r, resp.PrincipalID, resp.Context, fuzzPrincipal, ctx)
		}
	case events.APIGatewayCustomAuthorizerResponse:
		if v2 {
			c.fatalf("%+v: a REST-style response to a payload 2.0 event", r)
		}
		if resp.PrincipalID != fuzzPrincipal {
			c.fatalf("%+v: principal %q, want %q", r, resp.PrincipalID, fuzzPrincipal)
		}
		if c.ev == nil || c.ev.Kind != KindREST && c.ev.Kind != KindToken {
			usage = "" // usage plans exist only for REST APIs
		}
		if resp.UsageIdentifierKey != usage {
			c.fatalf("%+v: usage identifier key %q, want %q", r, resp.UsageIdentifierKey, usage)
		}
		c.checkFlatContext(resp.Context, ctx)
	default:
		c.fatalf("%+v: a response of type %T", r, resp)
	}
	view, ok := ViewOf(resp)
	if !ok {
		c.fatalf("%+v: ViewOf does not read a %T", r, resp)
	}
	if view.Policy != nil {
		for _, st := range view.Policy.Statement {
			for _, res := range st.Resource {
				if len(res) > MaxResourceLength {
					c.fatalf("%+v: a Resource of %d characters, in a %s statement: %s", r, len(res), st.Effect, res)
				}
			}
		}
	}
	if _, err := json.Marshal(resp); err != nil {
		c.fatalf("%+v: the response does not encode: %v", r, err)
	}
	return view
}

// checkFlatContext: API Gateway accepts only scalars in the context of the
// responses other than payload 2.0's; nulls are dropped, nothing else is.
func (c *eventCase) checkFlatContext(got, decided map[string]any) {
	c.t.Helper()
	want := 0
	for _, v := range decided {
		if v != nil {
			want++
		}
	}
	if len(got) != want {
		c.fatalf("flattened context %v has %d values, want the %d non-null ones of %v", got, len(got), want, decided)
	}
	for k, v := range got {
		switch v.(type) {
		case string, bool, json.Number, float64, int, int64:
		default:
			c.fatalf("flattened context value %s is a %T, not a scalar", k, v)
		}
	}
}

// granted is the Allow of the decision's grants, as Resources names them on the
// request's API and stage.
func (c *eventCase) granted() []string {
	var out []string
	for _, g := range c.allow.Grants {
		out = append(out, c.ev.ARN.Resources(g.Method, g.Path)...)
	}
	return out
}

// ambiguousDeny is the Deny of ambiguous paths r must put beside the grants.
func (c *eventCase) ambiguousDeny(r Responder) []string {
	if r.AllowAmbiguousPaths || len(c.allow.Grants) == 0 {
		return nil
	}
	return c.ev.ARN.AmbiguousPathResources()
}

// arnPrefix is what the request's ARN holds before the verb or route key: the
// partition, region, account, API id and stage, with their separators.
func (c *eventCase) arnPrefix() string {
	arn := c.arn()
	return arn[:len(arn)-len(c.ev.ARN.Method)-len(c.ev.ARN.Path)]
}

// probes are ARNs to ask a response about: the request's, one of another method
// and path and one of a route key on its API and stage, one on another API,
// every grant's, and ambiguous forms under the request's and the grants'.
func (c *eventCase) probes() []string {
	out := []string{"arn:aws:execute-api:eu-west-1:123456789012:otherapi/prod/GET/orders/1"}
	arn := c.arn()
	if arn == "" {
		return out
	}
	prefix := c.arnPrefix()
	out = append(out, arn, prefix+"POST/fuzz/other", prefix+"$disconnect", arn+"/../admin", arn+"/%2e%2e/admin")
	for _, res := range c.granted() {
		out = append(out, res, strings.ReplaceAll(res, "*", "/x/../admin"), strings.ReplaceAll(res, "*", "/x/%2E%2E/admin"))
	}
	return out
}

// sampleEvents returns every sample event of testdata/events by file name, so
// that a new sample is a seed of FuzzEventBytes without more ado.
func sampleEvents(tb testing.TB) map[string][]byte {
	tb.Helper()
	dir := filepath.Join("testdata", "events")
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// edited returns the sample event with edit applied to its JSON: the fuzzed
// pieces land where API Gateway puts them, and the rest stays real.
func edited(t *testing.T, sample []byte, edit func(ev map[string]any)) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(sample, &ev); err != nil {
		t.Fatal(err)
	}
	edit(ev)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// object returns the JSON object under key in m, replacing whatever else is
// there (such as a null).
func object(m map[string]any, key string) map[string]any {
	o, ok := m[key].(map[string]any)
	if !ok {
		o = map[string]any{}
		m[key] = o
	}
	return o
}

func executeAPIARN(partition, region, account, apiID, stage, rest string) string {
	return "arn:" + partition + ":execute-api:" + region + ":" + account + ":" + apiID + "/" + stage + "/" + rest
}
