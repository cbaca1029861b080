package delivery

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/bundle"

	"github.com/apigw-authz/authz/internal/logging"
	"github.com/apigw-authz/authz/internal/policy"
)

// BenchmarkDecide compares a decision of the default policy read once from the
// function package (policy.Engine, as before) with the same bundle kept in
// force by OPA's plugin manager (Policy.Decide: the engine of the last
// activation, and the check whether a new bundle is due). Run:
//
//	go test -run '^$' -bench Decide -benchmem ./internal/delivery
func BenchmarkDecide(b *testing.B) {
	ctx := context.Background()
	embedded, err := policy.Load(ctx, policy.Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv := startBundleServer(b, defaultBundle(b))
	delivered, err := Start(ctx, Options{Bundle: srv.URL + "/b.tar.gz", PollInterval: time.Minute}, logging.JSON(io.Discard, slog.LevelError))
	if err != nil || delivered.Engine() == nil {
		b.Fatalf("%v, engine %v", err, delivered.Engine())
	}
	defer delivered.Stop(ctx)
	input := map[string]any{
		"token":   map[string]any{"subject": "bob", "groups": []any{"orders-readers"}, "roles": []any{}, "scopes": []any{}},
		"request": map[string]any{"method": "GET", "path": "/orders/42"},
	}
	b.Run("embedded", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d, err := embedded.Decide(ctx, input); err != nil || !d.Allow {
				b.Fatal(d, err)
			}
		}
	})
	b.Run("plugin-manager", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d, err := delivered.Decide(ctx, input); err != nil || !d.Allow {
				b.Fatal(d, err)
			}
		}
	})
}

// defaultBundle is the embedded default bundle as a .tar.gz.
func defaultBundle(tb testing.TB) []byte {
	e, err := policy.ReadDirs([]string{"../../rego", "../../bundles/default"})
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := bundle.NewWriter(&buf).Write(*e); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}
