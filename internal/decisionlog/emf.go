package decisionlog

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/apigw-authz/authz/internal/metrics"
)

// MetricsOptions say where the metrics go.
type MetricsOptions struct {
	// Namespace is the CloudWatch namespace; "" writes no metrics.
	Namespace string
	// Function, when set, is a dimension of every metric
	// (AWS_LAMBDA_FUNCTION_NAME), so that two authorizers in one account and
	// namespace are told apart.
	Function string
}

// Measures are what a decision adds to the metrics. Their dimensions are
// closed sets: outcomes, the authorizer's reason codes, the policy's codes
// (lower snake case, checked by the decision's schema).
type Measures struct {
	Outcome, Reason, Code string
	// Latency is the whole decision; Verify the token's verification and
	// Eval the policy's evaluation, zero when they did not happen.
	Latency, Verify, Eval time.Duration
	// Shadow is "" without a shadow query, else "agreed", "disagreed" or
	// "error".
	Shadow string
}

// Published is every metric a decision line can carry, with the dimension
// sets CloudWatch publishes it under, besides Function, which every set
// starts with when the function's name is known. Alarms and dashboards
// (deploy/terraform/modules/alarms) are checked against it. Read it; never
// change it.
var Published = map[string][][]string{
	"Decisions":           {{"Outcome"}, {"Outcome", "Reason"}, {"Code"}},
	"Latency":             {{}},
	"VerifyTime":          {{}},
	"EvalTime":            {{}},
	"JWKSFetches":         {{}},
	"BundleActivations":   {{}},
	"BundleFailures":      {{}},
	"DroppedLogEvents":    {{}},
	"ShadowDisagreements": {{}},
	"ShadowErrors":        {{}},
}

// The shadow's verdicts.
const (
	ShadowAgreed    = "agreed"
	ShadowDisagreed = "disagreed"
	ShadowError     = "error"
)

// withMetrics adds the EMF members of e to attrs: a line CloudWatch turns
// into metrics as it arrives, with no API call and no second line.
//
// Two directives keep the custom metrics few: decisions are counted by
// outcome, by outcome and reason, and by the policy's code; the timings and
// the process's counts are published without those dimensions.
func (l *Logger) withMetrics(attrs []slog.Attr, e *Entry) []slog.Attr {
	o := l.opts.Metrics
	if o.Namespace == "" {
		return attrs
	}
	m := e.Measures
	base := []string{}
	values := map[string]string{}
	if o.Function != "" {
		base = append(base, "Function")
		values["Function"] = o.Function
	}
	dims := func(names ...string) []string { return append(slices.Clone(base), names...) }

	counted := metrics.Record{
		Namespace:  o.Namespace,
		Dimensions: [][]string{dims("Outcome"), dims("Outcome", "Reason")},
		Values:     map[string]string{"Outcome": m.Outcome, "Reason": m.Reason},
		Metrics:    []metrics.Metric{{Name: "Decisions", Unit: metrics.Count, Value: 1}},
	}
	if m.Code != "" {
		counted.Dimensions = append(counted.Dimensions, dims("Code"))
		counted.Values["Code"] = m.Code
	}
	for k, v := range values {
		counted.Values[k] = v
	}
	timed := metrics.Record{
		Namespace:  o.Namespace,
		Dimensions: [][]string{base},
		Values:     values,
		Metrics: []metrics.Metric{
			{Name: "Latency", Unit: metrics.Milliseconds, Value: ms(m.Latency)},
			{Name: "JWKSFetches", Unit: metrics.Count, Value: float64(metrics.JWKSFetches.Take())},
			{Name: "BundleActivations", Unit: metrics.Count, Value: float64(metrics.BundleActivations.Take())},
			{Name: "BundleFailures", Unit: metrics.Count, Value: float64(metrics.BundleFailures.Take())},
			{Name: "DroppedLogEvents", Unit: metrics.Count, Value: float64(l.opa.droppedSince())},
		},
	}
	if m.Verify > 0 {
		timed.Metrics = append(timed.Metrics, metrics.Metric{Name: "VerifyTime", Unit: metrics.Milliseconds, Value: ms(m.Verify)})
	}
	if m.Eval > 0 {
		timed.Metrics = append(timed.Metrics, metrics.Metric{Name: "EvalTime", Unit: metrics.Milliseconds, Value: ms(m.Eval)})
	}
	if m.Shadow != "" {
		timed.Metrics = append(timed.Metrics,
			metrics.Metric{Name: "ShadowDisagreements", Unit: metrics.Count, Value: one(m.Shadow == ShadowDisagreed)},
			metrics.Metric{Name: "ShadowErrors", Unit: metrics.Count, Value: one(m.Shadow == ShadowError)})
	}
	obj := map[string]any{}
	if err := metrics.AddAll(obj, e.Timestamp, counted, timed); err != nil {
		// A bug, or a value no dimension may hold: the line goes without
		// its metrics rather than not at all.
		l.log.LogAttrs(context.Background(), slog.LevelError, "the decision's metrics are invalid; written without them",
			slog.String("decision_id", e.DecisionID), slog.String("error", err.Error()))
		return attrs
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		attrs = append(attrs, slog.Any(k, obj[k]))
	}
	return attrs
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
