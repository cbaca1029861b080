package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"https://bucket.s3.amazonaws.com/b.tar.gz?X-Amz-Credential=AKIA%2F&X-Amz-Signature=abc", "https://bucket.s3.amazonaws.com/b.tar.gz?REDACTED"},
		{"https://user:secret@host.example/p", "https://REDACTED@host.example/p"},
		{"https://user:se@cret@host.example?x=1", "https://REDACTED@host.example?REDACTED"},
		{"https://host.example/p#frag", "https://host.example/p?REDACTED"},
		{"https://host.example/a/b", "https://host.example/a/b"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"no url here", "no url here"},
	}
	for _, c := range cases {
		if got := RedactURL(c.in); got != c.want {
			t.Errorf("RedactURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestLinesCarryNoURLCredentials writes what Go's HTTP client says when a
// presigned URL fails, in each way a value reaches a line, and checks that no
// secret part survives while the host and path do.
func TestLinesCarryNoURLCredentials(t *testing.T) {
	const presigned = "https://policies.s3.eu-west-1.amazonaws.com/prod/bundle.tar.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIAEXAMPLE%2F20261130%2Feu-west-1%2Fs3%2Faws4_request&X-Amz-Security-Token=SESSIONSECRET&X-Amz-Signature=SIGSECRET"
	urlErr := &url.Error{Op: "Get", URL: presigned, Err: errors.New("dial tcp: connection refused")}
	var buf bytes.Buffer
	log := JSON(&buf, slog.LevelInfo)
	log.Error("fetch failed "+presigned, "error", urlErr.Error(), "err", urlErr, "source", presigned,
		"list", []string{presigned}, "wrapped", fmt.Errorf("AUTHZ_BUNDLE %q: %w", presigned, urlErr))
	line := buf.String()
	for _, secret := range []string{"ASIAEXAMPLE", "SESSIONSECRET", "SIGSECRET", "X-Amz-"} {
		if strings.Contains(line, secret) {
			t.Errorf("the line holds %q:\n%s", secret, line)
		}
	}
	if n := strings.Count(line, "policies.s3.eu-west-1.amazonaws.com/prod/bundle.tar.gz?REDACTED"); n != 7 {
		t.Errorf("the host and path should stay, redacted, in all 7 places; found %d:\n%s", n, line)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("not one JSON object: %v", err)
	}
}

// TestLinesAreClipped checks that a caller cannot make a log line as long as the
// request it sends: every string value, and every list, is bounded.
func TestLinesAreClipped(t *testing.T) {
	long := strings.Repeat("é", 100_000) // 200 KB, two bytes per character
	reasons := make([]string, 1000)
	for i := range reasons {
		reasons[i] = long
	}
	var buf bytes.Buffer
	log := JSON(&buf, slog.LevelInfo)
	log.Info(long, "path", long, "reasons", reasons, "error", errors.New(long))
	if n := buf.Len(); n > 60_000 {
		t.Fatalf("the line has %d bytes", n)
	}
	var m struct {
		Msg     string   `json:"msg"`
		Path    string   `json:"path"`
		Error   string   `json:"error"`
		Reasons []string `json:"reasons"`
	}
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{m.Msg, m.Path, m.Error, m.Reasons[0]} {
		if len(v) > MaxValueBytes+len("…") || !strings.HasSuffix(v, "…") || strings.ContainsRune(v, '\uFFFD') {
			t.Errorf("a value of %d bytes, not clipped at a character boundary: %.40q…", len(v), v)
		}
	}
	if len(m.Reasons) != MaxListItems+1 || m.Reasons[MaxListItems] != "… 968 more" {
		t.Errorf("reasons: %d items, last %.40q", len(m.Reasons), m.Reasons[len(m.Reasons)-1])
	}

	buf.Reset()
	Text(&buf, slog.LevelInfo).Info("x", "path", long)
	if n := buf.Len(); n > 2*MaxValueBytes {
		t.Errorf("a text line has %d bytes", n)
	}
}

// stdlibLine is a line the standard logger wrote through RouteStandardLog.
type stdlibLine struct{ Time, Level, Msg, Logger string }

// routeStandardLog routes the standard logger to a JSON logger at level, for
// one test, and returns what it writes.
func routeStandardLog(t *testing.T, level slog.Level) *bytes.Buffer {
	t.Helper()
	prev, flags, out := slog.Default(), log.Flags(), log.Writer()
	t.Cleanup(func() {
		slog.SetDefault(prev)
		log.SetOutput(out)
		log.SetFlags(flags)
	})
	var buf bytes.Buffer
	RouteStandardLog(JSON(&buf, level))
	return &buf
}

func stdlibLines(t *testing.T, buf *bytes.Buffer) []stdlibLine {
	t.Helper()
	var lines []stdlibLine
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if line == "" {
			continue
		}
		var m stdlibLine
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not one JSON object: %v\n%s", i+1, err, line)
		}
		if m.Time == "" || m.Logger != "stdlib" {
			t.Errorf("line %d: %+v, want a time and logger stdlib", i+1, m)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestStandardLogWritesJSON prints what aws-lambda-go prints with the standard
// logger (its report of a handler's error, of a panic, a runtime API failure
// quoting a URL, why its loop ended) and checks that each comes out as one
// cleaned JSON line: the handler's known report at INFO, everything else at
// ERROR, so that AUTHZ_LOG_LEVEL=error keeps the failures and drops only the
// routine 401 reports.
func TestStandardLogWritesJSON(t *testing.T) {
	printed := []string{
		`{"errorMessage":"Unauthorized","errorType":"errorString"}`,
		`{"errorMessage":"runtime error: index out of range","errorType":"boundsError","stackTrace":[{"path":"x.go","line":1,"label":"f"}]}`,
		`{"errorMessage":"Unauthorized","errorType":"otherError"}`,
		"runtime API client failed to close http://127.0.0.1:9001/next?X-Amz-Signature=SIGSECRET response body: EOF",
		"expected AWS Lambda environment variables [AWS_LAMBDA_RUNTIME_API] are not defined",
	}
	type want struct{ level, msg string }
	failures := []want{
		{"ERROR", printed[1]},
		{"ERROR", printed[2]},
		{"ERROR", "runtime API client failed to close http://127.0.0.1:9001/next?REDACTED response body: EOF"},
		{"ERROR", printed[4]},
	}
	tests := []struct {
		level slog.Level
		want  []want
	}{
		{slog.LevelInfo, append([]want{{"INFO", printed[0]}}, failures...)},
		{slog.LevelWarn, failures},
		{slog.LevelError, failures},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			buf := routeStandardLog(t, tt.level)
			for _, p := range printed {
				log.Printf("%s", p)
			}
			lines := stdlibLines(t, buf)
			if len(lines) != len(tt.want) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tt.want), buf)
			}
			for i, m := range lines {
				if m.Level != tt.want[i].level || m.Msg != tt.want[i].msg {
					t.Errorf("line %d: %s %q\nwant     %s %q", i+1, m.Level, m.Msg, tt.want[i].level, tt.want[i].msg)
				}
			}
		})
	}
}

// TestStandardLogFatalIsKept runs log.Fatalf, as aws-lambda-go does when its
// runtime loop ends, in a child process logging at error level, and reads the
// line it leaves: the one report of why the function stopped.
func TestStandardLogFatalIsKept(t *testing.T) {
	if os.Getenv("LOGGING_TEST_FATAL") == "1" {
		RouteStandardLog(JSON(os.Stdout, slog.LevelError))
		log.Fatalf("%v", errors.New("unexpected EOF from the runtime API"))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStandardLogFatalIsKept$")
	cmd.Env = append(os.Environ(), "LOGGING_TEST_FATAL=1")
	out, err := cmd.Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("the child ended with %v, want exit status 1\n%s", err, out)
	}
	lines := stdlibLines(t, bytes.NewBuffer(out))
	if len(lines) != 1 || lines[0].Level != "ERROR" || lines[0].Msg != "unexpected EOF from the runtime API" {
		t.Fatalf("the child wrote %+v, want one ERROR line with log.Fatalf's message\n%s", lines, out)
	}
}
