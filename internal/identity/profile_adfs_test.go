package identity

import "testing"

func TestADFSProfile(t *testing.T) {
	const trust = "http://fs.contoso.com/adfs/services/trust" // never fetched, so http is fine
	fs := startAt(t, "/adfs", map[string]any{"access_token_issuer": trust})
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: fs.URL, Profile: "adfs", AccessTokenIssuer: trust,
		Audiences: []string{"microsoft:identityserver:orders-api", "client-app"}, AcceptIDTokens: true})
	access := func(extra map[string]any) map[string]any {
		c := with(fs, map[string]any{"iss": trust, "aud": "microsoft:identityserver:orders-api", "appid": "client-app",
			"scp": "openid orders", "upn": "carol@contoso.com", "unique_name": "CONTOSO\\carol", "apptype": "Public",
			"auth_time": 1, "authmethod": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", "ver": "1.0"})
		for k, val := range extra {
			c[k] = val
		}
		return c
	}
	runProfileCases(t, v, fs, []profileCase{
		{name: "one group and one role arrive as strings", claims: access(map[string]any{"group": "Domain Users", "role": "Reader"}),
			want: &Token{Issuer: trust, Profile: "adfs", Subject: "carol@contoso.com", Audience: []string{"microsoft:identityserver:orders-api"},
				ClientID: "client-app", Email: "carol@contoso.com", Name: "CONTOSO\\carol", Scopes: []string{"openid", "orders"},
				Groups: []string{"Domain Users"}, Roles: []string{"Reader"}}},
		{name: "several arrive as arrays", claims: access(map[string]any{"group": []string{"Domain Users", "CN=Admins,OU=Groups"}, "role": []string{"Reader", "Admin"}}),
			want: &Token{Issuer: trust, Profile: "adfs", Subject: "carol@contoso.com", Audience: []string{"microsoft:identityserver:orders-api"},
				ClientID: "client-app", Email: "carol@contoso.com", Name: "CONTOSO\\carol", Scopes: []string{"openid", "orders"},
				Groups: []string{"Domain Users", "CN=Admins,OU=Groups"}, Roles: []string{"Reader", "Admin"}}},
		{name: "a distinguished name stays one group", claims: access(map[string]any{"group": "CN=Admins,OU=Groups,DC=contoso"}),
			want: &Token{Issuer: trust, Profile: "adfs", Subject: "carol@contoso.com", Audience: []string{"microsoft:identityserver:orders-api"},
				ClientID: "client-app", Email: "carol@contoso.com", Name: "CONTOSO\\carol", Scopes: []string{"openid", "orders"},
				Groups: []string{"CN=Admins,OU=Groups,DC=contoso"}, Roles: []string{}}},
		{name: "ID token under the discovery issuer", claims: with(fs, map[string]any{"aud": "client-app", "sub": "ppid-carol",
			"upn": "carol@contoso.com", "unique_name": "CONTOSO\\carol", "nonce": "n", "sid": "s"}),
			want: &Token{Issuer: fs.URL, Profile: "adfs", Subject: "ppid-carol", Audience: []string{"client-app"},
				Email: "carol@contoso.com", Name: "CONTOSO\\carol", Scopes: []string{}, Groups: []string{}, Roles: []string{}}},
		{name: "an iss that is neither", claims: access(map[string]any{"iss": "http://fs.contoso.com/adfs/services/trust/"}), reason: ReasonUnknownIssuer},
	})
}
