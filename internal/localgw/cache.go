package localgw

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/decision"
	"github.com/apigw-authz/authz/internal/gateway"
)

// CacheVerdict is what CheckCache found.
type CacheVerdict struct {
	// Warnings say where API Gateway's cache would answer otherwise than the
	// policy; none when no replayed request showed it.
	Warnings []string
	// Probes counts the caller's other requests with this request's cache key
	// that were replayed and compared. No warning means no disagreement on
	// these, not on every request.
	Probes int
}

// CheckCache says how API Gateway's authorizer cache would betray this
// decision. With caching on, API Gateway keeps the response for the identity
// sources' values and applies it to the same caller's next requests without
// asking the policy again. The checks:
//
//   - a decision without grants: the cached policy names only this request;
//   - other requests of the same caller with the same cache key (other verbs
//     on this path, the paths next to it, instances of its grants, the paths
//     the policy and its data name), on which the cached policy and the policy
//     disagree, in either direction; for which the policy's grants differ from
//     this request's, since the cached ones answer for every route; or which
//     the cached policy allows with another context, principal_id or usage
//     identifier key than this request's, since the cached ones reach the
//     backend;
//   - request fields that are not identity sources, whose change changes the
//     decision (the time, with OPA's clock moved too; source IP, user agent;
//     headers, query parameters and cookies, removed, and those the policy
//     names set or removed one by one; for simple responses, also the route).
//
// A replayed request keeps the route key of the route that would take it
// ($context.routeKey is the route template), and a change that changes the
// cache key is not a hazard: API Gateway asks the policy again. Every replay is
// evaluated at one instant (moved for the time), so that a policy reading the
// clock is compared with itself. It returns nothing for an undecided request.
func CheckCache(ctx context.Context, a *authorizer.Authorizer, res *authorizer.Result, sources IdentitySources) CacheVerdict {
	if res.Decision == nil || res.Input == nil || res.Event == nil {
		return CacheVerdict{}
	}
	c := &cacheCheck{ctx: ctx, a: a, res: res, sources: sources, at: time.Now(), ref: res.Decision}
	c.key, _ = sources.Key(res.Input["request"].(map[string]any))
	if d, err := a.DecideInputAt(ctx, res.Input, c.at); err == nil {
		c.ref = d
	}
	var warnings []string
	view, _ := gateway.ViewOf(res.Response)
	isPolicy := view.Policy != nil
	ws := res.Event.Kind == gateway.KindWebSocket
	if isPolicy && res.Decision.Grants == nil && !ws {
		warnings = append(warnings, "the decision has no grants: a cached policy names only this request's ARN, so API Gateway refuses the caller's other requests from the cache for the TTL; return grants, or set the authorizer's TTL to 0")
	}
	if isPolicy && !ws {
		warnings = append(warnings, c.routeDisagreements(*view.Policy)...)
	}
	warnings = append(warnings, c.fieldDependencies(!isPolicy)...)
	return CacheVerdict{Warnings: warnings, Probes: c.probes}
}

// CacheWarnings returns the warnings of CheckCache.
func CacheWarnings(ctx context.Context, a *authorizer.Authorizer, res *authorizer.Result, sources IdentitySources) []string {
	return CheckCache(ctx, a, res, sources).Warnings
}

// maxDisagreements bounds the requests routeDisagreements names.
const maxDisagreements = 6

// cacheCheck is one run of CheckCache.
type cacheCheck struct {
	ctx     context.Context
	a       *authorizer.Authorizer
	res     *authorizer.Result
	sources IdentitySources
	key     string // this request's cache key
	// at is the instant every replay is evaluated at, and ref this request's
	// decision then.
	at     time.Time
	ref    *decision.Decision
	probes int
}

// replay decides input, shift after c.at, unless its cache key is another
// than this request's: then API Gateway asks the policy, and ok is false. d
// is nil where the policy fails: the authorizer would deny.
func (c *cacheCheck) replay(input map[string]any, shift time.Duration) (d *decision.Decision, ok bool) {
	if k, _ := c.sources.Key(input["request"].(map[string]any)); k != c.key {
		return nil, false
	}
	c.probes++
	d, err := c.a.DecideInputAt(c.ctx, input, c.at.Add(shift))
	if err != nil {
		return nil, true
	}
	return d, true
}

// routes are the caller's other requests this check replays.
func (c *cacheCheck) routes() []route {
	return otherRoutes(c.res.Event, c.res.Decision.Grants, c.a.PolicyMentions().Paths)
}

// routeDisagreements replays the caller's request on other routes that share
// its cache key and compares the policy's answer with the cached policy's, the
// policy's grants with this request's, and, where the cached policy allows,
// what reaches the backend.
func (c *cacheCheck) routeDisagreements(doc events.APIGatewayCustomAuthorizerPolicy) []string {
	var out []string
	movingGrants, movingValues, more := "", "", 0
	disagree := func(format string, a ...any) {
		if len(out) < maxDisagreements {
			out = append(out, fmt.Sprintf(format, a...))
		} else {
			more++
		}
	}
	for _, r := range c.routes() {
		arn := c.res.Event.ARN.Resources(r.method, r.path)
		if len(arn) != 1 {
			continue
		}
		input := clone(c.res.Input)
		r.setOn(input["request"].(map[string]any), arn[0])
		d, ok := c.replay(input, 0)
		if !ok {
			continue
		}
		cached := gateway.Allows(doc, arn[0])
		switch {
		case d == nil && cached:
			disagree("the cached policy allows %s %s, on which the policy fails (the authorizer would deny it)", r.method, r.path)
			continue
		case d == nil:
			continue
		case d.Allow && !cached:
			disagree("the policy allows %s %s for this caller, but the cached policy refuses it: no grant covers it", r.method, r.path)
		case !d.Allow && cached:
			disagree("the cached policy allows %s %s, which the policy denies this caller: the grants are broader than the policy", r.method, r.path)
		}
		if movingGrants == "" && !sameGrants(d.Grants, c.ref.Grants) {
			movingGrants = fmt.Sprintf("the grants change with the request: for %s %s the policy grants %s, for this request %s; API Gateway answers the caller's other requests with this request's policy, so compute the grants from the identity alone", r.method, r.path, grantList(d.Grants), grantList(c.ref.Grants))
		}
		if movingValues == "" && cached {
			if field, theirs, ours := backendValues(d, c.ref); field != "" {
				movingValues = fmt.Sprintf("the %s changes with the request: for %s %s, which the cached policy allows, the policy gives %s, this request %s; this request's values reach the backend with the caller's other requests for the TTL, so compute the context, principal_id and usage_identifier_key from the identity alone", field, r.method, r.path, theirs, ours)
			}
		}
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d more of the caller's requests on which the cached policy and the policy disagree", more))
	}
	for _, w := range []string{movingGrants, movingValues} {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// backendValues names the first of the values a cached response hands the
// backend (context, principal_id, usage identifier key) in which two decisions
// differ, with both values in JSON; "" when they agree.
func backendValues(d, ref *decision.Decision) (field, theirs, ours string) {
	show := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	switch {
	case !reflect.DeepEqual(d.Context, ref.Context):
		return "context", show(d.Context), show(ref.Context)
	case d.PrincipalID != ref.PrincipalID:
		return "principal_id", show(d.PrincipalID), show(ref.PrincipalID)
	case d.UsageIdentifierKey != ref.UsageIdentifierKey:
		return "usage_identifier_key", show(d.UsageIdentifierKey), show(ref.UsageIdentifierKey)
	}
	return "", "", ""
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

// change is one change of the request: what it does, to which field.
type change struct {
	field string // the field of input.request, or "method", "path"
	what  string // what changed in it, for the warning; "" to say nothing more
	apply func(rq map[string]any)
	// shift moves the time: request.time_ms and OPA's clock.
	shift time.Duration
}

// fieldDependencies changes one request field at a time that API Gateway's
// cache does not key on, and reports those that change the decision.
func (c *cacheCheck) fieldDependencies(simple bool) []string {
	req := c.res.Input["request"].(map[string]any)
	mentions := c.a.PolicyMentions()
	changes := []change{
		{field: "source_ip", apply: set("source_ip", "10.1.2.3")},
		{field: "source_ip", apply: set("source_ip", "203.0.113.77")},
		{field: "user_agent", apply: set("user_agent", "another-agent/1.0")},
	}
	for _, h := range []time.Duration{time.Hour, 6 * time.Hour, 12 * time.Hour, -12 * time.Hour} {
		changes = append(changes, change{field: "time_ms", apply: shift(h), shift: h})
	}
	for _, m := range []struct {
		field, kind string
		names       []string
	}{
		{"headers", "header", mentions.Headers},
		{"query", "query", mentions.Query},
		{"cookies", "cookie", mentions.Cookies},
	} {
		kind, field := m.kind, m.field
		apply := func(f func(map[string]any)) func(map[string]any) {
			if field != "cookies" {
				return f
			}
			return func(rq map[string]any) { f(rq); syncCookieHeader(rq) }
		}
		changes = append(changes, change{field: field, what: "all but the identity sources removed",
			apply: apply(drop(field, func(n string) bool { return !c.sources.Has(kind, n) }))})
		for _, name := range m.names {
			if c.sources.Has(kind, name) {
				continue
			}
			what := name + " set"
			if entry(req[m.field], name) != "" {
				what = name + " removed"
			}
			changes = append(changes, change{field: field, what: what, apply: apply(toggle(field, name))})
		}
	}
	if simple {
		// A simple response holds no route: the cached yes or no answers
		// every route with the same key. A route key tells routes apart, not
		// the methods of an ANY route nor the paths of one route.
		method, template := text(req["method"]), text(req["route"])
		for _, r := range c.routes() {
			field := "method and path"
			if r.method == method && r.template == template {
				field = "path" // a path within this route
			}
			arn := methodARN(c.res, r.method, r.path)
			changes = append(changes, change{field: field, what: r.method + " " + r.path, apply: func(rq map[string]any) { r.setOn(rq, arn) }})
		}
	}
	// Report each field once, in a stable order, with the changes that
	// change the decision.
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].field < changes[j].field })
	var fields []string
	changed := map[string][]string{}
	for _, ch := range changes {
		if ch.field == "time_ms" && changed[ch.field] != nil {
			continue // one instant is enough to say it
		}
		input := clone(c.res.Input)
		rq := input["request"].(map[string]any)
		ch.apply(rq)
		if ch.shift == 0 && reflect.DeepEqual(rq, clone(c.res.Input)["request"]) {
			continue // nothing to change
		}
		d, ok := c.replay(input, ch.shift)
		if !ok || d != nil && sameDecision(d, c.ref) {
			continue
		}
		if changed[ch.field] == nil {
			fields = append(fields, ch.field)
		}
		changed[ch.field] = append(changed[ch.field], ch.what)
	}
	out := make([]string, len(fields))
	for i, f := range fields {
		out[i] = c.fieldWarning(f, changed[f])
	}
	return out
}

// maxShown bounds the changes a warning names.
const maxShown = 4

func (c *cacheCheck) fieldWarning(field string, whats []string) string {
	if field == "time_ms" {
		return "the decision changes with the time (request.time_ms, and OPA's clock: time.now_ns), which can never be part of the cache key: API Gateway would reuse it for this caller's requests for the TTL; set the TTL to 0"
	}
	whats = slices.DeleteFunc(whats, func(w string) bool { return w == "" })
	detail := ""
	if len(whats) > maxShown {
		whats = append(whats[:maxShown:maxShown], fmt.Sprintf("and %d more", len(whats)-maxShown))
	}
	if len(whats) > 0 {
		detail = strings.Join(whats, ", ")
	}
	if (field == "path" || field == "method and path") && c.sources.Has("context", "routeKey") {
		// Replayed requests share this request's key: its route key too.
		detail += fmt.Sprintf("; each has this request's route key, %s: $context.routeKey is the route template, not the request", text(c.res.Input["request"].(map[string]any)["route_key"]))
	}
	if detail != "" {
		detail = " (" + detail + ")"
	}
	return fmt.Sprintf("the decision changes with request.%s, which is not an identity source%s: API Gateway would reuse it for this caller's other requests for the TTL; set the TTL to 0 or make it an identity source", field, detail)
}

// methodARN is the ARN of this request's API and stage for method and path.
func methodARN(res *authorizer.Result, method, path string) string {
	if arn := res.Event.ARN.Resources(method, path); len(arn) == 1 {
		return arn[0]
	}
	return res.Event.ARN.String()
}

func set(field string, v any) func(map[string]any) {
	return func(r map[string]any) { r[field] = v }
}

func shift(d time.Duration) func(map[string]any) {
	return func(r map[string]any) {
		if t, ok := r["time_ms"].(json.Number); ok {
			if ms, err := t.Int64(); err == nil {
				r["time_ms"] = json.Number(fmt.Sprint(ms + d.Milliseconds()))
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

// toggle removes the named entry of a request map when it is there, and sets
// it ("true", which also passes a test for presence) when it is not.
func toggle(field, name string) func(map[string]any) {
	return func(r map[string]any) {
		m, _ := r[field].(map[string]any)
		if m == nil {
			m = map[string]any{}
			r[field] = m
		}
		if _, ok := m[name]; ok {
			delete(m, name)
		} else {
			m[name] = "true"
		}
	}
}

// syncCookieHeader makes the Cookie header say what the cookies say, as it
// would in a request with those cookies, so that a cookie change changes the
// cache key when the Cookie header is an identity source. An HTTP API's
// payload 2.0 may carry the cookies without the header; it is left so.
func syncCookieHeader(rq map[string]any) {
	h, _ := rq["headers"].(map[string]any)
	if _, ok := h["cookie"]; !ok {
		return
	}
	if v := cookieHeader(rq["cookies"]); v != "" {
		h["cookie"] = v
	} else {
		delete(h, "cookie")
	}
}

func sameDecision(a, b *decision.Decision) bool {
	return a.Allow == b.Allow && a.PrincipalID == b.PrincipalID && a.UsageIdentifierKey == b.UsageIdentifierKey &&
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
