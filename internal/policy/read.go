package policy

import (
	"context"

	"github.com/open-policy-agent/opa/v1/bundle"
)

// ReadBundle reads the bundle the options name exactly as Load does, within
// the same limits and with the same signature check, without compiling it:
// for tools that look at a policy's modules before they compile it with
// Compile (authz replay works out what a candidate reads of the input).
// Options.Query and Options.Mentions play no part here.
func ReadBundle(ctx context.Context, opts Options) (*bundle.Bundle, error) {
	return loadBundle(ctx, opts)
}
