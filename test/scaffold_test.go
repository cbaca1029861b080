package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// opaVersion is the OPA version a go.mod requires.
var opaVersion = regexp.MustCompile(`(?m)^\s*(?:require\s+)?github\.com/open-policy-agent/opa (v\S+)`)

// TestScaffoldPassesItsOwnChecks writes a policy repository with authz init and
// runs on it what its Makefile and CI run, with this repository's OPA (the
// scaffold's go.mod pins the same version, checked here, but its modules are
// not fetched): opa fmt, opa check --strict --schema, opa test --coverage, then
// authz bundle and authz check on what it built.
func TestScaffoldPassesItsOwnChecks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policies")
	if out, err := exec.Command(authzBin, "init", dir).CombinedOutput(); err != nil {
		t.Fatalf("authz init: %v\n%s", err, out)
	}

	ours, err := os.ReadFile(filepath.Join("..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want, got := opaVersion.FindSubmatch(ours), opaVersion.FindSubmatch(theirs)
	if want == nil || got == nil || string(got[1]) != string(want[1]) {
		t.Fatalf("the scaffold's go.mod pins OPA %q, ours %q:\n%s", got, want, theirs)
	}
	if !strings.Contains(string(theirs), "\ntool github.com/open-policy-agent/opa\n") {
		t.Errorf("the scaffold's go.mod does not name OPA as a tool:\n%s", theirs)
	}

	opa := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", append([]string{"tool", "opa"}, args...)...)
		cmd.Dir = ".." // this repository's module: the same OPA, already downloaded
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go tool opa %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	policy, lib, schemas := filepath.Join(dir, "policy"), filepath.Join(dir, "lib"), filepath.Join(dir, "schemas")
	if out := opa("fmt", "-l", dir); out != "" {
		t.Errorf("opa fmt would change:\n%s", out)
	}
	opa("check", "--strict", "--schema", schemas, policy, lib)
	opa("test", policy, lib, "--coverage", "--threshold", "90", "--format", "json")

	// The scaffold's own Makefile, with this repository's OPA (the binary go
	// tool opa has just built and cached) and authz.
	cmd := exec.Command("go", "tool", "-n", "opa")
	cmd.Dir = ".."
	path, err := cmd.Output()
	if err != nil {
		t.Fatalf("go tool -n opa: %v", err)
	}
	mk := func(target string, vars ...string) string {
		t.Helper()
		args := append([]string{"-C", dir, target, "OPA=" + strings.TrimSpace(string(path)), "AUTHZ=" + authzBin}, vars...)
		out, err := exec.Command("make", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("make %s: %v\n%s", strings.Join(args[2:], " "), err, out)
		}
		return string(out)
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Log("no make: the Makefile is not run")
	} else {
		mk("test")
		mk("bundle", "REVISION=starter-1")
		bundle := filepath.Join(dir, "bundle.tar.gz")
		if out := opa("inspect", bundle); !strings.Contains(out, "starter-1") {
			t.Errorf("opa inspect shows no revision starter-1:\n%s", out)
		}
		if out := mk("check", "ARGS=--sub alice --groups readers --method GET --path /orders/7"); !strings.Contains(out, "ALLOW") {
			t.Errorf("make check: a reader reading an order is not allowed:\n%s", out)
		}
	}

	// authz bundle builds it, and authz check decides as the starter policy says.
	bundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
	if out, err := exec.Command(authzBin, "bundle", "--lib", lib, "-o", bundle, policy).CombinedOutput(); err != nil {
		t.Fatalf("authz bundle: %v\n%s", err, out)
	}
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"a reader reads an order", []string{"--sub", "alice", "--groups", "readers", "--method", "GET", "--path", "/orders/7"}, 0},
		{"a reader may not create one", []string{"--sub", "alice", "--groups", "readers", "--method", "POST", "--path", "/orders"}, 3},
		{"a writer may", []string{"--sub", "bob", "--groups", "readers,writers", "--method", "POST", "--path", "/orders"}, 0},
		{"anyone reads the health route", []string{"--method", "GET", "--path", "/health"}, 0},
		{"no token elsewhere", []string{"--method", "GET", "--path", "/orders/7"}, 4},
	}
	for _, tt := range tests {
		for _, source := range [][]string{{"--bundle", bundle}, {"--bundle", policy, "--bundle", lib}} {
			cmd := exec.Command(authzBin, append(append([]string{"check"}, source...), tt.args...)...)
			cmd.Env = append(os.Environ(), "AUTHZ_ISSUERS=", "AUTHZ_BUNDLE=", "AUTHZ_BUNDLE_PUBLIC_KEY=")
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != tt.code {
				t.Errorf("%s, %v: exit %d, want %d\n%s", tt.name, source, code, tt.code, out)
			}
		}
	}
}
