package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// mintIssuer is the dev issuer authz serve --dev-issuer runs, on a free port.
func mintIssuer(t *testing.T) *devissuer.Issuer {
	t.Helper()
	iss, err := devissuer.Start(devissuer.Options{MintEndpoint: true, AllProfiles: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return iss
}

// claimsOf decodes the payload of the token authz token printed.
func claimsOf(t *testing.T, out string) map[string]any {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(out), ".")
	if len(parts) != 3 {
		t.Fatalf("not a token: %q", out)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var c map[string]any
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenClaims(t *testing.T) {
	iss := mintIssuer(t)
	tests := []struct {
		name string
		args []string
		want map[string]any
	}{
		{"JSON values", []string{"--claim", "tier=gold", "--claim", "level=3", "--claim", "beta=true", "--claim", `wids=["62e90394"]`,
			"--claim", `org={"id":"acme","units":[1,2]}`, "--claim", "account=12345678901234567890", "--claim", "none=null"},
			map[string]any{"tier": "gold", "level": json.Number("3"), "beta": true, "wids": []any{"62e90394"},
				"org":     map[string]any{"id": "acme", "units": []any{json.Number("1"), json.Number("2")}},
				"account": json.Number("12345678901234567890"), "none": nil}},
		{"plain strings when not JSON", []string{"--claim", "dept=Sales, EMEA", "--claim", "empty=", "--claim", "eq=a=b", "--claim", `quoted="1.0"`},
			map[string]any{"dept": "Sales, EMEA", "empty": "", "eq": "a=b", "quoted": "1.0"}},
		{"over the shape's own claims", []string{"--groups", "admins", "--claim", `groups=["auditors"]`, "--claim", "client_id=cli", "--claim", "sub=alice@example.com"},
			map[string]any{"groups": []any{"auditors"}, "client_id": "cli", "sub": "alice@example.com"}},
		{"in another shape", []string{"--profile", "entra", "--claim", "tid=72f988bf-86f1-41af-91ab-2d7cd011db47", "--claim", `roles=["Orders.Admin"]`},
			map[string]any{"tid": "72f988bf-86f1-41af-91ab-2d7cd011db47", "roles": []any{"Orders.Admin"}, "ver": "2.0"}},
		{"a registered claim, deliberately", []string{"--allow-registered-claims", "--claim", "exp=1000", "--claim", "aud=api://someone-else"},
			map[string]any{"exp": json.Number("1000"), "aud": "api://someone-else"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"token", "--issuer", iss.Origin(), "--sub", "alice"}, tt.args...)
			code, out, errOut := runAuthz(t, "", args...)
			if code != exitAllow {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			c := claimsOf(t, out)
			for k, want := range tt.want {
				if got, ok := c[k]; !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("claim %s = %#v, want %#v", k, got, want)
				}
			}
		})
	}
}

func TestTokenClaimRefusals(t *testing.T) {
	iss := mintIssuer(t)
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no =", []string{"--claim", "tier"}, "name=value"},
		{"no name", []string{"--claim", "=gold"}, "name=value"},
		{"twice", []string{"--claim", "tier=gold", "--claim", "tier=silver"}, "twice"},
		{"exp", []string{"--claim", "exp=1000"}, "--allow-registered-claims"},
		{"aud", []string{"--claim", "aud=api://orders"}, "--allow-registered-claims"},
		{"iss", []string{"--claim", "iss=https://elsewhere"}, "--allow-registered-claims"},
		{"iat", []string{"--claim", "iat=0"}, "--allow-registered-claims"},
		{"nbf", []string{"--claim", "nbf=0"}, "--allow-registered-claims"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"token", "--issuer", iss.Origin(), "--sub", "alice"}, tt.args...)
			code, out, errOut := runAuthz(t, "", args...)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, want %d; stdout %q; stderr %q does not say %q", code, exitUsage, out, errOut, tt.want)
			}
		})
	}
}

// Without --claim, the token is the shape's, as before.
func TestTokenWithoutClaims(t *testing.T) {
	iss := mintIssuer(t)
	code, out, errOut := runAuthz(t, "", "token", "--issuer", iss.Origin(), "--sub", "bob", "--groups", "orders-readers", "--profile", "entra")
	if code != exitAllow {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	c := claimsOf(t, out)
	if c["oid"] != "bob" || c["aud"] != iss.AcceptedAudienceFor("entra") || !reflect.DeepEqual(c["groups"], []any{"orders-readers"}) {
		t.Fatalf("claims %v", c)
	}
}
