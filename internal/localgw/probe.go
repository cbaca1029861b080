package localgw

import (
	"slices"
	"strconv"
	"strings"

	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/gateway"
)

// Bounds of the caller's other requests the cache check replays: maxProbes for
// those made from the request and its grants, maxPathProbes more for the paths
// the policy and its data name.
const (
	maxProbes     = 40
	maxPathProbes = 64
)

// route is a request of the same caller on another route: its path, and the
// route of the API that takes it, with its route key and path parameters.
type route struct {
	method, path, template, key string
	params                      map[string]any
}

// setOn makes an input document's request (input.request) this route's.
func (r route) setOn(rq map[string]any, arn string) {
	rq["method"], rq["path"], rq["raw_path"], rq["method_arn"] = r.method, r.path, r.path, arn
	rq["route"], rq["route_key"] = r.template, r.key
	rq["path_params"] = r.params
}

// apiRoute is the route of the API that took this request, as far as the event
// tells it.
type apiRoute struct {
	// method is the route's method: a verb or ANY; "" for $default.
	method string
	// template is the route's path template (/orders/{id}, /{proxy+}), or
	// $default.
	template string
	// key is the request's route key, $context.routeKey.
	key string
	// own says the event carries the route's own key (HTTP API payload 2.0):
	// the template, not the request's method and path, so that every request
	// the route takes shares it. Other events are decoded with the request's
	// method and the template as the key, and their probes are too.
	own bool
	// this is the request.
	this gateway.Request
}

func routeOf(ev *gateway.Event) apiRoute {
	rt := apiRoute{template: ev.Request.Route, key: ev.Request.RouteKey, this: ev.Request}
	if ev.Kind == gateway.KindHTTP && ev.PayloadVersion == "2.0" {
		rt.own = true
		if m, _, ok := strings.Cut(ev.Request.RouteKey, " "); ok {
			rt.method = m
		}
	}
	return rt
}

// probe is the caller's request for method and path. A request the route takes
// keeps its template and, where the route key is the route's own, its key: API
// Gateway gives `ANY /orders/{id}` one key for every method, `/{proxy+}` one
// for every path below it, and $default one for everything. A request the route
// cannot take is on a route of its own, keyed apart.
func (rt apiRoute) probe(method, path string) route {
	r := route{method: method, path: path, template: path, key: method + " " + path, params: map[string]any{}}
	params, takes := templateParams(rt.template, path)
	if path == rt.this.Path {
		params, takes = anyMap(rt.this.PathParams), true
	}
	switch {
	case rt.own && rt.method == "":
		r.template, r.key = rt.template, rt.key
	case takes && rt.own && (rt.method == "ANY" || rt.method == method):
		r.template, r.key, r.params = rt.template, rt.key, params
	case takes:
		// The template with another method: another route, or (REST, HTTP
		// 1.0) the same resource, keyed by method as the event is decoded.
		r.template, r.key, r.params = rt.template, method+" "+rt.template, params
	}
	return r
}

// templateParams matches path against a route template, as API Gateway does:
// a {name} takes one segment, a final {name+} the rest (one segment at least).
func templateParams(template, path string) (map[string]any, bool) {
	if !strings.HasPrefix(template, "/") || !strings.HasPrefix(path, "/") {
		return nil, false
	}
	tsegs, psegs := strings.Split(template[1:], "/"), strings.Split(path[1:], "/")
	params := map[string]any{}
	for i, t := range tsegs {
		name, isParam := strings.CutPrefix(t, "{")
		isParam = isParam && strings.HasSuffix(name, "}")
		name = strings.TrimSuffix(name, "}")
		if greedy, ok := strings.CutSuffix(name, "+"); isParam && ok {
			rest := strings.Join(psegs[min(i, len(psegs)):], "/")
			if i != len(tsegs)-1 || rest == "" {
				return nil, false
			}
			params[greedy] = rest
			return params, true
		}
		switch {
		case i >= len(psegs):
			return nil, false
		case isParam && psegs[i] != "":
			params[name] = psegs[i]
		case isParam || t != psegs[i]:
			return nil, false
		}
	}
	if len(psegs) != len(tsegs) {
		return nil, false
	}
	return params, true
}

// otherRoutes lists the caller's requests the cache check replays: this path
// with other verbs; the paths next to it (a segment changed, its parent, a
// child), where a grant that moves with the request shows; another route;
// instances of the grants; and the paths the policy and its data name, where a
// policy that treats a path apart (/admin) shows.
func otherRoutes(ev *gateway.Event, grants []decision.Grant, mentioned []string) []route {
	rt := routeOf(ev)
	req := ev.Request
	var routes []route
	seen := map[string]bool{req.Method + " " + req.Path: true}
	add := func(method, path string, limit int) {
		if k := method + " " + path; !seen[k] && len(routes) < limit {
			seen[k] = true
			routes = append(routes, rt.probe(method, path))
		}
	}
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		add(m, req.Path, maxProbes)
	}
	for _, p := range neighbours(req.Path) {
		add(req.Method, p, maxProbes)
	}
	add(req.Method, "/another/route", maxProbes)
	for _, g := range grants {
		if strings.HasPrefix(g.Path, "$") {
			continue
		}
		path := strings.NewReplacer("*", "x", "?", "x").Replace(g.Path)
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		method := g.Method
		if method == "*" {
			method = "PATCH"
		}
		add(method, path, maxProbes)
		if strings.HasSuffix(g.Path, "*") {
			add(method, path+"/deeper", maxProbes)
		}
	}
	limit := len(routes) + maxPathProbes
	for _, p := range samplePaths(mentioned) {
		add(req.Method, p, limit)
	}
	return routes
}

// neighbours returns the paths next to path: each of its last segments
// changed (a number counted up, other text prefixed with "other-"), its
// parent and a child.
func neighbours(path string) []string {
	segs := strings.Split(path, "/")
	var out []string
	for i := len(segs) - 1; i >= 1 && i >= len(segs)-4; i-- {
		if segs[i] == "" {
			continue
		}
		changed := slices.Clone(segs)
		changed[i] = otherSegment(segs[i])
		out = append(out, strings.Join(changed, "/"))
	}
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		out = append(out, path[:i])
	}
	return append(out, strings.TrimSuffix(path, "/")+"/x")
}

// otherSegment is another value of a path segment: the next number for a
// number (another invoice), else the text prefixed with "other-".
func otherSegment(seg string) string {
	if n, err := strconv.ParseUint(seg, 10, 63); err == nil {
		return strconv.FormatUint(n+1, 10)
	}
	return "other-" + seg
}

// samplePaths makes request paths of the path-like constants of a policy
// (policy.Mentions.Paths): a wildcard or a {parameter} becomes a sample
// segment, a prefix ending in "/" gains one. Constants that no request would
// carry as its path (spaces, format verbs, dot segments) are left out.
func samplePaths(constants []string) []string {
	sample := strings.NewReplacer("*", "x", "?", "x")
	var out []string
	for _, c := range constants {
		segs := strings.Split(c, "/")
		for i, s := range segs {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				segs[i] = "x"
			}
		}
		p := sample.Replace(strings.Join(segs, "/"))
		if !plainPath(p) {
			continue
		}
		out = append(out, p)
		if len(p) > 1 && strings.HasSuffix(p, "/") {
			out = append(out, p+"x")
		}
	}
	return out
}

// plainPath reports whether p is a path a request may carry unchanged to the
// policy: unreserved and sub-delimiter characters only, no dot segments, no
// empty segment but a final one.
func plainPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/-._~!$&'()+,;=:@", c)) {
			return false
		}
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "." || s == ".." || s == "" && i != len(segs)-1 {
			return false
		}
	}
	return true
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
