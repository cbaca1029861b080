package identity

// The adfs profile fits Active Directory Federation Services. Discovery is at the
// issuer, https://{fs}/adfs, but access tokens name access_token_issuer (often
// http://{fs}/adfs/services/trust) as their iss: an entry accepts both. Claims
// such as group and role arrive as a string when there is one value and an array
// when there are several; either way they become arrays. The subject is sub, or
// upn, or unique_name; appid is the client.
func init() {
	register(&profile{
		name: "adfs",
		claims: map[string]ClaimNames{
			"subject":   {"sub", "upn", "unique_name"},
			"client_id": {"appid", "client_id"},
			"tenant":    {},
			"email":     {"email", "upn"},
			"name":      {"unique_name", "name"},
			"scopes":    {"scp", "scope"},
			"groups":    {"group", "groups"},
			"roles":     {"role", "roles"},
		},
		split: map[string]string{"scopes": " "},
		types: []string{"", "JWT"},
		// AD FS access tokens carry scp and appid, and name access_token_issuer
		// when it is set; ID tokens name the discovery issuer.
		isIDToken: func(iss *issuer, claims map[string]any) bool {
			if iss.cfg.AccessTokenIssuer != "" && claims["iss"] == iss.cfg.Issuer {
				return true
			}
			return !hasAny(claims, "scp", "appid")
		},
	})
}
