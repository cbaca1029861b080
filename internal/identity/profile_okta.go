package identity

import (
	"fmt"
	"net/url"
	"strings"
)

// The okta profile fits Okta's custom authorization servers,
// https://{org}/oauth2/{id} (such as "default"): scp is an array of scopes,
// groups an array, cid the client and uid the user's id, which is the subject
// (sub is the user's login, which can change). Access tokens carry typ
// "application/okta-internal-at+jwt".
//
// Okta's org authorization server (iss is the bare org URL) signs its access
// tokens with keys it does not publish to third parties: they are refused with a
// clear reason, whether or not the org URL is configured. Its ID tokens can be
// verified, and are accepted with accept_id_tokens.
func init() {
	register(&profile{
		name: "okta",
		claims: map[string]ClaimNames{
			"subject":   {"uid", "sub"},
			"client_id": {"cid", "azp"},
			"tenant":    {"tenant"},
			"email":     {"email"},
			"name":      {"name"},
			"scopes":    {"scp", "scope"},
			"groups":    {"groups"},
			"roles":     {"roles"},
		},
		split: map[string]string{"scopes": " ,"},
		types: []string{"", "JWT", "at+jwt", "application/okta-internal-at+jwt"},
		validate: func(c *IssuerConfig) error {
			if isOktaOrgServer(c.Issuer) && !c.AcceptIDTokens {
				return fmt.Errorf(`field "issuer": %s is Okta's org authorization server, whose access tokens cannot be verified by an API; use a custom authorization server (%s/oauth2/default), or set accept_id_tokens to verify its ID tokens`, c.Issuer, strings.TrimSuffix(c.Issuer, "/"))
			}
			return nil
		},
		// Okta's access tokens name their client in cid; its ID tokens do not.
		isIDToken: func(_ *issuer, claims map[string]any) bool {
			return !hasAny(claims, "cid")
		},
		check: func(iss *issuer, u *unverified, _ string) error {
			if iss.oktaOrg && !iss.profile.idToken(iss, u.claims) {
				return errOktaOrgToken
			}
			return nil
		},
	})
}

var errOktaOrgToken = fail(ReasonForeign, "an access token of Okta's org authorization server: it is meant for Okta's own APIs and cannot be verified here; use a custom authorization server (https://{org}/oauth2/default)")

// isOktaOrgServer reports whether iss is an Okta org URL rather than a custom
// authorization server (https://{org}/oauth2/{id}).
func isOktaOrgServer(iss string) bool {
	u, err := url.Parse(iss)
	return err == nil && !strings.HasPrefix(u.Path, "/oauth2/")
}
