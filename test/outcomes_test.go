package e2e

import (
	"encoding/json"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// startIssuer runs a real OIDC issuer (discovery and JWKS) on loopback.
func startIssuer(t *testing.T) *devissuer.Issuer {
	t.Helper()
	iss, err := devissuer.Start(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return iss
}

func issuersEnv(iss *devissuer.Issuer) string {
	return string(mustJSON([]map[string]any{{"issuer": iss.URL, "audiences": []string{iss.Audience()}}}))
}

func mint(t *testing.T, iss *devissuer.Issuer, sub string, change func(map[string]any)) string {
	t.Helper()
	c := iss.Claims(sub)
	if change != nil {
		change(c)
	}
	tok, err := iss.Mint(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func groups(g ...string) func(map[string]any) {
	return func(c map[string]any) { c["groups"] = g }
}

func withEnv(base map[string]string, more ...map[string]string) map[string]string {
	out := maps.Clone(base)
	for _, m := range more {
		maps.Copy(out, m)
	}
	return out
}

type want struct {
	outcome   string // allow, deny, unauthorized, error
	reason    string
	principal string
}

// TestOutcomeTable drives every row of the contract's outcome table (section 5)
// through the built binary, for every event kind.
func TestOutcomeTable(t *testing.T) {
	iss := startIssuer(t)
	other := startIssuer(t)
	admin := mint(t, iss, "alice", groups("admins"))
	intern := mint(t, iss, "ivan", groups("interns"))
	expired := mint(t, iss, "carol", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
	wrongAud := mint(t, iss, "dave", func(c map[string]any) { c["aud"] = "api://someone-else" })
	foreign := mint(t, other, "eve", groups("admins"))
	parts := strings.Split(admin, ".")
	tampered := parts[0] + "." + strings.Split(mint(t, iss, "mallory", groups("admins")), ".")[1] + "." + parts[2]
	reader := mint(t, iss, "bob", groups("orders-readers"))
	tokens := []string{admin, intern, expired, wrongAud, foreign, tampered, reader}

	rows := []struct {
		name         string
		method, path string
		auth         string
		want         want
		skipWS       bool // the row needs a route a WebSocket $connect does not have
	}{
		{"no token, public route", "GET", "/health", "", want{"allow", "policy_allowed", "anonymous"}, true},
		{"no token, private route", "GET", "/orders", "", want{"unauthorized", "no_token", ""}, false},
		{"expired token", "GET", "/orders", "Bearer " + expired, want{"unauthorized", "token_expired", ""}, false},
		{"token for another audience", "GET", "/orders", "Bearer " + wrongAud, want{"unauthorized", "token_audience", ""}, false},
		{"token of an unknown issuer", "GET", "/orders", "Bearer " + foreign, want{"unauthorized", "token_unknown_issuer", ""}, false},
		{"payload swapped under a signature", "GET", "/orders", "Bearer " + tampered, want{"unauthorized", "token_signature", ""}, false},
		{"not a token", "GET", "/orders", "Bearer not-a-jwt", want{"unauthorized", "token_malformed", ""}, false},
		{"another scheme", "GET", "/orders", "Basic dXNlcjpwYXNz", want{"unauthorized", "token_scheme", ""}, false},
		{"verified, allowed", "DELETE", "/orders/1", "Bearer " + admin, want{"allow", "policy_allowed", "alice"}, false},
		{"verified, denied", "DELETE", "/orders/1", "Bearer " + intern, want{"deny", "policy_denied", "ivan"}, false},
		{"a blank Authorization is no anonymous request", "GET", "/health", " \t ", want{"unauthorized", "token_malformed", ""}, false},
		// Readers may GET /orders/*; a normalising proxy would make this /admin/users.
		{"ambiguous path", "GET", "/orders/%2e%2e/admin/users", "Bearer " + reader, want{"deny", "path_ambiguous", "bob"}, true},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			fn := startFunction(t, withEnv(map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss)}, k.env))
			for _, row := range rows {
				if row.skipWS && k.isWebSocket() {
					continue
				}
				t.Run(row.name, func(t *testing.T) {
					res := fn.invoke(t, k.event(row.method, row.path, row.auth))
					checkOutcome(t, k, res, row.want, k.arn(row.method, row.path))
					line := fn.decisionLog(t, fn.lastRequestID())
					if line["outcome"] != row.want.outcome || line["reason"] != row.want.reason {
						t.Fatalf("decision log says %v/%v, want %s/%s", line["outcome"], line["reason"], row.want.outcome, row.want.reason)
					}
				})
			}
			t.Run("the cached policy of a denied caller answers like the policy", func(t *testing.T) {
				if k.simple || k.isWebSocket() {
					t.Skip("simple responses and $connect carry no grants to check")
				}
				r := parseResponse(t, fn.invoke(t, k.event("DELETE", "/orders/1", "Bearer "+reader)).Response)
				if apiGatewayAllows(t, r, k.arn("DELETE", "/orders/1")) || !apiGatewayAllows(t, r, k.arn("GET", "/orders/2")) ||
					!apiGatewayAllows(t, r, k.arn("GET", "/health")) || apiGatewayAllows(t, r, k.arn("POST", "/orders")) {
					t.Fatalf("policy %+v", r.PolicyDocument)
				}
			})
			t.Run("no output line holds a token", func(t *testing.T) {
				for _, line := range fn.output() {
					for _, tok := range tokens {
						if strings.Contains(line, strings.Split(tok, ".")[2]) {
							t.Fatalf("a log line holds a token: %s", line)
						}
					}
				}
			})
		})
	}
}

// checkOutcome asserts what API Gateway would do with the function's answer.
func checkOutcome(t *testing.T, k kind, res result, w want, arn string) {
	t.Helper()
	if w.outcome == "unauthorized" {
		if res.Error == nil || res.Error.Message != "Unauthorized" {
			t.Fatalf("want the Unauthorized error (401), got response %s error %+v", res.Response, res.Error)
		}
		return
	}
	if res.Error != nil {
		t.Fatalf("want a response, got error %+v", res.Error)
	}
	r := parseResponse(t, res.Response)
	if k.simple != (r.IsAuthorized != nil) {
		t.Fatalf("simple response expected: %v; got %s", k.simple, res.Response)
	}
	if got := apiGatewayAllows(t, r, arn); got != (w.outcome == "allow") {
		t.Fatalf("API Gateway would let %s through: %v, want %v; response %s", arn, got, !got, res.Response)
	}
	if w.outcome == "error" && !onlyDenies(r) {
		t.Fatalf("an error must allow nothing at all: %s", res.Response)
	}
	if !k.simple && w.principal != "" && r.PrincipalID != w.principal {
		t.Fatalf("principalId %q, want %q", r.PrincipalID, w.principal)
	}
	if w.outcome == "allow" && w.principal == "alice" {
		roles := r.Context["roles"]
		if k.flattened && roles != "admin" {
			t.Fatalf("flattened context roles = %#v, want \"admin\"", roles)
		}
		if !k.flattened {
			if list, ok := roles.([]any); !ok || len(list) != 1 || list[0] != "admin" {
				t.Fatalf("payload 2.0 context roles = %#v, want [\"admin\"]", roles)
			}
		}
	}
}

func TestWebSocketAnonymousConnect(t *testing.T) {
	iss := startIssuer(t)
	// The default policy with data that makes $connect public.
	dir := t.TempDir()
	for _, pattern := range []string{"../rego/*.rego", "../rego/lib/*.rego"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.rego") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel := strings.TrimPrefix(f, "../rego/")
			os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755)
			os.WriteFile(filepath.Join(dir, rel), b, 0o644)
		}
	}
	var data map[string]map[string]any
	b, _ := os.ReadFile("../bundles/default/data.json")
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	data["rbac"]["public"] = append(data["rbac"]["public"].([]any), map[string]any{"method": "*", "path": "$connect"})
	os.WriteFile(filepath.Join(dir, "data.json"), mustJSON(data), 0o644)

	ws := kinds[len(kinds)-1]
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_BUNDLE": dir})
	res := fn.invoke(t, ws.event("", "", ""))
	checkOutcome(t, ws, res, want{"allow", "policy_allowed", "anonymous"}, ws.arn("", ""))
}

// TestFailClosed runs broken policies and configurations through the binary: each
// must deny, for every event kind, and say why in the decision log.
func TestFailClosed(t *testing.T) {
	iss := startIssuer(t)
	admin := mint(t, iss, "alice", groups("admins"))
	policyDir := func(rego string) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(rego), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + closed.Addr().String()
	closed.Close() // nothing listens there now
	down := mint(t, iss, "alice", func(c map[string]any) { c["iss"] = downURL })

	base := map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss)}
	cases := []struct {
		name    string
		env     map[string]string
		auth    string
		reason  string
		initLog string // a start-up line must say this
	}{
		{"policy raises a runtime error", map[string]string{"AUTHZ_BUNDLE": policyDir("package authz\ndecision := {\"allow\": to_number(input.request.method) > 0}\n")},
			"Bearer " + admin, "policy_error", ""},
		{"conflicting rule values", map[string]string{"AUTHZ_BUNDLE": policyDir("package authz\ndecision := {\"allow\": true} if true\ndecision := {\"allow\": false} if true\n")},
			"Bearer " + admin, "policy_error", ""},
		{"undefined decision", map[string]string{"AUTHZ_BUNDLE": policyDir("package authz\ndecision := {\"allow\": true} if input.never\n")},
			"Bearer " + admin, "decision_undefined", ""},
		{"decision is not an object", map[string]string{"AUTHZ_BUNDLE": policyDir("package authz\ndecision := true\n")},
			"Bearer " + admin, "decision_invalid", ""},
		{"allow is the string true", map[string]string{"AUTHZ_BUNDLE": policyDir("package authz\ndecision := {\"allow\": \"true\"}\n")},
			"", "decision_invalid", ""},
		{"policy does not compile", map[string]string{"AUTHZ_BUNDLE": policyDir("package authz\ndecision := {\"allow\": x}\n")},
			"Bearer " + admin, "config_error", "var x is unsafe"},
		{"malformed AUTHZ_ISSUERS", map[string]string{"AUTHZ_ISSUERS": `[{"issuer": "https://idp.example.com"}]`},
			"Bearer " + admin, "config_error", `AUTHZ_ISSUERS: entry 0 (https://idp.example.com): field \"audiences\"`},
		{"missing AUTHZ_ISSUERS", map[string]string{"AUTHZ_ISSUERS": ""},
			"", "config_error", "AUTHZ_ISSUERS: required"},
		{"bad AUTHZ_TOKEN_SOURCES", map[string]string{"AUTHZ_TOKEN_SOURCES": "body:token"},
			"Bearer " + admin, "config_error", "AUTHZ_TOKEN_SOURCES"},
		{"identity provider unreachable", map[string]string{"AUTHZ_ISSUERS": string(mustJSON([]map[string]any{{"issuer": downURL, "audiences": []string{iss.Audience()}}}))},
			"Bearer " + down, "idp_unavailable", "identity provider not reachable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range kinds {
				t.Run(k.name, func(t *testing.T) {
					fn := startFunction(t, withEnv(base, k.env, c.env))
					res := fn.invoke(t, k.event("GET", "/health", c.auth))
					checkOutcome(t, k, res, want{outcome: "error"}, k.arn("GET", "/health"))
					line := fn.decisionLog(t, fn.lastRequestID())
					if line["outcome"] != "error" || line["reason"] != c.reason || line["level"] != "ERROR" {
						t.Fatalf("decision log %v", line)
					}
					if c.initLog != "" && !strings.Contains(strings.Join(fn.output(), "\n"), c.initLog) {
						t.Fatalf("no start-up line says %q", c.initLog)
					}
				})
			}
		})
	}
}

func TestMalformedEventsAreDenied(t *testing.T) {
	iss := startIssuer(t)
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss)})
	for _, ev := range []string{`{}`, `[]`, `"x"`, `{"type":"REQUEST"}`, `{"type":"TOKEN","methodArn":"arn:aws:s3:::x"}`,
		`{"type":"REQUEST","version":"9.9","routeArn":"` + restARN("GET", "/health") + `"}`} {
		res := fn.invoke(t, []byte(ev))
		if res.Error != nil {
			t.Fatalf("%s: error %+v; want a Deny, never a 500", ev, res.Error)
		}
		r := parseResponse(t, res.Response)
		if !onlyDenies(r) || apiGatewayAllows(t, r, restARN("GET", "/health")) {
			t.Fatalf("%s: %s", ev, res.Response)
		}
		if line := fn.decisionLog(t, fn.lastRequestID()); line["reason"] != "event_invalid" {
			t.Fatalf("%s: decision log %v", ev, line)
		}
	}
}

func TestDeadlineEndsInDeny(t *testing.T) {
	iss := startIssuer(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "policy.rego"), []byte("package authz\ndecision := {\"allow\": count([x | some x in numbers.range(1, 100000000)]) > 0}\n"), 0o644)
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_BUNDLE": dir})
	k := kinds[0]
	res := fn.api.invoke(t, k.event("GET", "/health", ""), 400*time.Millisecond)
	checkOutcome(t, k, res, want{outcome: "error"}, k.arn("GET", "/health"))
	if line := fn.decisionLog(t, fn.lastRequestID()); line["reason"] != "timeout" {
		t.Fatalf("decision log %v", line)
	}
}
