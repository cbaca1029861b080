package identity

import (
	"strings"
	"testing"
)

// TestInspectRefusesRepeatedMemberNames is the table of what the one pass over
// a token's header and payload accepts and refuses: exact repeats at any depth,
// names compared once unescaped; case variants at the top level only, where
// struct fields match names without regard to case; nesting beyond 64 levels.
func TestInspectRefusesRepeatedMemberNames(t *testing.T) {
	const header = `{"alg":"RS256","kid":"k"}`
	nest := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }
	tests := []struct {
		name, header, payload string
		want                  string // a part of the message; "" for no error
	}{
		{"no members", `{"alg":"RS256"}`, `{}`, ""},
		{"plain claims", header, `{"iss":"https://i","sub":"s","aud":["a","b"],"exp":1}`, ""},
		{"the same name in sibling and nested objects", header, `{"a":{"a":{"a":1}},"b":{"a":2},"c":[{"a":1},{"a":2}]}`, ""},
		{"repeated values in an array", header, `{"groups":["x","x",{"a":1},{"a":1}]}`, ""},
		{"a value equal to a name", header, `{"a":"b","b":"a"}`, ""},
		{"case variants inside a claim", header, `{"x":{"kid":"a","KID":"b"}}`, ""},
		{"names differing by a character", header, `{"kid":"a","kid2":"b","ki":"c"}`, ""},
		{"underscore and hyphen variants", header, `{"at_hash":"a","at-hash":"b","athash":"c"}`, ""},
		{"white space around", " " + header + "\n", "\t{\"a\" : 1 }\r\n", ""},
		{"64 levels", header, nest(64), ""},

		{"65 levels of objects", header, nest(65), "the payload nests deeper than 64 levels"},
		{"65 levels of arrays", header, `{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, "the payload nests deeper than 64 levels"},
		{"a thousand levels", header, `{"a":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`, "the payload nests deeper than 64 levels"},
		{"deep header", `{"alg":"RS256","x":` + nest(64) + `}`, `{}`, "the header nests deeper than 64 levels"},
		{"repeated in the header", `{"alg":"RS256","alg":"RS256"}`, `{}`, "the header repeats a member name"},
		{"repeated with the same value", header, `{"sub":"a","sub":"a"}`, "the payload repeats a member name"},
		{"repeated, one escaped", header, `{"a":1,"\u0061":2}`, "the payload repeats a member name"},
		{"repeated, both escaped differently", header, `{"\u00e9":1,"\u00E9":2}`, "the payload repeats a member name"},
		{"repeated, escaped and UTF-8", header, `{"é":1,"\u00e9":2}`, "the payload repeats a member name"},
		{"repeated, escaped solidus", header, `{"a/b":1,"a\/b":2}`, "the payload repeats a member name"},
		{"repeated in a nested object", header, `{"a":{"b":{"c":1,"c":2}}}`, "the payload repeats a member name"},
		{"repeated in an object in an array", header, `{"a":[{"b":1},{"c":1,"c":2}]}`, "the payload repeats a member name"},
		{"repeated in an object in nested arrays", header, `{"a":[[[{"b":1,"b":2}]]]}`, "the payload repeats a member name"},
		{"repeated empty name", header, `{"":1,"":2}`, "the payload repeats a member name"},
		{"case variant in the header", `{"alg":"RS256","kid":"a","KID":"b"}`, `{}`, "the header has two member names that differ only in case"},
		{"case variant in the payload", header, `{"iss":"a","Iss":"b"}`, "the payload has two member names that differ only in case"},
		{"case variant with the Kelvin sign", `{"alg":"RS256","kid":"a","\u212aid":"b"}`, `{}`, "the header has two member names that differ only in case"},
		{"case variant with the long s", header, `{"sub":"a","\u017fub":"b"}`, "the payload has two member names that differ only in case"},
		{"invalid UTF-8 in a name", header, "{\"a\xff\":1,\"a\xfe\":2}", "the payload is not valid UTF-8"},
		{"invalid UTF-8 in a value", "{\"alg\":\"RS256\",\"x\":\"\xc0\"}", `{}`, "the header is not valid UTF-8"},
		{"a lone surrogate escape", header, `{"a\udc00":1,"a\udc01":2}`, "the payload is not valid JSON"},
		{"trailing comma", header, `{"a":1,}`, "the payload is not valid JSON"},
		{"truncated", header, `{"a":[1,2`, "the payload is not valid JSON"},
		{"a name that is not a string", header, `{a:1}`, "the payload is not valid JSON"},
		{"data after the object", header, `{"a":1}{"a":2}`, "the payload has data after its JSON object"},
		{"garbage after the object", `{"alg":"RS256"} x`, `{}`, "the header has data after its JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := b64([]byte(tt.header)) + "." + b64([]byte(tt.payload)) + "." + b64([]byte("signature"))
			u, err := inspect(raw)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if u.payload == nil || u.claims == nil {
					t.Fatalf("accepted without reading the payload: %+v", u)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %s . %s", tt.header, tt.payload)
			}
			if ReasonOf(err) != ReasonMalformed || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("refused with %v, want %s and %q", err, ReasonMalformed, tt.want)
			}
			// The message names the part, never a name or value from it.
			for _, s := range []string{"kid", "KID", "sub", "iss", "Iss", "\u212aid", "\u017fub", `"a"`, `"c"`, "é", `\u`, `a\/b`} {
				if strings.Contains(tt.header+tt.payload, s) && strings.Contains(err.Error(), s) {
					t.Fatalf("the message repeats %q from the token: %v", s, err)
				}
			}
		})
	}
}
