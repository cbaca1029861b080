package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/decisionlog"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/policy"
)

// metricRef is one metric an alarm reads, evaluated.
type metricRef struct {
	where      string
	namespace  string
	name       string
	dimensions map[string]string
}

// metricsOf walks an alarm's body for every block that names a metric (the
// alarm itself, or metric_query's metric), expanding dynamic blocks.
func metricsOf(t *testing.T, in *instance, where string, body *hclsyntax.Body, extra map[string]cty.Value) []metricRef {
	t.Helper()
	var out []metricRef
	if _, ok := body.Attributes["metric_name"]; ok {
		eval := func(name string) cty.Value {
			a, ok := body.Attributes[name]
			if !ok {
				t.Fatalf("%s: a metric without %s", where, name)
			}
			v := in.value(t, where+" "+name, a.Expr, extra)
			if !v.IsWhollyKnown() || v.IsNull() {
				t.Fatalf("%s: %s is %s, not a known value", where, name, show(v))
			}
			return v
		}
		r := metricRef{where: where, namespace: eval("namespace").AsString(), name: eval("metric_name").AsString(), dimensions: map[string]string{}}
		if _, ok := body.Attributes["dimensions"]; ok {
			for k, v := range eval("dimensions").AsValueMap() {
				r.dimensions[k] = v.AsString()
			}
		}
		out = append(out, r)
	}
	for _, b := range body.Blocks {
		if b.Type != "dynamic" {
			out = append(out, metricsOf(t, in, where, b.Body, extra)...)
			continue
		}
		each := in.value(t, where+" dynamic "+b.Labels[0], b.Body.Attributes["for_each"].Expr, extra)
		if !each.IsWhollyKnown() {
			t.Fatalf("%s: dynamic %s: for_each is not known", where, b.Labels[0])
		}
		for it := each.ElementIterator(); it.Next(); {
			k, v := it.Element()
			inner := map[string]cty.Value{b.Labels[0]: cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})}
			for name, val := range extra {
				inner[name] = val
			}
			for _, content := range b.Body.Blocks {
				out = append(out, metricsOf(t, in, where, content.Body, inner)...)
			}
		}
	}
	return out
}

// outcomes and reasons are the values the Outcome and Reason dimensions
// take: the contract's outcomes and the authorizer's reason codes.
var (
	outcomes = []string{string(authorizer.OutcomeAllow), string(authorizer.OutcomeDeny), string(authorizer.OutcomeUnauthorized), string(authorizer.OutcomeError)}
	reasons  = []string{
		authorizer.ReasonAllowed, authorizer.ReasonDenied, authorizer.ReasonNoToken, authorizer.ReasonEvent, authorizer.ReasonConfig,
		authorizer.ReasonResponse, authorizer.ReasonPanic, authorizer.ReasonTimeout, authorizer.ReasonAmbiguousPath, authorizer.ReasonTokenInPath,
		policy.ReasonEval, policy.ReasonUndefined, policy.ReasonInvalid, policy.ReasonNotReady,
		identity.ReasonMalformed, identity.ReasonUnknownIssuer, identity.ReasonSignature, identity.ReasonExpired, identity.ReasonUnavailable,
	}
)

// lambdaMetrics are AWS/Lambda's metrics an alarm may read, by FunctionName.
var lambdaMetrics = []string{"Errors", "Throttles", "Duration", "ConcurrentExecutions", "Invocations"}

// TestTerraformAlarmsReadPublishedMetrics: every alarm of the alarms module
// reads a metric the decision log publishes, under a dimension set it
// publishes, with the function's name and outcome and reason values the
// authorizer uses — an alarm on a name or dimension nobody writes would
// never fire. With the metrics off, only AWS/Lambda's alarms remain.
func TestTerraformAlarmsReadPublishedMetrics(t *testing.T) {
	m := loadModule(t, modulesDir+"/alarms")
	for _, tc := range []struct {
		name      string
		namespace cty.Value
		shadow    bool
	}{{"metrics on", cty.StringVal("Team/Authz"), true}, {"metrics off", cty.NullVal(cty.String), false}} {
		in := instantiate(t, m, map[string]cty.Value{"function_name": cty.StringVal("authz-prod"),
			"metrics_namespace": tc.namespace, "shadow": cty.BoolVal(tc.shadow)})
		seen := map[string]bool{}
		for _, b := range m.find("resource", "aws_cloudwatch_metric_alarm") {
			where := fmt.Sprintf("%s: %s (%s)", m.dir, b.Labels[1], tc.name)
			if c, ok := b.Body.Attributes["count"]; ok {
				n := in.known(t, where+" count", c.Expr)
				if integer(t, n) == 0 {
					continue
				}
			}
			if !slices.Equal(refs(b.Body.Attributes["alarm_actions"].Expr), []string{"var.alarm_actions"}) {
				t.Errorf("%s: alarm_actions is not var.alarm_actions: nobody would be told", where)
			}
			for _, r := range metricsOf(t, in, where, b.Body, nil) {
				seen[r.namespace+" "+r.name] = true
				checkMetric(t, r, tc.namespace)
			}
		}
		if tc.namespace.IsNull() {
			for k := range seen {
				if !strings.HasPrefix(k, "AWS/") {
					t.Errorf("metrics off, and an alarm still reads %s", k)
				}
			}
			continue
		}
		for _, want := range []string{"Decisions", "Latency", "BundleFailures", "ShadowDisagreements"} {
			if !seen["Team/Authz "+want] {
				t.Errorf("no alarm reads %s", want)
			}
		}
	}
}

func checkMetric(t *testing.T, r metricRef, namespace cty.Value) {
	t.Helper()
	if r.namespace == "AWS/Lambda" {
		if !slices.Contains(lambdaMetrics, r.name) || len(r.dimensions) != 1 || r.dimensions["FunctionName"] != "authz-prod" {
			t.Errorf("%s: AWS/Lambda %s by %v", r.where, r.name, r.dimensions)
		}
		return
	}
	if namespace.IsNull() || r.namespace != namespace.AsString() {
		t.Errorf("%s: namespace %q, not the function's (%s)", r.where, r.namespace, show(namespace))
		return
	}
	sets, ok := decisionlog.Published[r.name]
	if !ok {
		t.Errorf("%s: %s is not a metric the authorizer publishes", r.where, r.name)
		return
	}
	if r.dimensions["Function"] != "authz-prod" {
		t.Errorf("%s: Function = %q, not the function's name", r.where, r.dimensions["Function"])
	}
	var names []string
	for k := range r.dimensions {
		if k != "Function" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	if !slices.ContainsFunc(sets, func(set []string) bool { s := slices.Sorted(slices.Values(set)); return slices.Equal(s, names) }) {
		t.Errorf("%s: %s by %v; it is published by %v (and Function)", r.where, r.name, names, sets)
	}
	if o, ok := r.dimensions["Outcome"]; ok && !slices.Contains(outcomes, o) {
		t.Errorf("%s: Outcome %q is none of %v", r.where, o, outcomes)
	}
	if reason, ok := r.dimensions["Reason"]; ok && !slices.Contains(reasons, reason) {
		t.Errorf("%s: Reason %q is not a reason the authorizer gives", r.where, reason)
	}
}

// TestTerraformExamplesAlarmOnTheirFunction: each example's alarms watch
// the function it deploys, in its namespace.
func TestTerraformExamplesAlarmOnTheirFunction(t *testing.T) {
	for _, ex := range loadExamples(t) {
		var alarms []string
		for name, src := range ex.srcs {
			if src != "../../modules/alarms" {
				continue
			}
			alarms = append(alarms, name)
			call := ex.m.one(t, "module", name)
			var authz string
			for a := range ex.authorizerCalls() {
				authz = a
			}
			for arg, want := range map[string]string{"function_name": "module." + authz + ".function_name", "metrics_namespace": "module." + authz + ".metrics_namespace"} {
				if a, ok := call.Body.Attributes[arg]; !ok || !slices.Equal(refs(a.Expr), []string{want}) {
					t.Errorf("%s: module %s: %s is not %s", ex.m.dir, name, arg, want)
				}
			}
		}
		if len(alarms) != 1 {
			t.Errorf("%s: %d alarms modules, want 1", ex.m.dir, len(alarms))
		}
	}
}
