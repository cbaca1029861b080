package deploy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// module is one Terraform module folder, parsed: what the checks read.
type module struct {
	dir       string
	variables map[string]*variable
	locals    map[string]hcl.Expression
	outputs   map[string]*hclsyntax.Block
	blocks    []*hclsyntax.Block // resource, data, module, check: every top-level block
	bodies    []*hclsyntax.Body  // each file's body, for walks
}

type variable struct {
	name        string
	block       *hclsyntax.Block
	description string
	typ         cty.Type
	defaults    *typeexpr.Defaults
	def         cty.Value // cty.NilVal without a default
	validations []*hclsyntax.Block
}

func loadModule(t *testing.T, dir string) *module {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no .tf files (%v)", dir, err)
	}
	m := &module{dir: dir, variables: map[string]*variable{}, locals: map[string]hcl.Expression{}, outputs: map[string]*hclsyntax.Block{}}
	p := hclparse.NewParser()
	for _, name := range files {
		f, diags := p.ParseHCLFile(name)
		if diags.HasErrors() {
			t.Fatalf("%s: %v", name, diags)
		}
		body := f.Body.(*hclsyntax.Body)
		m.bodies = append(m.bodies, body)
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				m.variables[b.Labels[0]] = readVariable(t, b)
			case "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a.Expr
				}
			case "output":
				m.outputs[b.Labels[0]] = b
			default:
				m.blocks = append(m.blocks, b)
			}
		}
	}
	return m
}

func readVariable(t *testing.T, b *hclsyntax.Block) *variable {
	t.Helper()
	v := &variable{name: b.Labels[0], block: b, typ: cty.DynamicPseudoType}
	if a, ok := b.Body.Attributes["description"]; ok {
		d, diags := a.Expr.Value(nil)
		if !diags.HasErrors() && d.Type() == cty.String {
			v.description = d.AsString()
		}
	}
	if a, ok := b.Body.Attributes["type"]; ok {
		ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		if diags.HasErrors() {
			t.Fatalf("variable %s: type: %v", v.name, diags)
		}
		v.typ, v.defaults = ty, defaults
	}
	if a, ok := b.Body.Attributes["default"]; ok {
		d, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("variable %s: default: %v", v.name, diags)
		}
		v.def = d
	}
	for _, vb := range b.Body.Blocks {
		if vb.Type == "validation" {
			v.validations = append(v.validations, vb)
		}
	}
	return v
}

// typed is val as Terraform hands it to the module: optional attributes
// defaulted, then converted to the variable's type.
func (v *variable) typed(val cty.Value) (cty.Value, error) {
	if v.defaults != nil {
		val = v.defaults.Apply(val)
	}
	return convert.Convert(val, v.typ)
}

// find returns the top-level blocks of a type and first label.
func (m *module) find(typ, label string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, b := range m.blocks {
		if b.Type == typ && len(b.Labels) > 0 && b.Labels[0] == label {
			out = append(out, b)
		}
	}
	return out
}

// one is the single block of a type and label, failing the test otherwise.
func (m *module) one(t *testing.T, typ, label string) *hclsyntax.Block {
	t.Helper()
	bs := m.find(typ, label)
	if len(bs) != 1 {
		t.Fatalf("%s: %d %s %q blocks, want 1", m.dir, len(bs), typ, label)
	}
	return bs[0]
}

// traversals is every reference in the module's expressions, but for those
// of variable blocks: a variable read only by its own validation is unused.
func (m *module) traversals() []hcl.Traversal {
	var out []hcl.Traversal
	for _, body := range m.bodies {
		for _, b := range body.Blocks {
			if b.Type == "variable" {
				continue
			}
			hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
				if a, ok := n.(*hclsyntax.Attribute); ok {
					out = append(out, a.Expr.Variables()...)
				}
				return nil
			})
		}
	}
	return out
}

// instance is a module with values for its variables: the examples with
// their tfvars, the modules with the arguments an example calls them with.
type instance struct {
	m      *module
	vars   map[string]cty.Value
	locals map[string]cty.Value
}

// instantiate gives each variable its value from args (evaluated by the
// caller), else its default. Variables with neither are an error.
func instantiate(t *testing.T, m *module, args map[string]cty.Value) *instance {
	t.Helper()
	in := &instance{m: m, vars: map[string]cty.Value{}, locals: map[string]cty.Value{}}
	for name, v := range m.variables {
		val, ok := args[name]
		if !ok {
			if v.def == cty.NilVal {
				t.Fatalf("%s: variable %s has no value and no default", m.dir, name)
			}
			val = v.def
		}
		typed, err := v.typed(val)
		if err != nil {
			t.Fatalf("%s: variable %s: %v", m.dir, name, err)
		}
		in.vars[name] = typed
	}
	// Locals may refer to each other: evaluate once per local, so that the
	// last pass sees every other local's value; its errors are the module's.
	for pass := range len(m.locals) + 1 {
		for name, expr := range m.locals {
			v, diags := in.eval(expr, nil)
			if diags.HasErrors() && pass == len(m.locals) {
				t.Fatalf("%s: local.%s: %v", m.dir, name, diags)
			}
			in.locals[name] = v
		}
	}
	return in
}

// eval evaluates expr. References to resources, data sources and modules
// are unknown; so is what depends on them. extra adds names (each, count).
func (in *instance) eval(expr hcl.Expression, extra map[string]cty.Value) (cty.Value, hcl.Diagnostics) {
	vars := map[string]cty.Value{
		"var":   cty.ObjectVal(in.vars),
		"local": cty.ObjectVal(in.locals),
		"path": cty.ObjectVal(map[string]cty.Value{
			"module": cty.StringVal(in.m.dir), "root": cty.StringVal(in.m.dir), "cwd": cty.StringVal(in.m.dir),
		}),
	}
	for k, v := range extra {
		vars[k] = v
	}
	for _, tr := range expr.Variables() {
		if _, ok := vars[tr.RootName()]; !ok && unknowable(tr.RootName()) {
			vars[tr.RootName()] = cty.DynamicVal
		}
	}
	if _, ok := vars["data"]; ok {
		vars["data"] = knownData(expr)
	}
	v, diags := expr.Value(&hcl.EvalContext{Variables: vars, Functions: functions})
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	return v, nil
}

// unknowable says whether a reference's root is something only an apply
// knows: a resource (its type has an underscore), a module's outputs, a data
// source, or a meta-argument. Any other unknown name is an error, as in
// Terraform: a misspelt local must not pass as "known at apply".
func unknowable(root string) bool {
	switch root {
	case "module", "data", "each", "count", "self", "terraform":
		return true
	}
	return strings.Contains(root, "_")
}

// attrName is the name a traversal step reads (a.b or a["b"]), "" for
// an index by number or a splat.
func attrName(step hcl.Traverser) string {
	switch s := step.(type) {
	case hcl.TraverseAttr:
		return s.Name
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String {
			return s.Key.AsString()
		}
	}
	return ""
}

// knownData is the data sources expr reads: the partition is known ("aws",
// where the ARNs of the checks are written), the others are not.
func knownData(expr hcl.Expression) cty.Value {
	types := map[string]cty.Value{}
	for _, tr := range expr.Variables() {
		if tr.RootName() != "data" || len(tr) < 2 {
			continue
		}
		typ := attrName(tr[1])
		types[typ] = cty.DynamicVal
		if typ == "aws_partition" {
			types[typ] = cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{
				"partition": cty.StringVal("aws"), "dns_suffix": cty.StringVal("amazonaws.com")})})
		}
	}
	return cty.ObjectVal(types)
}

// value evaluates expr with extra names, failing the test on an error; the
// value may be unknown.
func (in *instance) value(t *testing.T, what string, expr hcl.Expression, extra map[string]cty.Value) cty.Value {
	t.Helper()
	v, diags := in.eval(expr, extra)
	if diags.HasErrors() {
		t.Fatalf("%s: %s: %v", in.m.dir, what, diags)
	}
	return v
}

// known evaluates expr and fails the test unless its value is known.
func (in *instance) known(t *testing.T, what string, expr hcl.Expression) cty.Value {
	t.Helper()
	v := in.value(t, what, expr, nil)
	if !v.IsWhollyKnown() {
		t.Fatalf("%s: %s is not known before apply: %s", in.m.dir, what, source(expr))
	}
	return v
}

// attr is the value of a block's attribute, cty.NilVal when absent.
func (in *instance) attr(t *testing.T, b *hclsyntax.Block, name string) cty.Value {
	t.Helper()
	a, ok := b.Body.Attributes[name]
	if !ok {
		return cty.NilVal
	}
	return in.known(t, strings.Join(append([]string{b.Type}, append(b.Labels, name)...), "."), a.Expr)
}

// source is an expression's text.
func source(expr hcl.Expression) string {
	r := expr.Range()
	b, err := os.ReadFile(r.Filename)
	if err != nil || r.End.Byte > len(b) {
		return fmt.Sprintf("<%s>", r)
	}
	return string(b[r.Start.Byte:r.End.Byte])
}

// refs is the references of expr, as dotted names (module.authorizer.invoke_arn).
func refs(expr hcl.Expression) []string {
	var out []string
	for _, tr := range expr.Variables() {
		parts := []string{tr.RootName()}
		for _, step := range tr[1:] {
			if name := attrName(step); name != "" {
				parts = append(parts, name)
			}
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

// strs is a known list, tuple or set of strings as a Go slice.
func strs(t *testing.T, v cty.Value) []string {
	t.Helper()
	if v == cty.NilVal || v.IsNull() {
		return nil
	}
	if !v.IsWhollyKnown() || !(v.Type().IsListType() || v.Type().IsSetType() || v.Type().IsTupleType()) {
		t.Fatalf("%s is not a known list of strings", show(v))
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.Type() != cty.String {
			t.Fatalf("%#v is not a list of strings", v)
		}
		out = append(out, e.AsString())
	}
	return out
}

// Terraform's functions that the templates use, from cty's standard library
// where it has them. Functions that read files give unknown values, as they
// would before the files exist.
var functions = map[string]function.Function{
	"abs":              stdlib.AbsoluteFunc,
	"alltrue":          alltrue,
	"can":              tryfunc.CanFunc,
	"ceil":             stdlib.CeilFunc,
	"coalesce":         stdlib.CoalesceFunc,
	"compact":          stdlib.CompactFunc,
	"concat":           stdlib.ConcatFunc,
	"contains":         stdlib.ContainsFunc,
	"distinct":         stdlib.DistinctFunc,
	"element":          stdlib.ElementFunc,
	"endswith":         stringTest(strings.HasSuffix),
	"file":             unknownString,
	"filebase64sha256": unknownString,
	"filemd5":          unknownString,
	"flatten":          stdlib.FlattenFunc,
	"floor":            stdlib.FloorFunc,
	"format":           stdlib.FormatFunc,
	"formatlist":       stdlib.FormatListFunc,
	"join":             stdlib.JoinFunc,
	"jsondecode":       stdlib.JSONDecodeFunc,
	"jsonencode":       stdlib.JSONEncodeFunc,
	"keys":             stdlib.KeysFunc,
	"length":           length,
	"lookup":           lookup,
	"lower":            stdlib.LowerFunc,
	"max":              stdlib.MaxFunc,
	"merge":            stdlib.MergeFunc,
	"min":              stdlib.MinFunc,
	"one":              oneFunc,
	"range":            stdlib.RangeFunc,
	"regex":            stdlib.RegexFunc,
	"regexall":         stdlib.RegexAllFunc,
	"replace":          stdlib.ReplaceFunc,
	"split":            stdlib.SplitFunc,
	"startswith":       stringTest(strings.HasPrefix),
	"strcontains":      stringTest(strings.Contains),
	"substr":           stdlib.SubstrFunc,
	"sum":              sum,
	"tobool":           stdlib.MakeToFunc(cty.Bool),
	"tolist":           stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tonumber":         stdlib.MakeToFunc(cty.Number),
	"toset":            stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":         stdlib.MakeToFunc(cty.String),
	"trimprefix":       stdlib.TrimPrefixFunc,
	"trimspace":        stdlib.TrimSpaceFunc,
	"trimsuffix":       stdlib.TrimSuffixFunc,
	"try":              tryfunc.TryFunc,
	"upper":            stdlib.UpperFunc,
	"values":           stdlib.ValuesFunc,
	"zipmap":           stdlib.ZipmapFunc,
}

// lookup is Terraform's: the default is optional.
var lookup = function.New(&function.Spec{
	Params: []function.Parameter{
		{Name: "map", Type: cty.DynamicPseudoType},
		{Name: "key", Type: cty.String},
	},
	VarParam: &function.Parameter{Name: "default", Type: cty.DynamicPseudoType, AllowNull: true},
	Type:     function.StaticReturnType(cty.DynamicPseudoType),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		m, key := args[0], args[1].AsString()
		if m.Type().IsObjectType() && m.Type().HasAttribute(key) {
			return m.GetAttr(key), nil
		}
		if m.Type().IsMapType() && m.HasIndex(args[1]).True() {
			return m.Index(args[1]), nil
		}
		if len(args) == 3 {
			return args[2], nil
		}
		return cty.NilVal, fmt.Errorf("lookup: no key %q", key)
	},
})

// length is Terraform's: of a string too, in characters.
var length = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "value", Type: cty.DynamicPseudoType, AllowDynamicType: true}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		switch ty := args[0].Type(); {
		case ty == cty.String:
			return stdlib.Strlen(args[0])
		case ty.IsObjectType():
			return cty.NumberIntVal(int64(len(ty.AttributeTypes()))), nil
		}
		return stdlib.Length(args[0])
	},
})

var unknownString = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "path", Type: cty.String}},
	Type:   function.StaticReturnType(cty.String),
	Impl:   func([]cty.Value, cty.Type) (cty.Value, error) { return cty.UnknownVal(cty.String), nil },
})

func stringTest(f func(s, part string) bool) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: "s", Type: cty.String}, {Name: "part", Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

var alltrue = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Bool), AllowUnknown: true}},
	Type:   function.StaticReturnType(cty.Bool),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if !args[0].IsKnown() {
			return cty.UnknownVal(cty.Bool), nil
		}
		result := cty.True
		for it := args[0].ElementIterator(); it.Next(); {
			switch _, v := it.Element(); {
			case !v.IsKnown():
				result = cty.UnknownVal(cty.Bool)
			case v.IsNull() || v.False():
				return cty.False, nil
			}
		}
		return result, nil
	},
})

var sum = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Number)}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		total := cty.Zero
		for it := args[0].ElementIterator(); it.Next(); {
			_, v := it.Element()
			total = total.Add(v)
		}
		return total, nil
	},
})

var oneFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.DynamicPseudoType}},
	Type: func(args []cty.Value) (cty.Type, error) {
		if ty := args[0].Type(); ty.IsListType() || ty.IsSetType() {
			return ty.ElementType(), nil
		}
		return cty.DynamicPseudoType, nil
	},
	Impl: func(args []cty.Value, ty cty.Type) (cty.Value, error) {
		switch n := args[0].LengthInt(); n {
		case 0:
			return cty.NullVal(ty), nil
		case 1:
			it := args[0].ElementIterator()
			it.Next()
			_, v := it.Element()
			return v, nil
		default:
			return cty.NilVal, fmt.Errorf("one: %d elements", n)
		}
	},
})

// folders lists the subfolders of dir holding .tf files.
func folders(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			if tf, _ := filepath.Glob(filepath.Join(dir, e.Name(), "*.tf")); len(tf) > 0 {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	slices.Sort(out)
	if len(out) == 0 {
		t.Fatalf("%s: no modules", dir)
	}
	return out
}
