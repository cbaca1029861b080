package policy

import (
	"context"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/iamref"
	regofiles "github.com/apigw-authz/authz/rego"
)

// arnBase is the API and stage of every request these tests make.
const arnBase = "arn:aws:execute-api:eu-west-1:123456789012:api/prod/"

// coverage answers "does this grant cover this request?" the two ways the
// product does: the Rego lib the policy calls, and the IAM policy API Gateway
// enforces (and caches) for the same grant.
type coverage struct {
	lib rego.PreparedEvalQuery
}

func newCoverage(tb testing.TB) *coverage {
	tb.Helper()
	src, err := regofiles.Files.ReadFile("lib/iam.rego")
	if err != nil {
		tb.Fatal(err)
	}
	pq, err := rego.New(rego.Query("data.lib.iam.covers(input.grant, input.request)"), rego.Module("lib/iam.rego", string(src))).
		PrepareForEval(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return &coverage{lib: pq}
}

// rego evaluates data.lib.iam.covers on a grant as the policy wrote it and the
// request as the input document gives it (method and path from the ARN).
func (c *coverage) rego(tb testing.TB, method, path string, req gateway.ARN) bool {
	tb.Helper()
	rs, err := c.lib.Eval(context.Background(), rego.EvalInput(map[string]any{
		"grant":   map[string]any{"method": method, "path": path},
		"request": map[string]any{"method": req.Method, "path": req.Path},
	}))
	if err != nil {
		tb.Fatal(err)
	}
	return rs.Allowed()
}

// iam reports whether the Allow statement built from g lets req through.
func (c *coverage) iam(g decision.Grant, req gateway.ARN) bool {
	doc := events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
		{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: req.Resources(g.Method, g.Path)},
	}}
	return gateway.Allows(doc, req.String())
}

// TestRegoAndIAMAgree checks that the default policy's matcher (rego/lib/iam.rego)
// and the IAM policy built from the same grants (internal/gateway) cover exactly
// the same requests. Where they differ, API Gateway's authorizer cache would give
// a caller's other requests a different answer than the policy does.
func TestRegoAndIAMAgree(t *testing.T) {
	c := newCoverage(t)
	arnOf := func(method, path string) gateway.ARN {
		a, err := gateway.ParseARN(arnBase + method + path)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	grantMethods := []string{"*", "GET", "POST"}
	grantPaths := []string{"/profile", "/orders", "/orders/*", "*", "/a?c", "*/admin", "/x[1]", "/{a,b}", `/w\*`, "$connect", "/"}
	methods := []string{"GET", "POST", "DELETE"}
	paths := []string{"/profile", "/admin/users/profile", "/orders", "/orders/", "/orders/1", "/orders/1/x", "/x/orders/1",
		"/abc", "/ac", "/a/c", "/x[1]", "/x1", "/a", "/{a,b}", `/w\zzz`, "/wz", "/u/admin", "/admin", "/$connect", "/a/$connect", "/",
		"/orders/*", "/orders/*/x", "/a?c", "/a*c", "/a/é", "/aéc"}
	n := 0
	for _, gm := range grantMethods {
		for _, gp := range grantPaths {
			for _, m := range methods {
				for _, p := range paths {
					req := arnOf(m, p)
					g := decision.Grant{Method: gm, Path: gp}
					if r, iam := c.rego(t, gm, gp, req), c.iam(g, req); r != iam {
						t.Errorf("grant %s %s, request %s %s: Rego says %v, IAM says %v (resources %v)", gm, gp, m, p, r, iam, req.Resources(gm, gp))
					}
					n++
				}
			}
		}
	}
	t.Logf("%d grant and request pairs agree", n)
}

// routedVerbs are the verbs API Gateway puts in a method ARN: the methods it
// routes (ANY stands for all of them). A request with another verb never reaches
// the authorizer.
var routedVerbs = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// FuzzRegoVsIAM looks for a grant and a request on which the Rego lib, the IAM
// matcher and a regular expression built from the grant disagree. The grant is
// normalised as the product normalises it, by the decision parser; the request
// is one API Gateway could send.
func FuzzRegoVsIAM(f *testing.F) {
	for _, seed := range [][4]string{
		{"GET", "/orders/*", "GET", "/orders/*/items"}, // a literal '*' in the path
		{"GET", "/orders/*", "GET", "/orders/*"},
		{"GET", "/orders/1", "GET", "/orders/*"},
		{"*", "/a?c", "GET", "/a?c"},    // a literal '?'
		{"GET", "/a/??", "GET", "/a/é"}, // '?' is a character, not a byte
		{"GET", "/a/?", "GET", "/a/é"},
		{"GET", "/*é", "PUT", "/日本/é"},
		{"post", "/x[1]", "POST", "/x[1]"}, // glob.match's own metacharacters are literal
		{"GET", "/x[1]", "GET", "/x1"},
		{"GET", "/{a,b}", "GET", "/a"},
		{"GET", `/w\*`, "GET", `/w\zzz`},
		{"GET", `/w\?`, "GET", "/w?"},
		{"*", "$connect", "", "$connect"}, // a WebSocket route key
		{"GET", "$connect", "", "$connect"},
		{"*", "*", "", "$connect"},
		{"*", "*/admin", "DELETE", "/u/admin"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	c := newCoverage(f)
	f.Fuzz(func(t *testing.T, grantMethod, grantPath, method, path string) {
		// API Gateway events are JSON, and decoding JSON replaces invalid UTF-8,
		// so the product never matches a string that is not valid UTF-8; nor
		// does the decision parser receive one from OPA.
		for _, s := range []string{grantMethod, grantPath, method, path} {
			if !utf8.ValidString(s) {
				t.Skip("not UTF-8")
			}
		}
		d, err := decision.Parse(map[string]any{"allow": true, "grants": []any{map[string]any{"method": grantMethod, "path": grantPath}}})
		if err != nil {
			t.Skip("the decision parser refuses the grant")
		}
		g := d.Grants[0]
		req, err := gateway.ParseARN(arnBase + method + path)
		if err != nil {
			t.Skip("the event decoder refuses the ARN")
		}
		if req.Method != "" && !slices.Contains(routedVerbs, req.Method) {
			t.Skip("API Gateway does not route this verb")
		}

		// The policy sees the grant as it wrote it; the IAM policy is built
		// from the parsed one.
		byRego := c.rego(t, grantMethod, grantPath, req)
		byIAM := c.iam(g, req)
		byRef := (g.Method == "*" || g.Method == req.Method) && iamref.Pattern(g.Path).MatchString(req.Path)
		if byRego != byIAM || byIAM != byRef {
			t.Errorf("grant %q %q (parsed %q %q), request %q %q: Rego says %v, IAM says %v, the reference says %v (resources %q)",
				grantMethod, grantPath, g.Method, g.Path, req.Method, req.Path, byRego, byIAM, byRef, req.Resources(g.Method, g.Path))
		}
	})
}
