package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/version"

	"github.com/apigw-authz/authz/bundles"
	"github.com/apigw-authz/authz/internal/policy"
	"github.com/apigw-authz/authz/rego"
)

// wantScaffold are the files authz init writes, in the order WalkDir lists them.
var wantScaffold = []string{
	".github/workflows/policy.yml",
	".gitignore",
	"Makefile",
	"README.md",
	"go.mod",
	"lib/iam.rego",
	"lib/iam_test.rego",
	"policy/data.json",
	"policy/log.rego",
	"policy/log_test.rego",
	"policy/policy.rego",
	"policy/policy_test.rego",
	"schemas/input.json",
}

func readText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInitWritesAStarterPolicyRepository(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "policies")
	code, stdout, stderr := runAuthz(t, "", "init", dir)
	if code != exitAllow {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	var written []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			written = append(written, filepath.ToSlash(rel))
		}
		return err
	})
	if strings.Join(written, "\n") != strings.Join(wantScaffold, "\n") {
		t.Errorf("wrote\n%s\nwant\n%s", strings.Join(written, "\n"), strings.Join(wantScaffold, "\n"))
	}

	// The library, the decision-log masking and the schema are the authorizer's own.
	for name, src := range map[string]string{
		"lib/iam.rego": "lib/iam.rego", "lib/iam_test.rego": "lib/iam_test.rego",
		"policy/log.rego": "log.rego", "policy/log_test.rego": "log_test.rego",
	} {
		want, err := fs.ReadFile(rego.Files, src)
		if err != nil {
			t.Fatal(err)
		}
		if got := readText(t, filepath.Join(dir, name)); got != string(want) {
			t.Errorf("%s differs from the embedded rego/%s", name, src)
		}
	}
	if got := readText(t, filepath.Join(dir, "schemas", "input.json")); got != string(bundles.InputSchema) {
		t.Error("schemas/input.json differs from the authorizer's input schema")
	}

	// The go.mod pins the OPA of the authorizer as a tool.
	gomod := readText(t, filepath.Join(dir, "go.mod"))
	for _, want := range []string{"\ntool github.com/open-policy-agent/opa\n", "github.com/open-policy-agent/opa v" + version.Version + "\n"} {
		if !strings.Contains(gomod, want) {
			t.Errorf("go.mod lacks %q:\n%s", want, gomod)
		}
	}
	if !strings.Contains(readText(t, filepath.Join(dir, "policy", "policy.rego")), "# schemas:\n#   - input: schema.input\n") {
		t.Error("the starter policy is not checked against the input schema")
	}
	makefile := readText(t, filepath.Join(dir, "Makefile"))
	for _, target := range []string{"\ntest:", "\nbundle:", "\ncheck:"} {
		if !strings.Contains(makefile, target) {
			t.Errorf("the Makefile has no %s target", strings.TrimSpace(target))
		}
	}
	if !strings.Contains(readText(t, filepath.Join(dir, ".github", "workflows", "policy.yml")), "make test") {
		t.Error("the workflow does not run make test")
	}
	if !strings.Contains(stdout, "go mod tidy") {
		t.Errorf("the output does not say what to do next:\n%s", stdout)
	}

	// The authorizer loads the starter policy with the library, and it decides
	// as its data says.
	e, err := policy.Load(context.Background(), policy.Options{Dirs: []string{filepath.Join(dir, "policy"), filepath.Join(dir, "lib")}})
	if err != nil {
		t.Fatalf("the authorizer refuses the starter policy: %v", err)
	}
	if !decide(t, e, []any{"readers"}, "GET", "/orders/7") || decide(t, e, []any{"readers"}, "POST", "/orders") {
		t.Error("the starter policy does not decide as its data says")
	}
	anonymous := map[string]any{"request": map[string]any{"kind": "rest", "method": "GET", "path": "/orders/7"}}
	if d, err := e.Decide(context.Background(), anonymous); err != nil || d.Code != "not_public" {
		t.Errorf("the starter policy's decision without a token: %+v, %v; want the code not_public", d, err)
	}
	// Its bundle holds the decision-log masking, under a root of its own.
	out := filepath.Join(t.TempDir(), "bundle.tar.gz")
	code, stdout, stderr = runAuthz(t, "", "bundle", "--lib", filepath.Join(dir, "lib"), "-o", out, filepath.Join(dir, "policy"))
	if code != exitAllow {
		t.Fatalf("authz bundle on the scaffold: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "system/log") {
		t.Errorf("the scaffold's bundle has no system/log root:\n%s", stdout)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runAuthz(t, "", "init", dir); code != exitAllow {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	policyFile := filepath.Join(dir, "policy", "policy.rego")
	os.WriteFile(policyFile, []byte("package authz\n# mine\n"), 0o644)
	os.Remove(filepath.Join(dir, "README.md"))

	code, _, stderr := runAuthz(t, "", "init", dir)
	if code != exitUsage || !strings.Contains(stderr, filepath.Join(dir, ".github", "workflows", "policy.yml")) || !strings.Contains(stderr, "--force") {
		t.Fatalf("exit %d, want %d naming the file and --force:\n%s", code, exitUsage, stderr)
	}
	if got := readText(t, policyFile); got != "package authz\n# mine\n" {
		t.Error("init without --force changed a file")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err == nil {
		t.Error("a refused init wrote some of its files")
	}

	if code, _, stderr := runAuthz(t, "", "init", "--force", dir); code != exitAllow {
		t.Fatalf("--force: exit %d: %s", code, stderr)
	}
	if got := readText(t, policyFile); got == "package authz\n# mine\n" {
		t.Error("init --force left the file as it was")
	}
}

func TestInitUsage(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, args := range [][]string{{"init"}, {"init", "a", "b"}, {"init", "--no-such-flag", "x"}, {"init", file}} {
		if code, _, _ := runAuthz(t, "", args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestInitRefusesSymlinks puts a symbolic link where the scaffold writes, to a
// folder or a file outside DIR, and checks that init refuses, naming it,
// writes nothing, and leaves the link's target as it was, with and without
// --force.
func TestInitRefusesSymlinks(t *testing.T) {
	tests := []struct {
		name, link string // link: the scaffold's path that is a symbolic link
		toFile     bool   // to a file outside DIR, else a folder
		force      bool
	}{
		{"a folder of the scaffold", "lib", false, false},
		{"a folder of the scaffold, --force", "lib", false, true},
		{"a nested folder", ".github/workflows", false, true},
		{"a file, --force", "Makefile", true, true},
		{"a file", "policy/policy.rego", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, outside := t.TempDir(), t.TempDir()
			target := outside
			if tt.toFile {
				target = filepath.Join(outside, "mine")
				if err := os.WriteFile(target, []byte("mine\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			link := filepath.Join(dir, filepath.FromSlash(tt.link))
			if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, link); err != nil {
				t.Skipf("no symbolic links here: %v", err)
			}
			args := []string{"init", dir}
			if tt.force {
				args = []string{"init", "--force", dir}
			}
			code, stdout, stderr := runAuthz(t, "", args...)
			if code != exitUsage || !strings.Contains(stderr, link+" is a symbolic link") {
				t.Fatalf("exit %d, want %d naming %s as a symbolic link\nstdout:\n%s\nstderr:\n%s", code, exitUsage, link, stdout, stderr)
			}
			entries, _ := os.ReadDir(outside)
			switch {
			case tt.toFile && len(entries) == 1 && readText(t, target) == "mine\n":
			case !tt.toFile && len(entries) == 0:
			default:
				t.Errorf("init wrote outside DIR through the link: %v", entries)
			}
			if _, err := os.Stat(filepath.Join(dir, "README.md")); err == nil {
				t.Error("a refused init wrote some of its files")
			}
		})
	}
}
