package gateway

import (
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/internal/decision"
)

// ErrNotRepresentable means no IAM policy can say what the decision says, for
// example an Allow of an ARN that contains IAM wildcard characters or exceeds
// API Gateway's Resource limit. The caller must deny.
var ErrNotRepresentable = errors.New("gateway: the decision cannot be expressed as an IAM policy")

// Responder shapes the core's verdicts into the responses API Gateway expects.
type Responder struct {
	// SimpleResponses answers HTTP payload 2.0 events with {isAuthorized, context}
	// instead of an IAM policy, like API Gateway's EnableSimpleResponses.
	SimpleResponses bool
	// AllowAmbiguousPaths leaves out of the policies the Deny of ambiguous
	// paths (ARN.AmbiguousPathResources) that accompanies grants otherwise. Set
	// it when the authorizer lets such paths reach the policy.
	AllowAmbiguousPaths bool
}

// Allow lets the request through. The policy allows every grant, so that API
// Gateway's authorizer cache can reuse it for this identity's other requests, and
// this request's ARN if the grants do not already cover it. With grants, it
// denies the ambiguous forms of every path, which the cache would otherwise let
// through under them.
func (r Responder) Allow(ev *Event, d *decision.Decision, principalID string) (any, error) {
	if r.simple(ev) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: d.Context}, nil
	}
	resources, err := grantResources(ev.ARN, d.Grants)
	if err != nil {
		return nil, err
	}
	arn := ev.ARN.String()
	if !Allows(policy(statement("Allow", resources)), arn) {
		switch {
		case ev.ARN.HasWildcard():
			return nil, fmt.Errorf("%w: the method ARN contains * or ?, which IAM reads as wildcards, and no grant covers it", ErrNotRepresentable)
		case len(arn) > MaxResourceLength:
			return nil, fmt.Errorf("%w: the method ARN has %d characters, over API Gateway's %d, and no grant covers it", ErrNotRepresentable, len(arn), MaxResourceLength)
		}
		resources = append(resources, arn)
	}
	statements := []events.IAMPolicyStatement{statement("Allow", resources)}
	ambiguous, err := r.ambiguousPaths(ev, d)
	if err != nil {
		return nil, err
	}
	if len(ambiguous) > 0 {
		deny := statement("Deny", ambiguous)
		if statementMatches(deny, arn) {
			// The request passed the path rule, which the Deny mirrors; if they
			// ever disagree, this request must not get a policy refusing it.
			return nil, fmt.Errorf("%w: the Deny of ambiguous paths covers the method ARN", ErrNotRepresentable)
		}
		statements = append(statements, deny)
	}
	return r.policyResponse(ev, principalID, policy(statements...), d), nil
}

// Deny refuses the request and still allows the grants, so that a cached policy
// answers this identity's other requests as the policy would.
func (r Responder) Deny(ev *Event, d *decision.Decision, principalID string) (any, error) {
	if r.simple(ev) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false, Context: d.Context}, nil
	}
	resources, err := grantResources(ev.ARN, d.Grants)
	if err != nil {
		return nil, err
	}
	ambiguous, err := r.ambiguousPaths(ev, d)
	if err != nil {
		return nil, err
	}
	denied := append([]string{denyResource(ev.ARN.String())}, ambiguous...)
	statements := []events.IAMPolicyStatement{statement("Deny", denied)}
	if len(resources) > 0 {
		statements = append(statements, statement("Allow", resources))
	}
	return r.policyResponse(ev, principalID, policy(statements...), d), nil
}

// Fail answers a request the core could not decide: a Deny of this ARN and nothing
// else. It accepts an event that failed to decode, or nil, and then denies
// everything ("*"), which API Gateway may cache for the identity but never allows.
func (r Responder) Fail(ev *Event, principalID string) any {
	if ev != nil && r.simple(ev) {
		return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}
	}
	resource := "*"
	if ev != nil && ev.ARN.String() != "" {
		resource = denyResource(ev.ARN.String())
	}
	return r.policyResponse(ev, principalID, policy(statement("Deny", []string{resource})), nil)
}

// ambiguousPaths is what a policy listing d's grants must deny besides. A
// Deny that does not fit API Gateway's limit cannot be cut short (a shorter
// pattern would deny other paths), and without it the grants would let the
// cache pass ambiguous paths: such grants are not representable. (API
// Gateway's own ARNs are far shorter: a stage name has at most 128
// characters.)
func (r Responder) ambiguousPaths(ev *Event, d *decision.Decision) ([]string, error) {
	if r.AllowAmbiguousPaths || len(d.Grants) == 0 {
		return nil, nil
	}
	resources := ev.ARN.AmbiguousPathResources()
	for _, res := range resources {
		if len(res) > MaxResourceLength {
			return nil, fmt.Errorf("%w: the Deny of ambiguous paths needs a Resource of %d characters, over API Gateway's %d", ErrNotRepresentable, len(res), MaxResourceLength)
		}
	}
	return resources, nil
}

func (r Responder) simple(ev *Event) bool {
	return r.SimpleResponses && ev.Kind == KindHTTP && ev.PayloadVersion == "2.0"
}

func (r Responder) policyResponse(ev *Event, principalID string, doc events.APIGatewayCustomAuthorizerPolicy, d *decision.Decision) any {
	var ctx map[string]any
	var usageKey string
	if d != nil {
		ctx, usageKey = d.Context, d.UsageIdentifierKey
	}
	if ev != nil && ev.Kind == KindHTTP && ev.PayloadVersion == "2.0" {
		// Payload 2.0 keeps context values as they are.
		return events.APIGatewayV2CustomAuthorizerIAMPolicyResponse{PrincipalID: principalID, PolicyDocument: doc, Context: ctx}
	}
	if ev == nil || (ev.Kind != KindREST && ev.Kind != KindToken) {
		usageKey = "" // usage plans exist only for REST APIs
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID:        principalID,
		PolicyDocument:     doc,
		Context:            flattenContext(ctx),
		UsageIdentifierKey: usageKey,
	}
}

// grantResources turns grants into ARNs on the request's API and stage.
func grantResources(arn ARN, grants []decision.Grant) ([]string, error) {
	resources := make([]string, 0, len(grants)+1)
	for _, g := range grants {
		for _, res := range arn.Resources(g.Method, g.Path) {
			if len(res) > MaxResourceLength {
				return nil, fmt.Errorf("%w: grant %s %s gives an ARN of %d characters, over API Gateway's %d", ErrNotRepresentable, g.Method, truncate(g.Path, 40), len(res), MaxResourceLength)
			}
			resources = append(resources, res)
		}
	}
	return resources, nil
}

func statement(effect string, resources []string) events.IAMPolicyStatement {
	return events.IAMPolicyStatement{Action: []string{invokeAction}, Effect: effect, Resource: resources}
}

func policy(statements ...events.IAMPolicyStatement) events.APIGatewayCustomAuthorizerPolicy {
	return events.APIGatewayCustomAuthorizerPolicy{Version: "2012-10-17", Statement: statements}
}
