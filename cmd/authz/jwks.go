package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/identity"
)

// jwks is authz jwks: the key sets of the configured issuers.
func jwks(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "snapshot" {
		return jwksSnapshot(args[1:], stdout, stderr)
	}
	w, code := stderr, exitUsage
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		w, code = stdout, exitAllow
	} else if len(args) > 0 {
		fmt.Fprintf(stderr, "authz jwks: unknown command %q\n", args[0])
	}
	fmt.Fprint(w, "Usage: authz jwks snapshot [-o FILE]   write the configured issuers' key sets for AUTHZ_JWKS_SNAPSHOT\n")
	return code
}

// jwksSnapshot is authz jwks snapshot: it discovers the issuers of
// AUTHZ_ISSUERS and fetches their key sets with the authorizer's own client and
// checks, and writes them as the file AUTHZ_JWKS_SNAPSHOT names, for the
// function package. It writes nothing unless every issuer's key set was fetched
// and would be read back.
func jwksSnapshot(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("authz jwks snapshot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "jwks-snapshot.json", "the snapshot `file` to write, - for stdout")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: authz jwks snapshot [-o FILE]

Discovers each issuer of AUTHZ_ISSUERS and fetches its key set, as the
authorizer does (AUTHZ_IDP_TIMEOUT, the size cap, the key checks), and writes
them with the time they were taken. Ship the file in the function package and
name it in AUTHZ_JWKS_SNAPSHOT: a cold start then verifies tokens signed by
these keys without calling the identity providers. Take it again when an
identity provider rotates its keys, at least every 30 days.

  AUTHZ_ISSUERS='[...]' authz jwks snapshot -o dist/jwks-snapshot.json

Flags:
`)
		fs.PrintDefaults()
	}
	if _, err := parseArgs(fs, args, 0); err != nil {
		return exitUsage
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "authz jwks snapshot: "+format+"\n", a...)
		return code
	}
	// The snapshot being replaced is not read: a broken one must not stop
	// taking a new one.
	getenv := func(name string) string {
		if name == "AUTHZ_JWKS_SNAPSHOT" {
			return ""
		}
		return os.Getenv(name)
	}
	cfg, err := config.FromEnv(getenv, false)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	snap, err := identity.TakeSnapshot(context.Background(), cfg.Issuers, identity.Options{HTTPTimeout: cfg.IdPTimeout})
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	data, err := snap.Bytes()
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	report := stdout
	if *out == "-" {
		if _, err := stdout.Write(data); err != nil {
			return fail(exitFailure, "%v", err)
		}
		report = stderr
	} else if err := writeSnapshot(*out, data); err != nil {
		return fail(exitFailure, "%v", err)
	}
	for _, e := range snap.Issuers {
		ids := e.KeyIDs()
		keys := fmt.Sprintf("%d keys", len(ids))
		if len(ids) == 1 {
			keys = "1 key"
		}
		fmt.Fprintf(report, "%s: %s (%s) from %s\n", e.Issuer, keys, strings.Join(ids, ", "), e.JWKSURI)
	}
	if *out != "-" {
		fmt.Fprintf(report, "%s: taken %s; ship it in the function package and set AUTHZ_JWKS_SNAPSHOT to its path there (relative to the package root, /var/task)\n",
			*out, snap.Issuers[0].TakenAt.Format(time.RFC3339))
	}
	return exitAllow
}

// writeSnapshot replaces file with data in one step, so that a failed run leaves the
// previous snapshot whole. Public keys are no secret: the file is readable.
func writeSnapshot(file string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".authz-jwks-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), file)
}
