package main

import (
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/version"

	"github.com/apigw-authz/authz/bundles"
	"github.com/apigw-authz/authz/rego"
)

// scaffold holds the files of a starter policy repository that are not the
// authorizer's own (the library and the input schema come from the embedded
// copies the authorizer runs). The workflow and .gitignore are stored without
// their leading dot, which go:embed would leave out.
//
//go:embed scaffold
var scaffold embed.FS

// initRepo is authz init: it writes a policy repository of its own, which
// tests, checks and bundles a policy without this repository: the library and
// the input schema of this authz, a starter policy and its tests, the default
// decision-log masking (system.log) and its tests, a Makefile,
// a go.mod pinning the OPA this authz was built with, and a CI workflow.
func initRepo(args []string, stdout, stderr io.Writer) int {
	set := flag.NewFlagSet("authz init", flag.ContinueOnError)
	set.SetOutput(stderr)
	force := set.Bool("force", false, "overwrite files that exist")
	set.Usage = func() {
		fmt.Fprint(stderr, `Usage: authz init [--force] DIR

Writes a starter policy repository into DIR: lib/ and schemas/ (the library
and input schema of this authz), policy/ (a starter policy, its tests and
data, and this authz's default decision-log masking), a Makefile (test,
bundle, check), a go.mod that pins OPA `+opaVersion()+` as a Go tool, and
.github/workflows/policy.yml. It writes nothing if any of these
files exists, unless --force, and refuses a symbolic link in their way: it
writes only inside DIR.

Flags:
`)
		set.PrintDefaults()
	}
	pos, err := parseArgs(set, args, 1)
	if err != nil {
		return exitUsage
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "authz init: "+format+"\n", a...)
		return exitUsage
	}
	if len(pos) == 0 {
		set.Usage()
		return fail("give the folder DIR to write")
	}
	dir := pos[0]
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		return fail("%s is not a folder", dir)
	}
	files, err := scaffoldFiles(moduleName(dir))
	if err != nil {
		return fail("%v", err) // the build embeds every file
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "authz init: %v\n", err)
		return exitFailure
	}
	// Everything is written through a root at DIR, so that no file lands
	// outside it whatever links DIR holds, and a link where the scaffold
	// writes is refused before anything is written.
	root, err := os.OpenRoot(dir)
	if err != nil {
		fmt.Fprintf(stderr, "authz init: %v\n", err)
		return exitFailure
	}
	defer root.Close()
	var exist []string
	for _, name := range names {
		found, link, err := lstatAlong(root, name)
		switch {
		case err != nil:
			return fail("%v", err)
		case link != "":
			return fail("%s is a symbolic link; authz init writes only inside %s, never through a link, and wrote nothing: remove the link or choose another folder",
				filepath.Join(dir, filepath.FromSlash(link)), dir)
		case found:
			exist = append(exist, filepath.Join(dir, filepath.FromSlash(name)))
		}
	}
	if len(exist) > 0 && !*force {
		return fail("%s exists (%d files of the scaffold do); nothing was written: use --force to overwrite", strings.Join(exist, ", "), len(exist))
	}
	for _, name := range names {
		file := filepath.Join(dir, filepath.FromSlash(name))
		if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
			fmt.Fprintf(stderr, "authz init: %v\n", err)
			return exitFailure
		}
		if err := root.WriteFile(name, files[name], 0o644); err != nil {
			fmt.Fprintf(stderr, "authz init: %v\n", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "wrote %s\n", file)
	}
	fmt.Fprintf(stdout, `
Next:
  cd %s
  go mod tidy        # writes go.sum for go tool opa %s; commit it
  make test          # opa fmt, opa check --strict --schema, opa test --coverage
  make bundle        # bundle.tar.gz for AUTHZ_BUNDLE (authz on PATH, or AUTHZ=path/to/authz)
`, dir, opaVersion())
	return exitAllow
}

// lstatAlong looks at the slash-separated name in root and at each folder on
// the way to it, without following links: it reports whether the name exists,
// or the first of them that is a symbolic link.
func lstatAlong(root *os.Root, name string) (exists bool, link string, err error) {
	parts := strings.Split(name, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		info, err := root.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return false, "", nil
		case err != nil:
			return false, "", err
		case info.Mode()&fs.ModeSymlink != 0:
			return true, p, nil
		}
	}
	return true, "", nil
}

// embedded are the scaffold's files taken from the authorizer's own Rego
// (rego.Files), by scaffold name.
var embedded = map[string]string{
	"lib/iam.rego":         "lib/iam.rego",
	"lib/iam_test.rego":    "lib/iam_test.rego",
	"policy/log.rego":      "log.rego",
	"policy/log_test.rego": "log_test.rego",
}

// scaffoldFiles are the files of the starter repository, by slash-separated
// name, for a Go module of the given name.
func scaffoldFiles(module string) (map[string][]byte, error) {
	files := map[string][]byte{
		"go.mod":             goMod(module),
		"schemas/input.json": bundles.InputSchema,
	}
	from := map[string]string{
		".github/workflows/policy.yml": "scaffold/policy.yml",
		".gitignore":                   "scaffold/gitignore",
		"Makefile":                     "scaffold/Makefile",
		"README.md":                    "scaffold/README.md",
		"policy/data.json":             "scaffold/policy/data.json",
		"policy/policy.rego":           "scaffold/policy/policy.rego",
		"policy/policy_test.rego":      "scaffold/policy/policy_test.rego",
	}
	for name, src := range from {
		b, err := scaffold.ReadFile(src)
		if err != nil {
			return nil, err
		}
		files[name] = b
	}
	// The library and the default decision-log masking, with their tests: the
	// same files the authorizer embeds, so that a team's bundle masks
	// credentials in its decision log as the default bundle does. The masking
	// goes into policy/, the team's to extend, as the library is not.
	for name, src := range embedded {
		b, err := fs.ReadFile(rego.Files, src)
		if err != nil {
			return nil, err
		}
		files[name] = b
	}
	return files, nil
}

// opaVersion is the version of the OPA library linked into this authz, hence
// the authorizer's, as go.mod names it.
func opaVersion() string { return "v" + version.Version }

// goRelease matches a Go release's version, such as go1.27.3.
var goRelease = regexp.MustCompile(`^go(\d+)\.(\d+)(\.\d+)?$`)

// goMod pins OPA as a Go tool, so that go tool opa in the new repository is
// the OPA of the authorizer, built with the Go release this authz was built with.
func goMod(module string) []byte {
	goLine, toolchain := "1.26.0", "" // OPA v1's minimum, if this Go is no release
	if m := goRelease.FindStringSubmatch(runtime.Version()); m != nil {
		goLine, toolchain = m[1]+"."+m[2], "\ntoolchain "+runtime.Version()+"\n"
	}
	return fmt.Appendf(nil, `// Written by authz init. go tool opa runs the OPA below, the version the
// authorizer's library has; change it only with the authorizer's. Run
// go mod tidy once to write go.sum, and commit both.
module %s

go %s
%s
tool github.com/open-policy-agent/opa

require github.com/open-policy-agent/opa %s
`, module, goLine, toolchain, opaVersion())
}

// modulePath matches the folder names that make a module path as they are.
var modulePath = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// moduleName names the new repository's Go module after its folder.
func moduleName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "policies"
	}
	if name := strings.ToLower(filepath.Base(abs)); modulePath.MatchString(name) {
		return name
	}
	return "policies"
}
