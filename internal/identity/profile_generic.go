package identity

// The generic profile fits any OpenID Connect issuer that follows the common
// claim names: scopes in "scope" (space-separated, RFC 8693 and 9068) or "scp",
// groups in "groups", roles in "roles". Issuers that name them otherwise set
// "claims", and "split" for values packed in one string. Access tokens may carry
// typ "at+jwt" (RFC 9068); ID tokens are told by their OIDC-only claims.
func init() {
	register(&profile{
		name: "generic",
		claims: map[string]ClaimNames{
			"subject":   {"sub"},
			"client_id": {"client_id", "azp", "cid", "appid"},
			"tenant":    {"tenant", "tid"},
			"email":     {"email"},
			"name":      {"name"},
			"scopes":    {"scope", "scp"},
			"groups":    {"groups"},
			"roles":     {"roles"},
		},
		split: map[string]string{"scopes": " ,"},
		types: []string{"", "JWT", "at+jwt", "application/at+jwt"},
	})
}
