package localgw

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Watch calls onChange whenever a file under paths is added, removed or
// modified, looking every interval, until ctx ends. Polling needs no platform
// support and notices edits made through any editor's save dance.
func Watch(ctx context.Context, paths []string, every time.Duration, onChange func()) {
	last := fingerprint(paths)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if now := fingerprint(paths); now != last {
				last = now
				onChange()
			}
		}
	}
}

// fingerprint digests the names, sizes and modification times of the files
// under paths.
func fingerprint(paths []string) string {
	h := sha256.New()
	for _, root := range paths {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				fmt.Fprintf(h, "%s\x00error\x00", path)
				return nil
			}
			if d.IsDir() {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			fmt.Fprintf(h, "%s\x00%d\x00%d\x00", path, info.Size(), info.ModTime().UnixNano())
			return nil
		})
		if _, err := os.Stat(root); err != nil {
			fmt.Fprintf(h, "%s\x00missing\x00", root)
		}
	}
	return string(h.Sum(nil))
}

// bundleFileName finds the names of a bundle's files in an error: OPA names
// them from the bundle's root, as in "/policy.rego:21: rego_parse_error".
var bundleFileName = regexp.MustCompile(`(^|[\s(])(/[^\s:()"]+)`)

// NameSourceFiles names the files in a policy error by their path, folder
// included, rather than from the bundle's root ("/policy.rego:21"), so that
// an author with several folders layered into one bundle knows which file to
// open. A name is looked up in dirs in order, as the layered bundle does;
// a name found in none stays as it was.
func NameSourceFiles(msg string, dirs []string) string {
	return bundleFileName.ReplaceAllStringFunc(msg, func(m string) string {
		lead := m[:len(m)-len(strings.TrimLeft(m, " \t\n\r("))]
		name := m[len(lead):]
		for _, dir := range dirs {
			file := filepath.Join(dir, filepath.FromSlash(name))
			if info, err := os.Stat(file); err == nil && !info.IsDir() {
				return lead + file
			}
		}
		return m
	})
}
