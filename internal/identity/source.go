package identity

import (
	"fmt"
	"strings"
)

// Source is one place a bearer token may be: a header, a cookie or a query
// parameter.
type Source struct {
	Kind string // "header", "cookie" or "query"
	Name string // header names are lower-case; cookie and query names are exact
}

// Sources is AUTHZ_TOKEN_SOURCES: where to look for the token, in order.
type Sources []Source

// DefaultSources is where the token is looked for when nothing is configured.
var DefaultSources = Sources{{Kind: "header", Name: "authorization"}}

// ParseSources reads a comma list such as "header:authorization,cookie:id_token".
func ParseSources(s string) (Sources, error) {
	var out Sources
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		kind, name, ok := strings.Cut(item, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not KIND:NAME (header:NAME, cookie:NAME or query:NAME)", item)
		}
		switch kind {
		case "header":
			name = strings.ToLower(name)
		case "cookie", "query":
		default:
			return nil, fmt.Errorf("%q: the kind must be header, cookie or query", item)
		}
		out = append(out, Source{Kind: kind, Name: name})
	}
	return out, nil
}

// String gives the sources back in their configuration syntax.
func (s Sources) String() string {
	parts := make([]string, len(s))
	for i, src := range s {
		parts[i] = src.Kind + ":" + src.Name
	}
	return strings.Join(parts, ",")
}

// Take returns the token from the first source present, and deletes every
// source's value from the maps, so that the policy sees none of them. (Copies of
// the token elsewhere in the request are the request's to remove: see
// gateway.Request.Redact.)
// A header must carry the Bearer scheme or no scheme at all; any other scheme is
// an error. A source that is present but blank (empty, or white space only) is a
// malformed token, not an absent one: the client presented a credential, and an
// empty one must not pass for an anonymous request.
func (s Sources) Take(headers, cookies, query map[string]string) (string, error) {
	var token string
	var err error
	found := false
	for _, src := range s {
		var m map[string]string
		switch src.Kind {
		case "header":
			m = headers
		case "cookie":
			m = cookies
		case "query":
			m = query
		}
		v, present := m[src.Name]
		delete(m, src.Name)
		if src.Kind == "cookie" {
			// The raw Cookie header holds the same value.
			delete(headers, "cookie")
		}
		if found || !present {
			continue
		}
		found = true
		switch {
		case src.Kind == "header":
			token, err = FromAuthorization(v)
		case strings.TrimSpace(v) == "":
			err = fail(ReasonMalformed, "the %s %s is present but blank", src.Kind, src.Name)
		default:
			token = v
		}
	}
	return token, err
}

// FromAuthorization reads a token from an Authorization-style value: "Bearer
// TOKEN" (any case) or a bare token. Another scheme, such as Basic, is refused.
// A blank value is malformed.
func FromAuthorization(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fail(ReasonMalformed, "the authorization value is blank")
	}
	if strings.EqualFold(v, "bearer") {
		return "", fail(ReasonMalformed, "Bearer without a token")
	}
	scheme, rest, hasScheme := strings.Cut(v, " ")
	if !hasScheme {
		return scheme, nil
	}
	if !strings.EqualFold(scheme, "bearer") {
		return "", fail(ReasonScheme, "the authorization scheme is %s, not Bearer", schemeName(scheme))
	}
	token := strings.TrimSpace(rest)
	if token == "" {
		return "", fail(ReasonMalformed, "Bearer without a token")
	}
	return token, nil
}

// schemeName names a scheme for the log only when it looks like one (such as
// "Basic"): the first word of a malformed value may be a secret.
func schemeName(s string) string {
	if len(s) > 20 {
		return "an unknown scheme"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-') {
			return "an unknown scheme"
		}
	}
	return fmt.Sprintf("%q", s)
}
