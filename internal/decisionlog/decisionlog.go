// Package decisionlog writes the decision log: one line per decision, OPA's
// decision-log event (decision_id, timestamp, path, input, result, bundles,
// labels, metrics, erased, masked) with the authorizer's own fields under
// custom and, with metrics on, CloudWatch's Embedded Metric Format in the
// same line. Attached to OPA's plugin manager (Attach), each event goes
// through OPA's decision-log plugin first, so that the bundle's
// system.log.drop and system.log.mask rules drop and mask it as OPA does, and
// a configured decision-log service receives it too.
//
// It must never write what a mask rule removed, nor the line of an event
// that OPA could not mask: OPA drops such an event, and only its metrics are
// written. It never decides anything and never fails a request: a log that
// cannot be written is counted and reported, not returned.
package decisionlog

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/plugins/logs"
	"github.com/open-policy-agent/opa/v1/server"
)

// Options configure the decision log.
type Options struct {
	// Console writes every decision's line (AUTHZ_DECISION_LOG); when false,
	// only the lines of error outcomes, which are always written.
	Console bool
	// Metrics, when its Namespace is set, adds EMF metadata to each line
	// (AUTHZ_METRICS=emf, AUTHZ_METRICS_NAMESPACE).
	Metrics MetricsOptions
}

// Entry is one decision, as the authorizer saw it.
type Entry struct {
	DecisionID string
	Timestamp  time.Time
	// Path is the decision query as OPA names it: authz/decision.
	Path string
	// Input is the input document, nil when the policy was not asked.
	Input map[string]any
	// InputValue, when set, is Input as the policy evaluated it, a Rego
	// value: OPA's mask and drop rules read it without a conversion of
	// their own.
	InputValue ast.Value
	// Result is the value of the decision query, nil when it had none.
	Result *any
	// Bundles are the revisions of the policy's bundles, by name.
	Bundles map[string]string
	// Timers are the decision's durations, by OPA metric name
	// (timer_rego_query_eval_ns …).
	Timers map[string]time.Duration
	// Custom holds the authorizer's fields (outcome, reason, principal …).
	Custom map[string]any
	// Error marks an error outcome: its line is written at error level, and
	// even with Console off.
	Error bool
	// Measures are the decision's metrics, for EMF.
	Measures Measures
}

// Logger writes decision-log lines. It is safe for concurrent use.
type Logger struct {
	log  *slog.Logger
	opts Options
	// opa is OPA's decision-log plugin, once attached to a plugin manager.
	opa *uploads
	// pending holds the entries handed to OPA's plugin and not yet written
	// by the sink, by decision id: what OPA dropped is still there after.
	pending sync.Map
}

// New returns a logger writing its lines with log. Until Attach, lines are
// written as they are, without OPA's masking: Attach before the first
// decision of a function.
func New(log *slog.Logger, opts Options) *Logger {
	return &Logger{log: log, opts: opts}
}

// Log writes the decision-log line of e, through OPA's decision-log plugin
// when attached. It never fails the caller: OPA's errors are logged.
func (l *Logger) Log(ctx context.Context, e Entry) {
	defer func() {
		// The response is settled: a failure here is the log's, never the
		// request's (no 500 for a line that could not be written).
		if r := recover(); r != nil {
			l.log.Error("writing the decision log failed", "decision_id", e.DecisionID, "panic", fmt.Sprint(r))
		}
	}()
	ctx = context.WithoutCancel(ctx) // the line is written even for a request cancelled
	if l.opa == nil || (!l.opts.Console && !e.Error && !l.opa.service) {
		// No OPA plugin, or no event to write or upload: OPA's masking
		// has nothing to do (a metrics-only line holds no input).
		ev := l.event(e)
		l.write(ctx, &ev, &e)
		return
	}
	l.pending.Store(e.DecisionID, &e)
	input := plainPtr(e.Input)
	info := &server.Info{
		DecisionID: e.DecisionID,
		Path:       e.Path,
		Timestamp:  e.Timestamp,
		Input:      input,
		Results:    e.Result,
		Bundles:    make(map[string]server.BundleInfo, len(e.Bundles)),
		Metrics:    timers(e.Timers),
		Custom:     e.Custom,
	}
	for name, rev := range e.Bundles {
		info.Bundles[name] = server.BundleInfo{Revision: rev}
	}
	switch {
	case e.InputValue != nil:
		info.InputAST = e.InputValue
	case input != nil:
		// The mask and drop rules' input, converted directly: OPA would
		// encode the input to JSON and decode it again.
		info.InputAST, _ = ast.InterfaceToValue(*input)
	}
	if err := l.opa.plugin.Log(ctx, info); err != nil {
		l.log.Error("the decision log failed", "decision_id", e.DecisionID, "error", err.Error())
	}
	if _, left := l.pending.LoadAndDelete(e.DecisionID); left {
		// Dropped by a drop rule, or by OPA because masking failed: the
		// line is not written, but the decision still counts.
		l.write(ctx, nil, &e)
	}
}

// event is e as OPA's plugin would hand it to a decision logger, unmasked.
func (l *Logger) event(e Entry) logs.EventV1 {
	ev := logs.EventV1{
		DecisionID: e.DecisionID,
		Path:       e.Path,
		Input:      anyPtr(e.Input),
		Result:     e.Result,
		Timestamp:  e.Timestamp,
		Custom:     e.Custom,
		Metrics:    timers(e.Timers).All(),
		Bundles:    make(map[string]logs.BundleInfoV1, len(e.Bundles)),
	}
	for name, rev := range e.Bundles {
		ev.Bundles[name] = logs.BundleInfoV1{Revision: rev}
	}
	return ev
}

// sinkLog is the sink's side: OPA's plugin has dropped or masked the event
// and hands it over to be written.
func (l *Logger) sinkLog(ctx context.Context, ev logs.EventV1) {
	v, ok := l.pending.LoadAndDelete(ev.DecisionID)
	if !ok {
		// Not an event of this logger's (none other is logged through the
		// plugin manager): written without metrics.
		l.write(ctx, &ev, nil)
		return
	}
	l.write(ctx, &ev, v.(*Entry))
}

// write writes one line: the event, when there is one to write, with e's
// metrics; or, for an event dropped or not written (Console off), a line
// of metrics alone, so that every decision is counted.
func (l *Logger) write(ctx context.Context, ev *logs.EventV1, e *Entry) {
	level := slog.LevelInfo
	if e != nil && e.Error {
		level = slog.LevelError
	}
	if ev != nil && (l.opts.Console || level == slog.LevelError) {
		clipped := clipEvent(*ev)
		attrs := eventAttrs(&clipped)
		if e != nil {
			attrs = l.withMetrics(attrs, e)
		}
		l.log.LogAttrs(ctx, level, "decision", attrs...)
		return
	}
	if e == nil || l.opts.Metrics.Namespace == "" {
		return
	}
	attrs := l.withMetrics([]slog.Attr{slog.String("decision_id", e.DecisionID)}, e)
	l.log.LogAttrs(ctx, level, "decision metrics", attrs...)
}

// clipEvent is ev with its long strings cut (see clip); the pointers cut
// are listed in custom.clipped, so that a replay knows the input is not
// whole there.
func clipEvent(ev logs.EventV1) logs.EventV1 {
	var clipped []string
	if ev.Input != nil {
		v := clip(*ev.Input, "/input", &clipped)
		ev.Input = &v
	}
	if ev.Result != nil {
		v := clip(*ev.Result, "/result", &clipped)
		ev.Result = &v
	}
	if ev.Custom != nil {
		c, _ := clip(ev.Custom, "/custom", &clipped).(map[string]any)
		ev.Custom = c
	}
	if len(clipped) > 0 {
		custom := make(map[string]any, len(ev.Custom)+1)
		for k, v := range ev.Custom {
			custom[k] = v
		}
		custom["clipped"] = pointers(clipped)
		ev.Custom = custom
	}
	return ev
}

// eventAttrs are the members of OPA's EventV1, in its order, as attributes
// of one line: the members OPA leaves out when empty are left out too.
func eventAttrs(ev *logs.EventV1) []slog.Attr {
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("decision_id", ev.DecisionID),
		slog.Time("timestamp", ev.Timestamp),
		slog.Any("labels", ev.Labels),
	)
	if len(ev.Bundles) > 0 {
		attrs = append(attrs, slog.Any("bundles", ev.Bundles))
	}
	if ev.Path != "" {
		attrs = append(attrs, slog.String("path", ev.Path))
	}
	if ev.Input != nil {
		attrs = append(attrs, slog.Any("input", *ev.Input))
	}
	if ev.Result != nil {
		attrs = append(attrs, slog.Any("result", *ev.Result))
	}
	// As pointers, not []string: the logger's handler clips long lists of
	// strings, and replay must see every pointer a mask rule touched.
	if len(ev.Erased) > 0 {
		attrs = append(attrs, slog.Any("erased", pointers(ev.Erased)))
	}
	if len(ev.Masked) > 0 {
		attrs = append(attrs, slog.Any("masked", pointers(ev.Masked)))
	}
	if len(ev.Metrics) > 0 {
		attrs = append(attrs, slog.Any("metrics", ev.Metrics))
	}
	if ev.Custom != nil {
		attrs = append(attrs, slog.Any("custom", ev.Custom))
	}
	return attrs
}

// pointers are JSON pointers into the event.
type pointers []string

func anyPtr(m map[string]any) *any {
	if m == nil {
		return nil
	}
	var v any = m
	return &v
}

// plainPtr is the input in JSON's types (see plain), for OPA's masking.
func plainPtr(m map[string]any) *any {
	if m == nil {
		return nil
	}
	v := plain(m)
	return &v
}

// timers is the decision's durations as OPA's metrics, which the decision-log
// plugin reads with All.
func timers(ts map[string]time.Duration) metrics.Metrics {
	all := make(map[string]any, len(ts))
	for name, d := range ts {
		all[name] = d.Nanoseconds()
	}
	return fixedMetrics{Metrics: metrics.NoOp(), all: all}
}

// fixedMetrics are metrics measured already: All is what OPA's plugin logs.
type fixedMetrics struct {
	metrics.Metrics
	all map[string]any
}

func (f fixedMetrics) All() map[string]any { return f.all }
