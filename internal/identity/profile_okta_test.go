package identity

import (
	"strings"
	"testing"
)

func TestOktaProfile(t *testing.T) {
	iss := startAt(t, "/oauth2/default", nil)
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: iss.URL, Profile: "okta", Audiences: []string{"api://default"}})
	access := func(extra map[string]any) map[string]any {
		base := map[string]any{"ver": 1, "jti": "AT.x", "cid": "0oa1client", "uid": "00u1alice", "sub": "alice@example.com",
			"scp": []string{"openid", "orders:read"}, "groups": []string{"Everyone", "admins"}, "aud": "api://default"}
		for k, val := range extra {
			base[k] = val
		}
		return with(iss, base)
	}
	orgURL := strings.TrimSuffix(iss.URL, "/oauth2/default")
	runProfileCases(t, v, iss, []profileCase{
		{name: "custom authorization server access token", claims: access(nil),
			header: map[string]any{"typ": "application/okta-internal-at+jwt"},
			want: &Token{Issuer: iss.URL, Profile: "okta", Subject: "00u1alice", Audience: []string{"api://default"},
				ClientID: "0oa1client", Scopes: []string{"openid", "orders:read"}, Groups: []string{"Everyone", "admins"}, Roles: []string{}}},
		{name: "service token: no uid, sub is the client", claims: access(map[string]any{"uid": nil, "sub": "0oa1client", "groups": nil}),
			want: &Token{Issuer: iss.URL, Profile: "okta", Subject: "0oa1client", Audience: []string{"api://default"},
				ClientID: "0oa1client", Scopes: []string{"openid", "orders:read"}, Groups: []string{}, Roles: []string{}}},
		{name: "ID token", claims: with(iss, map[string]any{"sub": "00u1alice", "aud": "api://default", "amr": []string{"pwd"},
			"idp": "00o1", "nonce": "n", "auth_time": 1}), reason: ReasonType},
		{name: "another typ", claims: access(nil), header: map[string]any{"typ": "dpop+jwt"}, reason: ReasonType},
		{name: "org authorization server access token", claims: access(map[string]any{"iss": orgURL}), reason: ReasonForeign},
		{name: "org server with a trailing slash", claims: access(map[string]any{"iss": orgURL + "/"}), reason: ReasonForeign},
		{name: "another custom authorization server", claims: access(map[string]any{"iss": orgURL + "/oauth2/aus1other"}), reason: ReasonUnknownIssuer},
	})
}

func TestOktaOrgServerForIDTokens(t *testing.T) {
	org := startAt(t, "", nil)
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: org.URL, Profile: "okta", Audiences: []string{"0oa1client"}, AcceptIDTokens: true})
	runProfileCases(t, v, org, []profileCase{
		{name: "org server ID token", claims: with(org, map[string]any{"sub": "00u1alice", "aud": "0oa1client", "amr": []string{"pwd"},
			"email": "alice@example.com", "nonce": "n"}),
			want: &Token{Issuer: org.URL, Profile: "okta", Subject: "00u1alice", Audience: []string{"0oa1client"},
				Email: "alice@example.com", Scopes: []string{}, Groups: []string{}, Roles: []string{}}},
		{name: "org server access token", claims: with(org, map[string]any{"sub": "alice", "aud": "0oa1client", "cid": "0oa1client",
			"scp": []string{"openid"}}), reason: ReasonForeign},
	})
}
