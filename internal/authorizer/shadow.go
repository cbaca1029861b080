package authorizer

import (
	"context"
	"fmt"
	"time"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/policy"
)

// Shadow is what the shadow query said of a request the policy was asked
// about. It is logged, never enforced.
type Shadow struct {
	Query string
	// Agreed is true when the shadow's decision would give the same response
	// as the live one: the same allow, and no decision.ResponseChanges.
	// Reasons and codes may differ.
	Agreed bool
	// Decision is the shadow's decision, nil when it failed.
	Decision *decision.Decision
	// Reason is the failure's code and Err the failure, when it failed.
	Reason  string
	Err     error
	Latency time.Duration
}

// shadow evaluates the shadow query, when there is one and the policy was
// asked, and keeps what it said in res. Nothing it does changes res's
// outcome or response: its errors and panics are the shadow's own.
func (a *Authorizer) shadow(ctx context.Context, res *Result) {
	s, ok := a.opts.Decider.(Shadower)
	if !ok || s.ShadowQuery() == "" || res.InputValue == nil {
		return
	}
	sh := &Shadow{Query: s.ShadowQuery()}
	res.Shadow = sh
	began := a.opts.Now()
	defer func() {
		if r := recover(); r != nil {
			sh.Agreed, sh.Decision, sh.Reason, sh.Err = false, nil, ReasonPanic, fmt.Errorf("panic: %v", r)
		}
		sh.Latency = a.opts.Now().Sub(began)
	}()
	v, err := s.ShadowValue(ctx, res.InputValue)
	var d *decision.Decision
	if err == nil {
		d, err = policy.ParseDecision(v)
	}
	if err != nil {
		sh.Reason, sh.Err = timeoutOr(ctx, policyReason(err)), err
		return
	}
	sh.Decision = d
	if res.Decision == nil || res.Decision.Allow != d.Allow {
		return
	}
	// Compared as API Gateway receives them: with the principals defaulted.
	live, shadow := *res.Decision, *d
	live.PrincipalID, shadow.PrincipalID = res.PrincipalID, principalID(d, res.Token)
	sh.Agreed = len(decision.ResponseChanges(&live, &shadow)) == 0
}

// grantList is a decision's grants as "METHOD path", for the log.
func grantList(gs []decision.Grant) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Method+" "+g.Path)
	}
	return out
}
