package deploy

import (
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Where API Gateway reads a request's parts, by API kind: an identity
// source names one of these.
var identityPrefix = map[string]string{"rest": "method.request.", "http": "$request.", "websocket": "route.request."}

// tokenLocation is the identity source that holds an AUTHZ_TOKEN_SOURCES
// entry (header:NAME, query:NAME, cookie:NAME) for an API kind.
func tokenLocation(kind, src string) string {
	where, name, _ := strings.Cut(src, ":")
	p := identityPrefix[kind]
	switch where {
	case "header":
		return p + "header." + strings.ToLower(name)
	case "query":
		return p + "querystring." + name
	default: // a cookie is in the Cookie header: caching keys on all of them
		return p + "header.cookie"
	}
}

// normalIdentity lower-cases the header name of an identity source, as API
// Gateway matches headers.
func normalIdentity(s string) string {
	s = strings.TrimSpace(s)
	for _, p := range identityPrefix {
		if rest, ok := strings.CutPrefix(s, p+"header."); ok {
			return p + "header." + strings.ToLower(rest)
		}
	}
	return s
}

// gatewayAuthorizer is one API Gateway authorizer of an example, as
// evaluated with one set of the example's values.
type gatewayAuthorizer struct {
	where    string
	kind     string // rest, http, websocket
	typ      string // REQUEST or TOKEN
	ttl      int64  // -1: not cacheable (WebSocket)
	identity []string
	simple   bool   // HTTP: enable_simple_responses
	payload  string // HTTP: authorizer_payload_format_version
	call     string // the authorizer module call it invokes
}

// authorizerBlocks are the module's API Gateway authorizers, REST and v2.
func authorizerBlocks(m *module) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == "resource" && (b.Labels[0] == "aws_api_gateway_authorizer" || b.Labels[0] == "aws_apigatewayv2_authorizer") {
			out = append(out, b)
		}
	}
	return out
}

// invokedCall is the authorizer module call whose invoke_arn the
// authorizer's URI names, "" for none.
func invokedCall(t *testing.T, ex *example, b *hclsyntax.Block) string {
	t.Helper()
	uri, ok := b.Body.Attributes["authorizer_uri"]
	if !ok {
		t.Fatalf("%s: %s.%s has no authorizer_uri", ex.m.dir, b.Labels[0], b.Labels[1])
	}
	for name := range ex.authorizerCalls() {
		if slices.Contains(refs(uri.Expr), "module."+name+".invoke_arn") {
			return name
		}
	}
	return ""
}

// authorizersOf reads the example's authorizers.
func authorizersOf(t *testing.T, ex *example) []gatewayAuthorizer {
	t.Helper()
	var out []gatewayAuthorizer
	for _, b := range authorizerBlocks(ex.m) {
		a := gatewayAuthorizer{where: fmt.Sprintf("%s: %s.%s", ex.m.dir, b.Labels[0], b.Labels[1]), ttl: 300}
		if a.call = invokedCall(t, ex, b); a.call == "" {
			t.Errorf("%s: authorizer_uri is %s, not an authorizer module's invoke_arn (the alias's, with provisioned concurrency)", a.where, source(b.Body.Attributes["authorizer_uri"].Expr))
		}
		if v := ex.attr(t, b, "authorizer_result_ttl_in_seconds"); v != cty.NilVal {
			a.ttl = integer(t, v)
		}
		if b.Labels[0] == "aws_api_gateway_authorizer" {
			a.kind, a.typ = "rest", "TOKEN" // API Gateway's default type
			if v := ex.attr(t, b, "type"); v != cty.NilVal {
				a.typ = v.AsString()
			}
			if v := ex.attr(t, b, "identity_source"); v != cty.NilVal && v.AsString() != "" {
				for _, s := range strings.Split(v.AsString(), ",") {
					a.identity = append(a.identity, normalIdentity(s))
				}
			}
		} else {
			typ := ex.attr(t, b, "authorizer_type")
			if typ == cty.NilVal {
				t.Fatalf("%s: no authorizer_type", a.where)
			}
			a.typ = typ.AsString()
			a.kind = "http"
			api, ok := b.Body.Attributes["api_id"]
			if !ok {
				t.Fatalf("%s: no api_id", a.where)
			}
			for _, r := range refs(api.Expr) {
				name, ok := strings.CutPrefix(r, "aws_apigatewayv2_api.")
				if !ok {
					continue
				}
				api := strings.TrimSuffix(name, ".id")
				for _, apiBlock := range ex.m.find("resource", "aws_apigatewayv2_api") {
					if apiBlock.Labels[1] == api && ex.attr(t, apiBlock, "protocol_type").AsString() == "WEBSOCKET" {
						a.kind = "websocket"
					}
				}
			}
			if a.kind == "websocket" {
				if _, ok := b.Body.Attributes["authorizer_result_ttl_in_seconds"]; ok {
					t.Errorf("%s: sets a TTL; WebSocket authorizers do not cache", a.where)
				}
				a.ttl = -1
			}
			if v := ex.attr(t, b, "identity_sources"); v != cty.NilVal {
				for _, s := range strs(t, v) {
					a.identity = append(a.identity, normalIdentity(s))
				}
			}
			if v := ex.attr(t, b, "enable_simple_responses"); v != cty.NilVal {
				a.simple = v.True()
			}
			if v := ex.attr(t, b, "authorizer_payload_format_version"); v != cty.NilVal {
				a.payload = v.AsString()
			}
		}
		out = append(out, a)
	}
	return out
}

func integer(t *testing.T, v cty.Value) int64 {
	t.Helper()
	if v.IsNull() || v.Type() != cty.Number {
		t.Fatalf("%s is not a number", show(v))
	}
	n, acc := v.AsBigFloat().Int64()
	if acc != big.Exact {
		t.Fatalf("%s is not an integer", show(v))
	}
	return n
}

// variants are the example with its values, and with each variable that an
// authorizer's TTL or simple-response switch reads set to the values that
// change what must hold: caching off and on, simple responses off and on.
func variants(t *testing.T, dir string) []*example {
	t.Helper()
	base := loadExample(t, dir, nil)
	out := []*example{base}
	for _, b := range base.m.blocks {
		if b.Type != "resource" {
			continue
		}
		for attr, values := range map[string][]cty.Value{
			"authorizer_result_ttl_in_seconds": {cty.NumberIntVal(0), cty.NumberIntVal(300), cty.NumberIntVal(3600)},
			"enable_simple_responses":          {cty.True, cty.False},
		} {
			a, ok := b.Body.Attributes[attr]
			if !ok {
				continue
			}
			for _, name := range varsRead(base.m, a.Expr) {
				for _, v := range values {
					if base.vars[name].Equals(v).True() {
						continue // the base already has it
					}
					out = append(out, loadExample(t, dir, map[string]cty.Value{name: v}))
				}
			}
		}
	}
	return out
}

// varsRead are the variables expr reads, directly or through locals.
func varsRead(m *module, expr hcl.Expression) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(hcl.Expression)
	walk = func(e hcl.Expression) {
		for _, r := range refs(e) {
			if name, ok := strings.CutPrefix(r, "var."); ok && !slices.Contains(out, name) {
				out = append(out, name)
			}
			if name, ok := strings.CutPrefix(r, "local."); ok && !seen[name] && m.locals[name] != nil {
				seen[name] = true
				walk(m.locals[name])
			}
		}
	}
	walk(expr)
	return out
}

// TestTerraformAuthorizerSettings holds each example's API Gateway
// authorizer to what this authorizer needs, for every value of the
// variables its caching and response format read:
//   - REQUEST authorizers (TOKEN only on REST, as a header);
//   - with caching on, identity sources that include every place the token
//     may be: otherwise two callers with different tokens share a cached
//     policy; and for HTTP simple responses, $context.routeKey too, since
//     an isAuthorized carries no grants and would answer every route;
//   - payload 2.0 for simple responses, and AUTHZ_HTTP_SIMPLE_RESPONSES
//     equal to the authorizer's enable_simple_responses;
//   - WebSocket: identity sources exactly where the token is, no caching.
func TestTerraformAuthorizerSettings(t *testing.T) {
	kinds := map[string]bool{}
	for _, dir := range folders(t, examplesDir) {
		for _, ex := range variants(t, dir) {
			for _, a := range authorizersOf(t, ex) {
				kinds[a.kind] = true
				call := ex.calls[a.call]
				if call == nil {
					continue
				}
				checkAuthorizer(t, a, call, fmt.Sprintf("%s (ttl %d, simple %v)", a.where, a.ttl, a.simple))
			}
		}
	}
	for _, k := range []string{"rest", "http", "websocket"} {
		if !kinds[k] {
			t.Errorf("no example has a %s authorizer", k)
		}
	}
}

func checkAuthorizer(t *testing.T, a gatewayAuthorizer, call *instance, where string) {
	t.Helper()
	sources := strs(t, call.vars["token_sources"])
	if len(sources) == 0 {
		t.Fatalf("%s: the authorizer module has no token_sources: nothing to hold the identity sources to", where)
	}
	switch {
	case a.typ == "TOKEN" && a.kind == "rest":
		if len(a.identity) != 1 || !strings.HasPrefix(a.identity[0], "method.request.header.") {
			t.Errorf("%s: a TOKEN authorizer's identity source must be one header, not %v", where, a.identity)
		}
		return
	case a.typ != "REQUEST":
		t.Errorf("%s: type %s; the authorizer reads REQUEST events", where, a.typ)
		return
	}
	if a.ttl < -1 || a.ttl > 3600 {
		t.Errorf("%s: TTL %d is outside 0..3600", where, a.ttl)
	}
	missing := func() []string {
		var out []string
		for _, s := range sources {
			if loc := tokenLocation(a.kind, s); !slices.Contains(a.identity, loc) {
				out = append(out, loc)
			}
		}
		return out
	}
	switch a.kind {
	case "rest":
		if a.ttl > 0 {
			if m := missing(); len(m) > 0 {
				t.Errorf("%s: caches for %d s on %v, without %v where the token may be (token_sources %v): callers would share cached policies", where, a.ttl, a.identity, m, sources)
			}
		}
	case "http":
		simple, ok := call.vars["http_simple_responses"]
		if !ok || simple.IsNull() {
			t.Fatalf("%s: the authorizer module has no http_simple_responses", where)
		}
		if simple.True() != a.simple {
			t.Errorf("%s: enable_simple_responses is %v, the function's AUTHZ_HTTP_SIMPLE_RESPONSES %v", where, a.simple, simple.True())
		}
		if a.payload != "2.0" && a.payload != "1.0" {
			t.Errorf("%s: payload format %q, want 2.0 (or 1.0)", where, a.payload)
		}
		if a.simple && a.payload != "2.0" {
			t.Errorf("%s: simple responses need payload format 2.0", where)
		}
		if a.ttl > 0 {
			if m := missing(); len(m) > 0 {
				t.Errorf("%s: caches for %d s on %v, without %v where the token may be (token_sources %v): callers would share cached answers", where, a.ttl, a.identity, m, sources)
			}
			if a.simple && !slices.Contains(a.identity, "$context.routeKey") {
				t.Errorf("%s: simple responses cached for %d s without $context.routeKey in %v: an isAuthorized for one route would answer every route", where, a.ttl, a.identity)
			}
		}
	case "websocket":
		var want []string
		for _, s := range sources {
			want = append(want, tokenLocation(a.kind, s))
		}
		if !sameSet(a.identity, want) {
			t.Errorf("%s: identity sources %v; the token is in %v (token_sources %v)", where, a.identity, want, sources)
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// TestTerraformInvokePermissions: each authorizer may invoke the function
// through one lambda:InvokeFunction permission for API Gateway, on the
// function (or alias) it calls, scoped to this API and this authorizer; and
// no permission on an authorizer function is scoped to anything else.
func TestTerraformInvokePermissions(t *testing.T) {
	for _, ex := range loadExamples(t) {
		scoped := map[string]bool{} // permission name → scoped to an authorizer
		for _, b := range authorizerBlocks(ex.m) {
			where := fmt.Sprintf("%s: %s.%s", ex.m.dir, b.Labels[0], b.Labels[1])
			call := invokedCall(t, ex, b)
			apiAttr := "api_id"
			if b.Labels[0] == "aws_api_gateway_authorizer" {
				apiAttr = "rest_api_id"
			}
			var api string
			for _, r := range refs(b.Body.Attributes[apiAttr].Expr) {
				api = strings.TrimSuffix(r, ".id")
			}
			found := 0
			for _, p := range ex.m.find("resource", "aws_lambda_permission") {
				src, ok := p.Body.Attributes["source_arn"]
				if !ok || !slices.Contains(refs(src.Expr), b.Labels[0]+"."+b.Labels[1]+".id") {
					continue
				}
				found++
				scoped[p.Labels[1]] = true
				pw := fmt.Sprintf("%s: aws_lambda_permission.%s", ex.m.dir, p.Labels[1])
				if got := ex.attr(t, p, "action").AsString(); got != "lambda:InvokeFunction" {
					t.Errorf("%s: action %s", pw, got)
				}
				if got := ex.attr(t, p, "principal").AsString(); got != "apigateway.amazonaws.com" {
					t.Errorf("%s: principal %s", pw, got)
				}
				if q, ok := p.Body.Attributes["qualifier"]; !ok || !slices.Equal(refs(q.Expr), []string{"module." + call + ".qualifier"}) {
					t.Errorf("%s: the qualifier is not module.%s.qualifier: with provisioned concurrency API Gateway invokes the alias", pw, call)
				}
				if !slices.Equal(refs(p.Body.Attributes["function_name"].Expr), []string{"module." + call + ".function_name"}) {
					t.Errorf("%s: function_name is %s", pw, source(p.Body.Attributes["function_name"].Expr))
				}
				tmpl, ok := src.Expr.(*hclsyntax.TemplateExpr)
				if !ok || len(tmpl.Parts) != 3 || !slices.Equal(refs(tmpl.Parts[0]), []string{api + ".execution_arn"}) ||
					literal(tmpl.Parts[1]) != "/authorizers/" {
					t.Errorf("%s: source_arn is %s, want \"${%s.execution_arn}/authorizers/${%s.%s.id}\": this API, this authorizer", pw, source(src.Expr), api, b.Labels[0], b.Labels[1])
				}
			}
			if found != 1 {
				t.Errorf("%s: %d permissions name it in their source_arn, want 1", where, found)
			}
		}
		for _, p := range ex.m.find("resource", "aws_lambda_permission") {
			fn, ok := p.Body.Attributes["function_name"]
			if !ok || scoped[p.Labels[1]] {
				continue
			}
			for name := range ex.authorizerCalls() {
				if slices.Contains(refs(fn.Expr), "module."+name+".function_name") {
					t.Errorf("%s: aws_lambda_permission.%s lets %s invoke the authorizer without naming an authorizer in its source_arn", ex.m.dir, p.Labels[1], source(fn.Expr))
				}
			}
		}
	}
}

// literal is the string a literal node holds, "" for any other node.
func literal(n hclsyntax.Node) string {
	if l, ok := n.(*hclsyntax.LiteralValueExpr); ok && l.Val.Type() == cty.String {
		return l.Val.AsString()
	}
	return ""
}
