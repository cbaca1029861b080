package identity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/apigw-authz/authz/internal/loopback"
)

// IssuerConfig is one trusted issuer, an entry of AUTHZ_ISSUERS.
type IssuerConfig struct {
	// Issuer is the exact iss value. For the entra profile it may hold
	// {tenantid}, which then matches the tenants listed in Tenants.
	Issuer string `json:"issuer"`
	// Audiences are the accepted aud values; a token must carry at least one.
	Audiences []string `json:"audiences"`
	// Profile names the identity provider's profile; "generic" when empty.
	Profile string `json:"profile,omitempty"`
	// JWKSURI, when set, is the key set to use instead of discovery's.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// Algorithms are the accepted signing algorithms; asymmetric only.
	Algorithms []string `json:"algorithms,omitempty"`
	// Tenants are the allowed tenant ids (Entra tid).
	Tenants []string `json:"tenants,omitempty"`
	// AccessTokenIssuer is the iss of access tokens when it differs from the
	// discovery issuer (AD FS). It is only compared, never fetched.
	AccessTokenIssuer string `json:"access_token_issuer,omitempty"`
	// Claims overrides the profile's claim names: field → claim name(s).
	Claims map[string]ClaimNames `json:"claims,omitempty"`
	// Split overrides the separators that split a single-string claim into
	// several values, per list field (scopes, groups, roles); "" never splits.
	Split map[string]string `json:"split,omitempty"`
	// Clients, when set, are the only client ids (azp, cid, client_id, appid)
	// whose tokens are accepted.
	Clients []string `json:"clients,omitempty"`
	// AcceptIDTokens accepts ID tokens besides access tokens. Off by default: an
	// ID token says who logged in to a client, not that the client may call this API.
	AcceptIDTokens bool `json:"accept_id_tokens,omitempty"`
	// LeewaySeconds is the clock skew allowed on nbf and iat: default 60, at most 300.
	LeewaySeconds *int `json:"leeway_seconds,omitempty"`
	// MaxLifetimeSeconds bounds exp-iat, and exp-now. Default 86400 (a day).
	MaxLifetimeSeconds int `json:"max_lifetime_seconds,omitempty"`
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

// listFields are the normalised fields that hold several values.
var listFields = []string{"scopes", "groups", "roles"}

const (
	defaultLeeway      = 60 * time.Second
	maxLeeway          = 300 * time.Second
	defaultMaxLifetime = 24 * time.Hour
	maxMaxLifetime     = 7 * 24 * time.Hour
	tenantPlaceholder  = "{tenantid}"
)

// guid is the shape of an Entra tenant id.
var guid = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

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
		out = append(out, c)
	}
	if err := checkDistinct(out); err != nil {
		return nil, err
	}
	return out, nil
}

// checkDistinct refuses two entries that claim the same iss: which one's
// audiences and profile apply would depend on the order.
func checkDistinct(cfgs []IssuerConfig) error {
	seen := map[string]int{}
	for i, c := range cfgs {
		for _, iss := range []string{c.Issuer, c.AccessTokenIssuer} {
			if iss == "" {
				continue
			}
			if j, dup := seen[iss]; dup {
				return fmt.Errorf("entry %d: issuer %q is already taken by entry %d", i, iss, j)
			}
			seen[iss] = i
		}
	}
	return nil
}

// validate checks an entry and fills its defaults.
func (c *IssuerConfig) validate() error {
	if c.Issuer == "" {
		return fmt.Errorf(`field "issuer": required`)
	}
	if c.Profile == "" {
		c.Profile = "generic"
	}
	p, ok := profiles[c.Profile]
	if !ok {
		return fmt.Errorf(`field "profile": %q is not one of %s`, c.Profile, strings.Join(ProfileNames(), ", "))
	}
	if err := c.validateIssuer(p); err != nil {
		return err
	}
	if len(c.Audiences) == 0 {
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
		if u, err := url.Parse(c.AccessTokenIssuer); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return fmt.Errorf(`field "access_token_issuer": %q is not an http(s) URL`, c.AccessTokenIssuer)
		}
		if c.AccessTokenIssuer == c.Issuer {
			return fmt.Errorf(`field "access_token_issuer": the same as "issuer"; leave it out`)
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
	for field := range c.Split {
		if !slices.Contains(listFields, field) {
			return fmt.Errorf(`field "split": %q is not one of %s`, field, strings.Join(listFields, ", "))
		}
	}
	if slices.Contains(c.Clients, "") {
		return fmt.Errorf(`field "clients": an empty client id`)
	}
	switch {
	case c.LeewaySeconds != nil && (*c.LeewaySeconds < 0 || time.Duration(*c.LeewaySeconds)*time.Second > maxLeeway):
		return fmt.Errorf(`field "leeway_seconds": %d is not between 0 and %d`, *c.LeewaySeconds, int(maxLeeway.Seconds()))
	case c.MaxLifetimeSeconds < 0 || time.Duration(c.MaxLifetimeSeconds)*time.Second > maxMaxLifetime:
		return fmt.Errorf(`field "max_lifetime_seconds": %d is not between 1 and %d (0 or absent: a day)`, c.MaxLifetimeSeconds, int(maxMaxLifetime.Seconds()))
	}
	if p.validate != nil {
		return p.validate(c)
	}
	return nil
}

// validateIssuer checks the issuer URL, a {tenantid} template and its tenants.
func (c *IssuerConfig) validateIssuer(p *profile) error {
	n := strings.Count(c.Issuer, "{")
	switch {
	case n == 0:
		if err := checkURL(c.Issuer); err != nil {
			return fmt.Errorf(`field "issuer": %v`, err)
		}
	case !p.templates:
		return fmt.Errorf(`field "issuer": profile %s does not take {placeholders}`, c.Profile)
	case n != 1 || strings.Count(c.Issuer, tenantPlaceholder) != 1:
		return fmt.Errorf(`field "issuer": the only placeholder is one %s`, tenantPlaceholder)
	default:
		if err := checkURL(strings.Replace(c.Issuer, tenantPlaceholder, "tenant", 1)); err != nil {
			return fmt.Errorf(`field "issuer": %v`, err)
		}
		if len(c.Tenants) == 0 {
			return fmt.Errorf(`field "tenants": required with %s: the tenant ids to accept`, tenantPlaceholder)
		}
	}
	for i, t := range c.Tenants {
		c.Tenants[i] = strings.ToLower(t)
		if !guid.MatchString(c.Tenants[i]) {
			return fmt.Errorf(`field "tenants": %q is not a tenant id (a GUID)`, t)
		}
	}
	return nil
}

// checkURL accepts an https URL, or an http one on a loopback host, without
// query, fragment or user information.
func checkURL(s string) error {
	u, err := url.Parse(s)
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
		if loopback.Host(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q: http is only allowed for loopback hosts; use https", s)
	default:
		return fmt.Errorf("%q: the scheme must be https", s)
	}
}

func (c *IssuerConfig) leeway() time.Duration {
	if c.LeewaySeconds == nil {
		return defaultLeeway
	}
	return time.Duration(*c.LeewaySeconds) * time.Second
}

func (c *IssuerConfig) maxLifetime() time.Duration {
	if c.MaxLifetimeSeconds == 0 {
		return defaultMaxLifetime
	}
	return time.Duration(c.MaxLifetimeSeconds) * time.Second
}
