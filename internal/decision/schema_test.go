package decision

import (
	"encoding/json"
	"errors"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// schemaFile is the decision document's JSON schema, for policy authors and
// their tools.
const schemaFile = "../../bundles/schemas/decision.json"

// TestSchemaMatchesParse keeps bundles/schemas/decision.json the same as what
// Parse accepts: the same fields (those of Decision, each read by Parse under
// that name), allow alone required, and the same form of code.
func TestSchemaMatchesParse(t *testing.T) {
	b, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Required   []string `json:"required"`
		Properties map[string]struct {
			Pattern string `json:"pattern"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("%s: %v", schemaFile, err)
	}

	var fields []string
	for f := range reflect.TypeFor[Decision]().Fields() {
		fields = append(fields, snakeCase(f.Name))
	}
	slices.Sort(fields)
	if got := slices.Sorted(maps.Keys(schema.Properties)); !slices.Equal(got, fields) {
		t.Errorf("the schema's properties are %v, the Decision's fields %v", got, fields)
	}
	if !slices.Equal(schema.Required, []string{"allow"}) {
		t.Errorf("the schema requires %v, Parse only allow", schema.Required)
	}
	if got := schema.Properties["code"].Pattern; got != codePattern {
		t.Errorf("the schema's code pattern is %q, Parse's %q", got, codePattern)
	}

	// Parse reads each field under the schema's name: a value of the wrong type
	// there is refused, naming it.
	for name := range schema.Properties {
		doc := map[string]any{"allow": true, name: []any{[]any{}}}
		_, err := Parse(doc)
		var e *Error
		if !errors.As(err, &e) || (e.Field != name && !strings.HasPrefix(e.Field, name+"[")) {
			t.Errorf("Parse(%v) = %v, want an error about %s", doc, err, name)
		}
	}
}

// snakeCase gives a Go field name as the decision document spells it:
// PrincipalID is principal_id.
func snakeCase(name string) string {
	var sb strings.Builder
	for i, r := range name {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rune(name[i-1])) {
			sb.WriteByte('_')
		}
		sb.WriteRune(unicode.ToLower(r))
	}
	return sb.String()
}
