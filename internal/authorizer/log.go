package authorizer

import (
	"context"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/apigw-authz/authz/internal/decisionlog"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/logging"
)

// log writes the decision-log line of res (see internal/decisionlog): OPA's
// event, with the input when the policy was asked and its result when it
// gave one, and the authorizer's fields under custom. It never holds the
// token: the input has it replaced, and the method ARN has it cut out. Then
// it uploads the events waiting, if an upload is due.
func (a *Authorizer) log(ctx context.Context, res *Result) {
	custom := map[string]any{
		"outcome":         string(res.Outcome),
		"reason":          res.Reason,
		"principal":       res.PrincipalID,
		"latency_ms":      ms(res.Latency.Microseconds()),
		"policy_revision": a.Revision(),
		// Always there, empty when the event did not say.
		"method_arn": "",
		"request_id": "",
	}
	measures := decisionlog.Measures{Outcome: string(res.Outcome), Reason: res.Reason,
		Latency: res.Latency, Verify: res.Verify, Eval: res.Eval}
	if d := res.Decision; d != nil && d.Code != "" {
		custom["code"] = d.Code
		measures.Code = d.Code
	}
	if res.Err != nil {
		// Error texts may quote what a library fetched: cleaned as the
		// logger's handler cleans its own values.
		custom["error"] = logging.Clean(res.Err.Error())
	}
	if res.Stack != "" {
		custom["stack"] = res.Stack
	}
	if t := res.Token; t != nil {
		custom["issuer"] = t.Issuer
		custom["subject"] = t.Subject
		if t.ClientID != "" {
			custom["client_id"] = t.ClientID
		}
	}
	if ev := res.Event; ev != nil {
		r := ev.Request
		custom["kind"] = string(ev.Kind)
		custom["method_arn"] = res.withoutSecret(ev.ARN.String())
		custom["request_id"] = r.RequestID
		if r.SourceIP != "" {
			custom["source_ip"] = r.SourceIP
		}
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		custom["lambda_request_id"] = lc.AwsRequestID
	}
	if sh := res.Shadow; sh != nil {
		custom["shadow"] = shadowLog(sh)
		measures.Shadow = decisionlog.ShadowAgreed
		switch {
		case sh.Err != nil:
			measures.Shadow = decisionlog.ShadowError
		case !sh.Agreed:
			measures.Shadow = decisionlog.ShadowDisagreed
		}
	}
	timers := map[string]time.Duration{"timer_authz_total_ns": res.Latency}
	if res.Verify > 0 {
		timers["timer_authz_verify_ns"] = res.Verify
	}
	if res.Eval > 0 {
		timers["timer_rego_query_eval_ns"] = res.Eval
	}
	if res.Shadow != nil {
		timers["timer_authz_shadow_ns"] = res.Shadow.Latency
	}
	a.opts.Decisions.Log(ctx, decisionlog.Entry{
		DecisionID: res.DecisionID,
		Timestamp:  res.Time,
		Path:       a.path,
		Input:      res.Input,
		InputValue: res.InputValue,
		Result:     res.Value,
		Bundles:    a.bundles(),
		Timers:     timers,
		Custom:     custom,
		Error:      res.Outcome == OutcomeError,
		Measures:   measures,
	})
	a.opts.Decisions.FlushIfDue(ctx)
}

// shadowLog is what the decision log says of the shadow: whether it agreed,
// and when not, what it decided or why it could not.
func shadowLog(sh *Shadow) map[string]any {
	out := map[string]any{"query": sh.Query, "agreed": sh.Agreed, "latency_ms": ms(sh.Latency.Microseconds())}
	switch d := sh.Decision; {
	case sh.Err != nil:
		out["reason"] = sh.Reason
		out["error"] = logging.Clean(sh.Err.Error())
	case !sh.Agreed:
		out["allow"] = d.Allow
		out["grants"] = grantList(d.Grants)
		if d.PrincipalID != "" {
			out["principal_id"] = d.PrincipalID
		}
		if len(d.Reasons) > 0 {
			out["reasons"] = d.Reasons
		}
		if d.Code != "" {
			out["code"] = d.Code
		}
	}
	return out
}

// bundles are the revisions of the policy's bundles, by name.
func (a *Authorizer) bundles() map[string]string {
	if b, ok := a.opts.Decider.(interface{ Bundles() map[string]string }); ok {
		return b.Bundles()
	}
	return map[string]string{"authz": a.Revision()}
}

func ms(us int64) float64 { return float64(us) / 1000 }

// withoutSecret cuts the token out of s. A value of fewer than 8 bytes is no
// credential worth cutting out: replacing it would mangle the line, as a
// garbage token such as "x" is in most paths.
func (r *Result) withoutSecret(s string) string {
	if len(r.secret) < 8 {
		return s
	}
	return strings.ReplaceAll(s, r.secret, gateway.Redacted)
}
