package localgw

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
)

// CacheWarnings says how API Gateway's authorizer cache would betray this
// decision. With caching on, API Gateway keeps the response for the identity
// sources' values and applies it to the same caller's next requests without
// asking the policy again. The checks:
//
//   - a decision without grants: the cached policy names only this request;
//   - other requests of the same caller, built from the grants and this route,
//     on which the cached policy and the policy disagree, in either direction;
//   - request fields that are not identity sources, whose change changes the
//     decision (time, source IP, headers, query, cookies; for simple responses,
//     also the route).
//
// It returns nothing for an undecided request.
func CacheWarnings(ctx context.Context, a *authorizer.Authorizer, res *authorizer.Result, sources identity.Sources) []string {
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
		warnings = append(warnings, routeDisagreements(ctx, a, res, *view.Policy)...)
	}
	warnings = append(warnings, fieldDependencies(ctx, a, res, sources, !isPolicy)...)
	return warnings
}

// routeDisagreements replays the caller's request on other routes (instances of
// its grants, and this path with other verbs) and compares the policy's answer
// with the cached policy's.
func routeDisagreements(ctx context.Context, a *authorizer.Authorizer, res *authorizer.Result, doc events.APIGatewayCustomAuthorizerPolicy) []string {
	type route struct{ method, path string }
	var routes []route
	seen := map[route]bool{}
	add := func(method, path string) {
		r := route{method, path}
		if !seen[r] && len(routes) < 24 {
			seen[r] = true
			routes = append(routes, r)
		}
	}
	req := res.Event.Request
	for _, m := range []string{"GET", "POST", "DELETE"} {
		add(m, req.Path)
	}
	add(req.Method, "/another/route")
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
		add(method, path)
		if strings.HasSuffix(g.Path, "*") {
			add(method, path+"/deeper")
		}
	}
	var out []string
	for _, r := range routes {
		if r.method == req.Method && r.path == req.Path {
			continue
		}
		arn := res.Event.ARN.Resources(r.method, r.path)
		if len(arn) != 1 {
			continue
		}
		input := clone(res.Input)
		rq := input["request"].(map[string]any)
		rq["method"], rq["path"], rq["raw_path"], rq["method_arn"] = r.method, r.path, r.path, arn[0]
		rq["route"], rq["route_key"] = r.path, r.method+" "+r.path
		d, err := a.DecideInput(ctx, input)
		if err != nil {
			continue
		}
		cached := gateway.Allows(doc, arn[0])
		switch {
		case d.Allow && !cached:
			out = append(out, fmt.Sprintf("the policy allows %s %s for this caller, but the cached policy refuses it: no grant covers it", r.method, r.path))
		case !d.Allow && cached:
			out = append(out, fmt.Sprintf("the cached policy allows %s %s, which the policy denies this caller: the grants are broader than the policy", r.method, r.path))
		}
	}
	return out
}

// fieldDependencies changes one request field at a time that API Gateway's cache
// does not key on, and reports those that change the decision.
func fieldDependencies(ctx context.Context, a *authorizer.Authorizer, res *authorizer.Result, sources identity.Sources, simple bool) []string {
	keep := func(kind, name string) bool {
		return slices.ContainsFunc(sources, func(s identity.Source) bool { return s.Kind == kind && s.Name == name })
	}
	req := res.Input["request"].(map[string]any)
	changes := map[string][]func(map[string]any){
		"source_ip":  {set("source_ip", "10.1.2.3"), set("source_ip", "203.0.113.77")},
		"user_agent": {set("user_agent", "another-agent/1.0")},
		"time_ms":    {shift(3600e3), shift(6 * 3600e3), shift(12 * 3600e3), shift(-12 * 3600e3)},
		"headers":    {drop("headers", func(n string) bool { return !keep("header", n) })},
		"query":      {drop("query", func(n string) bool { return !keep("query", n) })},
		"cookies":    {drop("cookies", func(n string) bool { return !keep("cookie", n) })},
	}
	if simple {
		changes["method and path"] = []func(map[string]any){func(r map[string]any) {
			r["method"], r["path"], r["raw_path"], r["route"], r["route_key"] = "PATCH", "/another/route", "/another/route", "/another/route", "PATCH /another/route"
		}}
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
