package peers

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/apigw-authz/authz/bench/fixture"
	"github.com/apigw-authz/authz/internal/devissuer"
	"github.com/apigw-authz/authz/internal/gateway"
	"github.com/apigw-authz/authz/internal/identity"
	"github.com/apigw-authz/authz/internal/policy"
)

// Bindings is the project's policy engine loaded on the default policy with
// N group bindings.
type Bindings struct {
	N      int
	Engine *policy.Engine
	// Prepare is how long policy.Load took (read, compile, prepare); Heap is
	// the heap it left allocated (after a GC, minus before).
	Prepare time.Duration
	Heap    uint64
}

// LoadBindings writes a bundle with n group bindings to a temporary folder
// and loads it with policy.Load, measuring the time and the retained heap.
func LoadBindings(ctx context.Context, n int) (*Bindings, error) {
	dir, err := os.MkdirTemp("", "authz-bench-bundle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := fixture.WriteBundle(dir, n); err != nil {
		return nil, err
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	e, err := policy.Load(ctx, policy.Options{Bundle: dir})
	prepare := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("%d bindings: %v", n, err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b := &Bindings{N: n, Engine: e, Prepare: prepare}
	if after.HeapAlloc > before.HeapAlloc {
		b.Heap = after.HeapAlloc - before.HeapAlloc
	}
	return b, nil
}

// ProjectInput is the input document the project's authorizer gives the
// policy for an event: the event decoded by gateway.Decode, the token taken
// from its source (which leaves the request) and verified by the project's
// verifier, any other copy of it redacted, then request and token documents.
func ProjectInput(ctx context.Context, iss *devissuer.Issuer, event []byte) (map[string]any, error) {
	ev, err := gateway.Decode(event)
	if err != nil {
		return nil, err
	}
	r := &ev.Request
	raw, err := identity.DefaultSources.Take(r.Headers, r.Cookies, r.Query)
	if err != nil {
		return nil, err
	}
	input := map[string]any{}
	if raw != "" {
		v, err := identity.New([]identity.IssuerConfig{{Issuer: iss.URL, Audiences: []string{iss.Audience()}}}, identity.Options{})
		if err != nil {
			return nil, err
		}
		tok, err := v.Verify(ctx, raw)
		if err != nil {
			return nil, err
		}
		r.Redact(raw)
		input["token"] = tok.Document()
	}
	input["request"] = r.Document()
	return input, nil
}
