package replay

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/bundle"
)

// Read is a place of the input a policy reads: the constant part of a
// reference to input, as a JSON pointer, and where the policy reads it.
type Read struct {
	// Pointer is the part read, as a JSON pointer (RFC 6901): /input/request/headers
	// for input.request.headers[name], /input for a bare input.
	Pointer string `json:"pointer"`
	// Ref is the reference as the policy writes it, through an import's name
	// if it uses one.
	Ref string `json:"ref"`
	// At is file:row in the bundle, or "" when the parser gave no location.
	At string `json:"at,omitempty"`
	// Via, for a reference passed to a function of the policy, says how the
	// function reads it: "data.lib.iam.covers as request.method at
	// /lib/iam.rego:12".
	Via string `json:"via,omitempty"`

	segments []string
	file     string
	row      int
}

func (r Read) String() string {
	s := r.Ref
	if r.At != "" {
		s += " at " + r.At
	}
	if r.Via != "" {
		s += " (read in " + r.Via + ")"
	}
	return s
}

// InputReads walks the parsed modules of b for every reference to input and
// returns what each one reads, in file and row order. A reference reads its
// constant prefix, up to its first key that is not a string:
// input.request.headers[name] reads /input/request/headers, and a bare
// input, or a reference passed whole to a built-in function, reads all of
// what it names. Imports of input are followed (import input.request.headers
// as h; h.x). A reference passed whole to a function of the policy reads
// what that function reads of its argument, followed through the functions
// it calls in turn: iam.covers(grant, input.request) reads
// /input/request/method and /input/request/path when covers reads only
// request.method and request.path. object.get(ref, "key", default) and
// object.get(ref, ["a", "b"], default) read the key, not the whole object. A
// `with` modifier's target is a replacement, not a read.
//
// The walk is of the text, not of what an evaluation reaches: a rule that is
// never evaluated still counts. It may see more reads than an evaluation does,
// never fewer.
func InputReads(b *bundle.Bundle) []Read {
	w := newWalker(b)
	var out []Read
	seen := map[string]bool{}
	for _, s := range w.scopes {
		root := func(ref ast.Ref) ([]string, bool) {
			if ref[0].Equal(ast.InputRootDocument) {
				return []string{"input"}, true
			}
			if v, ok := ref[0].Value.(ast.Var); ok {
				if imported, ok := s.inputs[v]; ok {
					return append([]string{"input"}, constantPrefix(imported)...), true
				}
			}
			return nil, false
		}
		w.walk(s.module, s, root, func(u use) {
			r := readOf(u)
			if key := strings.Join([]string{r.Pointer, r.Ref, r.At, r.Via}, "\x00"); !seen[key] {
				seen[key] = true
				out = append(out, r)
			}
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].file != out[j].file {
			return out[i].file < out[j].file
		}
		return out[i].row < out[j].row
	})
	return out
}

// scope is what a module's names mean.
type scope struct {
	module *ast.Module
	// pkg is the package's path: data lib iam.
	pkg []string
	// inputs are the names that imports of input bind; data those that
	// imports of data bind (import data.lib.iam: iam is data lib iam).
	inputs map[ast.Var]ast.Ref
	data   map[ast.Var][]string
}

// use is a read of a root (input, or a function's parameter): the segments
// below the root, and the term that reads them.
type use struct {
	segments []string
	term     *ast.Term
	written  ast.Ref
	via      string
}

// walker finds the reads of the modules of one bundle.
type walker struct {
	scopes []*scope
	// funcs are the definitions of the policy's functions, by path
	// (data.lib.iam.covers).
	funcs map[string][]funcDef
	// params memoises what a function reads of its parameters; busy marks
	// those being worked out, to cut recursion.
	params map[string][]use
	busy   map[string]bool
}

// funcDef is one definition of a function.
type funcDef struct {
	rule  *ast.Rule
	scope *scope
}

func newWalker(b *bundle.Bundle) *walker {
	w := &walker{funcs: map[string][]funcDef{}, params: map[string][]use{}, busy: map[string]bool{}}
	for _, mf := range b.Modules {
		m := mf.Parsed
		if m == nil {
			continue
		}
		s := &scope{module: m, pkg: names(m.Package.Path), inputs: map[ast.Var]ast.Ref{}, data: map[ast.Var][]string{}}
		for _, imp := range m.Imports {
			ref, ok := imp.Path.Value.(ast.Ref)
			switch {
			case !ok || len(ref) == 0:
			case ref[0].Equal(ast.InputRootDocument):
				s.inputs[imp.Name()] = ref
			case ref[0].Equal(ast.DefaultRootDocument):
				s.data[imp.Name()] = names(ref)
			}
		}
		w.scopes = append(w.scopes, s)
		for _, rule := range m.Rules {
			if len(rule.Head.Args) > 0 {
				path := strings.Join(append(slices.Clone(s.pkg), names(rule.Head.Ref())...), ".")
				w.funcs[path] = append(w.funcs[path], funcDef{rule: rule, scope: s})
			}
		}
	}
	return w
}

// walk calls add for each read of the root in node. root tells whether a
// reference starts at the root, and the segments its head stands for.
func (w *walker) walk(node any, s *scope, root func(ast.Ref) ([]string, bool), add func(use)) {
	// refUse is the read of a reference from the root; complete says that
	// every key of the reference is constant.
	refUse := func(t *ast.Term) (u use, complete, ok bool) {
		var ref ast.Ref
		switch v := t.Value.(type) {
		case ast.Ref:
			ref = v
		case ast.Var:
			ref = ast.Ref{t}
		default:
			return use{}, false, false
		}
		base, ok := root(ref)
		if !ok {
			return use{}, false, false
		}
		keys := constantPrefix(ref)
		return use{segments: append(slices.Clone(base), keys...), term: t, written: ref}, len(keys) == len(ref)-1, true
	}
	var vis *ast.GenericVisitor
	// call handles a call whose arguments a whole-reference rule would read
	// too coarsely, and reports whether it did.
	call := func(terms []*ast.Term) bool {
		op, ok := terms[0].Value.(ast.Ref)
		if !ok {
			return false
		}
		if op.String() == "object.get" && len(terms) == 4 {
			u, complete, ok := refUse(terms[1])
			keys, constant := constantKeys(terms[2])
			if !ok || !complete || !constant {
				return false // a variable key already reads all below it
			}
			u.segments = append(u.segments, keys...)
			u.written = u.written.Concat(keyTerms(keys))
			add(u)
			vis.Walk(terms[3])
			return true
		}
		fn := w.function(op, s)
		if fn == "" {
			return false
		}
		arity := len(w.funcs[fn][0].rule.Head.Args)
		for i, arg := range terms[1:] {
			if u, complete, ok := refUse(arg); ok && complete && i < arity {
				for _, inner := range w.paramReads(fn, i) {
					v := u
					v.segments = append(slices.Clone(u.segments), inner.segments...)
					v.via = fn + " as " + inner.written.String()
					if loc := inner.term.Location; loc != nil {
						v.via += fmt.Sprintf(" at %s:%d", loc.File, loc.Row)
					}
					add(v)
				}
				continue
			}
			vis.Walk(arg)
		}
		return true
	}
	vis = ast.NewGenericVisitor(func(x any) bool {
		switch x := x.(type) {
		case *ast.Package, *ast.Import, *ast.Annotations, *ast.Comment:
			return true // names, not reads; an import's uses are its reads
		case *ast.Head:
			// A function's arguments are its parameters, not reads; the
			// visitor leaves out the keys of a ref head: a[input.x].b := 1.
			if len(x.Reference) > 1 {
				for _, key := range x.Reference[1:] {
					vis.Walk(key)
				}
			}
			if x.Key != nil {
				vis.Walk(x.Key)
			}
			if x.Value != nil {
				vis.Walk(x.Value)
			}
			return true
		case *ast.With:
			vis.Walk(x.Value)
			return true
		case *ast.Expr:
			if terms, ok := x.Terms.([]*ast.Term); ok && x.IsCall() && call(terms) {
				for _, with := range x.With {
					vis.Walk(with)
				}
				return true
			}
		case *ast.Term:
			switch v := x.Value.(type) {
			case ast.Ref:
				if u, _, ok := refUse(x); ok {
					add(u)
				}
				for _, key := range v[1:] {
					vis.Walk(key) // a key may itself read the input: a[input.x]
				}
				return true
			case ast.Var:
				if u, _, ok := refUse(x); ok {
					add(u)
				}
				return true
			case ast.Call:
				return call(v)
			}
		}
		return false
	})
	vis.Walk(node)
}

// function resolves the operator of a call to a function of the policy, or "".
func (w *walker) function(op ast.Ref, s *scope) string {
	head, ok := op[0].Value.(ast.Var)
	if !ok {
		return ""
	}
	rest := constantPrefix(op)
	if len(rest) != len(op)-1 {
		return ""
	}
	var path []string
	switch {
	case op[0].Equal(ast.DefaultRootDocument):
		path = append([]string{"data"}, rest...)
	case s.data[head] != nil:
		path = append(slices.Clone(s.data[head]), rest...)
	default:
		path = append(append(slices.Clone(s.pkg), string(head)), rest...)
	}
	if key := strings.Join(path, "."); w.funcs[key] != nil {
		return key
	}
	return ""
}

// paramReads returns what function fn reads of its parameter i, below it:
// no segment for the whole argument. A definition whose parameter is a
// pattern (a constant, an object, the same name twice) matches the whole
// argument against it. A recursion reads the whole argument.
func (w *walker) paramReads(fn string, i int) []use {
	key := fn + "#" + strconv.Itoa(i)
	if reads, ok := w.params[key]; ok {
		return reads
	}
	defs := w.funcs[fn]
	if w.busy[key] {
		return []use{{term: defs[0].rule.Head.Args[i], written: ast.Ref{defs[0].rule.Head.Args[i]}}}
	}
	w.busy[key] = true
	defer delete(w.busy, key)
	var out []use
	seen := map[string]bool{}
	add := func(u use) {
		if k := strings.Join(u.segments, "\x00"); !seen[k] {
			seen[k] = true
			out = append(out, u)
		}
	}
	for _, d := range defs {
		args := d.rule.Head.Args
		if i >= len(args) {
			continue
		}
		param, ok := args[i].Value.(ast.Var)
		if !ok || occurrences(args, param) > 1 {
			add(use{term: args[i], written: ast.Ref{args[i]}})
			continue
		}
		if param.IsWildcard() {
			continue // not read
		}
		root := func(ref ast.Ref) ([]string, bool) {
			v, ok := ref[0].Value.(ast.Var)
			return nil, ok && v == param
		}
		w.walk(d.rule, d.scope, root, add)
	}
	w.params[key] = out
	return out
}

// occurrences counts v in the arguments of a function's head.
func occurrences(args ast.Args, v ast.Var) int {
	n := 0
	for _, a := range args {
		ast.WalkVars(a, func(x ast.Var) bool {
			if x == v {
				n++
			}
			return false
		})
	}
	return n
}

// constantKeys reads object.get's key argument: a string, or an array of strings.
func constantKeys(t *ast.Term) ([]string, bool) {
	switch k := t.Value.(type) {
	case ast.String:
		return []string{string(k)}, true
	case *ast.Array:
		keys := make([]string, 0, k.Len())
		for i := range k.Len() {
			s, ok := k.Elem(i).Value.(ast.String)
			if !ok {
				return nil, false
			}
			keys = append(keys, string(s))
		}
		return keys, true
	}
	return nil, false
}

func keyTerms(keys []string) ast.Ref {
	out := make(ast.Ref, len(keys))
	for i, k := range keys {
		out[i] = ast.StringTerm(k)
	}
	return out
}

// names gives a reference's head name and the constant keys after it:
// data.lib.iam → data lib iam.
func names(ref ast.Ref) []string {
	if len(ref) == 0 {
		return nil
	}
	head, ok := ref[0].Value.(ast.Var)
	if !ok {
		return nil
	}
	return append([]string{string(head)}, constantPrefix(ref)...)
}

// constantPrefix gives the names of ref's leading string keys after its head.
func constantPrefix(ref ast.Ref) []string {
	out := make([]string, 0, len(ref))
	for _, t := range ref[1:] {
		s, ok := t.Value.(ast.String)
		if !ok {
			break
		}
		out = append(out, string(s))
	}
	return out
}

func readOf(u use) Read {
	r := Read{Pointer: pointer(u.segments), Ref: u.written.String(), Via: u.via, segments: u.segments}
	if loc := u.term.Location; loc != nil {
		r.file, r.row = loc.File, loc.Row
		r.At = fmt.Sprintf("%s:%d", loc.File, loc.Row)
	}
	return r
}

// RFC 6901's escapes: "~1" for "/" and "~0" for "~", unescaped in that order.
var (
	escapeSegment   = strings.NewReplacer("~", "~0", "/", "~1")
	unescapeSegment = strings.NewReplacer("~1", "/", "~0", "~")
)

// pointer writes segments as a JSON pointer.
func pointer(segments []string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(escapeSegment.Replace(s))
	}
	return b.String()
}

// splitPointer reads a JSON pointer (RFC 6901) into its unescaped segments;
// ok is false for a string that is not a pointer.
func splitPointer(p string) (segments []string, ok bool) {
	if p == "" {
		return nil, true
	}
	if p[0] != '/' {
		return nil, false
	}
	for _, s := range strings.Split(p[1:], "/") {
		segments = append(segments, unescapeSegment.Replace(s))
	}
	return segments, true
}

// overlaps reports whether one of a and b is a prefix of the other, segment
// by segment: a masked /input/request/headers/x-api-key and a read of
// /input/request/headers overlap, and so do a masked /input/request and a
// read of /input/request/path.
func overlaps(a, b []string) bool {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
