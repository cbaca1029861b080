package policy

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/apigw-authz/authz/internal/gateway"
	regofiles "github.com/apigw-authz/authz/rego"
)

// TestRegoAndIAMAgree checks that the default policy's matcher (rego/lib/iam.rego)
// and the IAM policy built from the same grants (internal/gateway) cover exactly
// the same requests. Where they differ, API Gateway's authorizer cache would give
// a caller's other requests a different answer than the policy does.
func TestRegoAndIAMAgree(t *testing.T) {
	src, err := regofiles.Files.ReadFile("lib/iam.rego")
	if err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(rego.Query("data.lib.iam.covers(input.grant, input.request)"), rego.Module("lib/iam.rego", string(src))).
		PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	covers := func(method, path, rmethod, rpath string) bool {
		rs, err := pq.Eval(context.Background(), rego.EvalInput(map[string]any{
			"grant":   map[string]any{"method": method, "path": path},
			"request": map[string]any{"method": rmethod, "path": rpath},
		}))
		if err != nil {
			t.Fatal(err)
		}
		return rs.Allowed()
	}
	const base = "arn:aws:execute-api:eu-west-1:123456789012:api/prod/"
	arnOf := func(method, path string) gateway.ARN {
		a, err := gateway.ParseARN(base + method + path)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	grantMethods := []string{"*", "GET", "POST"}
	grantPaths := []string{"/profile", "/orders", "/orders/*", "*", "/a?c", "*/admin", "/x[1]", "/{a,b}", `/w\*`, "$connect", "/"}
	methods := []string{"GET", "POST", "DELETE"}
	paths := []string{"/profile", "/admin/users/profile", "/orders", "/orders/", "/orders/1", "/orders/1/x", "/x/orders/1",
		"/abc", "/ac", "/a/c", "/x[1]", "/x1", "/a", "/{a,b}", `/w\zzz`, "/wz", "/u/admin", "/admin", "/$connect", "/a/$connect", "/"}
	n := 0
	for _, gm := range grantMethods {
		for _, gp := range grantPaths {
			for _, m := range methods {
				for _, p := range paths {
					req := arnOf(m, p)
					doc := events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: []events.IAMPolicyStatement{
						{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: req.Resources(gm, gp)},
					}}
					iam := gateway.Allows(doc, req.String())
					if r := covers(gm, gp, m, p); r != iam {
						t.Errorf("grant %s %s, request %s %s: Rego says %v, IAM says %v (resources %v)", gm, gp, m, p, r, iam, req.Resources(gm, gp))
					}
					n++
				}
			}
		}
	}
	t.Logf("%d grant and request pairs agree", n)
}
