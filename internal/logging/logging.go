// Package logging makes the log lines of the authorizer and of the local tools:
// log/slog handlers whose every string value is cleaned before it is written.
// Cleaning removes the credentials a URL can carry (user information, the query
// string with a presigned URL's signature and session token, the fragment) and
// clips the value, so that no log line repeats a secret from a configured URL
// and no caller can make a line as long as the request it sends.
//
// It must never be the only defence: callers keep tokens out of what they log.
// It is the net under them, for text they do not control, such as a library's
// error that quotes the URL it failed to fetch.
package logging

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/lambda/messages"
)

// MaxValueBytes is the most a string value takes in a log line; longer values
// are cut and end in "…".
const MaxValueBytes = 1024

// MaxListItems is the most items of a list of strings (such as a decision's
// reasons) a log line keeps; the rest are counted.
const MaxListItems = 32

// JSON returns a logger writing one JSON object per line to w.
func JSON(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: cleanAttr}))
}

// RouteStandardLog makes l, marked "logger":"stdlib", slog's default logger and
// the standard log package's output, so that every line is one JSON object a
// pipeline can read. aws-lambda-go writes with the standard logger its report
// of each error a handler returns, of a panic, and why its runtime loop ended
// (log.Fatalf, just before the process exits).
//
// The report of the handler's 401 (unauthorizedReport) is routine and logged at
// info level. Every other line is logged at error level: the standard logger
// has no levels, and a line this package does not know is a failure of the
// runtime until shown otherwise, which AUTHZ_LOG_LEVEL=error must not hide.
func RouteStandardLog(l *slog.Logger) {
	l = l.With("logger", "stdlib")
	slog.SetDefault(l)
	// After slog.SetDefault, which routes the standard logger at info level.
	log.SetOutput(stdlibWriter{l})
	log.SetFlags(0)
}

// unauthorizedReport is aws-lambda-go's report of the error an authorizer
// returns for a 401: API Gateway answers 401 to the text "Unauthorized", and
// internal/authorizer's ErrUnauthorized is errors.New("Unauthorized"). A test
// holds the two together.
var unauthorizedReport = lambdaReport(errors.New("Unauthorized")) //nolint:staticcheck // API Gateway matches this exact text

// lambdaReport is the line aws-lambda-go (v1.55.1, lambda/invoke_loop.go
// reportFailure) writes for an error a handler returns: its
// messages.InvokeResponse_Error as JSON, with the error's text and the name of
// its type (errorString for errors.New).
func lambdaReport(err error) string {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	b, _ := json.Marshal(messages.InvokeResponse_Error{Message: err.Error(), Type: t.Name()})
	return string(b)
}

// stdlibWriter logs each line of the standard logger: the 401 report at info
// level, any other at error level.
type stdlibWriter struct{ log *slog.Logger }

func (w stdlibWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelError
	if msg == unauthorizedReport {
		level = slog.LevelInfo
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}

// Text returns a logger writing logfmt-style lines to w, for people at a terminal.
func Text(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: cleanAttr}))
}

// cleanAttr cleans every string the handler writes: the message, string
// attributes, errors and lists of strings.
func cleanAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(Clean(a.Value.String()))
	case slog.KindAny:
		switch v := a.Value.Any().(type) {
		case error:
			a.Value = slog.StringValue(Clean(v.Error()))
		case []string:
			a.Value = slog.AnyValue(cleanList(v))
		}
	}
	return a
}

func cleanList(items []string) []string {
	n := min(len(items), MaxListItems)
	out := make([]string, n, n+1)
	for i := range n {
		out[i] = Clean(items[i])
	}
	if len(items) > n {
		out = append(out, "… "+strconv.Itoa(len(items)-n)+" more")
	}
	return out
}

// Clean redacts the URLs in s and clips it to MaxValueBytes.
func Clean(s string) string {
	if strings.Contains(s, "://") {
		s = urlPattern.ReplaceAllStringFunc(s, RedactURL)
	}
	return clip(s, MaxValueBytes)
}

// urlPattern finds URLs in free text, as Go's errors quote them: up to white
// space or a quote.
var urlPattern = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+`)

// RedactURL removes what can be a credential from a URL: the user information
// becomes "REDACTED@", and a query string or fragment becomes "?REDACTED". The
// scheme, host and path stay, so that the line still says where. It works on
// the text, without parsing, so that a URL Go would refuse to parse is redacted
// too.
func RedactURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	authority, tail := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, tail = rest[:i], rest[i:]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		authority = "REDACTED@" + authority[at+1:]
	}
	if i := strings.IndexAny(tail, "?#"); i >= 0 {
		tail = tail[:i] + "?REDACTED"
	}
	return scheme + "://" + authority + tail
}

// clip cuts s to at most n bytes, at a character boundary, and marks the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
