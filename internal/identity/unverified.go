package identity

import "strings"

// FromUnverifiedClaims normalises claims that no signature vouches for, with the
// profile of the configured issuer their iss names (generic otherwise). It is for
// local tools that show what a policy would decide for given claims; nothing that
// authorizes a request may call it.
func FromUnverifiedClaims(issuers []IssuerConfig, claims map[string]any) *Token {
	cfg := IssuerConfig{Profile: "generic"}
	iss, _ := claims["iss"].(string)
	for _, c := range issuers {
		prefix, suffix, templated := strings.Cut(c.Issuer, tenantPlaceholder)
		if c.Issuer == iss || c.AccessTokenIssuer == iss || (templated && strings.HasPrefix(iss, prefix) && strings.HasSuffix(iss, suffix)) {
			cfg = c
			break
		}
	}
	p, ok := profiles[cfg.Profile]
	if !ok {
		p = profiles["generic"]
	}
	e := &issuer{cfg: cfg, profile: p, names: p.claimNames(cfg.Claims), split: p.separators(cfg.Split)}
	return e.token(&unverified{claims: claims}, iss)
}
