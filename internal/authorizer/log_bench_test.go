package authorizer

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/apigw-authz/authz/internal/config"
	"github.com/apigw-authz/authz/internal/logging"
)

// countingWriter counts the bytes and lines written to it, and keeps none.
type countingWriter struct{ bytes, lines atomic.Int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.bytes.Add(int64(len(p)))
	w.lines.Add(1)
	return len(p), nil
}

// BenchmarkDecisionLog measures a warm decision as the Lambda makes it (Build:
// OPA's plugin manager, its decision-log plugin with the embedded bundle's
// mask rules) with the decision log off, on, with EMF metrics in the line, and
// with a shadow query (the same decision, evaluated a second time), and
// reports the bytes written per decision. Run:
//
//	go test -run '^$' -bench DecisionLog -benchmem ./internal/authorizer
func BenchmarkDecisionLog(b *testing.B) {
	for _, bc := range []struct {
		name string
		env  map[string]string
	}{
		{"off", map[string]string{"AUTHZ_DECISION_LOG": "false", "AUTHZ_METRICS": "off"}},
		{"metrics-only", map[string]string{"AUTHZ_DECISION_LOG": "false"}},
		{"log", map[string]string{"AUTHZ_METRICS": "off"}},
		{"log+emf", nil},
		{"log+emf+shadow", map[string]string{"AUTHZ_SHADOW_QUERY": "data.authz.decision"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b)
			env := map[string]string{"AUTHZ_ISSUERS": `[{"issuer":"` + f.iss.URL + `","audiences":["` + f.iss.Audience() + `"]}]`}
			for k, v := range bc.env {
				env[k] = v
			}
			cfg, err := config.FromEnv(func(k string) string { return env[k] }, false)
			if err != nil {
				b.Fatal(err)
			}
			out := &countingWriter{}
			a, err := Build(context.Background(), cfg, logging.JSON(out, cfg.LogLevel))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = a.Close(context.Background()) })
			event := restEvent("GET", "/orders/42", map[string]string{"Authorization": "Bearer " + f.token(b, "bench-user", "orders-readers"),
				"Cookie": "session=abc; theme=dark", "X-Api-Key": "k-123"})
			h := lambda.NewHandler(a.Handle)
			if _, err := h.Invoke(context.Background(), event); err != nil { // warm: keys fetched
				b.Fatal(err)
			}
			out.bytes.Store(0)
			out.lines.Store(0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := h.Invoke(context.Background(), event); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.bytes.Load())/float64(b.N), "log-B/op")
		})
	}
}
