package localgw

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/gateway"
)

// CacheWarnings says how API Gateway's authorizer cache would betray this
// decision. With caching on, API Gateway keeps the response for the identity
// sources' values and applies it to the same caller's next requests without
// asking the policy again. The checks:
//
//   - a decision without grants: the cached policy names only this request;
//   - other requests of the same caller with the same cache key (other verbs
//     on this path, the paths next to it, instances of its grants), on which
//     the cached policy and the policy disagree, in either direction, or for
//     which the policy's grants differ from this request's: grants must not
//     move with the request, since the cached ones answer for every route;
//   - request fields that are not identity sources, whose change changes the
//     decision (time, source IP, headers, query, cookies; for simple
//     responses, also the route).
//
// A change that changes the cache key (a context variable such as routeKey
// among the identity sources) is not a hazard: API Gateway asks the policy
// again. It returns nothing for an undecided request.
func CacheWarnings(ctx context.Context, a *authorizer.Authorizer, res *authorizer.Result, sources IdentitySources) []string {
	if res.Decision == nil || res.Input == nil || res.Event == nil {
		return nil
	}
	var warnings []string
	view, _ := gateway.ViewOf(res.Response)
	isPolicy := view.Policy != nil
	ws := res.Event.Kind == gateway.KindWebSocket
	if isPolicy && res.Decision.Grants == nil && !ws {
		warnings = append(warnings, "the decision has no grants: a cached policy names only this request's ARN, so API Gateway refuses the caller's other requests from the cache for the TTL; return grants, or set the authorizer's TTL to 0")
	}
	if isPolicy && !ws {
		warnings = append(warnings, routeDisagreements(ctx, a, res, *view.Policy, sources)...)
	}
	warnings = append(warnings, fieldDependencies(ctx, a, res, sources, !isPolicy)...)
	return warnings
}

// maxProbes bounds the other requests routeDisagreements replays, and
// maxDisagreements the ones it names.
const (
	maxProbes        = 40
	maxDisagreements = 6
)

// route is a request of the same caller on another route: its path, and the
// API's route template with the path parameters when the path fills this
// request's template.
type route struct {
	method, path, template string
	params                 map[string]any
}

// setOn makes an input document's request (input.request) this route's.
func (r route) setOn(rq map[string]any, arn string) {
	rq["method"], rq["path"], rq["raw_path"], rq["method_arn"] = r.method, r.path, r.path, arn
	rq["route"], rq["route_key"] = r.template, r.method+" "+r.template
	rq["path_params"] = r.params
}

// otherRoutes lists the caller's requests routeDisagreements replays: this path
// with other verbs; the paths next to it (a segment changed, its parent, a
// child), where a grant that moves with the request shows; another route; and
// instances of the grants.
func otherRoutes(res *authorizer.Result) []route {
	req := res.Event.Request
	var routes []route
	seen := map[string]bool{req.Method + " " + req.Path: true}
	add := func(r route) {
		if k := r.method + " " + r.path; !seen[k] && len(routes) < maxProbes {
			seen[k] = true
			routes = append(routes, r)
		}
	}
	for _, m := range []string{"GET", "POST", "DELETE"} {
		add(route{m, req.Path, req.Route, anyMap(req.PathParams)})
	}
	for _, r := range neighbours(req.Path, req.Route, req.PathParams) {
		r.method = req.Method
		add(r)
	}
	add(route{req.Method, "/another/route", "/another/route", map[string]any{}})
	for _, g := range res.Decision.Grants {
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
		add(route{method, path, path, map[string]any{}})
		if strings.HasSuffix(g.Path, "*") {
			add(route{method, path + "/deeper", path + "/deeper", map[string]any{}})
		}
	}
	return routes
}

// neighbours returns the paths next to path: each of its last segments
// changed (a number counted up, other text prefixed with "other-"), its
// parent and a child. Where the changed segment is a parameter of the route
// template, the neighbour keeps the template, with the parameter's new value.
func neighbours(path, template string, params map[string]string) []route {
	segs := strings.Split(path, "/")
	tsegs := strings.Split(template, "/")
	var out []route
	for i := len(segs) - 1; i >= 1 && i >= len(segs)-4; i-- {
		if segs[i] == "" {
			continue
		}
		changed := slices.Clone(segs)
		changed[i] = otherSegment(segs[i])
		p := strings.Join(changed, "/")
		r := route{path: p, template: p, params: map[string]any{}}
		if len(tsegs) == len(segs) {
			if name, ok := strings.CutPrefix(tsegs[i], "{"); ok && strings.HasSuffix(name, "}") && !strings.HasSuffix(name, "+}") {
				r.template, r.params = template, anyMap(params)
				r.params[strings.TrimSuffix(name, "}")] = changed[i]
			}
		}
		out = append(out, r)
	}
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		out = append(out, route{path: path[:i], template: path[:i], params: map[string]any{}})
	}
	child := strings.TrimSuffix(path, "/") + "/x"
	return append(out, route{path: child, template: child, params: map[string]any{}})
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// otherSegment is another value of a path segment: the next number for a
// number (another invoice), else the text prefixed with "other-".
func otherSegment(seg string) string {
	if n, err := strconv.ParseUint(seg, 10, 63); err == nil {
		return strconv.FormatUint(n+1, 10)
	}
	return "other-" + seg
}

// routeDisagreements replays the caller's request on other routes that share
// its cache key and compares the policy's answer with the cached policy's, and
// the policy's grants with this request's.
func routeDisagreements(ctx context.Context, a *authorizer.Authorizer, res *authorizer.Result, doc events.APIGatewayCustomAuthorizerPolicy, sources IdentitySources) []string {
	key, _ := sources.Key(res.Input["request"].(map[string]any))
	var out []string
	movingGrants, more := "", 0
	disagree := func(format string, a ...any) {
		if len(out) < maxDisagreements {
			out = append(out, fmt.Sprintf(format, a...))
		} else {
			more++
		}
	}
	for _, r := range otherRoutes(res) {
		arn := res.Event.ARN.Resources(r.method, r.path)
		if len(arn) != 1 {
			continue
		}
		input := clone(res.Input)
		r.setOn(input["request"].(map[string]any), arn[0])
		if k, _ := sources.Key(input["request"].(map[string]any)); k != key {
			continue // another cache entry: API Gateway asks the policy
		}
		d, err := a.DecideInput(ctx, input)
		if err != nil {
			continue
		}
		cached := gateway.Allows(doc, arn[0])
		switch {
		case d.Allow && !cached:
			disagree("the policy allows %s %s for this caller, but the cached policy refuses it: no grant covers it", r.method, r.path)
		case !d.Allow && cached:
			disagree("the cached policy allows %s %s, which the policy denies this caller: the grants are broader than the policy", r.method, r.path)
		}
		if movingGrants == "" && !sameGrants(d.Grants, res.Decision.Grants) {
			movingGrants = fmt.Sprintf("the grants change with the request: for %s %s the policy grants %s, for this request %s; API Gateway answers the caller's other requests with this request's policy, so compute the grants from the identity alone", r.method, r.path, grantList(d.Grants), grantList(res.Decision.Grants))
		}
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d more of the caller's requests on which the cached policy and the policy disagree", more))
	}
	if movingGrants != "" {
		out = append(out, movingGrants)
	}
	return out
}

func sameGrants(a, b []decision.Grant) bool {
	return slices.Equal(sortedGrants(a), sortedGrants(b))
}

func sortedGrants(gs []decision.Grant) []decision.Grant {
	out := slices.Clone(gs)
	slices.SortFunc(out, func(x, y decision.Grant) int {
		return strings.Compare(x.Method+" "+x.Path, y.Method+" "+y.Path)
	})
	return slices.Compact(out)
}

func grantList(gs []decision.Grant) string {
	if len(gs) == 0 {
		return "nothing"
	}
	var parts []string
	for _, g := range sortedGrants(gs) {
		parts = append(parts, g.Method+" "+g.Path)
	}
	return strings.Join(parts, ", ")
}

// fieldDependencies changes one request field at a time that API Gateway's cache
// does not key on, and reports those that change the decision.
func fieldDependencies(ctx context.Context, a *authorizer.Authorizer, res *authorizer.Result, sources IdentitySources, simple bool) []string {
	req := res.Input["request"].(map[string]any)
	key, _ := sources.Key(req)
	changes := map[string][]func(map[string]any){
		"source_ip":  {set("source_ip", "10.1.2.3"), set("source_ip", "203.0.113.77")},
		"user_agent": {set("user_agent", "another-agent/1.0")},
		"time_ms":    {shift(3600e3), shift(6 * 3600e3), shift(12 * 3600e3), shift(-12 * 3600e3)},
		"headers":    {drop("headers", func(n string) bool { return !sources.Has("header", n) })},
		"query":      {drop("query", func(n string) bool { return !sources.Has("query", n) })},
		"cookies":    {drop("cookies", func(n string) bool { return !sources.Has("cookie", n) })},
	}
	if simple {
		// A simple response holds no route: the cached yes or no answers
		// every route with the same key, and a route key tells routes apart,
		// not the paths of one route.
		method, path, template := text(req["method"]), text(req["path"]), text(req["route"])
		to := func(r route) func(map[string]any) {
			return func(rq map[string]any) { r.setOn(rq, methodARN(res, r.method, r.path)) }
		}
		changes["method and path"] = []func(map[string]any){
			to(route{"PATCH", "/another/route", "/another/route", map[string]any{}}),
			to(route{method, "/another/route", "/another/route", map[string]any{}}),
			to(route{otherMethod(method), path, template, anyMap(res.Event.Request.PathParams)}),
		}
		for _, n := range neighbours(path, template, res.Event.Request.PathParams) {
			if n.template == template {
				n.method = method
				changes["path"] = append(changes["path"], to(n))
			}
		}
	}
	fields := make([]string, 0, len(changes))
	for f := range changes {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	var out []string
	for _, field := range fields {
		if _, present := req[strings.Fields(field)[0]]; !present {
			continue
		}
		for _, change := range changes[field] {
			input := clone(res.Input)
			change(input["request"].(map[string]any))
			if k, _ := sources.Key(input["request"].(map[string]any)); k != key {
				continue // another cache entry: API Gateway asks the policy
			}
			d, err := a.DecideInput(ctx, input)
			if err == nil && sameDecision(d, res.Decision) {
				continue
			}
			out = append(out, fmt.Sprintf("the decision changes with request.%s, which is not an identity source: API Gateway would reuse it for this caller's other requests for the TTL; set the TTL to 0 or make it an identity source", field))
			break
		}
	}
	return out
}

// methodARN is the ARN of this request's API and stage for method and path.
func methodARN(res *authorizer.Result, method, path string) string {
	if arn := res.Event.ARN.Resources(method, path); len(arn) == 1 {
		return arn[0]
	}
	return res.Event.ARN.String()
}

// otherMethod is a verb other than m.
func otherMethod(m string) string {
	if m == "DELETE" {
		return "GET"
	}
	return "DELETE"
}

func set(field string, v any) func(map[string]any) {
	return func(r map[string]any) { r[field] = v }
}

func shift(ms float64) func(map[string]any) {
	return func(r map[string]any) {
		if t, ok := r["time_ms"].(json.Number); ok {
			if f, err := t.Float64(); err == nil {
				r["time_ms"] = json.Number(fmt.Sprintf("%.0f", f+ms))
			}
		}
	}
}

func drop(field string, which func(string) bool) func(map[string]any) {
	return func(r map[string]any) {
		m, _ := r[field].(map[string]any)
		for k := range m {
			if which(k) {
				delete(m, k)
			}
		}
	}
}

func sameDecision(a, b *decision.Decision) bool {
	return a.Allow == b.Allow && a.PrincipalID == b.PrincipalID &&
		reflect.DeepEqual(a.Grants, b.Grants) && reflect.DeepEqual(a.Context, b.Context)
}

// clone deep-copies an input document into plain JSON values, numbers as json.Number.
func clone(input map[string]any) map[string]any {
	b, _ := json.Marshal(input)
	var out map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	_ = dec.Decode(&out)
	return out
}
