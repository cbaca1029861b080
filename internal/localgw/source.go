package localgw

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
)

// IdentitySource is one of an authorizer's identity sources: a request value
// API Gateway requires before it calls the authorizer (401 without it), and
// which, with the others, keys its authorizer cache. It is not a token source
// (identity.Source, AUTHZ_TOKEN_SOURCES: where the authorizer finds the
// token): the token's header is usually both, a route key only an identity
// source.
type IdentitySource struct {
	// Kind is header, query, cookie, context (a context variable) or stage (a
	// stage variable).
	Kind string
	// Name is lower-case for headers; a context variable is named as API
	// Gateway spells it (routeKey, identity.sourceIp).
	Name string
}

// IdentitySources are an authorizer's identity sources, in order.
type IdentitySources []IdentitySource

// sourceSyntax maps the prefixes of identity sources to their kind: API
// Gateway's own syntax for REST, WebSocket and HTTP APIs, and the short one of
// AUTHZ_TOKEN_SOURCES. API Gateway has no cookie source (an HTTP API may key on
// $request.header.Cookie); cookie:NAME is the local tools' own.
var sourceSyntax = []struct{ prefix, kind string }{
	{"method.request.header.", "header"}, // REST
	{"method.request.querystring.", "query"},
	{"stageVariables.", "stage"},
	{"context.", "context"},
	{"route.request.header.", "header"}, // WebSocket
	{"route.request.querystring.", "query"},
	{"$request.header.", "header"}, // HTTP
	{"$request.querystring.", "query"},
	{"$stageVariables.", "stage"},
	{"$context.", "context"},
	{"header:", "header"}, // short
	{"query:", "query"},
	{"cookie:", "cookie"},
	{"context:", "context"},
	{"stage:", "stage"},
}

// contextVariables are the context variables an identity source may name here,
// each read from the policy's input.request. Others (such as
// $context.requestTime, which would key every request apart) are refused.
var contextVariables = map[string]func(req map[string]any) string{
	"routeKey": func(req map[string]any) string {
		if k := text(req["route_key"]); k != "" {
			return k
		}
		return text(req["method"]) + " " + text(req["route"])
	},
	"httpMethod":         field("method"),
	"resourcePath":       field("route"),
	"resourceId":         field("route"),
	"path":               field("path"),
	"identity.sourceIp":  field("source_ip"),
	"identity.userAgent": field("user_agent"),
	"stage":              field("stage"),
	"apiId":              field("api_id"),
	"accountId":          field("account_id"),
	"domainName":         field("domain_name"),
}

// ParseIdentitySources reads a comma list of identity sources, in API Gateway's
// syntax ("method.request.header.Authorization, context.httpMethod" for REST
// APIs; "$request.header.Authorization,$context.routeKey" for HTTP APIs) or the
// short one ("header:authorization,context:routeKey").
func ParseIdentitySources(s string) (IdentitySources, error) {
	var out IdentitySources
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		src, err := parseIdentitySource(item)
		if err != nil {
			return nil, err
		}
		out = append(out, src)
	}
	return out, nil
}

func parseIdentitySource(item string) (IdentitySource, error) {
	for _, syn := range sourceSyntax {
		name, ok := strings.CutPrefix(item, syn.prefix)
		if !ok {
			continue
		}
		if strings.TrimSpace(name) == "" {
			return IdentitySource{}, fmt.Errorf("%q names no %s", item, syn.kind)
		}
		switch syn.kind {
		case "header":
			name = strings.ToLower(name)
		case "context":
			if contextVariables[name] == nil {
				return IdentitySource{}, fmt.Errorf("%q: the context variables an identity source may name here are %s", item, strings.Join(ContextVariables(), ", "))
			}
		}
		return IdentitySource{Kind: syn.kind, Name: name}, nil
	}
	return IdentitySource{}, fmt.Errorf("%q is not an identity source: use method.request.header.NAME, method.request.querystring.NAME, stageVariables.NAME, context.NAME (REST); $request.header.NAME, $request.querystring.NAME, $stageVariables.NAME, $context.NAME (HTTP); or header:NAME, query:NAME, cookie:NAME, context:NAME, stage:NAME", item)
}

// ContextVariables lists the context variables an identity source may name.
func ContextVariables() []string {
	names := make([]string, 0, len(contextVariables))
	for name := range contextVariables {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// IdentitySourcesOf returns token sources as the identity sources that key on
// them: where API Gateway's cache keys on the token.
func IdentitySourcesOf(tokens identity.Sources) IdentitySources {
	out := make(IdentitySources, len(tokens))
	for i, t := range tokens {
		out[i] = IdentitySource{Kind: t.Kind, Name: t.Name}
	}
	return out
}

// String gives the sources back in the short syntax.
func (s IdentitySources) String() string {
	parts := make([]string, len(s))
	for i, src := range s {
		parts[i] = src.Kind + ":" + src.Name
	}
	return strings.Join(parts, ",")
}

// Has reports whether one of the sources is the named one.
func (s IdentitySources) Has(kind, name string) bool {
	return slices.Contains(s, IdentitySource{Kind: kind, Name: name})
}

// Key returns the cache key of a request, given as the policy's input.request
// document: the sources' values. It reports false when a value is missing or
// empty, where API Gateway answers 401 without calling the authorizer.
func (s IdentitySources) Key(req map[string]any) (string, bool) {
	values := make([]string, len(s))
	complete := true
	for i, src := range s {
		switch src.Kind {
		case "header":
			values[i] = entry(req["headers"], src.Name)
			if values[i] == "" && src.Name == "cookie" {
				// Payload 2.0 carries the cookies apart from the headers.
				values[i] = cookieHeader(req["cookies"])
			}
		case "query":
			values[i] = entry(req["query"], src.Name)
		case "cookie":
			values[i] = entry(req["cookies"], src.Name)
		case "stage":
			values[i] = entry(req["stage_variables"], src.Name)
		case "context":
			if v := contextVariables[src.Name]; v != nil {
				values[i] = v(req)
			}
		}
		complete = complete && values[i] != ""
	}
	return strings.Join(values, "\x00"), complete
}

// Missing returns the identity sources the event's request lacks (absent or
// empty), for which API Gateway answers 401 without calling the authorizer. A
// TOKEN authorizer's one identity source is its token header: it lacks its
// header sources when the event has no token.
func (s IdentitySources) Missing(ev *gateway.Event) IdentitySources {
	var out IdentitySources
	if ev.Kind == gateway.KindToken {
		if ev.AuthorizationToken == "" {
			for _, src := range s {
				if src.Kind == "header" {
					out = append(out, src)
				}
			}
		}
		return out
	}
	doc := ev.Request.Document()
	for _, src := range s {
		if _, ok := (IdentitySources{src}).Key(doc); !ok {
			out = append(out, src)
		}
	}
	return out
}

// cookieHeader is the Cookie header of a request with these cookies, in a
// stable order.
func cookieHeader(cookies any) string {
	var names []string
	switch m := cookies.(type) {
	case map[string]string:
		for k := range m {
			names = append(names, k)
		}
	case map[string]any:
		for k := range m {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + entry(cookies, n)
	}
	return strings.Join(parts, "; ")
}

func field(name string) func(map[string]any) string {
	return func(req map[string]any) string { return text(req[name]) }
}

// entry reads one value of a map of the input document, which holds strings
// (as gateway.Request.Document gives it) or any (as decoded from JSON).
func entry(m any, name string) string {
	switch m := m.(type) {
	case map[string]string:
		return m[name]
	case map[string]any:
		return text(m[name])
	}
	return ""
}

func text(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}
