package decisionlog

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/plugins"
	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"github.com/apigw-authz/authz/internal/invocation"
)

// SinkName is the name of the plugin that writes the lines: the plugin the
// decision_logs section of the OPA configuration names (see delivery).
const SinkName = "authz_decision_lines"

// Upload timing. Lambda freezes the process between invocations, and OPA's
// own timer with it: the authorizer uploads at invocation time instead.
const (
	// uploadBudget is the most a request waits for an upload it finds due.
	uploadBudget = 2 * time.Second
	// uploadReserve is kept, before a request's deadline, to answer it.
	uploadReserve = 50 * time.Millisecond
	// uploadTimeout bounds an upload that goes on without its request.
	uploadTimeout = 10 * time.Second
)

// dropCounters are OPA's counters of events its buffer dropped.
var dropCounters = []string{
	"decision_logs_dropped_rate_limit_exceeded",
	"decision_logs_dropped_buffer_size_limit_exceeded",
	"decision_logs_dropped_buffer_size_limit_bytes_exceeded",
	"decision_logs_encoding_failure",
}

// uploads is OPA's decision-log plugin and what the logger keeps of it.
type uploads struct {
	plugin  *logs.Plugin
	metrics metrics.Metrics // OPA's counters of the plugin's buffer
	service bool            // a decision-log service is configured
	every   time.Duration   // the reporting delay: how often to upload

	// queued counts the events handed to the plugin since the last upload
	// started: OPA's BufferSize leaves out the chunk being filled.
	queued  atomic.Int64
	last    atomic.Int64 // when the last upload started, in Unix nanoseconds
	upload  invocation.Task
	dropped atomic.Int64 // OPA's drop counters' sum, as last written
}

// Attach registers OPA's decision-log plugin, configured by the manager's
// decision_logs section, and the sink that writes its events, with m, which
// must not have started. The section must name SinkName as its plugin and
// the manual trigger (delivery writes both).
func (l *Logger) Attach(m *plugins.Manager) error {
	manual := plugins.TriggerManual
	cfg, err := logs.NewConfigBuilder().WithBytes(m.Config.DecisionLogs).WithServices(m.Services()).
		WithPlugins([]string{SinkName}).WithTriggerMode(&manual).Parse()
	if err != nil {
		return fmt.Errorf("decision_logs: %v", err)
	}
	if cfg == nil || cfg.Plugin == nil || *cfg.Plugin != SinkName {
		return errors.New("decision_logs: the section does not name the authorizer's sink")
	}
	counters := metrics.New()
	u := &uploads{
		plugin:  logs.New(cfg, m).WithMetrics(counters),
		metrics: counters,
		service: cfg.Service != "",
		every:   time.Duration(*cfg.Reporting.MinDelaySeconds), // OPA scales it to nanoseconds
		upload:  invocation.Task{Timeout: uploadTimeout, Wait: uploadBudget, Reserve: uploadReserve},
	}
	u.last.Store(time.Now().UnixNano())
	m.Register(SinkName, &sink{l})
	m.Register(logs.Name, u.plugin)
	l.opa = u
	return nil
}

// Uploads reports whether the events also go to a decision-log service.
func (l *Logger) Uploads() bool { return l.opa != nil && l.opa.service }

// FlushIfDue uploads the events waiting when the reporting delay has passed
// since the last upload, unless an upload runs, and waits for it as an
// invocation.Task does: an upload that takes longer goes on without the
// request.
func (l *Logger) FlushIfDue(ctx context.Context) {
	u := l.opa
	if u == nil || !u.service {
		return
	}
	now := time.Now().UnixNano()
	if u.queued.Load() == 0 || now-u.last.Load() < int64(u.every) {
		return
	}
	u.upload.Start(ctx, func(uctx context.Context) {
		u.last.Store(now)
		u.queued.Store(0)
		// OPA's plugin logs a failed upload and keeps the events for the next.
		_ = u.plugin.Trigger(uctx)
	})
}

// Flush uploads every event waiting, within ctx: at shutdown. It reports
// what is left, if anything.
func (l *Logger) Flush(ctx context.Context) error {
	u := l.opa
	if u == nil || !u.service {
		return nil
	}
	u.queued.Store(0)
	// OPA's upload sends every chunk, the one being filled too, and keeps
	// what it could not send.
	return u.plugin.Trigger(ctx)
}

// droppedSince is how many events OPA's buffer dropped since the last call.
func (u *uploads) droppedSince() int64 {
	if u == nil {
		return 0
	}
	var sum int64
	for _, name := range dropCounters {
		if n, ok := u.metrics.Counter(name).Value().(uint64); ok {
			sum += int64(n)
		}
	}
	return sum - u.dropped.Swap(sum)
}

// sink is the plugin OPA's decision-log plugin hands each event to, once
// dropped or masked: it writes the line.
type sink struct{ l *Logger }

// Log writes the event's line.
func (s *sink) Log(ctx context.Context, ev logs.EventV1) error {
	if u := s.l.opa; u != nil && u.service {
		u.queued.Add(1) // OPA buffered it before handing it over
	}
	s.l.sinkLog(ctx, ev)
	return nil
}

// Start is part of plugins.Plugin.
func (*sink) Start(context.Context) error { return nil }

// Stop is part of plugins.Plugin.
func (*sink) Stop(context.Context) {}

// Reconfigure is part of plugins.Plugin.
func (*sink) Reconfigure(context.Context, any) {}
