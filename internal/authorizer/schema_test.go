package authorizer

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"

	"github.com/apigw-authz/authz/bundles"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
)

// TestInputSchemaMatchesTheInput keeps bundles/schemas/input.json, which policy
// authors type-check against, the same as the documents the authorizer builds.
func TestInputSchemaMatchesTheInput(t *testing.T) {
	var schema struct {
		Properties struct {
			Request struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"request"`
			Token struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"token"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(bundles.InputSchema, &schema); err != nil {
		t.Fatal(err)
	}
	req := (&gateway.Request{}).Document()
	tok := (&identity.Token{}).Document()
	for name, pair := range map[string][2][]string{
		"request": {slices.Sorted(maps.Keys(schema.Properties.Request.Properties)), slices.Sorted(maps.Keys(req))},
		"token":   {slices.Sorted(maps.Keys(schema.Properties.Token.Properties)), slices.Sorted(maps.Keys(tok))},
	} {
		if !slices.Equal(pair[0], pair[1]) {
			t.Errorf("input.%s: the schema has %v, the authorizer builds %v", name, pair[0], pair[1])
		}
	}
}
