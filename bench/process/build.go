package main

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// The packages built into Lambda binaries.
const (
	authorizerPkg = "./cmd/authorizer"
	floorPkg      = "./bench/process/floorbin"
)

// goCmd runs the go command in the module root, with the toolchain that built
// this program (go run ./bench/process under GOTOOLCHAIN=go1.27.3, as the
// Makefile exports it), so that the binaries measured are built by the same.
func goCmd(root string, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = os.Environ()
	if v := runtime.Version(); strings.HasPrefix(v, "go1.") && !strings.ContainsAny(v, " -+") {
		cmd.Env = append(cmd.Env, "GOTOOLCHAIN="+v)
	}
	return cmd
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := goCmd("", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside a module: run go run ./bench/process from the repository")
	}
	return filepath.Dir(mod), nil
}

// infoZipSize is the size of the zip make package writes with Info-ZIP's zip
// (zip -q: its default level), or 0 when zip is not on PATH.
func infoZipSize(file string) int64 {
	if _, err := exec.LookPath("zip"); err != nil {
		return 0
	}
	dir, err := os.MkdirTemp("", "authz-zip-")
	if err != nil {
		return 0
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "authorizer.zip")
	cmd := exec.Command("zip", "-q", "-j", out, file)
	if cmd.Run() != nil {
		return 0
	}
	info, err := os.Stat(out)
	if err != nil {
		return 0
	}
	return info.Size()
}

// revision is what make package passes as the embedded bundle's revision: the
// commit when the sources do not differ from it, else nothing.
func revision(root string) string {
	if exec.Command("git", "-C", root, "diff", "--quiet", "HEAD", "--").Run() != nil {
		return ""
	}
	out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// buildLambda builds pkg as make package builds bootstrap, for linux/goarch,
// into dir/name, and returns its path.
func buildLambda(root, dir, name, pkg, goarch, rev string) (string, error) {
	out := filepath.Join(dir, name)
	ldflags := "-s -w"
	if pkg == authorizerPkg {
		ldflags += " -X github.com/apigw-authz/authz/internal/policy.EmbeddedRevision=" + rev
	}
	cmd := goCmd(root, "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags="+ldflags, "-o", out, pkg)
	cmd.Env = append(cmd.Env, "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("GOARCH=%s go build %s: %v\n%s", goarch, pkg, err, msg)
	}
	return out, nil
}

// zipSize is the size of a zip holding the file as bootstrap, deflated at
// compress/flate's best compression, which comes within 2 % of Info-ZIP's
// default level that make package uses (Go's default level is 6 % larger).
func zipSize(file string) (int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	info, err := os.Stat(file)
	if err != nil {
		return 0, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	h, err := zip.FileInfoHeader(info)
	if err != nil {
		return 0, err
	}
	h.Name = "bootstrap"
	h.Method = zip.Deflate
	w, err := zw.CreateHeader(h)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write(data); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return int64(buf.Len()), nil
}
