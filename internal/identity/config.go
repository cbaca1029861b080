package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// IssuerConfig is one trusted issuer, an entry of AUTHZ_ISSUERS.
type IssuerConfig struct {
	// Issuer is the exact iss value.
	Issuer string `json:"issuer"`
	// Audiences are the accepted aud values; a token must carry at least one.
	Audiences []string `json:"audiences"`
	// Profile names the identity provider's profile; "generic" when empty.
	Profile string `json:"profile,omitempty"`
	// JWKSURI, when set, is the key set to use instead of discovery's.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// Algorithms are the accepted signing algorithms; asymmetric only.
	Algorithms []string `json:"algorithms,omitempty"`
	// Tenants are the allowed tenant ids of a multi-tenant issuer.
	Tenants []string `json:"tenants,omitempty"`
	// AccessTokenIssuer is the iss of access tokens when it differs from the
	// discovery issuer (AD FS).
	AccessTokenIssuer string `json:"access_token_issuer,omitempty"`
	// Claims overrides the profile's claim names: field → claim name(s).
	Claims map[string]ClaimNames `json:"claims,omitempty"`
}

// ClaimNames are the claims a normalised field is read from, in order: the first
// present wins. In JSON it is a string or an array of strings.
type ClaimNames []string

// UnmarshalJSON accepts "name" as well as ["name", ...].
func (c *ClaimNames) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*c = ClaimNames{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("a claim name must be a string or an array of strings")
	}
	*c = many
	return nil
}

// DefaultAlgorithms are accepted when an issuer names none.
var DefaultAlgorithms = []string{"RS256", "ES256", "PS256"}

// asymmetric are the signing algorithms an issuer may allow. HMAC and "none" are
// never accepted: a verifier holding a shared secret could mint tokens itself.
var asymmetric = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// claimFields are the normalised fields a claims override may name.
var claimFields = []string{"subject", "client_id", "tenant", "email", "name", "scopes", "groups", "roles"}

// ParseIssuers reads and validates AUTHZ_ISSUERS: a JSON array of issuer entries.
// Errors name the entry and field at fault.
func ParseIssuers(data string) ([]IssuerConfig, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(data), &raw); err != nil {
		return nil, fmt.Errorf("not a JSON array of issuer objects: %v", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("no issuer: at least one entry is required")
	}
	seen := map[string]bool{}
	out := make([]IssuerConfig, 0, len(raw))
	for i, r := range raw {
		var c IssuerConfig
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("entry %d: %v", i, err)
		}
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("entry %d (%s): %v", i, c.Issuer, err)
		}
		if seen[c.Issuer] {
			return nil, fmt.Errorf("entry %d: issuer %q is listed twice", i, c.Issuer)
		}
		seen[c.Issuer] = true
		out = append(out, c)
	}
	return out, nil
}

// validate checks an entry and fills its defaults.
func (c *IssuerConfig) validate() error {
	if c.Issuer == "" {
		return fmt.Errorf(`field "issuer": required`)
	}
	if err := checkURL(c.Issuer); err != nil {
		return fmt.Errorf(`field "issuer": %v`, err)
	}
	if c.Profile == "" {
		c.Profile = "generic"
	}
	p, ok := profiles[c.Profile]
	if !ok {
		return fmt.Errorf(`field "profile": %q is not one of %s`, c.Profile, strings.Join(ProfileNames(), ", "))
	}
	if strings.ContainsAny(c.Issuer, "{}") && !p.templates {
		return fmt.Errorf(`field "issuer": profile %s does not take {placeholders}`, c.Profile)
	}
	if len(c.Audiences) == 0 && !p.audienceOptional {
		return fmt.Errorf(`field "audiences": required, at least one accepted aud value`)
	}
	for _, a := range c.Audiences {
		if a == "" {
			return fmt.Errorf(`field "audiences": an empty audience would accept tokens without one`)
		}
	}
	if c.JWKSURI != "" {
		if err := checkURL(c.JWKSURI); err != nil {
			return fmt.Errorf(`field "jwks_uri": %v`, err)
		}
	}
	if c.AccessTokenIssuer != "" {
		if err := checkURL(c.AccessTokenIssuer); err != nil {
			return fmt.Errorf(`field "access_token_issuer": %v`, err)
		}
	}
	if len(c.Algorithms) == 0 {
		c.Algorithms = slices.Clone(DefaultAlgorithms)
	}
	for _, a := range c.Algorithms {
		if !slices.Contains(asymmetric, a) {
			return fmt.Errorf(`field "algorithms": %q is not accepted; use asymmetric ones: %s`, a, strings.Join(asymmetric, ", "))
		}
	}
	for field, names := range c.Claims {
		if !slices.Contains(claimFields, field) {
			return fmt.Errorf(`field "claims": %q is not one of %s`, field, strings.Join(claimFields, ", "))
		}
		if len(names) == 0 || slices.Contains(names, "") {
			return fmt.Errorf(`field "claims": %q needs a claim name`, field)
		}
	}
	return nil
}

// checkURL accepts an https URL, or an http one on a loopback host, without
// query, fragment or user information.
func checkURL(s string) error {
	u, err := url.Parse(strings.NewReplacer("{", "", "}", "").Replace(s))
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, err)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry user information, a query or a fragment", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: http is only allowed for loopback hosts; use https", s)
	default:
		return fmt.Errorf("%q: the scheme must be https", s)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
