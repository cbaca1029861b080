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

// TestStandardLogWritesJSON prints what aws-lambda-go prints with the standard
// logger (its report of a handler's error, a runtime API failure quoting a URL)
// and checks that each comes out as one cleaned JSON line among the others.
func TestStandardLogWritesJSON(t *testing.T) {
	prev := slog.Default()
	t.Cleanup(func() {
		slog.SetDefault(prev)
		log.SetOutput(os.Stderr)
		log.SetFlags(log.LstdFlags)
	})
	var buf bytes.Buffer
	RouteStandardLog(JSON(&buf, slog.LevelInfo))
	log.Printf("%s", `{"errorMessage":"Unauthorized","errorType":"errorString"}`)
	log.Printf("runtime API client failed to close %s response body: %v", "http://127.0.0.1:9001/next?X-Amz-Signature=SIGSECRET", "EOF")
	want := []string{
		`{"errorMessage":"Unauthorized","errorType":"errorString"}`,
		"runtime API client failed to close http://127.0.0.1:9001/next?REDACTED response body: EOF",
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, line := range lines {
		var m struct{ Time, Level, Msg, Logger string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not one JSON object: %v\n%s", i+1, err, line)
		}
		if m.Time == "" || m.Level != "INFO" || m.Msg != want[i] || m.Logger != "stdlib" {
			t.Errorf("line %d: %+v, want msg %q at INFO from logger stdlib", i+1, m, want[i])
		}
	}
}
