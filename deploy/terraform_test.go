package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/identity"
)

const (
	repoRoot       = ".."
	modulesDir     = "terraform/modules"
	examplesDir    = "terraform/examples"
	authorizerMod  = "terraform/modules/authorizer"
	authorizerCall = "../../modules/authorizer"
	packageZip     = "dist/authorizer.zip" // what make package writes, from the repository's root
	// sampleIssuers stands for the issuers an example's user gives.
	sampleIssuers = `[{"issuer":"https://dev-123.okta.com/oauth2/default","audiences":["api://default"],"profile":"okta"}]`
)

// metaArguments are a module call's arguments that are not its variables.
var metaArguments = []string{"source", "version", "count", "for_each", "depends_on", "providers"}

// example is an example root module with the values of its
// terraform.tfvars.example, and the modules it calls with their arguments.
type example struct {
	*instance
	calls map[string]*instance // by module block name
	srcs  map[string]string    // module block name → source
}

func loadExamples(t *testing.T) []*example {
	t.Helper()
	var out []*example
	for _, dir := range folders(t, examplesDir) {
		out = append(out, loadExample(t, dir, nil))
	}
	return out
}

// loadExample instantiates the example in dir with its tfvars, overridden
// by over, and the modules it calls.
func loadExample(t *testing.T, dir string, over map[string]cty.Value) *example {
	t.Helper()
	m := loadModule(t, dir)
	args := tfvars(t, filepath.Join(dir, "terraform.tfvars.example"))
	for k, v := range over {
		args[k] = v
	}
	ex := &example{instance: instantiate(t, m, args), calls: map[string]*instance{}, srcs: map[string]string{}}
	for _, b := range m.blocks {
		if b.Type != "module" {
			continue
		}
		src := ex.attr(t, b, "source").AsString()
		callee := loadModule(t, filepath.Join(dir, src))
		ex.calls[b.Labels[0]] = instantiate(t, callee, ex.callArgs(t, b))
		ex.srcs[b.Labels[0]] = src
	}
	return ex
}

// callArgs evaluates a module call's arguments in the caller.
func (in *instance) callArgs(t *testing.T, call *hclsyntax.Block) map[string]cty.Value {
	t.Helper()
	args := map[string]cty.Value{}
	for name, a := range call.Body.Attributes {
		if slices.Contains(metaArguments, name) {
			continue
		}
		v, diags := in.eval(a.Expr, nil)
		if diags.HasErrors() {
			t.Fatalf("%s: module %s: %s: %v", in.m.dir, call.Labels[0], name, diags)
		}
		args[name] = v
	}
	return args
}

func tfvars(t *testing.T, name string) map[string]cty.Value {
	t.Helper()
	f, diags := hclparse.NewParser().ParseHCLFile(name)
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	attrs, diags := f.Body.JustAttributes()
	if diags.HasErrors() {
		t.Fatalf("%s: %v", name, diags)
	}
	out := map[string]cty.Value{}
	for name, a := range attrs {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatalf("%s: %s: %v", f.Body.MissingItemRange().Filename, name, diags)
		}
		out[name] = v
	}
	return out
}

// authorizerCalls are the example's calls of the authorizer module.
func (ex *example) authorizerCalls() map[string]*instance {
	out := map[string]*instance{}
	for name, in := range ex.calls {
		if ex.srcs[name] == authorizerCall {
			out[name] = in
		}
	}
	return out
}

// TestTerraformVariablesAreDescribedAndUsed: every variable of every module
// and example says what it is for and is read somewhere, and every module
// call passes only variables its module declares, and all that it requires.
func TestTerraformVariablesAreDescribedAndUsed(t *testing.T) {
	dirs := append(folders(t, modulesDir), folders(t, examplesDir)...)
	for _, dir := range dirs {
		m := loadModule(t, dir)
		used := map[string]bool{}
		for _, tr := range m.traversals() {
			if tr.RootName() == "var" && len(tr) > 1 {
				used[tr[1].(hcl.TraverseAttr).Name] = true
			}
		}
		for name, v := range m.variables {
			if strings.TrimSpace(v.description) == "" {
				t.Errorf("%s: variable %s has no description", dir, name)
			}
			if !used[name] {
				t.Errorf("%s: variable %s is never used", dir, name)
			}
		}
		for _, call := range m.blocks {
			if call.Type != "module" {
				continue
			}
			src, _ := call.Body.Attributes["source"].Expr.Value(nil)
			callee := loadModule(t, filepath.Join(dir, src.AsString()))
			for name := range call.Body.Attributes {
				if _, ok := callee.variables[name]; !ok && !slices.Contains(metaArguments, name) {
					t.Errorf("%s: module %s passes %s, which %s does not declare", dir, call.Labels[0], name, src.AsString())
				}
			}
			for name, v := range callee.variables {
				if _, ok := call.Body.Attributes[name]; !ok && v.def == cty.NilVal {
					t.Errorf("%s: module %s leaves out %s, which %s requires", dir, call.Labels[0], name, src.AsString())
				}
			}
		}
		if len(m.variables) == 0 && !strings.HasPrefix(dir, examplesDir) {
			t.Errorf("%s: a module without variables", dir)
		}
	}
}

// TestTerraformExamplesPassTheModulesValidations: the examples' values pass
// every validation block of the modules they call, and of their own.
func TestTerraformExamplesPassTheModulesValidations(t *testing.T) {
	for _, ex := range loadExamples(t) {
		validate(t, ex.instance)
		for _, callee := range ex.calls {
			validate(t, callee)
		}
	}
}

func validate(t *testing.T, in *instance) {
	t.Helper()
	for name, v := range in.m.variables {
		for _, vb := range v.validations {
			ok, diags := in.eval(vb.Body.Attributes["condition"].Expr, nil)
			if diags.HasErrors() {
				t.Errorf("%s: variable %s: validation: %v", in.m.dir, name, diags)
				continue
			}
			if ok.IsKnown() && ok.False() {
				t.Errorf("%s: variable %s = %s fails its validation %s", in.m.dir, name, show(in.vars[name]), source(vb.Body.Attributes["condition"].Expr))
			}
		}
	}
}

// rejects says whether the module's validations refuse value for variable.
func rejects(t *testing.T, m *module, args map[string]cty.Value, variable string, value cty.Value) bool {
	t.Helper()
	over := map[string]cty.Value{variable: value}
	for k, v := range args {
		if k != variable {
			over[k] = v
		}
	}
	in := instantiate(t, m, over)
	for _, vb := range m.variables[variable].validations {
		ok, diags := in.eval(vb.Body.Attributes["condition"].Expr, nil)
		if diags.HasErrors() || !ok.IsKnown() {
			t.Fatalf("%s: variable %s = %s: the validation cannot be evaluated: %v", m.dir, variable, show(value), diags)
		}
		if ok.False() {
			return true
		}
	}
	return false
}

func show(v cty.Value) string {
	if !v.IsWhollyKnown() {
		return "(unknown)"
	}
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		return v.GoString()
	}
	return string(b)
}

// requiredArgs are the least arguments the authorizer module takes.
func requiredArgs() map[string]cty.Value {
	ty, err := ctyjson.ImpliedType([]byte(sampleIssuers))
	if err != nil {
		panic(err)
	}
	issuers, err := ctyjson.Unmarshal([]byte(sampleIssuers), ty)
	if err != nil {
		panic(err)
	}
	return map[string]cty.Value{"name": cty.StringVal("authz"), "package_path": cty.StringVal("../../../../" + packageZip), "issuers": issuers}
}

// TestTerraformFunctionIsWhatMakePackageBuilds: runtime, handler,
// architecture and zip are those of make package, read from make's own plan
// of the build (make -n), for both architectures.
func TestTerraformFunctionIsWhatMakePackageBuilds(t *testing.T) {
	m := loadModule(t, authorizerMod)
	in := instantiate(t, m, requiredArgs())
	fn := m.one(t, "resource", "aws_lambda_function")
	if got := in.attr(t, fn, "runtime").AsString(); got != "provided.al2023" {
		t.Errorf("runtime %q, want provided.al2023: make package builds a static binary named bootstrap for the OS-only runtime", got)
	}
	plan := makePackagePlan(t, "")
	if got := in.attr(t, fn, "handler").AsString(); got != plan.binary {
		t.Errorf("handler %q; make package builds %q", got, plan.binary)
	}
	if got := strs(t, in.attr(t, fn, "architectures")); !slices.Equal(got, []string{lambdaArch[plan.goarch]}) {
		t.Errorf("architectures %v by default; make package builds GOARCH=%s by default", got, plan.goarch)
	}
	for goarch, arch := range lambdaArch {
		if rejects(t, m, requiredArgs(), "architecture", cty.StringVal(arch)) {
			t.Errorf("the module refuses architecture %q, which make package ARCH=%s builds", arch, goarch)
		}
		args := requiredArgs()
		args["architecture"] = cty.StringVal(arch)
		if got := strs(t, instantiate(t, m, args).attr(t, fn, "architectures")); !slices.Equal(got, []string{arch}) {
			t.Errorf("architecture = %q deploys architectures %v", arch, got)
		}
		if makePackagePlan(t, goarch).goarch != goarch {
			t.Errorf("make package ARCH=%s does not build GOARCH=%s", goarch, goarch)
		}
	}
	for _, wrong := range []string{"amd64", "x86-64", "aarch64", ""} {
		if !rejects(t, m, requiredArgs(), "architecture", cty.StringVal(wrong)) {
			t.Errorf("the module accepts architecture %q, which Lambda does not know", wrong)
		}
	}
	for _, name := range []string{"filename", "source_code_hash"} {
		if !slices.Contains(refs(fn.Body.Attributes[name].Expr), "var.package_path") {
			t.Errorf("%s is %s, not from var.package_path", name, source(fn.Body.Attributes[name].Expr))
		}
	}
	if got := source(fn.Body.Attributes["source_code_hash"].Expr); got != "filebase64sha256(var.package_path)" {
		t.Errorf("source_code_hash = %s: a new zip would not be deployed", got)
	}
	for _, ex := range loadExamples(t) {
		for name, call := range ex.authorizerCalls() {
			got := filepath.Clean(filepath.Join(ex.m.dir, call.vars["package_path"].AsString()))
			if want := filepath.Join(repoRoot, plan.zip); got != want {
				t.Errorf("%s: module %s deploys %s; make package writes %s", ex.m.dir, name, got, want)
			}
		}
	}
}

// lambdaArch maps Go's architectures to Lambda's.
var lambdaArch = map[string]string{"arm64": "arm64", "amd64": "x86_64"}

type packagePlan struct{ goarch, binary, zip string }

// makePackagePlan reads make -n package: the build's GOOS, GOARCH, flags
// and output, and the zip's name and content.
func makePackagePlan(t *testing.T, arch string) packagePlan {
	t.Helper()
	args := []string{"-n", "--no-print-directory", "-C", repoRoot, "package"}
	if arch != "" {
		args = append(args, "ARCH="+arch)
	}
	cmd := exec.Command("make", args...)
	// make -n of the Makefile's own defaults: not the outer make's flags and
	// overrides (make test ARCH=amd64), nor variables of the caller's shell.
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains([]string{"MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "ARCH", "DIST", "GO"}, name) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %v: %v\n%s", args, err, out)
	}
	var p packagePlan
	build := regexp.MustCompile(`(?m)^CGO_ENABLED=0 GOOS=linux GOARCH=(\w+) \S+ build -tags lambda\.norpc .* -o (\S+) \./cmd/authorizer$`).FindStringSubmatch(string(out))
	if build == nil {
		t.Fatalf("make -n package builds no static linux binary of ./cmd/authorizer with -tags lambda.norpc:\n%s", out)
	}
	p.goarch = build[1]
	dist, binary := filepath.Split(build[2])
	p.binary = binary
	zip := regexp.MustCompile(`(?ms)^cd (\S+) && files="` + regexp.QuoteMeta(binary) + `\b[^"]*".*?\bzip -q (\S+) \$files`).FindStringSubmatch(string(out))
	if zip == nil || filepath.Clean(zip[1]) != filepath.Clean(dist) {
		t.Fatalf("make -n package does not zip %s at the root of the package:\n%s", binary, out)
	}
	p.zip = filepath.Join(zip[1], zip[2])
	return p
}

// TestTerraformEnvironmentIsWhatTheBinaryReads: the module sets only
// variables the binary reads, the required ones always, and with each
// example's values the binary's own parser accepts the environment. With
// nothing but the required arguments, each variable it sets is the binary's
// default, so that leaving a module variable alone changes nothing.
func TestTerraformEnvironmentIsWhatTheBinaryReads(t *testing.T) {
	m := loadModule(t, authorizerMod)
	fn := m.one(t, "resource", "aws_lambda_function")
	var envBlock *hclsyntax.Block
	for _, b := range fn.Body.Blocks {
		if b.Type == "environment" {
			envBlock = b
		}
	}
	if envBlock == nil || source(envBlock.Body.Attributes["variables"].Expr) != "local.variables" ||
		!slices.Contains(refs(m.locals["variables"]), "local.environment") {
		t.Fatal("the function's environment is not local.variables, built from local.environment")
	}

	check := func(where string, in *instance, wantDefaults bool) {
		env := in.locals["environment"]
		if !env.Type().IsObjectType() {
			t.Fatalf("%s: local.environment is %s, not an object", where, env.Type().FriendlyName())
		}
		set := map[string]string{}
		var unknown []string
		for name, v := range env.AsValueMap() {
			variable, ok := config.Lookup(name)
			switch {
			case !ok:
				t.Errorf("%s: sets %s, which the authorizer does not read", where, name)
			case !v.IsKnown():
				unknown = append(unknown, name)
			case v.IsNull():
				if variable.Required {
					t.Errorf("%s: leaves %s unset; the authorizer does not start without it", where, name)
				}
			case v.Type() != cty.String:
				t.Errorf("%s: %s is a %s, not a string", where, name, v.Type().FriendlyName())
			default:
				set[name] = v.AsString()
				if wantDefaults && variable.Default != "" && set[name] != variable.Default {
					t.Errorf("%s: %s = %q by default; the authorizer's default is %q", where, name, set[name], variable.Default)
				}
			}
		}
		for _, v := range config.Variables {
			if _, ok := env.AsValueMap()[v.Name]; v.Required && !ok {
				t.Errorf("%s: does not set %s, which the authorizer requires", where, v.Name)
			}
		}
		if _, err := config.FromEnv(func(k string) string { return set[k] }, false); err != nil {
			t.Errorf("%s: the authorizer would not start: %v (environment %v; not known before apply: %v)", where, err, set, unknown)
		}
		// What the function receives is local.environment without its nulls,
		// and nothing else.
		if fn := in.locals["variables"]; fn.IsWhollyKnown() {
			var got, want []string
			for name := range fn.AsValueMap() {
				got = append(got, name)
			}
			for name, v := range env.AsValueMap() {
				if !v.IsNull() {
					want = append(want, name)
				}
			}
			if !sameSet(got, want) {
				t.Errorf("%s: the function receives %v, local.environment sets %v", where, got, want)
			}
		} else if len(unknown) == 0 {
			t.Errorf("%s: local.variables is not known, though local.environment is", where)
		}
		t.Logf("%s: %d variables checked, %v known only at apply", where, len(set), unknown)
	}
	check(authorizerMod+" with the required arguments", instantiate(t, m, requiredArgs()), true)
	for _, ex := range loadExamples(t) {
		for name, call := range ex.authorizerCalls() {
			check(ex.m.dir+": module "+name, call, false)
		}
	}
}

// TestTerraformIssuerFieldsAreTheBinarys: the issuers variable's object has
// exactly the fields AUTHZ_ISSUERS takes, so that a field the binary adds
// or renames cannot be missing here, or be refused at start-up.
func TestTerraformIssuerFieldsAreTheBinarys(t *testing.T) {
	var want []string
	ty := reflect.TypeFor[identity.IssuerConfig]()
	for i := range ty.NumField() {
		want = append(want, strings.Split(ty.Field(i).Tag.Get("json"), ",")[0])
	}
	slices.Sort(want)
	for _, dir := range append([]string{authorizerMod}, folders(t, examplesDir)...) {
		v, ok := loadModule(t, dir).variables["issuers"]
		if !ok {
			t.Errorf("%s: no issuers variable", dir)
			continue
		}
		if !v.typ.IsListType() || !v.typ.ElementType().IsObjectType() {
			t.Errorf("%s: issuers is %s, not a list of objects", dir, v.typ.FriendlyName())
			continue
		}
		var got []string
		for name := range v.typ.ElementType().AttributeTypes() {
			got = append(got, name)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: issuers' fields are %v; AUTHZ_ISSUERS takes %v", dir, got, want)
		}
	}
	// And what the module writes is what the binary parses back.
	in := instantiate(t, loadModule(t, authorizerMod), requiredArgs())
	issuers, err := identity.ParseIssuers(in.locals["environment"].GetAttr("AUTHZ_ISSUERS").AsString())
	if err != nil || len(issuers) != 1 || issuers[0].Profile != "okta" || issuers[0].Audiences[0] != "api://default" {
		t.Errorf("AUTHZ_ISSUERS parses to %+v, %v", issuers, err)
	}
}
