package identity

import (
	"context"
	"reflect"
	"testing"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// startAt runs a dev issuer whose URL ends in path, with extra discovery fields.
func startAt(t *testing.T, path string, discovery map[string]any) *devissuer.Issuer {
	t.Helper()
	iss, err := devissuer.Start(devissuer.Options{Path: path, Discovery: discovery})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { iss.Close() })
	return iss
}

// profileCase is a provider-shaped token and what it must normalise to, or the
// reason it must be refused for.
type profileCase struct {
	name   string
	claims map[string]any
	header map[string]any
	want   *Token // the named fields; Claims and times are not compared
	reason string
}

func runProfileCases(t *testing.T, v *Verifier, iss *devissuer.Issuer, cases []profileCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := iss.Mint(tc.claims, tc.header)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := v.Verify(context.Background(), raw)
			if tc.reason != "" {
				if ReasonOf(err) != tc.reason {
					t.Fatalf("got %+v, %v; want refusal %s", tok, err, tc.reason)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			got := *tok
			got.Claims, got.ExpiresAt, got.IssuedAt = nil, 0, 0
			if !reflect.DeepEqual(&got, tc.want) {
				t.Fatalf("normalised\n got %+v\nwant %+v", &got, tc.want)
			}
		})
	}
}

// with returns the issuer's registered claims plus extra.
func with(iss *devissuer.Issuer, extra map[string]any) map[string]any {
	c := iss.Claims("")
	delete(c, "sub")
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// ID tokens carry the OIDC markers, or their provider's own signs; without
// accept_id_tokens, every profile refuses them, even when the audience matches.
func TestIDTokensAreRefusedInEveryProfile(t *testing.T) {
	const trust = "http://fs.contoso.com/adfs/services/trust"
	fs := startAt(t, "/adfs", nil)
	entra := startAt(t, "/"+tenantA+"/v2.0", nil)
	generic := startAt(t, "/realms/acme", nil)
	v := newVerifier(t, Options{},
		IssuerConfig{Issuer: fs.URL, Profile: "adfs", AccessTokenIssuer: trust, Audiences: []string{"client-app"}},
		IssuerConfig{Issuer: entra.URL, Profile: "entra", Audiences: []string{"client-app"}},
		IssuerConfig{Issuer: generic.URL, Audiences: []string{"client-app"}},
	)
	runProfileCases(t, v, fs, []profileCase{
		{name: "AD FS ID token with appid and a nonce", claims: with(fs, map[string]any{"aud": "client-app", "sub": "x", "appid": "client-app", "nonce": "n"}), reason: ReasonType},
		{name: "AD FS ID token: the discovery issuer, no marker", claims: with(fs, map[string]any{"aud": "client-app", "sub": "x", "appid": "client-app", "scp": "openid"}), reason: ReasonType},
	})
	runProfileCases(t, v, entra, []profileCase{
		{name: "Entra ID token with azp and a nonce", claims: with(entra, map[string]any{"aud": "client-app", "tid": tenantA, "azp": "client-app", "nonce": "n", "at_hash": "h"}), reason: ReasonType},
	})
	runProfileCases(t, v, generic, []profileCase{
		{name: "Keycloak ID token (typ ID)", claims: with(generic, map[string]any{"aud": "client-app", "sub": "x", "typ": "ID", "azp": "client-app"}), reason: ReasonType},
		{name: "Keycloak access token (typ Bearer)", claims: with(generic, map[string]any{"aud": "client-app", "sub": "x", "typ": "Bearer", "azp": "client-app"}),
			want: &Token{Issuer: generic.URL, Profile: "generic", Subject: "x", Audience: []string{"client-app"}, ClientID: "client-app",
				Scopes: []string{}, Groups: []string{}, Roles: []string{}}},
	})
}
