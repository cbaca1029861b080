package identity

// The cognito profile fits Amazon Cognito user pools,
// https://cognito-idp.{region}.amazonaws.com/{pool}. token_use says "access" or
// "id". Access tokens carry no aud: their client_id must be one of the entry's
// audiences (the app client ids). ID tokens carry aud. Groups are in
// cognito:groups; scope is space-separated.
func init() {
	register(&profile{
		name: "cognito",
		claims: map[string]ClaimNames{
			"subject":   {"sub"},
			"client_id": {"client_id", "aud"},
			"tenant":    {},
			"email":     {"email"},
			"name":      {"name", "username", "cognito:username"},
			"scopes":    {"scope"},
			"groups":    {"cognito:groups"},
			"roles":     {},
		},
		split: map[string]string{"scopes": " "},
		types: []string{"", "JWT"},
		isIDToken: func(_ *issuer, claims map[string]any) bool {
			return claims["token_use"] != "access"
		},
		audiences: func(claims map[string]any) ([]string, error) {
			if claims["token_use"] == "access" {
				id, err := stringClaim(claims, "client_id")
				if err != nil || id == "" {
					return nil, err
				}
				return []string{id}, nil
			}
			return audienceClaim(claims)
		},
		check: func(_ *issuer, u *unverified, _ string) error {
			switch use := u.claims["token_use"].(type) {
			case string:
				if use != "access" && use != "id" {
					return fail(ReasonType, "token_use is %q, not access or id", truncate(use, 20))
				}
			default:
				// A claim of another type is the token author's JSON: not repeated.
				return fail(ReasonType, "token_use is missing or not a string")
			}
			return nil
		},
	})
}
