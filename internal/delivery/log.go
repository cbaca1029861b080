package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	opalog "github.com/open-policy-agent/opa/v1/logging"
)

// opaLogger writes OPA's plugin logs (downloads, activations, their errors)
// through the authorizer's own handler, so that they are JSON lines with
// every value cleaned, like every other line of the function.
type opaLogger struct {
	log    *slog.Logger
	fields []any
}

func newOPALogger(log *slog.Logger) *opaLogger {
	return &opaLogger{log: log.With("logger", "opa")}
}

func (l *opaLogger) write(level slog.Level, format string, a ...any) {
	l.log.Log(context.Background(), level, fmt.Sprintf(format, a...), l.fields...)
}

// Debug logs at debug level.
func (l *opaLogger) Debug(format string, a ...any) { l.write(slog.LevelDebug, format, a...) }

// Info logs at info level.
func (l *opaLogger) Info(format string, a ...any) { l.write(slog.LevelInfo, format, a...) }

// Warn logs at warn level.
func (l *opaLogger) Warn(format string, a ...any) { l.write(slog.LevelWarn, format, a...) }

// Error logs at error level.
func (l *opaLogger) Error(format string, a ...any) { l.write(slog.LevelError, format, a...) }

// WithFields returns a logger adding fields to every line. Header maps keep
// their names and lose their values: OPA masks only Authorization and the AWS
// session token in the requests it logs at debug level, and a service's
// configured headers may carry an API key.
func (l *opaLogger) WithFields(fields map[string]any) opalog.Logger {
	out := &opaLogger{log: l.log, fields: append([]any(nil), l.fields...)}
	for k, v := range fields {
		switch h := v.(type) {
		case http.Header:
			v = headerNames(h)
		case map[string][]string:
			v = headerNames(h)
		case map[string]string:
			names := make(map[string][]string, len(h))
			for name := range h {
				names[name] = nil
			}
			v = headerNames(names)
		}
		out.fields = append(out.fields, k, v)
	}
	return out
}

// headerNames is a header map with every value replaced.
func headerNames(h map[string][]string) map[string]string {
	out := make(map[string]string, len(h))
	for name := range h {
		out[name] = "[REDACTED]"
	}
	return out
}

// GetLevel tells OPA the most it may log: the handler filters by
// AUTHZ_LOG_LEVEL itself.
func (l *opaLogger) GetLevel() opalog.Level {
	switch {
	case l.log.Enabled(context.Background(), slog.LevelDebug):
		return opalog.Debug
	case l.log.Enabled(context.Background(), slog.LevelInfo):
		return opalog.Info
	case l.log.Enabled(context.Background(), slog.LevelWarn):
		return opalog.Warn
	}
	return opalog.Error
}

// SetLevel is ignored: AUTHZ_LOG_LEVEL sets the level.
func (*opaLogger) SetLevel(opalog.Level) {}
