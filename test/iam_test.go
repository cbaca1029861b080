package e2e

import (
	"encoding/json"
	"testing"

	"github.com/apigw-authz/authz/internal/iamref"
)

// This file checks responses the way API Gateway acts on them. The IAM matching
// here is internal/iamref's, written independently of internal/gateway with
// regular expressions, so that a mistake in one is not repeated in the other.

type statement struct {
	Action   []string
	Effect   string
	Resource []string
}

type authorizerResponse struct {
	PrincipalID    string `json:"principalId"`
	PolicyDocument struct {
		Version   string
		Statement []statement
	} `json:"policyDocument"`
	Context            map[string]any `json:"context"`
	UsageIdentifierKey string         `json:"usageIdentifierKey"`
	// HTTP API simple responses.
	IsAuthorized *bool `json:"isAuthorized"`
}

func parseResponse(t *testing.T, b []byte) authorizerResponse {
	t.Helper()
	var r authorizerResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("response %s: %v", b, err)
	}
	return r
}

// apiGatewayAllows says whether API Gateway lets a request on arn through under
// the response: an explicit Deny wins, then any Allow; without one, denied.
func apiGatewayAllows(t *testing.T, r authorizerResponse, arn string) bool {
	t.Helper()
	if r.IsAuthorized != nil {
		return *r.IsAuthorized
	}
	if r.PolicyDocument.Version != "2012-10-17" {
		t.Fatalf("policy version %q", r.PolicyDocument.Version)
	}
	allowed := false
	for _, st := range r.PolicyDocument.Statement {
		if len(st.Action) != 1 || st.Action[0] != "execute-api:Invoke" {
			t.Fatalf("unexpected action %v", st.Action)
		}
		for _, res := range st.Resource {
			if len(res) > 512 {
				t.Fatalf("resource of %d characters, over API Gateway's limit", len(res))
			}
			if !iamref.Pattern(res).MatchString(arn) {
				continue
			}
			switch st.Effect {
			case "Deny":
				return false
			case "Allow":
				allowed = true
			default:
				t.Fatalf("unexpected effect %q", st.Effect)
			}
		}
	}
	return allowed
}

// onlyDenies reports whether a policy has no Allow statement at all.
func onlyDenies(r authorizerResponse) bool {
	if r.IsAuthorized != nil {
		return !*r.IsAuthorized
	}
	for _, st := range r.PolicyDocument.Statement {
		if st.Effect != "Deny" {
			return false
		}
	}
	return len(r.PolicyDocument.Statement) > 0
}
