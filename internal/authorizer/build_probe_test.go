package authorizer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/config"
)

// DecideInputAt evaluates with OPA's clock at the time given, for tools that
// ask what a cached decision would be later; Mentions passes the policy's on.
func TestDecideInputAtAndMentions(t *testing.T) {
	dir := t.TempDir()
	rego := "package authz\n\ndecision := {\"allow\": time.now_ns() == 1767225600000000000, \"context\": {\"h\": input.request.headers[\"x-h\"]}}\n"
	if err := os.WriteFile(filepath.Join(dir, "p.rego"), []byte(rego), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.FromEnv(func(string) string { return "" }, true)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Bundle = dir
	cfg.PolicyMentions = true
	a, err := Build(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	input := map[string]any{"request": map[string]any{"method": "GET", "path": "/", "headers": map[string]any{"x-h": "1"}}}
	d, err := a.DecideInputAt(context.Background(), input, time.Unix(1767225600, 0))
	if err != nil || !d.Allow {
		t.Fatalf("DecideInputAt: %+v %v", d, err)
	}
	if m := a.PolicyMentions(); len(m.Headers) != 1 || m.Headers[0] != "x-h" {
		t.Fatalf("PolicyMentions = %+v", m)
	}
}
