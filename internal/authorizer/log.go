package authorizer

import (
	"context"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/apigw-authz/authz/internal/gateway"
)

// log writes the decision-log line of res: one JSON object with the decision id,
// outcome, reason, principal, issuer, request, policy revision and latency. It
// never holds the token. Error outcomes are logged even with the decision log off.
// Values a caller chooses (the path, the reasons, error texts) are written as
// they are: the logger's handler (internal/logging) clips them and redacts URLs.
func (a *Authorizer) log(ctx context.Context, res *Result) {
	level := slog.LevelInfo
	if res.Outcome == OutcomeError {
		level = slog.LevelError
	} else if !a.opts.DecisionLog {
		return
	}
	attrs := make([]slog.Attr, 0, 20)
	attrs = append(attrs,
		slog.String("decision_id", res.DecisionID),
		slog.String("outcome", string(res.Outcome)),
		slog.String("reason", res.Reason),
		slog.String("principal", res.PrincipalID),
		slog.String("policy_revision", a.Revision()),
		slog.Float64("latency_ms", float64(res.Latency.Microseconds())/1000),
	)
	if res.Err != nil {
		attrs = append(attrs, slog.String("error", res.Err.Error()))
	}
	if res.Stack != "" {
		attrs = append(attrs, slog.String("stack", res.Stack))
	}
	if t := res.Token; t != nil {
		attrs = append(attrs, slog.String("issuer", t.Issuer), slog.String("subject", t.Subject))
		if t.ClientID != "" {
			attrs = append(attrs, slog.String("client_id", t.ClientID))
		}
	}
	if ev := res.Event; ev != nil {
		r := ev.Request
		attrs = append(attrs,
			slog.String("kind", string(ev.Kind)),
			slog.String("method", r.Method),
			slog.String("path", res.withoutSecret(r.Path)),
			slog.String("method_arn", res.withoutSecret(ev.ARN.String())),
		)
		if r.RequestID != "" {
			attrs = append(attrs, slog.String("request_id", r.RequestID))
		}
		if r.SourceIP != "" {
			attrs = append(attrs, slog.String("source_ip", r.SourceIP))
		}
	}
	if d := res.Decision; d != nil && len(d.Reasons) > 0 {
		attrs = append(attrs, slog.Any("reasons", d.Reasons))
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		attrs = append(attrs, slog.String("lambda_request_id", lc.AwsRequestID))
	}
	// The request's context may be cancelled by now; the line is written anyway.
	a.opts.Log.LogAttrs(context.WithoutCancel(ctx), level, "decision", attrs...)
}

// withoutSecret cuts the token out of s. A value of fewer than 8 bytes is no
// credential worth cutting out: replacing it would mangle the line, as a
// garbage token such as "x" is in most paths.
func (r *Result) withoutSecret(s string) string {
	if len(r.secret) < 8 {
		return s
	}
	return strings.ReplaceAll(s, r.secret, gateway.Redacted)
}
