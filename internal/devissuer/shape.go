package devissuer

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

// DevTenant is the Entra tenant id of tokens shaped like Entra's.
const DevTenant = "00000000-0000-4000-8000-00000000d3e5"

// EntraAPIClientID is the aud of tokens shaped like Entra's: the application
// (client) id of the API's app registration, a GUID, which is what Entra puts
// in the aud of v2 access tokens (accessTokenAcceptedVersion 2). Only v1
// tokens carry an App ID URI such as api://orders.
const EntraAPIClientID = "00000000-0000-4000-8000-0000000a9100"

// defaultAudience is the aud of profile's tokens when Options.Audience is empty.
func defaultAudience(profile string) string {
	if profile == "entra" {
		return EntraAPIClientID
	}
	return "api://default"
}

// Principal is who a minted token speaks for, and the shape of the token.
type Principal struct {
	// Profile shapes the token; the issuer's own profile when empty.
	Profile string   `json:"profile,omitempty"`
	Subject string   `json:"sub"`
	Groups  []string `json:"groups,omitempty"`
	Roles   []string `json:"roles,omitempty"`
	Scopes  []string `json:"scopes,omitempty"`
	Client  string   `json:"client,omitempty"`
	TTL     int      `json:"ttl_seconds,omitempty"`
	// Claims are set last, over the shape's: any claim, the registered ones
	// (iss, aud, exp, iat, nbf) included. Values are anything encoding/json
	// marshals; json.RawMessage and json.Number go out as written.
	Claims map[string]any `json:"claims,omitempty"`
}

// DefaultClient is the client id of minted tokens when the principal names none.
const DefaultClient = "dev-client"

// AcceptedAudience is the audience a verifier must accept for the tokens MintFor
// mints: the issuer's, or for the Cognito shape, which carries no aud, the
// client id that stands for it.
func (i *Issuer) AcceptedAudience() string { return i.AcceptedAudienceFor(i.opts.Profile) }

// AcceptedAudienceFor is AcceptedAudience for profile's tokens, which are also
// their aud: the issuer's audience for its own profile; for the other shapes
// of an issuer with Options.AllProfiles, that shape's default (EntraAPIClientID
// for Entra's, the issuer's audience for the others).
func (i *Issuer) AcceptedAudienceFor(profile string) string {
	switch {
	case profile == "cognito":
		return DefaultClient
	case profile == i.opts.Profile:
		return i.opts.Audience
	case profile == "entra":
		return defaultAudience(profile)
	}
	return i.opts.Audience
}

// TrustedIssuer is one entry of AUTHZ_ISSUERS, in its JSON form.
type TrustedIssuer struct {
	Issuer            string   `json:"issuer"`
	Profile           string   `json:"profile"`
	Audiences         []string `json:"audiences"`
	AccessTokenIssuer string   `json:"access_token_issuer,omitempty"`
}

// Trusted is the AUTHZ_ISSUERS under which every token MintFor can mint
// verifies: one entry per shape, side by side (only the issuer's own without
// Options.AllProfiles). A verifier trusting it accepts any of its tokens.
func (i *Issuer) Trusted() []TrustedIssuer {
	profiles := []string{i.opts.Profile}
	if i.opts.AllProfiles {
		profiles = Profiles
	}
	out := make([]TrustedIssuer, 0, len(profiles))
	for _, p := range profiles {
		out = append(out, TrustedIssuer{Issuer: i.IssuerFor(p), Profile: p,
			Audiences: []string{i.AcceptedAudienceFor(p)}, AccessTokenIssuer: i.AccessTokenIssuerFor(p)})
	}
	return out
}

// Profiles lists the token shapes the issuer can mint.
var Profiles = []string{"generic", "okta", "entra", "adfs", "cognito"}

// pathOf is where each shape's issuer lives, as at the real provider.
func pathOf(profile string) string {
	switch profile {
	case "okta":
		return "/oauth2/default"
	case "entra":
		return "/" + DevTenant + "/v2.0"
	case "adfs":
		return "/adfs"
	case "cognito":
		return "/local_DevPool"
	}
	return ""
}

// Profile is the shape of the tokens the issuer mints by default.
func (i *Issuer) Profile() string { return i.opts.Profile }

// IssuerFor is the issuer URL of profile's tokens: URL for the issuer's own
// profile, else the origin and that provider's path (with Options.AllProfiles).
func (i *Issuer) IssuerFor(profile string) string {
	if profile == i.opts.Profile {
		return i.URL
	}
	return i.origin + pathOf(profile)
}

// AccessTokenIssuer is the iss of access tokens when it is not URL (AD FS shape).
func (i *Issuer) AccessTokenIssuer() string { return i.AccessTokenIssuerFor(i.opts.Profile) }

// AccessTokenIssuerFor is the iss of profile's access tokens when it is not
// IssuerFor(profile): only AD FS's differ.
func (i *Issuer) AccessTokenIssuerFor(profile string) string {
	if profile == "adfs" {
		return i.IssuerFor(profile) + "/services/trust"
	}
	return ""
}

// MintFor signs a token for p, shaped like the access tokens of the issuer's
// profile: Okta's scp array and uid, Entra's (v2) oid, tid and application id
// audience, AD FS's upn and group, Cognito's client_id and cognito:groups, or
// generic scope and groups; then p.Claims over them.
func (i *Issuer) MintFor(p Principal) (string, error) {
	if p.Subject == "" {
		return "", fmt.Errorf("devissuer: a subject is required")
	}
	profile := p.Profile
	switch {
	case profile == "":
		profile = i.opts.Profile
	case !slices.Contains(Profiles, profile):
		return "", fmt.Errorf("devissuer: profile %q is not one of %s", profile, strings.Join(Profiles, ", "))
	case profile != i.opts.Profile && !i.opts.AllProfiles:
		return "", fmt.Errorf("devissuer: this issuer mints %s tokens only", i.opts.Profile)
	}
	client := p.Client
	if client == "" {
		client = DefaultClient
	}
	c := i.Claims(p.Subject)
	c["iss"], c["aud"] = i.IssuerFor(profile), i.AcceptedAudienceFor(profile)
	if p.TTL > 0 {
		c["exp"] = time.Now().Add(time.Duration(p.TTL) * time.Second).Unix()
	}
	scopes := strings.Join(p.Scopes, " ")
	var header map[string]any
	switch profile {
	case "okta":
		c["uid"], c["sub"], c["cid"], c["ver"] = p.Subject, p.Subject+"@example.com", client, 1
		c["scp"], c["groups"] = nonNil(p.Scopes), nonNil(p.Groups)
		if len(p.Roles) > 0 {
			c["roles"] = p.Roles
		}
		header = map[string]any{"typ": "application/okta-internal-at+jwt"}
	case "entra":
		c["oid"], c["sub"], c["tid"], c["azp"], c["ver"] = p.Subject, "pairwise-"+p.Subject, DevTenant, client, "2.0"
		c["preferred_username"] = p.Subject + "@contoso.example"
		if scopes != "" {
			c["scp"] = scopes
		}
		c["roles"], c["groups"] = nonNil(p.Roles), nonNil(p.Groups)
	case "adfs":
		c["iss"] = i.AccessTokenIssuerFor(profile)
		delete(c, "sub")
		c["upn"], c["unique_name"], c["appid"], c["scp"], c["ver"] = p.Subject, "DEV\\"+p.Subject, client, scopes, "1.0"
		if g := oneOrMany(p.Groups); g != nil {
			c["group"] = g
		}
		if r := oneOrMany(p.Roles); r != nil {
			c["role"] = r
		}
	case "cognito":
		delete(c, "aud")
		c["client_id"], c["token_use"], c["username"], c["scope"] = client, "access", p.Subject, scopes
		c["cognito:groups"] = nonNil(p.Groups)
	default:
		c["client_id"], c["scope"], c["groups"], c["roles"] = client, scopes, nonNil(p.Groups), nonNil(p.Roles)
	}
	maps.Copy(c, p.Claims)
	return i.Mint(c, header)
}

// oneOrMany is how AD FS sends a multi-valued claim: a string for one value.
func oneOrMany(values []string) any {
	switch len(values) {
	case 0:
		return nil
	case 1:
		return values[0]
	default:
		return values
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// serveMint answers POST /mint with a token for the Principal in the body. It
// exists only when Options.MintEndpoint is set, for `authz token`.
func (i *Issuer) serveMint(w http.ResponseWriter, r *http.Request) {
	// A browser can send a form or text/plain across sites without asking;
	// it cannot send application/json without a preflight, which fails here.
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") || r.Header.Get("Origin") != "" {
		http.Error(w, "POST a JSON principal (Content-Type: application/json), not from a web page", http.StatusUnsupportedMediaType)
		return
	}
	var p Principal
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.UseNumber() // a claim's number is minted with every digit it was sent with
	if err := dec.Decode(&p); err != nil {
		http.Error(w, "a JSON principal is expected: "+err.Error(), http.StatusBadRequest)
		return
	}
	tok, err := i.MintFor(p)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	profile := p.Profile
	if profile == "" {
		profile = i.opts.Profile
	}
	writeJSON(w, map[string]string{"token": tok, "issuer": i.IssuerFor(profile), "profile": profile})
}
