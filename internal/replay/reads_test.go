package replay

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/policy"
)

func TestInputReads(t *testing.T) {
	tests := []struct {
		name string
		rego string
		want []string // pointer and ref
	}{
		{"constant keys", `allow if input.request.headers["x-tier"] == "gold"`,
			[]string{`/input/request/headers/x-tier input.request.headers["x-tier"]`}},
		{"a variable key reads the whole object", `allow if { some name; input.request.headers[name] == "x" }`,
			[]string{`/input/request/headers input.request.headers[name]`}},
		{"iteration reads the whole object", `allow if { some v in input.request.headers; v == "x" }`,
			[]string{`/input/request/headers input.request.headers`}},
		{"bare input", `allow if count(input) > 0`, []string{`/input input`}},
		{"a ref passed whole to a built-in", `allow if count(input.token) > 0`, []string{`/input/token input.token`}},
		{"a ref passed to a function of the policy", `allow if f(input.token)

f(t) if t.subject == "a"`, []string{`/input/token/subject input.token`}},
		{"a function that passes its parameter on", `allow if f(1, input.request)

f(_, r) if g(r.headers)

g(h) if h["x-tier"] == "gold"

g(h) if count(h) > 3`, []string{`/input/request/headers/x-tier input.request`, `/input/request/headers input.request`}},
		{"a parameter a function does not read", `allow if f(input.request)

f(_) := true`, nil},
		{"a parameter matched against a constant", `allow if f(input.request.method)

f("GET") := true`, []string{`/input/request/method input.request.method`}},
		{"a parameter given twice", `allow if f(input.request.path, input.request.route)

f(x, x) := true`, []string{`/input/request/path input.request.path`, `/input/request/route input.request.route`}},
		{"a function's variable key", `allow if { some k in ["a"]; f(input.request.headers[k]) }

f(v) := v == "x"`, []string{`/input/request/headers input.request.headers[k]`}},
		{"through an import", `import input.request.headers as h

allow if h["x-api-key"] == "k"`, []string{`/input/request/headers/x-api-key h["x-api-key"]`}},
		{"an import used whole", `import input.request

allow if count(request) > 1`, []string{`/input/request request`}},
		{"object.get reads its key", `allow if object.get(input.request.headers, "x-tier", "free") == "gold"`,
			[]string{`/input/request/headers/x-tier input.request.headers["x-tier"]`}},
		{"object.get with a path", `allow if object.get(input.request, ["headers", "x-tier"], "free") == "gold"`,
			[]string{`/input/request/headers/x-tier input.request.headers["x-tier"]`}},
		{"object.get with a variable key", `allow if { some k in ["a"]; object.get(input.request.headers, k, "") == "x" }`,
			[]string{`/input/request/headers input.request.headers`}},
		{"a key that reads the input", `allow if data.roles[input.token.subject] == "admin"`,
			[]string{`/input/token/subject input.token.subject`}},
		{"a pointer's escapes", `allow if input.request.query["a/b~c"] == "1"`,
			[]string{`/input/request/query/a~1b~0c input.request.query["a/b~c"]`}},
		{"with is a replacement, not a read", `allow if g with input.x as 1

g if data.y`, nil},
		{"a key of a rule's head", `roles[input.token.subject].since := 1

allow if roles`, []string{`/input/token/subject input.token.subject`}},
		{"data is not input", `allow if data.request.headers.x`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCandidate(t, "package authz\n\n"+tt.rego+"\n\ndecision := {\"allow\": allow}\n\ndefault allow := false\n")
			var got []string
			for _, r := range c.Reads() {
				got = append(got, r.Pointer+" "+r.Ref)
				if !strings.HasSuffix(strings.SplitN(r.At, ":", 2)[0], "authz.rego") {
					t.Errorf("read %+v: want its location in authz.rego", r)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("reads\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

// The default policy passes input.request to lib.iam.covers, which reads
// its method and path alone: the cookies and credentials that rego/log.rego
// erases from every logged input leave its decisions replayable.
func TestInputReadsOfTheDefaultPolicy(t *testing.T) {
	b, err := policy.ReadBundle(context.Background(), policy.Options{Dirs: []string{"../../rego", "../../bundles/default"}})
	if err != nil {
		t.Fatal(err)
	}
	var covers []string
	for _, r := range InputReads(b) {
		for _, masked := range []string{"/input/request/cookies", "/input/request/headers/x-api-key", "/input/request/query/access_token"} {
			if seg, _ := splitPointer(masked); overlaps(seg, r.segments) && !strings.HasPrefix(r.Pointer, "/input/input/") {
				t.Errorf("the default policy reads %s, which the log masks: %s", masked, r)
			}
		}
		if strings.Contains(r.Via, "data.lib.iam.covers as ") {
			covers = append(covers, r.Pointer)
		}
	}
	if !slices.Contains(covers, "/input/request/method") || !slices.Contains(covers, "/input/request/path") {
		t.Errorf("reads through lib.iam.covers: %q, want the request's method and path", covers)
	}
}

func TestInputReadsAcrossModulesInOrder(t *testing.T) {
	dir := writePolicy(t, "package authz\n\ndecision := {\"allow\": lib.ok}\n\nimport data.lib\n")
	writeFile(t, dir, "lib/lib.rego", "package lib\n\nok if {\n\tinput.request.path == \"/\"\n\tinput.request.method == \"GET\"\n}\n")
	b, err := policy.ReadBundle(context.Background(), policy.Options{Dirs: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range InputReads(b) {
		got = append(got, r.Pointer+" "+r.At)
	}
	want := []string{"/input/request/path /lib/lib.rego:4", "/input/request/method /lib/lib.rego:5"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reads %q, want %q", got, want)
	}
}

func TestPointersOverlap(t *testing.T) {
	tests := []struct {
		pointer, read string
		want          bool
	}{
		{"/input/request/headers/x-api-key", "/input/request/headers", true},
		{"/input/request/headers/x-api-key", "/input/request/headers/x-api-key", true},
		{"/input/request", "/input/request/path", true},
		{"/input/request/headers/x-api-key", "/input/request/headers/x-tier", false},
		{"/input/request/cookies", "/input/request/headers", false},
		{"/input/request/query/a~1b", "/input/request/query/a~1b", true},
		{"/input/request/query/a~1b", "/input/request/query/a", false},
		{"/input/token", "/input", true},
	}
	for _, tt := range tests {
		p, ok1 := splitPointer(tt.pointer)
		r, ok2 := splitPointer(tt.read)
		if !ok1 || !ok2 {
			t.Fatalf("%q or %q is not a pointer", tt.pointer, tt.read)
		}
		if got := overlaps(p, r); got != tt.want {
			t.Errorf("overlaps(%s, %s) = %v, want %v", tt.pointer, tt.read, got, tt.want)
		}
	}
	if seg, _ := splitPointer("/input/request/query/a~1b~0c~01"); !reflect.DeepEqual(seg, []string{"input", "request", "query", "a/b~c~1"}) {
		t.Errorf("unescaped %q", seg)
	}
}
