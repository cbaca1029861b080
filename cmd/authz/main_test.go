package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runAuthz(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheckExitStatusFollowsTheOutcome(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	tests := []struct {
		name    string
		args    []string
		code    int
		outcome string
	}{
		{"admin", []string{"check", "--sub", "alice", "--groups", "admins", "--method", "DELETE", "--path", "/orders/42"}, exitAllow, "ALLOW"},
		{"reader on a forbidden route", []string{"check", "--sub", "bob", "--groups", "orders-readers", "--method", "DELETE", "--path", "/orders/42"}, exitDeny, "DENY"},
		{"no token", []string{"check", "--path", "/orders"}, exitUnauthorized, "UNAUTHORIZED"},
		{"a token nobody issued", []string{"check", "--token", "a.b.c", "--path", "/orders"}, exitUnauthorized, "UNAUTHORIZED"},
		{"public route", []string{"check", "--path", "/health"}, exitAllow, "ALLOW"},
		{"http simple response", []string{"check", "--kind", "http", "--sub", "bob", "--groups", "orders-readers", "--path", "/orders/1"}, exitAllow, "ALLOW"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runAuthz(t, "", tt.args...)
			if code != tt.code || !strings.HasPrefix(out, "Outcome      "+tt.outcome) {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
		})
	}
}

func TestCheckJSONAndEventFiles(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	event := `{"type":"REQUEST","methodArn":"arn:aws:execute-api:eu-west-1:1:api/prod/GET/health","path":"/health","httpMethod":"GET"}`
	file := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(file, []byte(event), 0o644)
	for _, args := range [][]string{{"check", "--json", file}, {"check", "--json", "--event", "-"}} {
		code, out, errOut := runAuthz(t, event, args...)
		if code != exitAllow {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var rep map[string]any
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if rep["outcome"] != "allow" || rep["status"] != 200.0 || rep["api_gateway_allows"] != true || rep["input"] == nil || rep["decision"] == nil {
			t.Fatalf("%v: report %v", args, rep)
		}
	}
	code, out, _ := runAuthz(t, "", "check", "--json", "--event", "-")
	if code != exitError || !strings.Contains(out, `"reason": "event_invalid"`) {
		t.Fatalf("an empty event: exit %d\n%s", code, out)
	}
}

func TestCheckUsageErrors(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	for _, args := range [][]string{
		{"check", "--no-such-flag"},
		{"check", "--sub", "a", "--token", "b"},
		{"check", "--header", "no-colon"},
		{"check", "--kind", "grpc"},
		{"check", "/nonexistent/event.json"},
		{"frobnicate"},
		{},
	} {
		if code, _, _ := runAuthz(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	t.Setenv("AUTHZ_LOG_LEVEL", "loud")
	if code, _, errOut := runAuthz(t, "", "check"); code != exitUsage || !strings.Contains(errOut, "AUTHZ_LOG_LEVEL") {
		t.Errorf("a bad variable: exit %d, %s", code, errOut)
	}
}
