package deploy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// statement is one statement of an aws_iam_policy_document, evaluated.
type statement struct {
	sid                string
	actions, resources []string
	resourceRefs       []string // what unknown resources refer to
	conditions         []string // "test variable values"
}

// statements evaluates a policy document's statements, static and dynamic.
func statements(t *testing.T, in *instance, doc *hclsyntax.Block) []statement {
	t.Helper()
	var out []statement
	read := func(b *hclsyntax.Block, extra map[string]cty.Value) {
		for _, forbidden := range []string{"not_actions", "not_resources", "principals", "not_principals"} {
			if _, ok := b.Body.Attributes[forbidden]; ok {
				t.Errorf("%s: a statement with %s", in.m.dir, forbidden)
			}
		}
		for _, nested := range b.Body.Blocks {
			if nested.Type == "principals" || nested.Type == "not_principals" {
				t.Errorf("%s: a permissions statement with %s", in.m.dir, nested.Type)
			}
		}
		eval := func(body *hclsyntax.Body, name string) cty.Value {
			a, ok := body.Attributes[name]
			if !ok {
				return cty.NilVal
			}
			return in.value(t, "statement "+name, a.Expr, extra)
		}
		if e := eval(b.Body, "effect"); e != cty.NilVal && e.AsString() != "Allow" {
			t.Errorf("%s: effect %s", in.m.dir, e.AsString())
		}
		s := statement{}
		if v := eval(b.Body, "sid"); v != cty.NilVal {
			s.sid = v.AsString()
		}
		s.actions = strs(t, eval(b.Body, "actions"))
		for _, c := range b.Body.Blocks {
			if c.Type == "condition" {
				s.conditions = append(s.conditions, fmt.Sprint(eval(c.Body, "test").AsString(), " ", eval(c.Body, "variable").AsString(), " ", strs(t, eval(c.Body, "values"))))
			}
		}
		res := eval(b.Body, "resources")
		if res.IsWhollyKnown() {
			s.resources = strs(t, res)
		} else {
			s.resourceRefs = refs(b.Body.Attributes["resources"].Expr)
		}
		out = append(out, s)
	}
	for _, b := range doc.Body.Blocks {
		switch {
		case b.Type == "statement":
			read(b, nil)
		case b.Type == "dynamic" && b.Labels[0] == "statement":
			each := in.known(t, "dynamic statement for_each", b.Body.Attributes["for_each"].Expr)
			for it := each.ElementIterator(); it.Next(); {
				k, v := it.Element()
				for _, content := range b.Body.Blocks {
					if content.Type == "content" {
						read(content, map[string]cty.Value{"statement": cty.ObjectVal(map[string]cty.Value{"key": k, "value": v})})
					}
				}
			}
		}
	}
	return out
}

// TestTerraformIAMIsTheBundleAndLogs: the function's role may write to its
// own log group, read the bundle object when there is one (and decrypt it
// through S3 with the bundle's key, when one is given), and nothing else;
// only Lambda may assume it; no managed policy is attached.
func TestTerraformIAMIsTheBundleAndLogs(t *testing.T) {
	m := loadModule(t, authorizerMod)
	for _, b := range m.blocks {
		if b.Type == "resource" && (strings.Contains(b.Labels[0], "policy_attachment") || b.Labels[0] == "aws_iam_policy") {
			t.Errorf("%s: %s.%s: the role takes its one inline policy only", m.dir, b.Labels[0], b.Labels[1])
		}
	}
	role := m.one(t, "resource", "aws_iam_role")
	for _, forbidden := range []string{"managed_policy_arns", "inline_policy"} {
		if _, ok := role.Body.Attributes[forbidden]; ok {
			t.Errorf("the role sets %s", forbidden)
		}
	}
	assumeRef := refs(role.Body.Attributes["assume_role_policy"].Expr)
	policy := m.one(t, "resource", "aws_iam_role_policy")
	policyRef := refs(policy.Body.Attributes["policy"].Expr)
	if len(assumeRef) != 1 || len(policyRef) != 1 {
		t.Fatalf("the role's policies are not policy documents: %v %v", assumeRef, policyRef)
	}
	doc := func(ref string) *hclsyntax.Block {
		name := strings.TrimSuffix(strings.TrimPrefix(ref, "data.aws_iam_policy_document."), ".json")
		for _, b := range m.find("data", "aws_iam_policy_document") {
			if b.Labels[1] == name {
				return b
			}
		}
		t.Fatalf("no policy document %s", ref)
		return nil
	}

	in := instantiate(t, m, requiredArgs())
	assume := doc(assumeRef[0])
	if len(assume.Body.Blocks) != 1 {
		t.Fatalf("the trust policy has %d statements", len(assume.Body.Blocks))
	}
	st := assume.Body.Blocks[0]
	if got := strs(t, in.attr(t, st, "actions")); !slices.Equal(got, []string{"sts:AssumeRole"}) {
		t.Errorf("trust actions %v", got)
	}
	if len(st.Body.Blocks) != 1 || st.Body.Blocks[0].Type != "principals" ||
		in.attr(t, st.Body.Blocks[0], "type").AsString() != "Service" ||
		!slices.Equal(strs(t, in.attr(t, st.Body.Blocks[0], "identifiers")), []string{"lambda.amazonaws.com"}) {
		t.Errorf("the role may be assumed by more than Lambda: %s", source(st.Body.Attributes["actions"].Expr))
	}

	const kms = "arn:aws:kms:eu-west-1:123456789012:key/0b6c1a52-0000-4000-8000-000000000001"
	cases := []struct {
		name string
		args map[string]cty.Value
		want map[string][]string // action → resources; "log group" stands for the log group's streams
	}{
		{"embedded bundle", nil, map[string][]string{
			"logs:CreateLogStream": {"log group"}, "logs:PutLogEvents": {"log group"}}},
		{"S3 bundle", map[string]cty.Value{"bundle_bucket": cty.StringVal("acme-policies")}, map[string][]string{
			"logs:CreateLogStream": {"log group"}, "logs:PutLogEvents": {"log group"},
			"s3:GetObject": {"arn:aws:s3:::acme-policies/authz/bundle.tar.gz"}}},
		{"S3 bundle with a KMS key", map[string]cty.Value{"bundle_bucket": cty.StringVal("acme-policies"),
			"bundle_key": cty.StringVal("team/prod.tar.gz"), "bundle_kms_key_arn": cty.StringVal(kms)}, map[string][]string{
			"logs:CreateLogStream": {"log group"}, "logs:PutLogEvents": {"log group"},
			"s3:GetObject": {"arn:aws:s3:::acme-policies/team/prod.tar.gz"},
			"kms:Decrypt":  {kms, "if StringLike kms:ViaService [s3.*.amazonaws.com]"}}},
		{"a KMS key without a bucket grants nothing", map[string]cty.Value{"bundle_kms_key_arn": cty.StringVal(kms)}, map[string][]string{
			"logs:CreateLogStream": {"log group"}, "logs:PutLogEvents": {"log group"}}},
	}
	for _, c := range cases {
		args := requiredArgs()
		for k, v := range c.args {
			args[k] = v
		}
		in := instantiate(t, m, args)
		got := map[string][]string{}
		for _, s := range statements(t, in, doc(policyRef[0])) {
			resources := s.resources
			if resources == nil {
				if slices.Equal(s.resourceRefs, []string{"aws_cloudwatch_log_group.this.arn"}) {
					resources = []string{"log group"}
				} else {
					resources = []string{fmt.Sprintf("unknown %v", s.resourceRefs)}
				}
			}
			for _, a := range s.actions {
				got[a] = append(got[a], resources...)
				for _, c := range s.conditions {
					got[a] = append(got[a], "if "+c)
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: the role may\n  %v\nwant\n  %v", c.name, got, c.want)
		}
	}
	// The log group's ARN is the group's; the statement adds its streams.
	for _, b := range doc(policyRef[0]).Body.Blocks {
		if b.Type == "statement" {
			if got := source(b.Body.Attributes["resources"].Expr); got != `["${aws_cloudwatch_log_group.this.arn}:*"]` {
				t.Errorf("the logs statement's resources are %s, want the log group's streams", got)
			}
		}
	}
	if !rejects(t, m, requiredArgs(), "bundle_key", cty.StringVal("authz/*")) {
		t.Error("bundle_key accepts a wildcard, which would widen s3:GetObject")
	}
}

// TestTerraformNoOtherIAM: the examples add no IAM to the authorizer's role,
// and no policy anywhere, in a policy document or a jsonencode'd one, names
// a wildcard action.
func TestTerraformNoOtherIAM(t *testing.T) {
	for _, dir := range append(folders(t, modulesDir), folders(t, examplesDir)...) {
		m := loadModule(t, dir)
		for _, b := range m.blocks {
			where := fmt.Sprintf("%s: %s.%s", dir, b.Type, strings.Join(b.Labels, "."))
			hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
				switch n := n.(type) {
				case *hclsyntax.Attribute:
					for _, r := range refs(n.Expr) {
						if strings.HasPrefix(r, "module.") && (strings.HasSuffix(r, ".role_name") || strings.HasSuffix(r, ".role_arn")) {
							t.Errorf("%s refers to the authorizer's role (%s)", where, source(n.Expr))
						}
					}
					if isActionKey(n.Name) {
						noWildcard(t, where, n.Expr)
					}
				case *hclsyntax.ObjectConsExpr:
					for _, item := range n.Items {
						if key := hcl.ExprAsKeyword(item.KeyExpr); isActionKey(key) {
							noWildcard(t, where, item.ValueExpr)
						} else if k, ok := item.KeyExpr.(*hclsyntax.ObjectConsKeyExpr); ok && isActionKey(literal(k.Wrapped)) {
							noWildcard(t, where, item.ValueExpr)
						}
					}
				}
				return nil
			})
		}
	}
}

// isActionKey: the key of a policy's actions, in a policy document block or
// in IAM's own JSON.
func isActionKey(key string) bool {
	return slices.Contains([]string{"actions", "not_actions", "Action", "NotAction"}, key)
}

// noWildcard fails on any string literal in expr with a *.
func noWildcard(t *testing.T, where string, expr hclsyntax.Expression) {
	t.Helper()
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if s := literal(n); strings.Contains(s, "*") {
			t.Errorf("%s: a wildcard action %q", where, s)
		}
		return nil
	})
}
