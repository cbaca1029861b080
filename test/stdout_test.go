package e2e

import (
	"encoding/json"

	"github.com/open-policy-agent/opa/v1/plugins/logs"

	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/metrics"
)

// jwtShape is what a compact JWS looks like in a line: two base64url JSON
// objects and a signature.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16,}`)

// checkJSONLines fails the test for each line the function wrote that a log
// pipeline reading one JSON object per line could not take: every line must be
// one JSON object with time, level and msg, and none may hold a token.
// aws-lambda-go's own report of an error (`2026/11/29 12:00:00
// {"errorMessage":...}` from the standard logger) is the line this catches.
func checkJSONLines(t *testing.T, lines []string) {
	t.Helper()
	for i, line := range lines {
		var m map[string]any
		err := json.Unmarshal([]byte(line), &m)
		switch {
		case err != nil && strings.Contains(line, "errorMessage"):
			t.Errorf("the function wrote aws-lambda-go's error report outside JSON, line %d: %s", i+1, line)
			continue
		case err != nil || m == nil:
			t.Errorf("the function wrote a line that is not a JSON object (%v), line %d: %s", err, i+1, line)
			continue
		}
		for _, key := range []string{"time", "level", "msg"} {
			if _, ok := m[key]; !ok {
				t.Errorf("the function wrote a JSON line without %q, line %d: %s", key, i+1, line)
			}
		}
		if jwtShape.MatchString(line) {
			t.Errorf("the function wrote a line holding a token, line %d: %s", i+1, line)
		}
		// A decision's input never holds a cookie: the default bundle's mask
		// erases them, as a bundle of a test's own must too.
		// Every decision line is OPA's decision-log event, member types
		// and all, and its EMF metadata, when there is any, is valid.
		if m["msg"] == "decision" {
			var ev logs.EventV1
			if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.DecisionID == "" || ev.Timestamp.IsZero() || ev.Custom["outcome"] == nil {
				t.Errorf("the function wrote a decision line that is not an OPA decision-log event (%v), line %d: %s", err, i+1, line)
			}
		}
		if _, ok := m["_aws"]; ok {
			if err := metrics.Validate(m); err != nil {
				t.Errorf("the function wrote invalid EMF (%v), line %d: %s", err, i+1, line)
			}
		}
		if m["msg"] == "decision" {
			input, _ := m["input"].(map[string]any)
			req, _ := input["request"].(map[string]any)
			headers, _ := req["headers"].(map[string]any)
			if cookies, _ := req["cookies"].(map[string]any); len(cookies) > 0 || headers["cookie"] != nil {
				t.Errorf("the function logged a decision with cookies, line %d: %s", i+1, line)
			}
		}
	}
}

// TestStdoutIsOneJSONObjectPerLine answers 401s, which aws-lambda-go reports
// with the standard logger, between allowed and denied requests, and reads what
// the function wrote: the report is a JSON line like the decisions around it,
// naming the error and not the token. (startFunction checks every line; this
// test makes sure the lines it checks include those reports.)
func TestStdoutIsOneJSONObjectPerLine(t *testing.T) {
	iss := startIssuer(t)
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss)})
	admin := mint(t, iss, "alice", groups("admins"))
	expired := mint(t, iss, "carol", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
	parts := strings.Split(admin, ".")
	tampered := parts[0] + "." + strings.Split(mint(t, iss, "mallory", groups("admins")), ".")[1] + "." + parts[2]
	k := kinds[0]
	unauthorized := 0
	for _, auth := range []string{"Bearer " + admin, "Bearer " + expired, "", "Bearer " + tampered, "Bearer " + admin} {
		res := fn.invoke(t, k.event("DELETE", "/orders/1", auth))
		fn.decisionLog(t, fn.lastRequestID())
		if res.Error != nil {
			unauthorized++
		}
	}
	if unauthorized != 3 {
		t.Fatalf("%d invocations answered 401, want 3", unauthorized)
	}

	// aws-lambda-go logs after it has reported the error; wait for the last.
	var reports []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		reports = reports[:0]
		for _, line := range fn.output() {
			if strings.Contains(line, "errorMessage") {
				reports = append(reports, line)
			}
		}
		if len(reports) >= unauthorized {
			break
		}
	}
	if len(reports) != unauthorized {
		t.Fatalf("%d lines report an error, want one per 401 (%d)", len(reports), unauthorized)
	}
	for _, line := range reports {
		var m struct{ Msg, Level string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("aws-lambda-go's error report is not a JSON line: %s", line)
			continue
		}
		if m.Msg != `{"errorMessage":"Unauthorized","errorType":"errorString"}` {
			t.Errorf("aws-lambda-go's error report says %q, want only the Unauthorized error", m.Msg)
		}
		for _, tok := range []string{admin, expired, tampered} {
			for _, part := range strings.Split(tok, ".") {
				if strings.Contains(line, part) {
					t.Errorf("aws-lambda-go's error report holds part of a token: %s", line)
				}
			}
		}
	}
}
