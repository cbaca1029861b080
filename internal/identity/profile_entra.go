package identity

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// The entra profile fits Microsoft Entra ID, v1 (https://sts.windows.net/{tid}/)
// and v2 (https://login.microsoftonline.com/{tid}/v2.0) tokens, for one tenant or
// for several through {tenantid} in the issuer and a tenants list. scp is a
// space-separated string; roles, groups and wids are arrays; oid is the subject
// (sub is different for every application); tid the tenant; azp (v2) or appid
// (v1) the client.
//
// When a user is in too many groups, Entra leaves groups out and says so with
// _claim_names or hasgroups; the token then has groups_overage true, so that a
// policy can deny instead of reading "member of no group". Tokens meant for
// Microsoft Graph (a nonce in the header) are refused before any signature check.
func init() {
	register(&profile{
		name: "entra",
		claims: map[string]ClaimNames{
			"subject":   {"oid", "sub"},
			"client_id": {"azp", "appid"},
			"tenant":    {"tid"},
			"email":     {"email", "upn", "preferred_username"},
			"name":      {"name"},
			"scopes":    {"scp"},
			"groups":    {"groups"},
			"roles":     {"roles"},
		},
		split:     map[string]string{"scopes": " "},
		types:     []string{"", "JWT"},
		templates: true,
		validate: func(c *IssuerConfig) error {
			if strings.Contains(c.Issuer, tenantPlaceholder) && c.JWKSURI == "" && entraKeys(c) == "" {
				return fmt.Errorf(`field "jwks_uri": required for a multi-tenant issuer outside login.microsoftonline.com`)
			}
			return nil
		},
		jwksURI: entraKeys,
		// Access tokens name their client (azp, appid) or carry scopes; ID tokens
		// do neither.
		isIDToken: func(_ *issuer, claims map[string]any) bool {
			return !hasAny(claims, "scp", "azp", "appid", "idtyp")
		},
		check: func(iss *issuer, u *unverified, tenant string) error {
			if u.headerNonce {
				return fail(ReasonForeign, "the header has a nonce: a token for Microsoft Graph, not for this API")
			}
			tid, err := stringClaim(u.claims, "tid")
			if err != nil {
				return err
			}
			tid = strings.ToLower(tid)
			switch {
			case tenant != "" && tid != tenant:
				return fail(ReasonTenant, "tid %q is not the tenant of iss (%s)", truncate(tid, 40), tenant)
			case len(iss.cfg.Tenants) > 0 && !slices.Contains(iss.cfg.Tenants, tid):
				return fail(ReasonTenant, "tenant %q is not in the issuer's tenants", truncate(tid, 40))
			case tenant != "" && !guid.MatchString(tid):
				return fail(ReasonTenant, "tid %q is not a tenant id", truncate(tid, 40))
			}
			return nil
		},
		finish: func(t *Token, claims map[string]any) {
			names, _ := claims["_claim_names"].(map[string]any)
			_, distributed := names["groups"]
			t.GroupsOverage = distributed || claims["hasgroups"] == true
		},
	})
}

// tenantOf returns the tenant id (a GUID) in an issuer URL's path, or "".
func tenantOf(issuer string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return ""
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if guid.MatchString(strings.ToLower(seg)) {
			return strings.ToLower(seg)
		}
	}
	return ""
}

// entraKeys gives the key set of Entra's public cloud issuers, whose discovery
// documents live under another host (v1) or another issuer (multi-tenant).
func entraKeys(c *IssuerConfig) string {
	u, err := url.Parse(strings.Replace(c.Issuer, tenantPlaceholder, "common", 1))
	if err != nil {
		return ""
	}
	switch {
	case u.Host == "sts.windows.net":
		return "https://login.microsoftonline.com/common/discovery/keys"
	case u.Host == "login.microsoftonline.com" && strings.HasSuffix(u.Path, "/v2.0"):
		return "https://login.microsoftonline.com/common/discovery/v2.0/keys"
	}
	return ""
}
