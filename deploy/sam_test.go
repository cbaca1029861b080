package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/apigw-authz/authz/internal/config"
)

const samTemplate = "sam/template.yaml"

// cfn is a CloudFormation template with values for its parameters: enough
// of CloudFormation's intrinsic functions to read what the checks need.
type cfn struct {
	resources map[string]*yaml.Node
	params    map[string]string
	paramDefs map[string]*yaml.Node
	conds     map[string]*yaml.Node
	root      *yaml.Node
}

// unknown stands for what only CloudFormation knows: a resource's
// attribute or id. noValue is AWS::NoValue.
type unknown struct{ ref string }
type noValueT struct{}

var noValue = noValueT{}

func loadSAM(t *testing.T, over map[string]string) *cfn {
	t.Helper()
	b, err := os.ReadFile(samTemplate)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: %v", samTemplate, err)
	}
	noDuplicateKeys(t, &doc)
	c := &cfn{root: doc.Content[0], resources: map[string]*yaml.Node{}, params: map[string]string{}, paramDefs: map[string]*yaml.Node{}, conds: map[string]*yaml.Node{}}
	for name, n := range pairs(get(c.root, "Resources")) {
		c.resources[name] = n
	}
	for name, n := range pairs(get(c.root, "Conditions")) {
		c.conds[name] = n
	}
	for name, n := range pairs(get(c.root, "Parameters")) {
		c.paramDefs[name] = n
		if d := get(n, "Default"); d != nil {
			c.params[name] = d.Value
		}
	}
	c.params["Issuers"] = sampleIssuers
	for k, v := range over {
		c.params[k] = v
	}
	return c
}

// noDuplicateKeys fails on a mapping that names a key twice: YAML keeps the
// last, and a check would read one block while CloudFormation reads another.
func noDuplicateKeys(t *testing.T, n *yaml.Node) {
	t.Helper()
	if n.Kind == yaml.MappingNode {
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; seen[k] {
				t.Fatalf("%s:%d: %s twice in one mapping", samTemplate, n.Content[i].Line, k)
			} else {
				seen[k] = true
			}
		}
	}
	for _, c := range n.Content {
		noDuplicateKeys(t, c)
	}
}

// pairs is a mapping node's entries.
func pairs(n *yaml.Node) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if n == nil || n.Kind != yaml.MappingNode {
		return out
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		out[n.Content[i].Value] = n.Content[i+1]
	}
	return out
}

// get follows a path of mapping keys; nil when a key is missing.
func get(n *yaml.Node, path ...string) *yaml.Node {
	for _, k := range path {
		n = pairs(n)[k]
		if n == nil {
			return nil
		}
	}
	return n
}

var pseudo = map[string]string{"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012",
	"AWS::StackName": "authz", "AWS::URLSuffix": "amazonaws.com"}

// eval evaluates a node: scalars, lists and maps with !Ref, !Sub, !GetAtt,
// !If, !Equals, !Not, !And, !Or. A Number parameter is a string, as
// CloudFormation hands it to the template.
func (c *cfn) eval(t *testing.T, n *yaml.Node) any {
	t.Helper()
	if n == nil {
		return nil
	}
	if n.Kind == yaml.AliasNode {
		return c.eval(t, n.Alias)
	}
	switch n.Tag {
	case "!Ref":
		return c.ref(n.Value)
	case "!GetAtt":
		return unknown{n.Value}
	case "!Sub":
		return c.sub(t, n)
	case "!If":
		if len(n.Content) != 3 {
			t.Fatalf("line %d: !If takes 3 values", n.Line)
		}
		if c.condition(t, n.Content[0].Value) {
			return c.eval(t, n.Content[1])
		}
		return c.eval(t, n.Content[2])
	case "!Equals", "!Not", "!And", "!Or", "!Condition":
		return c.truth(t, n)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") { // "!!str" and the like are YAML's own
		t.Fatalf("%s:%d: %s is an intrinsic function these checks do not evaluate: add it to cfn.eval", samTemplate, n.Line, n.Tag)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value
	case yaml.SequenceNode:
		var out []any
		for _, e := range n.Content {
			if v := c.eval(t, e); v != noValue {
				out = append(out, v)
			}
		}
		return out
	case yaml.MappingNode:
		if len(n.Content) == 2 && n.Content[0].Value == "Ref" {
			return c.ref(n.Content[1].Value)
		}
		if len(n.Content) == 2 && strings.HasPrefix(n.Content[0].Value, "Fn::") {
			t.Fatalf("line %d: %s: write the short form (!%s)", n.Line, n.Content[0].Value, strings.TrimPrefix(n.Content[0].Value, "Fn::"))
		}
		out := map[string]any{}
		for k, v := range pairs(n) {
			if e := c.eval(t, v); e != noValue {
				out[k] = e
			}
		}
		return out
	}
	return nil
}

func (c *cfn) ref(name string) any {
	if name == "AWS::NoValue" {
		return noValue
	}
	if v, ok := pseudo[name]; ok {
		return v
	}
	if v, ok := c.params[name]; ok {
		return v
	}
	return unknown{name}
}

var subVar = regexp.MustCompile(`\$\{([^}!]+)\}`)

func (c *cfn) sub(t *testing.T, n *yaml.Node) any {
	t.Helper()
	if n.Kind != yaml.ScalarNode {
		t.Fatalf("line %d: only the one-string !Sub is read", n.Line)
	}
	var unknowns []string
	s := subVar.ReplaceAllStringFunc(n.Value, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := c.ref(name).(string); ok && !strings.Contains(name, ".") {
			return v
		}
		unknowns = append(unknowns, name)
		return m
	})
	if len(unknowns) > 0 {
		return unknown{s}
	}
	return s
}

func (c *cfn) condition(t *testing.T, name string) bool {
	t.Helper()
	n, ok := c.conds[name]
	if !ok {
		t.Fatalf("no condition %s", name)
	}
	return c.truth(t, n)
}

func (c *cfn) truth(t *testing.T, n *yaml.Node) bool {
	t.Helper()
	switch n.Tag {
	case "!Equals":
		return fmt.Sprint(c.eval(t, n.Content[0])) == fmt.Sprint(c.eval(t, n.Content[1]))
	case "!Not":
		return !c.truth(t, n.Content[0])
	case "!And":
		for _, e := range n.Content {
			if !c.truth(t, e) {
				return false
			}
		}
		return true
	case "!Or":
		for _, e := range n.Content {
			if c.truth(t, e) {
				return true
			}
		}
		return false
	case "!Condition":
		return c.condition(t, n.Value)
	}
	t.Fatalf("line %d: %s is not a condition", n.Line, n.Tag)
	return false
}

// authorizerFunction is the function whose handler is bootstrap.
func (c *cfn) authorizerFunction(t *testing.T) (string, *yaml.Node) {
	t.Helper()
	var name string
	var fn *yaml.Node
	for id, r := range c.resources {
		if get(r, "Type").Value == "AWS::Serverless::Function" && get(r, "Properties", "Handler") != nil &&
			get(r, "Properties", "Handler").Value == "bootstrap" {
			if fn != nil {
				t.Fatalf("two functions with handler bootstrap: %s and %s", name, id)
			}
			name, fn = id, get(r, "Properties")
		}
	}
	if fn == nil {
		t.Fatal("no function with handler bootstrap")
	}
	return name, fn
}

func (c *cfn) str(t *testing.T, n *yaml.Node) string {
	t.Helper()
	if n == nil {
		t.Fatal("a property the checks need is missing (in Globals? these checks read the resource's own properties)")
	}
	s, ok := c.eval(t, n).(string)
	if !ok {
		t.Fatalf("line %d: %v is not a string", n.Line, c.eval(t, n))
	}
	return s
}

func anyStrs(v any) []string {
	var out []string
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
	case string:
		out = []string{v}
	}
	return out
}

// TestSAMParametersAreDescribedAndUsed: every parameter says what it is for
// and is read by the template.
func TestSAMParametersAreDescribedAndUsed(t *testing.T) {
	c := loadSAM(t, nil)
	used := map[string]bool{}
	var walk func(*yaml.Node)
	walk = func(n *yaml.Node) {
		switch n.Tag {
		case "!Ref":
			used[n.Value] = true
		case "!Sub":
			for _, m := range subVar.FindAllStringSubmatch(n.Value, -1) {
				used[m[1]] = true
			}
		}
		for _, e := range n.Content {
			walk(e)
		}
	}
	for _, section := range []string{"Rules", "Conditions", "Resources", "Outputs"} {
		if n := get(c.root, section); n != nil {
			walk(n)
		}
	}
	for name, def := range c.paramDefs {
		if d := get(def, "Description"); d == nil || strings.TrimSpace(d.Value) == "" {
			t.Errorf("parameter %s has no Description", name)
		}
		if !used[name] {
			t.Errorf("parameter %s is never used", name)
		}
	}
}

// TestSAMFunctionIsWhatMakePackageBuilds: handler, runtime, architectures
// and CodeUri are make package's; the architecture parameter allows both of
// the architectures make package builds, and nothing else.
func TestSAMFunctionIsWhatMakePackageBuilds(t *testing.T) {
	c := loadSAM(t, nil)
	_, fn := c.authorizerFunction(t)
	plan := makePackagePlan(t, "")
	if got := c.str(t, get(fn, "Runtime")); got != "provided.al2023" {
		t.Errorf("Runtime %s", got)
	}
	if got := c.str(t, get(fn, "Handler")); got != plan.binary {
		t.Errorf("Handler %s; make package builds %s", got, plan.binary)
	}
	if got := filepath.Clean(filepath.Join(filepath.Dir(samTemplate), c.str(t, get(fn, "CodeUri")))); got != filepath.Join(repoRoot, plan.zip) {
		t.Errorf("CodeUri is %s; make package writes %s", got, filepath.Join(repoRoot, plan.zip))
	}
	if got := anyStrs(c.eval(t, get(fn, "Architectures"))); !slices.Equal(got, []string{lambdaArch[plan.goarch]}) {
		t.Errorf("Architectures %v by default; make package builds GOARCH=%s", got, plan.goarch)
	}
	archs := get(fn, "Architectures")
	if archs == nil || len(archs.Content) != 1 || archs.Content[0].Tag != "!Ref" {
		t.Fatal("Architectures is not one parameter")
	}
	allowed := anyStrs(c.eval(t, get(c.paramDefs[archs.Content[0].Value], "AllowedValues")))
	var built []string
	for goarch, arch := range lambdaArch {
		if makePackagePlan(t, goarch).goarch == goarch {
			built = append(built, arch)
		}
	}
	if !sameSet(allowed, built) {
		t.Errorf("the architecture parameter allows %v; make package builds %v", allowed, built)
	}
}

// TestSAMEnvironmentIsWhatTheBinaryReads: the function's environment sets
// only variables the binary reads, the required ones, and the binary's
// parser accepts it, with the bundle in S3 and without.
func TestSAMEnvironmentIsWhatTheBinaryReads(t *testing.T) {
	for _, over := range []map[string]string{nil, {"BundleBucket": "acme-policies", "BundlePublicKey": "/var/task/key.pub.pem"}} {
		c := loadSAM(t, over)
		_, fn := c.authorizerFunction(t)
		env, _ := c.eval(t, get(fn, "Environment", "Variables")).(map[string]any)
		set := map[string]string{}
		for name, v := range env {
			if _, ok := config.Lookup(name); !ok {
				t.Errorf("%v: sets %s, which the authorizer does not read", over, name)
			}
			s, ok := v.(string)
			if !ok {
				t.Errorf("%v: %s is %v, not a string known before deployment", over, name, v)
			}
			set[name] = s
		}
		for _, v := range config.Variables {
			if v.Required && set[v.Name] == "" {
				t.Errorf("%v: does not set %s, which the authorizer requires", over, v.Name)
			}
		}
		if _, err := config.FromEnv(func(k string) string { return set[k] }, false); err != nil {
			t.Errorf("%v: the authorizer would not start: %v", over, err)
		}
		if over != nil && set["AUTHZ_BUNDLE"] != "s3://acme-policies/authz/bundle.tar.gz" {
			t.Errorf("with a bucket, AUTHZ_BUNDLE is %q", set["AUTHZ_BUNDLE"])
		}
	}
}

// TestSAMIAMIsTheBundleAndLogs: the function's role is written out (SAM's
// own would attach AWSLambdaBasicExecutionRole), only Lambda may assume it,
// and it may write to the function's log group and read the bundle object.
func TestSAMIAMIsTheBundleAndLogs(t *testing.T) {
	for _, tc := range []struct {
		over map[string]string
		want map[string][]string
	}{
		{nil, map[string][]string{"logs:CreateLogStream": {"log group"}, "logs:PutLogEvents": {"log group"}}},
		{map[string]string{"BundleBucket": "acme-policies"}, map[string][]string{"logs:CreateLogStream": {"log group"},
			"logs:PutLogEvents": {"log group"}, "s3:GetObject": {"arn:aws:s3:::acme-policies/authz/bundle.tar.gz"}}},
	} {
		c := loadSAM(t, tc.over)
		_, fn := c.authorizerFunction(t)
		for _, forbidden := range []string{"Policies", "ManagedPolicyArns", "PermissionsBoundary"} {
			if get(fn, forbidden) != nil {
				t.Errorf("the function sets %s", forbidden)
			}
		}
		roleRef := get(fn, "Role")
		if roleRef == nil || roleRef.Tag != "!GetAtt" || !strings.HasSuffix(roleRef.Value, ".Arn") {
			t.Fatal("the function's Role is not !GetAtt ROLE.Arn of a role in the template")
		}
		role := c.resources[strings.TrimSuffix(roleRef.Value, ".Arn")]
		if get(role, "Type").Value != "AWS::IAM::Role" || get(role, "Properties", "ManagedPolicyArns") != nil {
			t.Fatal("the role is not an AWS::IAM::Role without managed policies")
		}
		logGroup := get(fn, "LoggingConfig", "LogGroup")
		if logGroup == nil || logGroup.Tag != "!Ref" {
			t.Fatal("the function names no log group of the template")
		}
		trust := c.eval(t, get(role, "Properties", "AssumeRolePolicyDocument", "Statement"))
		if fmt.Sprint(trust) != "[map[Action:sts:AssumeRole Effect:Allow Principal:map[Service:lambda.amazonaws.com] Sid:Lambda]]" {
			t.Errorf("the role may be assumed by more than Lambda: %v", trust)
		}
		got := map[string][]string{}
		for _, p := range get(role, "Properties", "Policies").Content {
			for _, st := range c.eval(t, get(p, "PolicyDocument", "Statement")).([]any) {
				s := st.(map[string]any)
				for _, k := range []string{"NotAction", "NotResource", "Principal"} {
					if _, ok := s[k]; ok {
						t.Errorf("a statement with %s: %v", k, s)
					}
				}
				if s["Effect"] != "Allow" {
					t.Errorf("a statement that is not Allow: %v", s)
				}
				var resources []string
				for _, r := range anyOf(s["Resource"]) {
					switch r := r.(type) {
					case unknown:
						if r.ref != logGroup.Value+".Arn" {
							t.Errorf("resource %s: not the function's log group (%s)", r.ref, logGroup.Value)
						}
						resources = append(resources, "log group")
					default:
						resources = append(resources, fmt.Sprint(r))
					}
				}
				for _, a := range anyStrs(s["Action"]) {
					got[a] = append(got[a], resources...)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%v: the role may\n  %v\nwant\n  %v", tc.over, got, tc.want)
		}
	}
}

func anyOf(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// TestSAMAuthorizerSettings: the REST and HTTP APIs' authorizers are
// REQUEST authorizers on the function; with caching on (at the default TTL
// and at 3600; and off) their identity sources include where the token is;
// the HTTP API's simple responses match AUTHZ_HTTP_SIMPLE_RESPONSES, use
// payload 2.0 and key the cache by route; SAM grants the HTTP API the invoke
// permission, which it does not do by default.
func TestSAMAuthorizerSettings(t *testing.T) {
	kinds := map[string]bool{}
	for _, ttl := range []string{"", "0", "3600"} {
		over := map[string]string{}
		if ttl != "" {
			over["AuthorizerTtl"] = ttl
		}
		c := loadSAM(t, over)
		fnName, fn := c.authorizerFunction(t)
		env := c.eval(t, get(fn, "Environment", "Variables")).(map[string]any)
		sources := strings.Split(fmt.Sprint(env["AUTHZ_TOKEN_SOURCES"]), ",")
		if env["AUTHZ_TOKEN_SOURCES"] == nil {
			sources = []string{"header:authorization"}
		}
		for id, r := range c.resources {
			typ := get(r, "Type").Value
			if typ != "AWS::Serverless::Api" && typ != "AWS::Serverless::HttpApi" {
				continue
			}
			for name, a := range pairs(get(r, "Properties", "Auth", "Authorizers")) {
				where := fmt.Sprintf("%s.%s (TTL %s)", id, name, ttl)
				if arn := get(a, "FunctionArn"); arn == nil || arn.Tag != "!GetAtt" || arn.Value != fnName+".Arn" {
					t.Errorf("%s: FunctionArn is not the authorizer function", where)
					continue
				}
				cache := 300 // SAM's default, API Gateway's too
				if v := get(a, "Identity", "ReauthorizeEvery"); v != nil {
					n, err := strconv.Atoi(fmt.Sprint(c.eval(t, v)))
					if err != nil {
						t.Fatalf("%s: ReauthorizeEvery is %v, not a number", where, c.eval(t, v))
					}
					cache = n
				}
				// Identity as REST identity sources, to be compared as the
				// Terraform ones are.
				var identity []string
				for _, h := range anyStrs(c.eval(t, get(a, "Identity", "Headers"))) {
					identity = append(identity, normalIdentity(identityPrefix["rest"]+"header."+h))
				}
				for _, q := range anyStrs(c.eval(t, get(a, "Identity", "QueryStrings"))) {
					identity = append(identity, identityPrefix["rest"]+"querystring."+q)
				}
				var missing []string
				for _, s := range sources {
					if !slices.Contains(identity, tokenLocation("rest", s)) {
						missing = append(missing, s)
					}
				}
				if cache > 0 && len(missing) > 0 {
					t.Errorf("%s: caches for %d s without %v in its identity", where, cache, missing)
				}
				if typ == "AWS::Serverless::Api" {
					kinds["rest"] = true
					if p := c.eval(t, get(a, "FunctionPayloadType")); p != "REQUEST" {
						t.Errorf("%s: FunctionPayloadType %v, want REQUEST", where, p)
					}
					continue
				}
				kinds["http"] = true
				simple := fmt.Sprint(c.eval(t, get(a, "EnableSimpleResponses"))) == "true"
				if want := fmt.Sprint(env["AUTHZ_HTTP_SIMPLE_RESPONSES"]) != "false"; simple != want {
					t.Errorf("%s: EnableSimpleResponses %v; the function's AUTHZ_HTTP_SIMPLE_RESPONSES says %v", where, simple, want)
				}
				if v := c.eval(t, get(a, "AuthorizerPayloadFormatVersion")); simple && v != "2.0" {
					t.Errorf("%s: simple responses need payload 2.0, not %v", where, v)
				}
				if cache > 0 && simple && !slices.Contains(anyStrs(c.eval(t, get(a, "Identity", "Context"))), "routeKey") {
					t.Errorf("%s: simple responses cached for %d s without the route key: one route's answer would serve every route", where, cache)
				}
				if fmt.Sprint(c.eval(t, get(a, "EnableFunctionDefaultPermissions"))) != "true" {
					t.Errorf("%s: without EnableFunctionDefaultPermissions, API Gateway may not invoke the authorizer", where)
				}
			}
		}
	}
	if !kinds["rest"] || !kinds["http"] {
		t.Errorf("the template has authorizers for %v, want a REST and an HTTP API", kinds)
	}
}
