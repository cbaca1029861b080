package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/identity"
)

func startDevIssuer(t *testing.T) *devissuer.Issuer {
	t.Helper()
	iss, err := devissuer.Start(devissuer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return iss
}

func trust(t *testing.T, issuers ...*devissuer.Issuer) {
	t.Helper()
	var cfg []map[string]any
	for _, iss := range issuers {
		cfg = append(cfg, map[string]any{"issuer": iss.URL, "audiences": []string{iss.Audience()}})
	}
	b, _ := json.Marshal(cfg)
	t.Setenv("AUTHZ_ISSUERS", string(b))
}

func TestJWKSSnapshotWritesWhatTheAuthorizerReads(t *testing.T) {
	a, b := startDevIssuer(t), startDevIssuer(t)
	trust(t, a, b)
	dir := t.TempDir()
	// The snapshot being replaced is broken: taking a new one must not read it.
	out := filepath.Join(dir, "jwks-snapshot.json")
	os.WriteFile(out, []byte("{broken"), 0o644)
	t.Setenv("AUTHZ_JWKS_SNAPSHOT", out)

	code, stdout, stderr := runAuthz(t, "", "jwks", "snapshot", "-o", out)
	if code != exitAllow {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s, err := identity.ReadSnapshot(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Issuers) != 2 || s.Issuers[0].Issuer != a.URL || s.Issuers[1].Issuer != b.URL || s.Issuers[0].JWKSURI != a.JWKSURL() {
		t.Fatalf("entries %+v", s.Issuers)
	}
	for _, want := range []string{a.URL + ": 1 key (" + s.Issuers[0].KeyIDs()[0] + ") from " + a.JWKSURL(), "AUTHZ_JWKS_SNAPSHOT"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if info, err := os.Stat(out); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("the snapshot file: %v %v", info.Mode(), err)
	}

	code, stdout, stderr = runAuthz(t, "", "jwks", "snapshot", "-o", "-")
	if code != exitAllow {
		t.Fatalf("-o -: exit %d: %s", code, stderr)
	}
	if _, err := identity.ParseSnapshot([]byte(stdout)); err != nil || !strings.Contains(stderr, a.URL+": 1 key (") {
		t.Fatalf("-o -: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
}

func TestJWKSSnapshotFailsWithoutWriting(t *testing.T) {
	a, b := startDevIssuer(t), startDevIssuer(t)
	trust(t, a, b)
	out := filepath.Join(t.TempDir(), "jwks-snapshot.json")
	os.WriteFile(out, []byte("the previous snapshot"), 0o644)
	b.Close()
	code, _, stderr := runAuthz(t, "", "jwks", "snapshot", "-o", out)
	if code != exitFailure || !strings.Contains(stderr, "snapshot of "+b.URL) || strings.Contains(stderr, "snapshot of "+a.URL) {
		t.Fatalf("an unreachable issuer: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(out); string(got) != "the previous snapshot" {
		t.Fatalf("the previous snapshot was replaced: %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Fatalf("a temporary file was left: %v", entries)
	}
}

func TestJWKSUsage(t *testing.T) {
	t.Setenv("AUTHZ_ISSUERS", "")
	for _, args := range [][]string{{"jwks"}, {"jwks", "refresh"}, {"jwks", "snapshot", "extra"}, {"jwks", "snapshot", "--no-such-flag"}, {"jwks", "snapshot"}} {
		if code, _, stderr := runAuthz(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, exitUsage, stderr)
		}
	}
	if _, _, stderr := runAuthz(t, "", "jwks", "snapshot"); !strings.Contains(stderr, "AUTHZ_ISSUERS: required") {
		t.Errorf("no issuer: %s", stderr)
	}
	if code, stdout, _ := runAuthz(t, "", "jwks", "help"); code != exitAllow || !strings.Contains(stdout, "authz jwks snapshot") {
		t.Errorf("help: exit %d: %s", code, stdout)
	}
}

// TestCheckVerifiesFromTheSnapshot shows that authz check, which reads the
// Lambda's variables, verifies a real token from AUTHZ_JWKS_SNAPSHOT with the
// identity provider down, as the function does.
func TestCheckVerifiesFromTheSnapshot(t *testing.T) {
	iss := startDevIssuer(t)
	trust(t, iss)
	t.Setenv("AUTHZ_JWKS_SNAPSHOT", "")
	snapshot := filepath.Join(t.TempDir(), "jwks-snapshot.json")
	if code, _, stderr := runAuthz(t, "", "jwks", "snapshot", "-o", snapshot); code != exitAllow {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	claims := iss.Claims("alice")
	claims["groups"] = []string{"admins"}
	tok, err := iss.Mint(claims, nil)
	if err != nil {
		t.Fatal(err)
	}
	iss.Close()
	args := []string{"check", "--token", tok, "--method", "DELETE", "--path", "/orders/42"}
	if code, out, _ := runAuthz(t, "", args...); code != exitError || !strings.Contains(out, "idp_unavailable") {
		t.Fatalf("without the snapshot: exit %d, want %d (idp_unavailable)\n%s", code, exitError, out)
	}
	t.Setenv("AUTHZ_JWKS_SNAPSHOT", snapshot)
	if code, out, stderr := runAuthz(t, "", args...); code != exitAllow {
		t.Fatalf("with the snapshot: exit %d, want %d\n%s\n%s", code, exitAllow, out, stderr)
	}
}
