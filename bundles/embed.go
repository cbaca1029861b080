// Package bundles embeds the default bundle's manifest and data, and the input
// document's JSON schema, in the binaries. With the policies of the rego folder
// they make the default bundle.
package bundles

import "embed"

// Default holds default/.manifest and default/data.json.
//
//go:embed default/.manifest default/data.json
var Default embed.FS

// InputSchema is the JSON schema of the input document (schemas/input.json):
// policies that annotate `schemas: - input: schema.input` are type-checked
// against it when they are compiled, by `opa check --schema` and by the authorizer.
//
//go:embed schemas/input.json
var InputSchema []byte
