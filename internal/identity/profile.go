package identity

import (
	"maps"
	"slices"
	"strings"
)

// A profile is what this verifier knows of one identity provider's tokens: where
// its claims put the subject, client, tenant, scopes, groups and roles, and the
// checks its tokens need beyond the signature. Each profile lives in a file of its
// own (profile_NAME.go) and registers itself; every hook may be nil.
type profile struct {
	name string
	// claims are the claim names of each normalised field, first present wins.
	claims map[string]ClaimNames
	// split gives the separators that split a single string holding several
	// values, per list field. A field without an entry is never split: one
	// string is one value, so that "Domain Admins" never becomes "Admins".
	split map[string]string
	// types are the accepted typ header values, compared case-insensitively;
	// "" stands for no typ.
	types []string
	// templates is true when the issuer may hold {tenantid}.
	templates bool

	// validate checks an issuer entry of this profile after the common checks.
	validate func(c *IssuerConfig) error
	// jwksURI gives the key set of an issuer that cannot be discovered, or "".
	jwksURI func(c *IssuerConfig) string
	// isIDToken tells an ID token from an access token by what the provider
	// puts in one and not the other, beyond the OIDC markers every profile checks.
	isIDToken func(iss *issuer, claims map[string]any) bool
	// audiences gives what stands for aud; nil reads aud.
	audiences func(claims map[string]any) ([]string, error)
	// check refuses, before the signature check, tokens the provider issues
	// that are not meant for this API. tenant is the one iss names: the one a
	// template matched, or the one in a fixed issuer's path, or "".
	check func(iss *issuer, u *unverified, tenant string) error
	// finish completes the normalised token.
	finish func(t *Token, claims map[string]any)
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

// separators returns the profile's separators with an issuer's overrides applied.
func (p *profile) separators(overrides map[string]string) map[string]string {
	out := maps.Clone(p.split)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, overrides)
	return out
}

func (p *profile) acceptsType(typ string) bool {
	return slices.ContainsFunc(p.types, func(t string) bool { return strings.EqualFold(t, typ) })
}

// idToken reports an ID token: OIDC's markers, or the profile's own signs. It is
// a heuristic, and the audience check stands behind it: an ID token is meant for
// a client, and a client id is rarely an API's audience.
func (p *profile) idToken(iss *issuer, claims map[string]any) bool {
	return hasOIDCMarkers(claims) || (p.isIDToken != nil && p.isIDToken(iss, claims))
}

func (p *profile) audienceOf(claims map[string]any) ([]string, error) {
	if p.audiences != nil {
		return p.audiences(claims)
	}
	return audienceClaim(claims)
}

// hasOIDCMarkers reports claims only OpenID Connect ID tokens carry: a nonce,
// hashes of the access token or code, token_use "id" (Cognito) or typ "ID"
// (Keycloak).
func hasOIDCMarkers(claims map[string]any) bool {
	if claims["token_use"] == "id" {
		return true
	}
	if typ, ok := claims["typ"].(string); ok && strings.EqualFold(typ, "ID") {
		return true
	}
	for _, c := range []string{"nonce", "at_hash", "c_hash", "s_hash"} {
		if _, ok := claims[c]; ok {
			return true
		}
	}
	return false
}

// hasAny reports whether any of the claims is present.
func hasAny(claims map[string]any, names ...string) bool {
	for _, n := range names {
		if _, ok := claims[n]; ok {
			return true
		}
	}
	return false
}
