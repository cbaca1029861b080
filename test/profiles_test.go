package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/apigw-authz/authz/internal/devissuer"
)

const (
	tenantA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantB = "0d5e8a3c-1111-4222-8333-944455556666"
	adfsAT  = "http://fs.contoso.example/adfs/services/trust"
)

func startIssuerAt(t *testing.T, opts devissuer.Options) *devissuer.Issuer {
	t.Helper()
	iss, err := devissuer.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return iss
}

// echoPolicy allows everything and returns the normalised token as context, so
// that the test can read what the policy saw from an HTTP payload 2.0 response.
func echoPolicy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	rego := "package authz\n\ndecision := {\"allow\": true, \"context\": {\"token\": object.get(input, \"token\", null)}}\n"
	if err := os.WriteFile(filepath.Join(dir, "policy.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestProviderProfiles runs provider-shaped tokens of Okta, Entra ID (two
// tenants), AD FS, Cognito and a generic issuer through the built binary, all
// configured side by side, and checks the input.token the policy received.
func TestProviderProfiles(t *testing.T) {
	okta := startIssuerAt(t, devissuer.Options{Path: "/oauth2/default"})
	entra := startIssuerAt(t, devissuer.Options{}) // the common key set of every tenant
	adfs := startIssuerAt(t, devissuer.Options{Path: "/adfs", Discovery: map[string]any{"access_token_issuer": adfsAT}})
	cognito := startIssuerAt(t, devissuer.Options{Path: "/eu-west-1_Pool42"})
	generic := startIssuerAt(t, devissuer.Options{Path: "/realms/acme", Algorithm: "ES256"})

	issuers := []map[string]any{
		{"issuer": okta.URL, "profile": "okta", "audiences": []string{"api://default"}},
		{"issuer": entra.URL + "/{tenantid}/v2.0", "profile": "entra", "audiences": []string{"api://orders"},
			"tenants": []string{tenantA, tenantB}, "jwks_uri": entra.JWKSURL()},
		{"issuer": adfs.URL, "profile": "adfs", "access_token_issuer": adfsAT, "audiences": []string{"microsoft:identityserver:orders"}},
		{"issuer": cognito.URL, "profile": "cognito", "audiences": []string{"app-client-1"}},
		{"issuer": generic.URL, "audiences": []string{"orders"}, "algorithms": []string{"ES256"},
			"claims": map[string]any{"groups": "memberOf"}, "split": map[string]any{"groups": ","}},
	}
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": string(mustJSON(issuers)), "AUTHZ_BUNDLE": echoPolicy(t)})
	http2 := kinds[3]

	mintAs := func(iss *devissuer.Issuer, claims map[string]any, header map[string]any) string {
		c := iss.Claims("")
		delete(c, "sub")
		for k, v := range claims {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		tok, err := iss.Mint(c, header)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	type fields struct {
		Issuer        string   `json:"issuer"`
		Profile       string   `json:"profile"`
		Subject       string   `json:"subject"`
		ClientID      string   `json:"client_id"`
		Tenant        string   `json:"tenant"`
		Email         string   `json:"email"`
		Scopes        []string `json:"scopes"`
		Groups        []string `json:"groups"`
		Roles         []string `json:"roles"`
		GroupsOverage bool     `json:"groups_overage"`
	}
	cases := []struct {
		name   string
		token  string
		want   fields
		reason string // when refused
	}{
		{name: "Okta custom authorization server",
			token: mintAs(okta, map[string]any{"aud": "api://default", "cid": "0oa1client", "uid": "00u1alice", "sub": "alice@example.com",
				"scp": []string{"orders:read"}, "groups": []string{"Everyone", "admins"}}, map[string]any{"typ": "application/okta-internal-at+jwt"}),
			want: fields{Issuer: okta.URL, Profile: "okta", Subject: "00u1alice", ClientID: "0oa1client",
				Scopes: []string{"orders:read"}, Groups: []string{"Everyone", "admins"}, Roles: []string{}}},
		{name: "Okta org server token", reason: "token_foreign",
			token: mintAs(okta, map[string]any{"iss": strings.TrimSuffix(okta.URL, "/oauth2/default"), "aud": "api://default", "cid": "c"}, nil)},
		{name: "Entra v2, tenant A",
			token: mintAs(entra, map[string]any{"iss": entra.URL + "/" + tenantA + "/v2.0", "aud": "api://orders", "tid": tenantA,
				"oid": "oid-alice", "sub": "pairwise", "azp": "spa-client", "scp": "Orders.Read Orders.Write", "roles": []string{"Orders.Admin"},
				"groups": []string{"g1"}, "preferred_username": "alice@contoso.com", "ver": "2.0"}, map[string]any{"typ": "JWT"}),
			want: fields{Issuer: entra.URL + "/" + tenantA + "/v2.0", Profile: "entra", Subject: "oid-alice", ClientID: "spa-client",
				Tenant: tenantA, Email: "alice@contoso.com", Scopes: []string{"Orders.Read", "Orders.Write"}, Groups: []string{"g1"},
				Roles: []string{"Orders.Admin"}}},
		{name: "Entra v2, tenant B, group overage",
			token: mintAs(entra, map[string]any{"iss": entra.URL + "/" + tenantB + "/v2.0", "aud": "api://orders", "tid": tenantB,
				"oid": "oid-bob", "azp": "daemon", "roles": []string{"Orders.Read"}, "hasgroups": true, "ver": "2.0"}, nil),
			want: fields{Issuer: entra.URL + "/" + tenantB + "/v2.0", Profile: "entra", Subject: "oid-bob", ClientID: "daemon",
				Tenant: tenantB, Scopes: []string{}, Groups: []string{}, Roles: []string{"Orders.Read"}, GroupsOverage: true}},
		{name: "Entra token of a foreign tenant", reason: "token_tenant",
			token: mintAs(entra, map[string]any{"iss": entra.URL + "/9b0c2f1e-aaaa-4bbb-8ccc-dddddddddddd/v2.0", "aud": "api://orders",
				"tid": "9b0c2f1e-aaaa-4bbb-8ccc-dddddddddddd", "azp": "x", "scp": "Orders.Read"}, nil)},
		{name: "Microsoft Graph token", reason: "token_foreign",
			token: mintAs(entra, map[string]any{"iss": entra.URL + "/" + tenantA + "/v2.0", "aud": "api://orders", "tid": tenantA,
				"azp": "x", "scp": "User.Read"}, map[string]any{"nonce": "graph"})},
		{name: "AD FS access token",
			token: mintAs(adfs, map[string]any{"iss": adfsAT, "aud": "microsoft:identityserver:orders", "appid": "native-app",
				"scp": "openid orders", "upn": "carol@contoso.com", "unique_name": "CONTOSO\\carol", "group": "Domain Users",
				"role": []string{"Reader", "Approver"}}, nil),
			want: fields{Issuer: adfsAT, Profile: "adfs", Subject: "carol@contoso.com", ClientID: "native-app", Email: "carol@contoso.com",
				Scopes: []string{"openid", "orders"}, Groups: []string{"Domain Users"}, Roles: []string{"Reader", "Approver"}}},
		{name: "Cognito access token",
			token: mintAs(cognito, map[string]any{"aud": nil, "sub": "u-dave", "client_id": "app-client-1", "token_use": "access",
				"scope": "orders/read", "cognito:groups": []string{"admins"}, "username": "dave"}, nil),
			want: fields{Issuer: cognito.URL, Profile: "cognito", Subject: "u-dave", ClientID: "app-client-1",
				Scopes: []string{"orders/read"}, Groups: []string{"admins"}, Roles: []string{}}},
		{name: "Cognito ID token", reason: "token_type",
			token: mintAs(cognito, map[string]any{"aud": "app-client-1", "sub": "u-dave", "token_use": "id"}, nil)},
		{name: "generic issuer, groups in one string",
			token: mintAs(generic, map[string]any{"aud": "orders", "sub": "erin", "client_id": "cli", "scope": "a b",
				"memberOf": "admins,auditors"}, map[string]any{"typ": "at+jwt"}),
			want: fields{Issuer: generic.URL, Profile: "generic", Subject: "erin", ClientID: "cli",
				Scopes: []string{"a", "b"}, Groups: []string{"admins", "auditors"}, Roles: []string{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := fn.invoke(t, http2.event("GET", "/orders", "Bearer "+tc.token))
			line := fn.decisionLog(t, fn.lastRequestID())
			if tc.reason != "" {
				if res.Error == nil || res.Error.Message != "Unauthorized" || line["reason"] != tc.reason {
					t.Fatalf("want 401 with reason %s; got %s %+v, log %v", tc.reason, res.Response, res.Error, line)
				}
				return
			}
			if res.Error != nil {
				t.Fatalf("refused: %+v, log %v", res.Error, line)
			}
			var resp struct {
				IsAuthorized bool `json:"isAuthorized"`
				Context      struct {
					Token fields `json:"token"`
				} `json:"context"`
			}
			if err := json.Unmarshal(res.Response, &resp); err != nil {
				t.Fatal(err)
			}
			if !resp.IsAuthorized || !reflect.DeepEqual(resp.Context.Token, tc.want) {
				t.Fatalf("input.token\n got %+v\nwant %+v", resp.Context.Token, tc.want)
			}
		})
	}
}

// TestUnknownKidFlood sends 50 tokens with made-up key ids through the binary and
// counts the identity provider's key set fetches: at most one per cooldown.
func TestUnknownKidFlood(t *testing.T) {
	iss := startIssuer(t)
	fn := startFunction(t, map[string]string{"AUTHZ_ISSUERS": issuersEnv(iss), "AUTHZ_JWKS_COOLDOWN": "1s"})
	ok := mint(t, iss, "alice", groups("admins"))
	if res := fn.invoke(t, kinds[0].event("GET", "/orders", "Bearer "+ok)); res.Error != nil {
		t.Fatalf("a valid token: %+v", res.Error)
	}
	before := iss.KeySetFetches() // the start-up fetch
	time.Sleep(1100 * time.Millisecond)
	rogue, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = forgeKid(t, iss.Claims("mallory"), rogue, fmt.Sprintf("made-up-%d", i))
	}
	var wg sync.WaitGroup
	for _, tok := range tokens {
		wg.Go(func() {
			if res := fn.invoke(t, kinds[0].event("GET", "/orders", "Bearer "+tok)); res.Error == nil || res.Error.Message != "Unauthorized" {
				t.Errorf("a made-up kid: %s %+v", res.Response, res.Error)
			}
		})
	}
	wg.Wait()
	during := iss.KeySetFetches() - before
	t.Logf("key set fetches: %d at start-up, %d during a flood of %d tokens with unknown kids", before, during, len(tokens))
	if during > 1 {
		t.Fatalf("%d fetches during the flood; at most 1 per cooldown", during)
	}
	if res := fn.invoke(t, kinds[0].event("GET", "/orders", "Bearer "+ok)); res.Error != nil {
		t.Fatalf("a valid token after the flood: %+v", res.Error)
	}
}

// forgeKid signs claims, valid-looking ones, with a key the issuer never
// published.
func forgeKid(t *testing.T, claims map[string]any, rogue *rsa.PrivateKey, kid string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: rogue, KeyID: kid}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(mustJSON(claims))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
