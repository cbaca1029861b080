// Package bundles embeds the default bundle's manifest and data in the binaries.
// With the policies of the rego folder they make the default bundle.
package bundles

import "embed"

// Default holds default/.manifest and default/data.json.
//
//go:embed default/.manifest default/data.json
var Default embed.FS
