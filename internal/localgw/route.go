package localgw

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultRoute is an HTTP API's catch-all route: it takes the requests no
// other route takes.
const DefaultRoute = "$default"

// Route is one of an API's routes: a method, or ANY, and a resource path
// template such as /orders/{id} or /files/{path+}; or an HTTP API's $default.
// API Gateway gives the authorizer the route a request matched, not its path,
// as resource, resourcePath and routeKey: a cache keyed on $context.routeKey
// shares one entry between /orders/7 and /orders/8.
type Route struct {
	// Key names the route as API Gateway does: "GET /orders/{id}",
	// "ANY /{proxy+}", "$default".
	Key string
	// Method is the route's method, or ANY; empty for $default.
	Method string
	// Template is the resource path template; "$default" for $default.
	Template string
	segments []segment
}

// Ranks of a template's segments: at the first segment where two matching
// routes differ, the higher rank is the more specific route.
const (
	greedy  = iota // {name+}: the rest of the path, one segment or more
	param          // {name}: one segment
	literal        // the segment itself
)

type segment struct {
	rank int
	text string // the literal, or the parameter's name
}

// routeMethods are the methods a route may name.
var routeMethods = []string{"ANY", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

// ParseRoute reads a route: "METHOD /template" (the method may be ANY; a
// {name} segment is a path parameter, a last {name+} segment a greedy one) or
// "$default".
func ParseRoute(s string) (Route, error) {
	s = strings.TrimSpace(s)
	if s == DefaultRoute {
		return Route{Key: s, Template: s}, nil
	}
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return Route{}, fmt.Errorf("route %q is not METHOD /path (such as 'GET /orders/{id}', 'ANY /{proxy+}') or $default", s)
	}
	method, template := strings.ToUpper(fields[0]), fields[1]
	if !slices.Contains(routeMethods, method) {
		return Route{}, fmt.Errorf("route %q: the method %s is not one of %s", s, fields[0], strings.Join(routeMethods, ", "))
	}
	if !strings.HasPrefix(template, "/") {
		return Route{}, fmt.Errorf("route %q: the path must start with /", s)
	}
	r := Route{Key: method + " " + template, Method: method, Template: template}
	if template == "/" {
		return r, nil
	}
	seen := map[string]bool{}
	parts := strings.Split(template[1:], "/")
	for i, part := range parts {
		seg := segment{rank: literal, text: part}
		switch {
		case part == "":
			return Route{}, fmt.Errorf("route %q: the path has an empty segment", s)
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			seg.rank, seg.text = param, part[1:len(part)-1]
			if name, ok := strings.CutSuffix(seg.text, "+"); ok {
				seg.rank, seg.text = greedy, name
				if i != len(parts)-1 {
					return Route{}, fmt.Errorf("route %q: a greedy parameter {%s+} must be the last segment", s, name)
				}
			}
			if seg.text == "" || strings.ContainsAny(seg.text, "{}+") {
				return Route{}, fmt.Errorf("route %q: %s names no parameter", s, part)
			}
			if seen[seg.text] {
				return Route{}, fmt.Errorf("route %q: the parameter %s appears twice", s, seg.text)
			}
			seen[seg.text] = true
		case strings.ContainsAny(part, "{}"):
			return Route{}, fmt.Errorf("route %q: a parameter must be a whole segment, such as /{id}, not %s", s, part)
		}
		r.segments = append(r.segments, seg)
	}
	return r, nil
}

// Routes are an API's routes.
type Routes []Route

// ParseRoutes reads the routes of an API of the given kind (rest or http).
// Two routes that match the same requests are refused, as API Gateway
// refuses them, and so is $default in a REST API, which has none.
func ParseRoutes(kind string, specs []string) (Routes, error) {
	var out Routes
	shapes := map[string]string{}
	for _, spec := range specs {
		r, err := ParseRoute(spec)
		if err != nil {
			return nil, err
		}
		if r.Key == DefaultRoute && kind == "rest" {
			return nil, fmt.Errorf("REST APIs have no $default route: give 'ANY /{proxy+}' (and 'ANY /' for the root)")
		}
		if other, ok := shapes[r.shape()]; ok {
			return nil, fmt.Errorf("routes %q and %q are the same route", other, r.Key)
		}
		shapes[r.shape()] = r.Key
		out = append(out, r)
	}
	return out, nil
}

// shape is the route without its parameters' names: two routes of one shape
// match the same requests.
func (r Route) shape() string {
	var b strings.Builder
	b.WriteString(r.Method)
	for _, seg := range r.segments {
		switch seg.rank {
		case literal:
			b.WriteString("/" + seg.text)
		case param:
			b.WriteString("/{}")
		default:
			b.WriteString("/{+}")
		}
	}
	if r.Key == DefaultRoute {
		b.WriteString(DefaultRoute)
	}
	return b.String()
}

// Match returns the route API Gateway selects for a request, with its path
// parameters (as the path spells them, percent-encoded), or false where no
// route takes the request: API Gateway then answers without calling the
// authorizer. A route takes a request when its method (or ANY) and its template
// match; of those, the most specific wins: at the first segment where two
// differ, a literal over a {parameter} over a {greedy+} one; on the same
// template, a method over ANY; $default last.
func (rs Routes) Match(method, path string) (Route, map[string]string, bool) {
	var parts []string
	if path != "/" {
		parts = strings.Split(strings.TrimPrefix(path, "/"), "/")
	}
	best, found := Route{}, false
	var bestParams map[string]string
	for _, r := range rs {
		if r.Method != "" && r.Method != "ANY" && r.Method != method {
			continue
		}
		params, ok := r.match(parts)
		if ok && (!found || r.moreSpecific(best)) {
			best, bestParams, found = r, params, true
		}
	}
	return best, bestParams, found
}

// match matches the path's segments to the template and returns the path
// parameters.
func (r Route) match(parts []string) (map[string]string, bool) {
	params := map[string]string{}
	if r.Key == DefaultRoute {
		return params, true
	}
	for i, seg := range r.segments {
		if i >= len(parts) {
			return nil, false
		}
		switch seg.rank {
		case literal:
			if parts[i] != seg.text {
				return nil, false
			}
		case param:
			if parts[i] == "" {
				return nil, false
			}
			params[seg.text] = parts[i]
		case greedy:
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			params[seg.text] = rest
			return params, true
		}
	}
	return params, len(parts) == len(r.segments)
}

// moreSpecific reports whether r wins over other, both matching one request.
func (r Route) moreSpecific(other Route) bool {
	switch {
	case r.Key == DefaultRoute:
		return false
	case other.Key == DefaultRoute:
		return true
	}
	for i := range min(len(r.segments), len(other.segments)) {
		if a, b := r.segments[i].rank, other.segments[i].rank; a != b {
			return a > b
		}
	}
	return r.Method != "ANY" && other.Method == "ANY"
}
