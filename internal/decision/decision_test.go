package decision

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func parseJSON(t *testing.T, doc string) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		doc     string
		want    *Decision
		wantErr string
	}{
		{name: "minimal allow", doc: `{"allow":true}`, want: &Decision{Allow: true}},
		{name: "minimal deny", doc: `{"allow":false}`, want: &Decision{}},
		{
			name: "every field",
			doc: `{"allow":true,"principal_id":"u1","usage_identifier_key":"k",
				"grants":[{"method":"get","path":"/b"},{"method":"*","path":"/a/*"},{"method":"GET","path":"/b"}],
				"context":{"tenant":"acme"},"reasons":["r1","r2"],"code":"role_grant","extra":"ignored"}`,
			want: &Decision{Allow: true, PrincipalID: "u1", UsageIdentifierKey: "k",
				Grants:  []Grant{{Method: "*", Path: "/a/*"}, {Method: "GET", Path: "/b"}},
				Context: map[string]any{"tenant": "acme"}, Reasons: []string{"r1", "r2"}, Code: "role_grant"},
		},
		{name: "nulls are absent", doc: `{"allow":false,"principal_id":null,"grants":null,"context":null,"reasons":null,"code":null}`, want: &Decision{}},
		{name: "websocket route grant", doc: `{"allow":true,"grants":[{"method":"*","path":"$connect"}]}`,
			want: &Decision{Allow: true, Grants: []Grant{{Method: "*", Path: "$connect"}}}},
		{name: "empty grants stay empty, not absent", doc: `{"allow":false,"grants":[]}`, want: &Decision{Grants: []Grant{}}},

		{name: "not an object", doc: `true`, wantErr: "the decision is a boolean, not an object"},
		{name: "array", doc: `[{"allow":true}]`, wantErr: "an array, not an object"},
		{name: "null", doc: `null`, wantErr: "null, not an object"},
		{name: "allow missing", doc: `{"grants":[]}`, wantErr: "allow: missing"},
		{name: "allow as a string", doc: `{"allow":"true"}`, wantErr: "allow: is a string, not a boolean"},
		{name: "allow as a number", doc: `{"allow":1}`, wantErr: "allow: is a number, not a boolean"},
		{name: "allow as null", doc: `{"allow":null}`, wantErr: "allow: is null, not a boolean"},
		{name: "principal not a string", doc: `{"allow":true,"principal_id":7}`, wantErr: "principal_id: is a number"},
		{name: "grants not an array", doc: `{"allow":true,"grants":{"method":"GET"}}`, wantErr: "grants: is an object, not an array"},
		{name: "grant not an object", doc: `{"allow":true,"grants":["GET /a"]}`, wantErr: "grants[0]: is a string"},
		{name: "grant without method", doc: `{"allow":true,"grants":[{"path":"/a"}]}`, wantErr: "grants[0].method: missing"},
		{name: "grant with a bad method", doc: `{"allow":true,"grants":[{"method":"ANY","path":"/a"}]}`, wantErr: `grants[0].method: "ANY" is not an HTTP method`},
		{name: "grant method with a wildcard inside", doc: `{"allow":true,"grants":[{"method":"G*","path":"/a"}]}`, wantErr: "is not an HTTP method"},
		{name: "grant without path", doc: `{"allow":true,"grants":[{"method":"GET"}]}`, wantErr: "grants[0].path: missing"},
		{name: "grant with a relative path", doc: `{"allow":true,"grants":[{"method":"GET","path":"a/b"}]}`, wantErr: "must start with /"},
		{name: "grant with an empty path", doc: `{"allow":true,"grants":[{"method":"GET","path":""}]}`, wantErr: "grants[0].path: empty"},
		{name: "grant with a control character", doc: `{"allow":true,"grants":[{"method":"GET","path":"/a\nb"}]}`, wantErr: "control character"},
		{name: "context not an object", doc: `{"allow":true,"context":["a"]}`, wantErr: "context: is an array"},
		{name: "reasons not an array", doc: `{"allow":true,"reasons":"because"}`, wantErr: "reasons: is a string"},
		{name: "reason not a string", doc: `{"allow":true,"reasons":[1]}`, wantErr: "reasons[0]: is a number"},

		// The code is a metric dimension: only a short word of lower snake case.
		{name: "code of one letter", doc: `{"allow":false,"code":"x"}`, want: &Decision{Code: "x"}},
		{name: "code with digits and underscores", doc: `{"allow":false,"code":"deny_2fa_required_"}`, want: &Decision{Code: "deny_2fa_required_"}},
		{name: "code of 64 bytes", doc: `{"allow":false,"code":"` + strings.Repeat("a", 64) + `"}`, want: &Decision{Code: strings.Repeat("a", 64)}},
		{name: "code of 65 bytes", doc: `{"allow":false,"code":"` + strings.Repeat("a", 65) + `"}`, wantErr: "code: "},
		{name: "code not a string", doc: `{"allow":false,"code":7}`, wantErr: "code: is a number, not a string"},
		{name: "code as an array", doc: `{"allow":false,"code":["no_grant"]}`, wantErr: "code: is an array, not a string"},
		{name: "empty code", doc: `{"allow":false,"code":""}`, wantErr: `code: "" is not lower snake case`},
		{name: "code in capitals", doc: `{"allow":false,"code":"NO_GRANT"}`, wantErr: `code: "NO_GRANT" is not lower snake case`},
		{name: "code in camel case", doc: `{"allow":false,"code":"noGrant"}`, wantErr: "code: "},
		{name: "code starting with a digit", doc: `{"allow":false,"code":"2fa"}`, wantErr: "code: "},
		{name: "code starting with an underscore", doc: `{"allow":false,"code":"_no_grant"}`, wantErr: "code: "},
		{name: "code with a hyphen", doc: `{"allow":false,"code":"no-grant"}`, wantErr: "code: "},
		{name: "code with a space", doc: `{"allow":false,"code":"no grant"}`, wantErr: "code: "},
		{name: "code with a path in it", doc: `{"allow":false,"code":"no_grant_for_/orders/42"}`, wantErr: "code: "},
		{name: "code with a trailing newline", doc: `{"allow":false,"code":"no_grant\n"}`, wantErr: "code: "},
		{name: "code with a non-ASCII letter", doc: `{"allow":false,"code":"n\u00f6_grant"}`, wantErr: "code: "},
		{name: "free text as a code is refused, not truncated", doc: `{"allow":false,"code":"` + strings.Repeat("no grant covers GET /orders/42 ", 20) + `"}`, wantErr: `..." is not lower snake case`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(parseJSON(t, tt.doc))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || got != nil {
					t.Fatalf("Parse = %+v, %v; want no decision and an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}
