package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/policy"
)

// replayPolicy is the policy in production: readers may GET and get a grant
// for it; data.admins may do anything.
const replayPolicy = `package authz

default allow := false

allow if {
	input.request.method == "GET"
	"readers" in input.token.groups
}

allow if input.token.subject in data.admins

grants contains {"method": "GET", "path": "/orders/*"} if "readers" in input.token.groups

code := "granted" if allow else := "no_grant"

decision := {"allow": allow, "grants": grants, "code": code, "reasons": [code]}
`

// replayRequest is one request of the replayed logs.
type replayRequest struct {
	id, method, path, route, subject, group string
}

var replayRequests = []replayRequest{
	{"d1", "GET", "/orders/1", "GET /orders/{id}", "alice", "readers"},
	{"d2", "DELETE", "/orders/1", "DELETE /orders/{id}", "alice", "readers"},
	{"d3", "GET", "/orders/2", "GET /orders/{id}", "bob", ""},
	{"d4", "POST", "/orders", "POST /orders", "root", ""},
}

func (r replayRequest) input() map[string]any {
	groups := []any{}
	if r.group != "" {
		groups = append(groups, r.group)
	}
	return map[string]any{
		"request": map[string]any{"kind": "rest", "method": r.method, "path": r.path, "route_key": r.route,
			"headers": map[string]any{"x-api-key": "**REDACTED**"}},
		"token": map[string]any{"subject": r.subject, "groups": groups},
	}
}

// replayFolders writes the policy and, in a folder of its own, its data.
func replayFolders(t *testing.T, rego string) (policyDir, dataDir string) {
	t.Helper()
	policyDir, dataDir = t.TempDir(), t.TempDir()
	writeFile(t, policyDir, "authz.rego", rego)
	writeFile(t, dataDir, "data.json", `{"admins": ["root"]}`)
	return policyDir, dataDir
}

// replayLog writes the decision log that the policy of the folders gives for
// the requests, as the authorizer writes it, with a CloudWatch export's
// prefix on every other line, a plain log line and a repeated decision.
// mutate, when not nil, changes each event before it is written.
func replayLog(t *testing.T, dirs []string, mutate func(map[string]any)) string {
	t.Helper()
	e, err := policy.Load(context.Background(), policy.Options{Dirs: dirs})
	if err != nil {
		t.Fatal(err)
	}
	lines := []string{`{"level":"INFO","msg":"bundle activated","revision":"abc"}`}
	for i, r := range replayRequests {
		v, err := e.Evaluate(context.Background(), r.input())
		if err != nil {
			t.Fatal(err)
		}
		d, err := decision.Parse(v)
		if err != nil {
			t.Fatal(err)
		}
		outcome := map[bool]string{true: "allow", false: "deny"}[d.Allow]
		ev := map[string]any{
			"level": "INFO", "msg": "decision", "decision_id": r.id, "timestamp": "2026-11-30T03:00:00.123456789Z",
			"path": "authz/decision", "input": r.input(), "result": v,
			"masked": []string{"/input/request/headers/x-api-key"},
			"custom": map[string]any{"outcome": outcome, "reason": "policy_" + outcome, "code": d.Code, "principal": r.subject},
		}
		if mutate != nil {
			mutate(ev)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			lines = append(lines, "2026-11-30T03:00:00.124Z\t"+string(b))
		} else {
			lines = append(lines, string(b))
		}
		if i == 0 {
			lines = append(lines, string(b)) // delivered twice
		}
	}
	return writeFile(t, t.TempDir(), "decisions.log", strings.Join(lines, "\n")+"\n")
}

func TestReplayUnchangedLogExitsZero(t *testing.T) {
	policyDir, dataDir := replayFolders(t, replayPolicy)
	log := replayLog(t, []string{policyDir, dataDir}, nil)
	code, out, errOut := runAuthz(t, "", "replay", log, "--bundle", policyDir, "--bundle", dataDir)
	if code != exitAllow {
		t.Fatalf("exit %d, want 0\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Events         4 decisions read (1 more line repeated a decision id: counted once)", "Replayed       4: 4 unchanged, 0 changed", "UNCHANGED: the candidate changes none of 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestReplayFlippedRouteExitsOne(t *testing.T) {
	policyDir, dataDir := replayFolders(t, replayPolicy)
	log := replayLog(t, []string{policyDir, dataDir}, nil)
	// The candidate lets readers DELETE too: d2, alone, changes.
	candidate, _ := replayFolders(t, strings.Replace(replayPolicy, `input.request.method == "GET"`, `input.request.method in {"GET", "DELETE"}`, 1))

	code, out, errOut := runAuthz(t, "", "replay", "--bundle", candidate, "--bundle", dataDir, log)
	if code != exitChanged {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitChanged, out, errOut)
	}
	for _, want := range []string{"Replayed       4: 3 unchanged, 1 changed", "1  DELETE /orders/{id}  deny → allow: 1", "1  deny → allow\n",
		"  d2  2026-11-30T03:00:00.123456789Z  alice  DELETE /orders/{id}", "candidate:  allow, code granted", "CHANGED: the candidate changes 1 of 4"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "  d1  ") || strings.Contains(out, "  d3  ") {
		t.Errorf("an unchanged decision is listed:\n%s", out)
	}

	code, out, _ = runAuthz(t, "", "replay", "--json", "--bundle", candidate, "--bundle", dataDir, log)
	var rep struct {
		Changed int  `json:"changed"`
		Clean   bool `json:"clean"`
		ByRoute []struct {
			Route string `json:"route"`
			Count int    `json:"count"`
		} `json:"changes_by_route"`
		Changes []struct {
			DecisionID string `json:"decision_id"`
			Transition string `json:"transition"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if code != exitChanged || rep.Changed != 1 || rep.Clean || len(rep.ByRoute) != 1 || rep.ByRoute[0].Route != "DELETE /orders/{id}" ||
		len(rep.Changes) != 1 || rep.Changes[0].DecisionID != "d2" || rep.Changes[0].Transition != "deny → allow" {
		t.Fatalf("--json: exit %d, %+v", code, rep)
	}
}

func TestReplayMaskedInputTheCandidateReads(t *testing.T) {
	policyDir, dataDir := replayFolders(t, replayPolicy)
	log := replayLog(t, []string{policyDir, dataDir}, nil)
	// Every event masked the API key; this candidate reads it.
	candidate, _ := replayFolders(t, replayPolicy+"\nallow if input.request.headers[\"x-api-key\"] == \"k1\"\n")
	code, out, errOut := runAuthz(t, "", "replay", "--bundle", candidate, "--bundle", dataDir, log)
	if code != exitChanged {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitChanged, out, errOut)
	}
	at := filepath.Join(candidate, "authz.rego") + ":18"
	for _, want := range []string{"Unreplayable   4", `4  the log masked /input/request/headers/x-api-key, which the candidate reads with input.request.headers["x-api-key"] at ` + at,
		"INCOMPLETE: the candidate changes none of 0 replayed decisions; 4 could not be replayed, so the proof is incomplete"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestReplayCandidateBundles(t *testing.T) {
	policyDir, dataDir := replayFolders(t, replayPolicy)
	log := replayLog(t, []string{policyDir, dataDir}, nil)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	publicKey := writeFile(t, t.TempDir(), "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	files := map[string]string{"authz.rego": replayPolicy, "data.json": `{"admins": ["root"]}`}
	signed := signedBundle(t, "signed.tar.gz", files, key)
	unsigned := signedBundle(t, "unsigned.tar.gz", files, nil)

	t.Setenv("AUTHZ_BUNDLE_PUBLIC_KEY", "")
	for _, args := range [][]string{
		{"replay", "--bundle", signed, "--public-key", publicKey, log},
		{"replay", "--bundle", unsigned, log},
		{"replay", "--bundle", unsigned, "-"},
	} {
		stdin := ""
		if args[len(args)-1] == "-" {
			stdin = readText(t, log)
		}
		code, out, errOut := runAuthz(t, stdin, args...)
		if code != exitAllow || !strings.Contains(out, "Replayed       4: 4 unchanged") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
	code, out, errOut := runAuthz(t, "", "replay", "--bundle", unsigned, "--public-key", publicKey, log)
	if code != exitUsage || !strings.Contains(errOut, ".signatures.json") {
		t.Errorf("unsigned bundle with a key: exit %d\n%s%s", code, out, errOut)
	}
}

func TestReplayUsageAndUnusableInputs(t *testing.T) {
	policyDir, dataDir := replayFolders(t, replayPolicy)
	log := replayLog(t, []string{policyDir, dataDir}, nil)
	tmp := t.TempDir()
	noDecisions := writeFile(t, tmp, "app.log", "START RequestId: 1\n{\"level\":\"INFO\",\"msg\":\"cold start\"}\n")
	refusedOnly := replayLog(t, []string{policyDir, dataDir}, func(ev map[string]any) {
		delete(ev, "input")
		delete(ev, "result")
		ev["custom"] = map[string]any{"outcome": "unauthorized", "reason": "invalid_token"}
	})
	parseError, _ := replayFolders(t, "package authz\n\ndecision := {\"allow\": true\n")
	typeError, _ := replayFolders(t, "package authz\n\ndecision := {\"allow\": no_such_function(input)}\n")
	noQuery, _ := replayFolders(t, "package other\n\ndecision := {\"allow\": true}\n")

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no candidate", []string{"replay", log}, "give the candidate policy with --bundle"},
		{"no log", []string{"replay", "--bundle", policyDir}, "give one or more decision-log files"},
		{"stdin twice", []string{"replay", "--bundle", policyDir, "-", "-"}, "given twice"},
		{"missing log", []string{"replay", "--bundle", policyDir, "--bundle", dataDir, filepath.Join(tmp, "nope.log")}, "no such file"},
		{"a log without decisions", []string{"replay", "--bundle", policyDir, "--bundle", dataDir, log, noDecisions}, "app.log holds no decision-log event (2 lines"},
		{"no event reached the policy", []string{"replay", "--bundle", policyDir, "--bundle", dataDir, refusedOnly}, "nothing to replay: none of the 4 decision events holds an input"},
		{"a candidate that does not parse", []string{"replay", "--bundle", parseError, log}, filepath.Join(parseError, "authz.rego") + ":4: rego_parse_error"},
		{"a candidate that does not compile", []string{"replay", "--bundle", typeError, log}, "undefined function no_such_function"},
		{"a candidate without the query", []string{"replay", "--bundle", noQuery, log}, "no rule or data of the bundle defines it"},
		{"a bad query", []string{"replay", "--bundle", policyDir, "--query", "input.x", log}, "must be a reference into data"},
		{"a missing candidate", []string{"replay", "--bundle", filepath.Join(tmp, "nope"), log}, "nope"},
		{"an unknown flag", []string{"replay", "--bundel", policyDir, log}, "flag provided but not defined: -bundel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runAuthz(t, "", tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) || out != "" {
				t.Fatalf("exit %d, want %d and stderr naming %q\nstdout:\n%s\nstderr:\n%s", code, exitUsage, tt.want, out, errOut)
			}
		})
	}
}

func TestReplayIsListed(t *testing.T) {
	code, out, _ := runAuthz(t, "", "help")
	if code != exitAllow || !strings.Contains(out, "authz replay --bundle C LOGFILE...") {
		t.Fatalf("help: exit %d\n%s", code, out)
	}
}

// The lines that the authorizer's own decision log writes (here through
// authz check --log) replay against the policy that wrote them without a
// change, erased cookies and all, and against another policy with the
// changes it makes.
func TestReplayReadsTheAuthorizersOwnLog(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	t.Setenv("AUTHZ_BUNDLE", "")
	t.Setenv("AUTHZ_BUNDLE_PUBLIC_KEY", "")
	var log strings.Builder
	for _, args := range [][]string{
		{"check", "--log", "--sub", "alice", "--groups", "admins", "--method", "DELETE", "--path", "/orders/42", "--header", "Cookie: session=s1"},
		{"check", "--log", "--sub", "bob", "--groups", "orders-readers", "--method", "DELETE", "--path", "/orders/42"},
		{"check", "--log", "--path", "/health"},
		{"check", "--log", "--token", "not.a.token", "--path", "/orders"},
	} {
		_, _, errOut := runAuthz(t, "", args...)
		log.WriteString(errOut)
	}
	file := writeFile(t, t.TempDir(), "authorizer.log", log.String())
	policyDirs := []string{"--bundle", filepath.Join("..", "..", "rego"), "--bundle", filepath.Join("..", "..", "bundles", "default")}

	code, out, errOut := runAuthz(t, "", append(append([]string{"replay"}, policyDirs...), file)...)
	if code != exitAllow || !strings.Contains(out, "Replayed       3: 3 unchanged, 0 changed") || !strings.Contains(out, "Not evaluated  1") {
		t.Fatalf("the same policy: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runAuthz(t, "", "replay", "--bundle", allowAll(t), file)
	// It allows bob's DELETE, and its responses name no grant and no context.
	if code != exitChanged || !strings.Contains(out, "Replayed       3: 0 unchanged, 3 changed") || !strings.Contains(out, "deny → allow: 1") ||
		!strings.Contains(out, "2  allow → allow (grants, context changed)") || strings.Contains(out, "principal_id") {
		t.Fatalf("an allow-all candidate: exit %d\n%s%s", code, out, errOut)
	}
}
