package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// token asks a running dev issuer (authz serve --dev-issuer) for a token and
// prints it, for scripts: TOKEN=$(authz token --sub alice --groups admins).
func token(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("authz token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		issuer  = fs.String("issuer", "http://127.0.0.1:8081", "the dev issuer's `origin` (authz serve --dev-issuer-addr)")
		sub     = fs.String("sub", "", "the token's `subject` (required)")
		groups  = fs.String("groups", "", "comma-separated groups")
		roles   = fs.String("roles", "", "comma-separated roles")
		scopes  = fs.String("scopes", "", "space- or comma-separated scopes")
		client  = fs.String("client", "", "the client id (default dev-client)")
		profile = fs.String("profile", "", "the token's shape: "+strings.Join(devissuer.Profiles, ", ")+" (default: the issuer's)")
		ttl     = fs.Duration("ttl", time.Hour, "lifetime")
	)
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *sub == "" {
		fmt.Fprintln(stderr, "authz token: --sub is required")
		return exitUsage
	}
	body, _ := json.Marshal(devissuer.Principal{Profile: *profile, Subject: *sub, Groups: splitList(*groups, ","), Roles: splitList(*roles, ","),
		Scopes: splitList(*scopes, ", "), Client: *client, TTL: int(ttl.Seconds())})
	client2 := &http.Client{Timeout: 5 * time.Second}
	resp, err := client2.Post(strings.TrimSuffix(*issuer, "/")+"/mint", "application/json", bytes.NewReader(body))
	if err != nil {
		fmt.Fprintf(stderr, "authz token: no dev issuer at %s (start one with authz serve --dev-issuer): %v\n", *issuer, err)
		return exitFailure
	}
	defer resp.Body.Close()
	var out struct {
		Token string `json:"token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.Token == "" {
		fmt.Fprintf(stderr, "authz token: %s answered %s; is it a dev issuer started by authz serve --dev-issuer?\n", *issuer, resp.Status)
		return exitFailure
	}
	fmt.Fprintln(stdout, out.Token)
	return exitAllow
}
