package identity

import (
	"maps"
	"slices"
)

// A profile is what this verifier knows of one identity provider's tokens: where
// its claims put the subject, client, tenant, scopes, groups and roles, and the
// checks its tokens need beyond the signature. Each profile lives in a file of its
// own (profile_NAME.go) and registers itself.
type profile struct {
	name string
	// claims are the claim names of each normalised field, first present wins.
	claims map[string]ClaimNames
	// split says which separators a single string holding several values uses,
	// per normalised list field. A field without an entry is never split: one
	// string is one value, so that "Domain Admins" never becomes "Admins".
	split map[string]string
	// templates is true when the issuer may hold {placeholders}.
	templates bool
	// audienceOptional is true when the provider's tokens may carry no aud.
	audienceOptional bool
	// check refuses verified claims the provider would not issue for this API.
	// It may be nil.
	check func(iss *issuer, claims map[string]any) error
}

var profiles = map[string]*profile{}

func register(p *profile) {
	if _, dup := profiles[p.name]; dup {
		panic("identity: profile " + p.name + " registered twice")
	}
	profiles[p.name] = p
}

// ProfileNames lists the profiles an issuer may name, sorted.
func ProfileNames() []string {
	return slices.Sorted(maps.Keys(profiles))
}

// claimNames returns the profile's claim names with an issuer's overrides applied.
func (p *profile) claimNames(overrides map[string]ClaimNames) map[string]ClaimNames {
	out := maps.Clone(p.claims)
	maps.Copy(out, overrides)
	return out
}
