package authorizer

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"time"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/policy"
)

// Shadow is what the shadow query said of a request the policy was asked
// about. It is logged, never enforced.
type Shadow struct {
	Query string
	// Agreed is true when the shadow's decision would give the same response
	// as the live one: the same allow, principal, grants (as a set), context
	// and usage key. Reasons and codes may differ.
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
	if !ok || s.ShadowQuery() == "" || res.Input == nil {
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
	v, err := s.Shadow(ctx, res.Input)
	var d *decision.Decision
	if err == nil {
		d, err = policy.ParseDecision(v)
	}
	if err != nil {
		sh.Reason, sh.Err = timeoutOr(ctx, policyReason(err)), err
		return
	}
	sh.Decision = d
	sh.Agreed = res.Decision != nil && sameResponse(res.Decision, d)
}

// sameResponse reports whether two decisions give the same response.
func sameResponse(a, b *decision.Decision) bool {
	if a.Allow != b.Allow || a.PrincipalID != b.PrincipalID || a.UsageIdentifierKey != b.UsageIdentifierKey {
		return false
	}
	if !sameGrants(a.Grants, b.Grants) {
		return false
	}
	return reflect.DeepEqual(a.Context, b.Context) || (len(a.Context) == 0 && len(b.Context) == 0)
}

func sameGrants(a, b []decision.Grant) bool {
	set := func(gs []decision.Grant) map[decision.Grant]bool {
		m := make(map[decision.Grant]bool, len(gs))
		for _, g := range gs {
			m[g] = true
		}
		return m
	}
	return maps.Equal(set(a), set(b))
}

// grantList is a decision's grants as "METHOD path", sorted, for the log.
func grantList(gs []decision.Grant) []string {
	out := make([]string, 0, len(gs))
	for _, g := range gs {
		out = append(out, g.Method+" "+g.Path)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
