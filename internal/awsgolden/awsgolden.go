// Package awsgolden finds the golden event files that aws-lambda-go ships in its
// events/testdata folder, so that tests decode the events AWS documents instead of
// copies of them. It is for tests only.
package awsgolden

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	once sync.Once
	dir  string
	err  error
)

// Read returns the named file of aws-lambda-go's events/testdata, from the module
// cache of the version this module requires.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	once.Do(func() {
		var out []byte
		out, err = exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-lambda-go").Output()
		dir = filepath.Join(strings.TrimSpace(string(out)), "events", "testdata")
	})
	if err != nil {
		t.Fatalf("locating aws-lambda-go in the module cache: %v", err)
	}
	b, rerr := os.ReadFile(filepath.Join(dir, name))
	if rerr != nil {
		t.Fatalf("reading aws-lambda-go golden event: %v", rerr)
	}
	return b
}
