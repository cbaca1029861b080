package identity

// Unverified normalises claims that no signature vouches for, with the profile of
// the configured issuer their iss selects, as Verify would select it (generic
// when none does). It is for local tools that show what a policy would decide
// for given claims; nothing that authorizes a request may call it.
func (v *Verifier) Unverified(claims map[string]any) *Token {
	iss, _ := claims["iss"].(string)
	e, _, err := v.lookup(iss)
	if err != nil {
		p := profiles["generic"]
		e = &issuer{cfg: IssuerConfig{Profile: p.name}, profile: p, names: p.claimNames(nil), split: p.separators(nil)}
	}
	return e.token(&unverified{claims: claims}, iss)
}
