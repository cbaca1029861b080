package localgw

import (
	"context"
	"os"
	"path/filepath"
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
