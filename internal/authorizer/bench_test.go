package authorizer

import (
	"context"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"
)

// BenchmarkHandlerRS256 measures a warm decision through the Lambda handler: a
// REST REQUEST event with an RS256 token, verified against keys already fetched,
// and the embedded default policy. Run:
//
//	go test -run '^$' -bench . -benchmem ./internal/authorizer
func BenchmarkHandlerRS256(b *testing.B) {
	for _, bc := range []struct {
		name, group, method string
	}{
		{"allow", "orders-readers", "GET"},
		{"deny", "orders-readers", "DELETE"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b)
			a := f.authorizer(b, "", nil)
			event := restEvent(bc.method, "/orders/42", bearer(f.token(b, "bench-user", bc.group)))
			h := lambda.Handler(a)
			if _, err := h.Invoke(context.Background(), event); err != nil { // warm: keys fetched
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := h.Invoke(context.Background(), event); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
