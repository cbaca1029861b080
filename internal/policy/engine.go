// Package policy runs the Rego policy. It loads the bundle (embedded, a folder, a
// .tar.gz or an https URL, signed when a key is given), compiles it and prepares
// the decision query once, and evaluates the prepared query per request.
//
// It never decides on its own: a policy that does not compile stops the load, and
// an evaluation that errs, is undefined or does not give a decision document is an
// error for the caller to deny.
package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/apigw-authz/authz/bundles"

	"github.com/apigw-authz/authz/internal/decision"
)

// DefaultQuery is the decision document's default location.
const DefaultQuery = "data.authz.decision"

// Reasons are the stable codes of evaluation failures, for the decision log.
const (
	ReasonEval      = "policy_error"       // evaluation failed: a runtime error, a conflict, a timeout
	ReasonUndefined = "decision_undefined" // the query has no value for this input
	ReasonInvalid   = "decision_invalid"   // the value is not a decision document
	// ReasonNotReady: no bundle has been activated yet (a remote bundle at a
	// cold start), so there is no policy to ask.
	ReasonNotReady = "policy_not_ready"
)

// Error is an evaluation failure.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return "policy: " + e.Reason + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason code of an evaluation error, or "".
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// Options say which policy to load.
type Options struct {
	// Bundle is "" for the embedded default bundle, or AUTHZ_BUNDLE.
	Bundle string
	// PublicKey is AUTHZ_BUNDLE_PUBLIC_KEY: a PEM key or a path to one.
	PublicKey string
	// Query is AUTHZ_QUERY; DefaultQuery when empty.
	Query string
	// Dirs, for local tools, are directories read as one bundle, the first
	// winning where two hold the same file: a policy folder and a data folder,
	// such as rego and bundles/default. They exclude Bundle and PublicKey.
	Dirs []string
	// Mentions, for local tools, keeps what the policy names of the request
	// (Engine.Mentions): a walk of the modules and data that the Lambda does
	// not need at its cold start.
	Mentions bool
	// Shadow is AUTHZ_SHADOW_QUERY: a second decision prepared beside the
	// live one (Engine.ShadowValue); "" for none.
	Shadow string
}

// Engine evaluates one compiled policy. It is safe for concurrent use.
type Engine struct {
	query    rego.PreparedEvalQuery
	text     string
	revision string
	mentions Mentions
	shadow   *shadow
}

// shadow is the shadow query prepared on the same policy, or why it could
// not be: a shadow query the bundle lacks never stops the live one.
type shadow struct {
	query rego.PreparedEvalQuery
	text  string
	err   error
}

// Load reads and compiles the bundle and prepares the query. Errors carry the
// compiler's messages and name the setting at fault.
func Load(ctx context.Context, opts Options) (*Engine, error) {
	if err := CheckQuery(opts.Query); err != nil {
		return nil, err
	}
	b, err := loadBundle(ctx, opts)
	if err != nil {
		return nil, err
	}
	return CompileWith(ctx, b, opts)
}

// CheckQuery says what is wrong with a decision query (AUTHZ_QUERY), if
// anything; "" stands for DefaultQuery.
func CheckQuery(query string) error {
	if query == "" {
		return nil
	}
	ref, err := ast.ParseRef(query)
	if err != nil || !ref.HasPrefix(ast.DefaultRootRef) || len(ref) < 2 {
		return fmt.Errorf("AUTHZ_QUERY %q: must be a reference into data, like %s", query, DefaultQuery)
	}
	return nil
}

// Compile compiles a bundle already read (and verified) and prepares the
// decision query on it: the bundle must define the query, its annotated
// modules must type-check against the input schema, and built-in errors are
// errors. The engine keeps the bundle's data as its own, so that nothing
// changed afterwards reaches it. With mentions, it also keeps what the policy
// names of the request, for Engine.Mentions.
func Compile(ctx context.Context, b *bundle.Bundle, query string, mentions bool) (*Engine, error) {
	return CompileWith(ctx, b, Options{Query: query, Mentions: mentions})
}

// CompileWith is Compile with the query, the shadow query and Mentions of
// opts (its other fields say where a bundle comes from, and are not read).
// A shadow query that does not compile on b is not an error: the engine
// decides, and each shadow evaluation reports why it cannot.
func CompileWith(ctx context.Context, b *bundle.Bundle, opts Options) (*Engine, error) {
	e, err := compile(ctx, b, opts.Query)
	if err != nil {
		return nil, err
	}
	if opts.Mentions {
		e.mentions = mentionsOf(b)
	}
	if opts.Shadow != "" {
		e.shadow = &shadow{text: opts.Shadow}
		sh, err := compile(ctx, b, opts.Shadow)
		if err == nil {
			e.shadow.query = sh.query
		} else {
			e.shadow.err = err
		}
	}
	return e, nil
}

// compile prepares query on b.
func compile(ctx context.Context, b *bundle.Bundle, query string) (*Engine, error) {
	if query == "" {
		query = DefaultQuery
	}
	if err := CheckQuery(query); err != nil {
		return nil, err
	}
	ref := ast.MustParseRef(query)
	if !defines(b, ref) {
		return nil, fmt.Errorf("AUTHZ_QUERY %s: no rule or data of the bundle defines it", query)
	}
	schemas, err := inputSchema()
	if err != nil {
		return nil, err
	}
	r := rego.New(
		rego.Query(query),
		rego.ParsedBundle("policy", b),
		// Modules that annotate `schemas: - input: schema.input` are type-checked
		// against the contract's input document: a misspelt field stops the load.
		rego.Schemas(schemas),
		// A built-in that fails (say, to_number("x")) is an error, hence a deny,
		// not a silently undefined expression that a rule might read as absence.
		rego.StrictBuiltinErrors(true),
		// The store keeps the bundle's data as AST values: a rule reading
		// data.rbac.bindings[kind][value] then costs a lookup, not a
		// conversion of the document it reads on every evaluation.
		rego.StoreReadAST(true),
	)
	pq, err := r.PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compiling the policy: %v", err)
	}
	return &Engine{query: pq, text: query, revision: revision(b)}, nil
}

// defines reports whether a rule or the data of b can give ref a value.
func defines(b *bundle.Bundle, ref ast.Ref) bool {
	query := names(ref)
	for _, m := range b.Modules {
		for _, rule := range m.Parsed.Rules {
			// The rule defines the query, or a document inside it, or the query
			// names something inside the rule's value.
			path := ruleNames(m.Parsed.Package.Path, rule.Head.Ref())
			n := min(len(path), len(query))
			if slices.Equal(path[:n], query[:n]) {
				return true
			}
		}
	}
	node := any(b.Data)
	for _, key := range query[1:] {
		obj, ok := node.(map[string]any)
		if !ok {
			return false
		}
		if node, ok = obj[key]; !ok {
			return false
		}
	}
	return true
}

// names gives the leading constant names of a ref: data.a["b"].c[x] → data a b c.
func names(ref ast.Ref) []string {
	out := make([]string, 0, len(ref))
	for i, t := range ref {
		switch v := t.Value.(type) {
		case ast.Var:
			if i > 0 {
				return out // a variable key, not a name
			}
			out = append(out, string(v))
		case ast.String:
			out = append(out, string(v))
		default:
			return out
		}
	}
	return out
}

// ruleNames gives the names of the document a rule defines: its package's path,
// then its head's name (a Var) and the constant keys after it.
func ruleNames(pkg, head ast.Ref) []string {
	return append(names(pkg), names(head)...)
}

// inputSchema is the schema set holding the input document's schema as schema.input.
func inputSchema() (*ast.SchemaSet, error) {
	var schema any
	if err := util.Unmarshal(bundles.InputSchema, &schema); err != nil {
		return nil, fmt.Errorf("the embedded input schema: %v", err)
	}
	ss := ast.NewSchemaSet()
	ss.Put(ast.MustParseRef("schema.input"), schema)
	return ss, nil
}

// LogPath is a decision query as OPA's decision log names it (the event's
// path): data.authz.decision is authz/decision. A query with a key that is
// not a string has no such name: "".
func LogPath(query string) string {
	ref, err := ast.ParseRef(query)
	if err != nil || len(ref) < 2 {
		return ""
	}
	parts := make([]string, 0, len(ref)-1)
	for _, t := range ref[1:] {
		s, ok := t.Value.(ast.String)
		if !ok {
			return ""
		}
		parts = append(parts, string(s))
	}
	return strings.Join(parts, "/")
}

// Revision identifies the loaded policy: the manifest's revision or a digest.
func (e *Engine) Revision() string { return e.revision }

// Query returns the decision query.
func (e *Engine) Query() string { return e.text }

// Decide evaluates the policy for input and validates the result. Every error is
// an *Error whose Reason says what failed.
func (e *Engine) Decide(ctx context.Context, input map[string]any) (*decision.Decision, error) {
	return e.decide(ctx, input)
}

// DecideAt is Decide with OPA's clock at the time given: time.now_ns (and the
// built-ins that default to it) reads at. It is for tools that ask what the
// policy would say at another moment, as a cached answer is reused later; the
// Lambda decides with Decide, on the real clock.
func (e *Engine) DecideAt(ctx context.Context, input map[string]any, at time.Time) (*decision.Decision, error) {
	return e.decide(ctx, input, rego.EvalTime(at))
}

func (e *Engine) decide(ctx context.Context, input map[string]any, opts ...rego.EvalOption) (*decision.Decision, error) {
	value, err := e.evaluate(ctx, input, opts...)
	if err != nil {
		return nil, err
	}
	return ParseDecision(value)
}

// ParseDecision validates the value of a decision query; a value that is
// not a decision is an *Error with ReasonInvalid.
func ParseDecision(value any) (*decision.Decision, error) {
	d, err := decision.Parse(value)
	if err != nil {
		return nil, &Error{Reason: ReasonInvalid, Err: err}
	}
	return d, nil
}

// ShadowQuery is the shadow query, or "" when there is none.
func (e *Engine) ShadowQuery() string {
	if e.shadow == nil {
		return ""
	}
	return e.shadow.text
}

// ShadowError is why the shadow query does not compile on this policy, or
// nil.
func (e *Engine) ShadowError() error {
	if e.shadow == nil {
		return nil
	}
	return e.shadow.err
}

// ShadowValue evaluates the shadow query for input, a Rego value
// (InputValue), and returns its raw value, as EvaluateValue does for the
// decision query. It is never enforced: the caller logs what it says.
func (e *Engine) ShadowValue(ctx context.Context, input ast.Value) (any, error) {
	switch {
	case e.shadow == nil:
		return nil, &Error{Reason: ReasonUndefined, Err: errors.New("no shadow query is configured")}
	case e.shadow.err != nil:
		return nil, &Error{Reason: ReasonEval, Err: e.shadow.err}
	}
	return evaluateValue(ctx, &e.shadow.query, e.shadow.text, input)
}

// EvaluateValue is Evaluate for an input already converted to a Rego value
// (ast.InterfaceToValue): a caller that needs the value too, as the
// decision log does for OPA's mask rules, converts the input once.
func (e *Engine) EvaluateValue(ctx context.Context, input ast.Value) (any, error) {
	return evaluateValue(ctx, &e.query, e.text, input)
}

// Evaluate returns the raw value of the query for input, before validation.
func (e *Engine) Evaluate(ctx context.Context, input map[string]any) (any, error) {
	return e.evaluate(ctx, input)
}

// InputValue converts an input document to the Rego value the queries
// evaluate; an input that does not convert is a policy_error.
func InputValue(input map[string]any) (ast.Value, error) {
	v, err := ast.InterfaceToValue(input)
	if err != nil {
		return nil, &Error{Reason: ReasonEval, Err: fmt.Errorf("input: %v", err)}
	}
	return v, nil
}

func (e *Engine) evaluate(ctx context.Context, input map[string]any, opts ...rego.EvalOption) (any, error) {
	return evaluate(ctx, &e.query, e.text, input, opts...)
}

func evaluate(ctx context.Context, query *rego.PreparedEvalQuery, text string, input map[string]any, opts ...rego.EvalOption) (any, error) {
	value, err := InputValue(input)
	if err != nil {
		return nil, err
	}
	return evaluateValue(ctx, query, text, value, opts...)
}

func evaluateValue(ctx context.Context, query *rego.PreparedEvalQuery, text string, value ast.Value, opts ...rego.EvalOption) (any, error) {
	rs, err := query.Eval(ctx, append([]rego.EvalOption{rego.EvalParsedInput(value)}, opts...)...)
	if err != nil {
		return nil, &Error{Reason: ReasonEval, Err: err}
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, &Error{Reason: ReasonUndefined, Err: fmt.Errorf("%s is undefined for this input", text)}
	}
	if len(rs) > 1 {
		return nil, &Error{Reason: ReasonInvalid, Err: fmt.Errorf("%s has %d results, not one", text, len(rs))}
	}
	return rs[0].Expressions[0].Value, nil
}

// Mentions are what a policy's text names of the request, for tools that probe
// how its decisions depend on the request: a request without a header the
// policy tests for is no evidence about one with it.
type Mentions struct {
	// Headers, Query and Cookies are the constant keys the modules read of
	// input.request.headers, .query and .cookies: by index (["x-tier"]), by
	// dot (.debug), through an import, or with object.get. Keys held in
	// variables are not followed.
	Headers, Query, Cookies []string
	// Paths are the string constants of the modules and the data that start
	// with "/", as written: prefixes ("/admin"), grant patterns ("/orders/*").
	Paths []string
}

// Mentions returns what the policy names of the request, when the engine was
// compiled to keep it (Options.Mentions), else nothing. The lists are sorted
// and the caller's to keep.
func (e *Engine) Mentions() Mentions {
	m := e.mentions
	return Mentions{Headers: slices.Clone(m.Headers), Query: slices.Clone(m.Query),
		Cookies: slices.Clone(m.Cookies), Paths: slices.Clone(m.Paths)}
}

// mentionsOf walks the bundle's parsed modules and its data.
func mentionsOf(b *bundle.Bundle) Mentions {
	keys := map[string]map[string]bool{"headers": {}, "query": {}, "cookies": {}}
	paths := map[string]bool{}
	for _, mf := range b.Modules {
		m := mf.Parsed
		if m == nil {
			continue
		}
		imports := importedRefs(m)
		// read notes a key read of a request map: ref is the map, key the term.
		read := func(ref ast.Ref, key *ast.Term) {
			ref = resolveImport(ref, imports)
			if len(ref) != 3 || !ref[0].Equal(ast.InputRootDocument) || !ref[1].Equal(ast.StringTerm("request")) {
				return
			}
			field, ok := ref[2].Value.(ast.String)
			name, isString := key.Value.(ast.String)
			if set := keys[string(field)]; ok && isString && set != nil {
				set[string(name)] = true
			}
		}
		ast.NewGenericVisitor(func(x any) bool {
			switch x := x.(type) {
			case ast.Ref:
				for i := 1; i < len(x); i++ {
					read(x[:i], x[i])
				}
			case ast.Call:
				objectGet(x, read)
			case *ast.Expr:
				if terms, ok := x.Terms.([]*ast.Term); ok && x.IsCall() {
					objectGet(ast.Call(terms), read)
				}
			case *ast.Term:
				if s, ok := x.Value.(ast.String); ok && strings.HasPrefix(string(s), "/") {
					paths[string(s)] = true
				}
			}
			return false
		}).Walk(m)
	}
	dataPaths(b.Data, paths)
	return Mentions{Headers: sortedSet(keys["headers"]), Query: sortedSet(keys["query"]),
		Cookies: sortedSet(keys["cookies"]), Paths: sortedSet(paths)}
}

// objectGet calls read for object.get(map, "key", default).
func objectGet(call ast.Call, read func(ast.Ref, *ast.Term)) {
	if len(call) < 3 || call[0].String() != "object.get" {
		return
	}
	if ref, ok := call[1].Value.(ast.Ref); ok {
		read(ref, call[2])
	}
}

// importedRefs maps the names a module's imports bind to what they import.
func importedRefs(m *ast.Module) map[ast.Var]ast.Ref {
	out := map[ast.Var]ast.Ref{}
	for _, imp := range m.Imports {
		ref, ok := imp.Path.Value.(ast.Ref)
		if !ok {
			continue
		}
		out[imp.Name()] = ref
	}
	return out
}

// resolveImport writes a reference through an import (headers["x"] after
// `import input.request.headers`) as the full reference.
func resolveImport(ref ast.Ref, imports map[ast.Var]ast.Ref) ast.Ref {
	if len(ref) == 0 {
		return ref
	}
	head, ok := ref[0].Value.(ast.Var)
	if !ok || head == ast.InputRootDocument.Value.(ast.Var) {
		return ref
	}
	if full, ok := imports[head]; ok {
		return full.Concat(ref[1:])
	}
	return ref
}

// dataPaths adds the strings of the data that start with "/".
func dataPaths(v any, paths map[string]bool) {
	switch v := v.(type) {
	case string:
		if strings.HasPrefix(v, "/") {
			paths[v] = true
		}
	case map[string]any:
		for _, x := range v {
			dataPaths(x, paths)
		}
	case []any:
		for _, x := range v {
			dataPaths(x, paths)
		}
	}
}

func sortedSet(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
