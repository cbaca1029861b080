package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// noGrants is a policy folder whose decisions are cache-unsafe: no grants, so
// the cached policy of one request refuses the caller's others.
func noGrants(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "p.rego", "package authz\n\ndecision := {\"allow\": input.request.method == \"GET\"}\n")
	return dir
}

// A CI gate must be able to fail on an UNSAFE cache verdict: --fail-unsafe
// exits 6 for it, and nothing changes without the flag or for a safe decision.
func TestCheckFailUnsafe(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	unsafe := noGrants(t)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"unsafe, without the flag", []string{"check", "--bundle", unsafe, "--sub", "erin", "--path", "/a"}, exitAllow},
		{"unsafe, with the flag", []string{"check", "--bundle", unsafe, "--sub", "erin", "--path", "/a", "--fail-unsafe"}, exitUnsafe},
		{"unsafe and denied, with the flag", []string{"check", "--fail-unsafe", "--bundle", unsafe, "--sub", "erin", "--method", "DELETE", "--path", "/a"}, exitUnsafe},
		{"unsafe, with the flag, JSON", []string{"check", "--json", "--bundle", unsafe, "--sub", "erin", "--path", "/a", "--fail-unsafe"}, exitUnsafe},
		{"safe, with the flag", []string{"check", "--fail-unsafe", "--sub", "bob", "--groups", "orders-readers", "--path", "/orders/1"}, exitAllow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runAuthz(t, "", tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errOut)
			}
		})
	}
	_, _, help := runAuthz(t, "", "check", "-h")
	if !strings.Contains(help, "--fail-unsafe") && !strings.Contains(help, "-fail-unsafe") || !strings.Contains(help, "6 ") {
		t.Errorf("check's help does not document --fail-unsafe and its exit status:\n%s", help)
	}
}

// cache_warnings is a list in the JSON report, empty when the decision is
// cache-safe: a script reading it must not meet null.
func TestCheckJSONCacheWarningsIsAList(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	code, out, errOut := runAuthz(t, "", "check", "--json", "--sub", "bob", "--groups", "orders-readers", "--path", "/orders/1")
	if code != exitAllow {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var rep map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if got := string(rep["cache_warnings"]); got != "[]" {
		t.Fatalf("cache_warnings is %s, want []", got)
	}
}

// API Gateway answers 401 without calling the authorizer when the request
// lacks one of its identity sources, whatever the policy would say.
func TestCheckMissingIdentitySource(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	event := writeFile(t, t.TempDir(), "event.json", ordersEvent)
	candidate := allowAll(t)
	code, out, errOut := runAuthz(t, "", "check", event, "--bundle", candidate, "--identity-source", "method.request.header.Authorization")
	if code != exitUnauthorized || !strings.Contains(out, "without calling the authorizer") || !strings.Contains(out, "header:authorization") {
		t.Fatalf("exit %d, want %d and the missing identity source\n%s%s", code, exitUnauthorized, out, errOut)
	}
	code, out, errOut = runAuthz(t, "", "check", event, "--json", "--bundle", candidate, "--identity-source", "method.request.header.Authorization")
	var rep struct {
		Outcome string   `json:"outcome"`
		Status  int      `json:"status"`
		Missing []string `json:"identity_sources_missing"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	if code != exitUnauthorized || rep.Outcome != "unauthorized" || rep.Status != 401 || len(rep.Missing) != 1 || rep.Missing[0] != "header:authorization" {
		t.Fatalf("exit %d, report %+v", code, rep)
	}
	// With the identity source, the policy decides.
	withAccept := writeFile(t, t.TempDir(), "event.json", strings.Replace(ordersEvent, `"httpMethod":"GET"`, `"httpMethod":"GET","headers":{"Accept":"x"}`, 1))
	code, out, errOut = runAuthz(t, "", "check", withAccept, "--bundle", candidate, "--identity-source", "method.request.header.Accept")
	if code != exitAllow {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
