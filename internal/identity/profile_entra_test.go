package identity

import (
	"strings"
	"testing"
)

const (
	tenantA = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	tenantB = "0d5e8a3c-1111-4222-8333-944455556666"
	tenantC = "9b0c2f1e-aaaa-4bbb-8ccc-dddddddddddd"
)

func TestEntraProfileV2(t *testing.T) {
	iss := startAt(t, "/"+tenantA+"/v2.0", nil)
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: iss.URL, Profile: "entra", Audiences: []string{"api://orders", "6e74172b-be56-4843-9ff4-e66a39bb12e3"}})
	access := func(extra map[string]any) map[string]any {
		base := map[string]any{"aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3", "aio": "x", "azp": "client-guid", "azpacr": "0",
			"name": "Alice", "oid": "oid-alice", "preferred_username": "alice@contoso.com", "rh": "x",
			"roles": []string{"Orders.Admin"}, "scp": "Orders.Read Orders.Write", "sub": "pairwise-sub", "tid": tenantA,
			"uti": "x", "ver": "2.0", "groups": []string{"g-1", "g-2"}, "wids": []string{"role-template"}}
		for k, val := range extra {
			base[k] = val
		}
		return with(iss, base)
	}
	want := func(change func(*Token)) *Token {
		tok := &Token{Issuer: iss.URL, Profile: "entra", Subject: "oid-alice", Audience: []string{"6e74172b-be56-4843-9ff4-e66a39bb12e3"},
			ClientID: "client-guid", Tenant: tenantA, Email: "alice@contoso.com", Name: "Alice",
			Scopes: []string{"Orders.Read", "Orders.Write"}, Groups: []string{"g-1", "g-2"}, Roles: []string{"Orders.Admin"}}
		if change != nil {
			change(tok)
		}
		return tok
	}
	runProfileCases(t, v, iss, []profileCase{
		{name: "user access token", claims: access(nil), header: map[string]any{"typ": "JWT"}, want: want(nil)},
		{name: "app-only token: roles, no scp", claims: access(map[string]any{"scp": nil, "name": nil, "preferred_username": nil, "groups": nil, "idtyp": "app"}),
			want: want(func(tk *Token) { tk.Scopes, tk.Name, tk.Email, tk.Groups = []string{}, "", "", []string{} })},
		{name: "group overage by _claim_names", claims: access(map[string]any{"groups": nil,
			"_claim_names": map[string]any{"groups": "src1"}, "_claim_sources": map[string]any{"src1": map[string]any{"endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects"}}}),
			want: want(func(tk *Token) { tk.Groups, tk.GroupsOverage = []string{}, true })},
		{name: "group overage by hasgroups", claims: access(map[string]any{"groups": nil, "hasgroups": true}),
			want: want(func(tk *Token) { tk.Groups, tk.GroupsOverage = []string{}, true })},
		{name: "Microsoft Graph token", claims: access(map[string]any{"aud": "00000003-0000-0000-c000-000000000000"}),
			header: map[string]any{"nonce": "abc"}, reason: ReasonForeign},
		{name: "token for another API", claims: access(map[string]any{"aud": "api://payroll"}), reason: ReasonAudience},
		{name: "ID token", claims: access(map[string]any{"scp": nil, "azp": nil, "aud": "api://orders", "nonce": "n"}), reason: ReasonType},
		{name: "tid differs from the issuer's tenant", claims: access(map[string]any{"tid": tenantB}), reason: ReasonTenant},
	})
}

func TestEntraProfileV1AndMultiTenant(t *testing.T) {
	keys := startAt(t, "", nil) // signs for every tenant, as Microsoft's common key set does
	base := keys.URL
	v := newVerifier(t, Options{},
		IssuerConfig{Issuer: base + "/{tenantid}/v2.0", Profile: "entra", Audiences: []string{"api://orders"}, Tenants: []string{tenantA, strings.ToUpper(tenantB)}, JWKSURI: keys.JWKSURL()},
		IssuerConfig{Issuer: base + "/" + tenantC + "/", Profile: "entra", Audiences: []string{"api://orders"}, JWKSURI: keys.JWKSURL()},
	)
	v2 := func(tenant string, extra map[string]any) map[string]any {
		c := with(keys, map[string]any{"iss": base + "/" + tenant + "/v2.0", "aud": "api://orders", "tid": tenant, "oid": "oid-1",
			"azp": "client-1", "scp": "Orders.Read", "ver": "2.0"})
		for k, val := range extra {
			c[k] = val
		}
		return c
	}
	runProfileCases(t, v, keys, []profileCase{
		{name: "tenant A", claims: v2(tenantA, nil), want: &Token{Issuer: base + "/" + tenantA + "/v2.0", Profile: "entra", Subject: "oid-1",
			Audience: []string{"api://orders"}, ClientID: "client-1", Tenant: tenantA, Scopes: []string{"Orders.Read"}, Groups: []string{}, Roles: []string{}}},
		{name: "tenant B, listed in upper case", claims: v2(tenantB, nil), want: &Token{Issuer: base + "/" + tenantB + "/v2.0", Profile: "entra", Subject: "oid-1",
			Audience: []string{"api://orders"}, ClientID: "client-1", Tenant: tenantB, Scopes: []string{"Orders.Read"}, Groups: []string{}, Roles: []string{}}},
		{name: "a tenant not on the list", claims: v2(tenantC+"x", map[string]any{"iss": base + "/" + tenantC + "/v2.0"}), reason: ReasonTenant},
		{name: "tid not the iss tenant", claims: v2(tenantA, map[string]any{"tid": tenantB}), reason: ReasonTenant},
		{name: "no tid", claims: v2(tenantA, map[string]any{"tid": nil}), reason: ReasonTenant},
		{name: "tenant part holding a path", claims: v2(tenantA+"/x", map[string]any{"tid": tenantA}), reason: ReasonTenant},
		{name: "v1 token", claims: with(keys, map[string]any{"iss": base + "/" + tenantC + "/", "aud": "api://orders", "tid": tenantC,
			"oid": "oid-2", "appid": "client-v1", "upn": "bob@contoso.com", "unique_name": "bob@contoso.com", "scp": "user_impersonation", "ver": "1.0"}),
			want: &Token{Issuer: base + "/" + tenantC + "/", Profile: "entra", Subject: "oid-2", Audience: []string{"api://orders"},
				ClientID: "client-v1", Tenant: tenantC, Email: "bob@contoso.com", Scopes: []string{"user_impersonation"}, Groups: []string{}, Roles: []string{}}},
	})
}

func TestEntraKnownKeySets(t *testing.T) {
	for iss, want := range map[string]string{
		"https://sts.windows.net/" + tenantA + "/":               "https://login.microsoftonline.com/common/discovery/keys",
		"https://login.microsoftonline.com/{tenantid}/v2.0":      "https://login.microsoftonline.com/common/discovery/v2.0/keys",
		"https://login.microsoftonline.com/" + tenantA + "/v2.0": "https://login.microsoftonline.com/common/discovery/v2.0/keys",
		"https://login.microsoftonline.us/" + tenantA + "/v2.0":  "",
		"https://login.example.com/{tenantid}/v2.0":              "",
	} {
		if got := entraKeys(&IssuerConfig{Issuer: iss}); got != want {
			t.Errorf("entraKeys(%s) = %q, want %q", iss, got, want)
		}
	}
}
