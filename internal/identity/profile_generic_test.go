package identity

import (
	"context"
	"testing"
	"time"
)

func TestGenericProfile(t *testing.T) {
	iss := startAt(t, "/realms/acme", nil)
	v := newVerifier(t, Options{}, IssuerConfig{Issuer: iss.URL, Audiences: []string{"orders"}, Clients: []string{"web", "cli"},
		Claims: map[string]ClaimNames{"groups": {"memberOf"}, "roles": {"realm_roles", "roles"}, "tenant": {"org"}},
		Split:  map[string]string{"groups": ",", "scopes": " "}})
	runProfileCases(t, v, iss, []profileCase{
		{name: "RFC 9068 access token with overridden claims", header: map[string]any{"typ": "at+jwt"},
			claims: with(iss, map[string]any{"aud": []string{"orders", "billing"}, "sub": "erin", "client_id": "web", "org": "acme",
				"scope": "orders:read,orders:write profile", "memberOf": "admins,Domain Users", "groups": []string{"ignored"},
				"roles": []string{"second"}, "email": "erin@example.com"}),
			want: &Token{Issuer: iss.URL, Profile: "generic", Subject: "erin", Audience: []string{"orders", "billing"}, ClientID: "web",
				Tenant: "acme", Email: "erin@example.com", Scopes: []string{"orders:read,orders:write", "profile"},
				Groups: []string{"admins", "Domain Users"}, Roles: []string{"second"}}},
		{name: "azp as the client", claims: with(iss, map[string]any{"aud": "orders", "sub": "svc", "azp": "cli", "scp": []string{"a"}}),
			want: &Token{Issuer: iss.URL, Profile: "generic", Subject: "svc", Audience: []string{"orders"}, ClientID: "cli",
				Scopes: []string{"a"}, Groups: []string{}, Roles: []string{}}},
		{name: "a client not on the list", claims: with(iss, map[string]any{"aud": "orders", "sub": "x", "client_id": "mobile"}), reason: ReasonClient},
	})
}

func TestLeewayAndLifetimeAreConfigurable(t *testing.T) {
	iss := startAt(t, "", nil)
	zero, twoMinutes := 0, 120
	now := time.Now()
	cases := []struct {
		name   string
		cfg    func(*IssuerConfig)
		claims func(map[string]any)
		reason string
	}{
		{"no leeway: nbf 5s ahead is refused", func(c *IssuerConfig) { c.LeewaySeconds = &zero },
			func(m map[string]any) { m["nbf"] = now.Add(5 * time.Second).Unix() }, ReasonNotYetValid},
		{"default leeway: nbf 5s ahead is fine", nil, func(m map[string]any) { m["nbf"] = now.Add(5 * time.Second).Unix() }, ""},
		{"default leeway: iat 90s ahead is refused", nil, func(m map[string]any) { m["iat"] = now.Add(90 * time.Second).Unix() }, ReasonNotYetValid},
		{"two minutes of leeway: iat 90s ahead is fine", func(c *IssuerConfig) { c.LeewaySeconds = &twoMinutes },
			func(m map[string]any) { m["iat"] = now.Add(90 * time.Second).Unix() }, ""},
		{"ten-minute lifetime: an hour's token is refused", func(c *IssuerConfig) { c.MaxLifetimeSeconds = 600 }, nil, ReasonLifetime},
		{"ten-minute lifetime without iat: exp is bounded from now", func(c *IssuerConfig) { c.MaxLifetimeSeconds = 600 },
			func(m map[string]any) { delete(m, "iat") }, ReasonLifetime},
		{"ten-minute lifetime: a five-minute token is fine", func(c *IssuerConfig) { c.MaxLifetimeSeconds = 600 },
			func(m map[string]any) { m["exp"] = now.Add(5 * time.Minute).Unix() }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := IssuerConfig{Issuer: iss.URL, Audiences: []string{iss.Audience()}}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			v := newVerifier(t, Options{}, cfg)
			claims := iss.Claims("x")
			if tc.claims != nil {
				tc.claims(claims)
			}
			_, err := v.Verify(context.Background(), mint(t, iss, claims))
			if ReasonOf(err) != tc.reason {
				t.Fatalf("got %v, want reason %q", err, tc.reason)
			}
		})
	}
}
