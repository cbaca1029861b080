package identity

import (
	"encoding/json"
	"strings"
)

// Token is a verified token, normalised: the contract's input.token.
type Token struct {
	Issuer    string
	Profile   string
	Subject   string
	Audience  []string
	ClientID  string
	Tenant    string
	Email     string
	Name      string
	Scopes    []string
	Groups    []string
	Roles     []string
	ExpiresAt int64
	IssuedAt  int64
	// GroupsOverage is true when the provider left groups out because there were
	// too many (Entra): Groups is then incomplete, not empty.
	GroupsOverage bool
	// Claims holds every verified claim as issued; numbers are json.Number.
	Claims map[string]any
}

// Document returns the token as the policy's input.token.
func (t *Token) Document() map[string]any {
	return map[string]any{
		"issuer":         t.Issuer,
		"profile":        t.Profile,
		"subject":        t.Subject,
		"audience":       nonNil(t.Audience),
		"client_id":      t.ClientID,
		"tenant":         t.Tenant,
		"email":          t.Email,
		"name":           t.Name,
		"scopes":         nonNil(t.Scopes),
		"groups":         nonNil(t.Groups),
		"roles":          nonNil(t.Roles),
		"groups_overage": t.GroupsOverage,
		"expires_at":     t.ExpiresAt,
		"issued_at":      t.IssuedAt,
		"claims":         t.Claims,
	}
}

// normalise fills the token's named fields from its claims, with the claim names
// of the issuer's profile and overrides.
func (t *Token) normalise(names map[string]ClaimNames, split map[string]string) {
	str := func(field string) string {
		for _, n := range names[field] {
			if s, ok := scalarString(t.Claims[n]); ok && s != "" {
				return s
			}
		}
		return ""
	}
	list := func(field string) []string {
		for _, n := range names[field] {
			if v, ok := t.Claims[n]; ok && v != nil {
				return stringList(v, split[field])
			}
		}
		return []string{}
	}
	t.Subject = str("subject")
	t.ClientID = str("client_id")
	t.Tenant = str("tenant")
	t.Email = str("email")
	t.Name = str("name")
	t.Scopes = list("scopes")
	t.Groups = list("groups")
	t.Roles = list("roles")
}

// stringList turns a claim into a list of distinct, non-empty strings, in order.
// An array gives its string and number elements; a single string is one value,
// or is split on any of the separators when there are some.
func stringList(v any, separators string) []string {
	var items []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if s, ok := scalarString(e); ok {
				items = append(items, s)
			}
		}
	default:
		s, ok := scalarString(x)
		if !ok {
			break
		}
		if separators == "" {
			items = []string{s}
		} else {
			items = strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(separators, r) })
		}
	}
	out := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for _, s := range items {
		s = strings.TrimSpace(s)
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// scalarString gives the text of a string or number claim. Booleans, objects and
// arrays are not names of anything.
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	default:
		return "", false
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
