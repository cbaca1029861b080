// Command authz is the policy author's tool: it runs the authorizer's core on a
// laptop, with the same code, input and decision as the Lambda.
//
//	authz check [flags] [EVENT.json|-]   decide one request and explain it
//	authz serve [flags]                 a local API Gateway in front of the core
//	authz token --sub S [flags]         a token from the dev issuer of authz serve
//	authz bundle [flags] DIR...         one signed bundle from policy folders
//	authz replay --bundle C LOGFILE...  what a candidate policy changes on logged decisions
//	authz init DIR                      a starter policy repository
//	authz version                       print the versions of authz and OPA
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// Exit statuses. A decision's status says what the client would see.
const (
	exitAllow        = 0 // the backend
	exitFailure      = 1 // authz itself failed
	exitUsage        = 2 // bad flags or configuration
	exitDeny         = 3 // 403, the policy denied
	exitUnauthorized = 4 // 401
	exitError        = 5 // 403, the decision failed
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "check":
		return check(args[1:], stdin, stdout, stderr)
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "token":
		return token(args[1:], stdout, stderr)
	case "bundle":
		return buildBundle(args[1:], stdout, stderr)
	case "replay":
		return replayLogs(args[1:], stdin, stdout, stderr)
	case "init":
		return initRepo(args[1:], stdout, stderr)
	case "jwks":
		return jwks(args[1:], stdout, stderr)
	case "version":
		printVersion(stdout)
		return exitAllow
	case "help", "-h", "--help":
		usage(stdout)
		return exitAllow
	default:
		fmt.Fprintf(stderr, "authz: unknown command %q\n\n", args[0])
		usage(stderr)
		return exitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `authz: the policy author's tool for the API Gateway authorizer

Usage:
  authz check [flags] [EVENT.json|-]   decide one request with the authorizer's core and explain it
  authz serve [flags]                 run a local API Gateway (127.0.0.1) in front of the core
  authz token --sub S [flags]         mint a token with the dev issuer of authz serve --dev-issuer
  authz bundle [flags] DIR...         build one bundle (.tar.gz) from policy folders, with roots, revision, signature
  authz replay --bundle C LOGFILE...  re-decide logged decisions with a candidate policy and list what would change
  authz init DIR                      write a starter policy repository: lib, schema, policy, tests, Makefile, CI
  authz jwks snapshot [-o FILE]       write the issuers' key sets for AUTHZ_JWKS_SNAPSHOT (cold starts without the IdP)
  authz version                       print versions

Run "authz COMMAND -h" for its flags. Configuration comes from the same AUTHZ_*
variables as the Lambda; AUTHZ_ISSUERS is optional for these local tools.

Exit status of check: 0 allow, 3 deny (403), 4 unauthorized (401),
5 the decision failed (403), 6 cache-unsafe (with --fail-unsafe),
2 usage or configuration error.
`)
}

func printVersion(w io.Writer) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(w, "authz (no build information)")
		return
	}
	fmt.Fprintf(w, "authz %s (%s)\n", info.Main.Version, info.GoVersion)
	for _, dep := range info.Deps {
		switch dep.Path {
		case "github.com/open-policy-agent/opa", "github.com/coreos/go-oidc/v3", "github.com/aws/aws-lambda-go":
			fmt.Fprintf(w, "  %s %s\n", dep.Path, dep.Version)
		}
	}
}
