package authorizer

import (
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
)

// Outcome is what the client sees, in the contract's terms.
type Outcome string

// The outcomes of the contract's table.
const (
	OutcomeAllow        Outcome = "allow"        // the backend
	OutcomeDeny         Outcome = "deny"         // 403, the policy said no
	OutcomeUnauthorized Outcome = "unauthorized" // 401
	OutcomeError        Outcome = "error"        // 403, something failed
)

// Reasons of the outcomes this package decides; identity and policy reasons are
// used as they are.
const (
	ReasonAllowed  = "policy_allowed"           // the policy allowed the request
	ReasonDenied   = "policy_denied"            // the policy denied a verified caller
	ReasonNoToken  = "no_token"                 // no token, and the policy denied the anonymous request
	ReasonEvent    = "event_invalid"            // the event could not be read
	ReasonConfig   = "config_error"             // the configuration is broken; every request is denied
	ReasonResponse = "response_unrepresentable" // the decision cannot be said as an IAM policy
	ReasonPanic    = "panic"                    // a bug; recovered
	ReasonTimeout  = "timeout"                  // the deadline passed
	// ReasonAmbiguousPath: the path may mean another path to a CDN, proxy or
	// backend (dot segments, encoded separators, backslashes, control
	// characters); denied before the policy is asked.
	ReasonAmbiguousPath = "path_ambiguous"
	// ReasonTokenInPath: the verified token is also in the path, which cannot
	// be removed from what the policy sees; denied before the policy is asked.
	ReasonTokenInPath = "token_in_path"
)

// Result is everything about one decision: what the Lambda answers and what the
// decision log and `authz check` show.
type Result struct {
	DecisionID string
	Outcome    Outcome
	Reason     string
	// Err is why the request was not allowed, for the log; never sent to the client.
	Err   error
	Stack string // of a recovered panic
	// Event is the decoded event, nil when it could not be read.
	Event *gateway.Event
	// Token is the verified token, nil when there was none.
	Token *identity.Token
	// Input is the document the policy saw, nil when it was not asked;
	// InputValue is the same as the Rego value the policy evaluated.
	Input      map[string]any
	InputValue ast.Value
	// Value is the decision query's value as the policy returned it, nil
	// when the policy was not asked or had none.
	Value *any
	// Decision is the policy's validated decision, nil when there is none.
	Decision *decision.Decision
	// Shadow is what the shadow query said, nil without one or when the
	// policy was not asked.
	Shadow      *Shadow
	PrincipalID string
	// Response is what the Lambda returns; nil for Unauthorized, which is an error.
	Response any
	// Time is when the decision began; Latency how long it took, of which
	// Verify verifying the token and Eval evaluating the policy.
	Time                  time.Time
	Latency, Verify, Eval time.Duration
	// secret is the raw token, verified or not, so that the decision log can
	// cut it out of the path and ARN if the client put it there too.
	secret string
}

func (r *Result) unauthorized(reason string, err error) {
	if reason == "" {
		reason = identity.ReasonMalformed
	}
	r.Outcome, r.Reason, r.Err, r.Response = OutcomeUnauthorized, reason, err, nil
}
