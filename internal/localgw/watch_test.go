package localgw

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWatchSeesEdits(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "p.rego")
	os.WriteFile(file, []byte("package a\n"), 0o644)
	changes := make(chan struct{}, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Watch(ctx, []string{dir}, 10*time.Millisecond, func() { changes <- struct{}{} })
	wait := func(what string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(2 * time.Second):
			t.Fatalf("no change seen after %s", what)
		}
	}
	time.Sleep(30 * time.Millisecond)
	os.WriteFile(file, []byte("package a\n\nx := 1\n"), 0o644)
	wait("an edit")
	os.WriteFile(filepath.Join(dir, "q.rego"), []byte("package b\n"), 0o644)
	wait("a new file")
	os.Remove(file)
	wait("a removal")
	select {
	case <-changes:
		t.Fatal("a change was reported with nothing changed")
	case <-time.After(100 * time.Millisecond):
	}
}

// A policy error names its file from the bundle's root; the author needs the
// folder too, which of the layered folders holds it.
func TestNameSourceFiles(t *testing.T) {
	policy, lib := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(policy, "policy.rego"), []byte("package authz\n"), 0o644)
	os.MkdirAll(filepath.Join(lib, "lib"), 0o755)
	os.WriteFile(filepath.Join(lib, "lib", "iam.rego"), []byte("package lib.iam\n"), 0o644)
	msg := "reading a + b: 2 errors occurred:\n/policy.rego:21: rego_parse_error: unexpected eof\n/lib/iam.rego:3: rego_unsafe_var_error: var y is unsafe (/elsewhere.rego:1)"
	got := NameSourceFiles(msg, []string{policy, lib})
	for _, want := range []string{"\n" + filepath.Join(policy, "policy.rego") + ":21: ", "\n" + filepath.Join(lib, "lib", "iam.rego") + ":3: ", "(/elsewhere.rego:1)"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
