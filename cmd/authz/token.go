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
		allowRC = fs.Bool("allow-registered-claims", false, "let --claim set iss, aud, exp, iat or nbf, e.g. to see an expired token's 401")
		claims  = claimFlag{}
	)
	fs.Var(claims, "claim", "a claim to add or replace over the shape's, as `name=value` (repeatable); the value is JSON (42, true, null, [\"a\"], {\"k\":1}, \"1.0\") or else a plain string.\n"+
		"iss, aud, exp, iat and nbf are refused, since a token with them changed may no longer verify, unless --allow-registered-claims")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return exitUsage
	}
	if *sub == "" {
		fmt.Fprintln(stderr, "authz token: --sub is required")
		return exitUsage
	}
	if !*allowRC {
		for _, name := range registeredClaims {
			if _, ok := claims[name]; ok {
				fmt.Fprintf(stderr, "authz token: --claim %s: the token may no longer verify; add --allow-registered-claims to set it on purpose (--ttl sets exp)\n", name)
				return exitUsage
			}
		}
	}
	body, _ := json.Marshal(devissuer.Principal{Profile: *profile, Subject: *sub, Groups: splitList(*groups, ","), Roles: splitList(*roles, ","),
		Scopes: splitList(*scopes, ", "), Client: *client, TTL: int(ttl.Seconds()), Claims: claims})
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

// registeredClaims are the claims every verifier checks, which --claim changes
// only with --allow-registered-claims.
var registeredClaims = []string{"iss", "aud", "exp", "iat", "nbf"}

// claimFlag collects --claim name=value. A value that is one JSON value is
// sent as written, so that numbers keep every digit; anything else is a string.
type claimFlag map[string]any

func (c claimFlag) String() string { return "" }

func (c claimFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q is not name=value", v)
	}
	if _, dup := c[name]; dup {
		return fmt.Errorf("claim %s given twice", name)
	}
	if json.Valid([]byte(value)) {
		c[name] = json.RawMessage(value)
	} else {
		c[name] = value
	}
	return nil
}
