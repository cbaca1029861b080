package localgw

import (
	"strings"
	"testing"

	"github.com/apigw-authz/authz/internal/decision"
)

func TestWildcardWarnings(t *testing.T) {
	tests := []struct {
		method, path string
		example      string // "" for no warning
	}{
		{"GET", "/tenants/*/invoices", "GET /tenants/x/y/invoices"},
		{"*", "/tenants/*/invoices/*", "* /tenants/x/y/invoices/x"},
		{"GET", "/a/x*/b", "GET /a/xx/y/b"},
		{"GET", "/a/*/", "GET /a/x/y/"},
		{"GET", "*/admin", "GET /x/y/admin"},
		{"GET", "/a/*/*", "GET /a/x/y/x"},
		{"GET", "/orders/*", ""},
		{"GET", "/orders/*/", "GET /orders/x/y/"},
		{"GET", "/files/*.pdf", ""},
		{"GET", "/a/?/b", ""},
		{"*", "*", ""},
		{"*", "/profile", ""},
		{"*", "$connect", ""},
	}
	for _, tt := range tests {
		got := WildcardWarnings([]decision.Grant{{Method: tt.method, Path: tt.path}})
		switch {
		case tt.example == "" && len(got) != 0:
			t.Errorf("%s %s: %q, want no warning", tt.method, tt.path, got)
		case tt.example != "" && (len(got) != 1 || !strings.Contains(got[0], "grant "+tt.method+" "+tt.path+":") || !strings.Contains(got[0], "also covers "+tt.example+";")):
			t.Errorf("%s %s: %q, want a warning naming %s", tt.method, tt.path, got, tt.example)
		}
	}
}
