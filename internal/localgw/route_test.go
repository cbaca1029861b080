package localgw

import (
	"maps"
	"strings"
	"testing"
)

// TestRoutesMatchAsAPIGateway selects routes as API Gateway does: the most
// specific template first (a literal segment over a {parameter} over a
// {greedy+} one, from the left), a method over ANY on the same template, and
// $default for what nothing else takes. The routes are those of API Gateway's
// guide to HTTP API routing, and a few more.
func TestRoutesMatchAsAPIGateway(t *testing.T) {
	routes, err := ParseRoutes("http", []string{
		"GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default",
		"get /orders/{id}", "ANY /orders/{id}", "DELETE /orders/{id}/items/{item}", "GET /", "GET /files/{path+}",
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, path, key string
		params            map[string]string
	}{
		{"GET", "/pets/dog/1", "GET /pets/dog/1", map[string]string{}},
		{"GET", "/pets/dog/2", "GET /pets/dog/{id}", map[string]string{"id": "2"}},
		{"GET", "/pets/cat/1", "GET /pets/{proxy+}", map[string]string{"proxy": "cat/1"}},
		{"POST", "/pets/dog/1", "ANY /{proxy+}", map[string]string{"proxy": "pets/dog/1"}},
		{"GET", "/test", "ANY /{proxy+}", map[string]string{"proxy": "test"}},
		{"GET", "/orders/7", "GET /orders/{id}", map[string]string{"id": "7"}},
		{"PATCH", "/orders/7", "ANY /orders/{id}", map[string]string{"id": "7"}},
		{"DELETE", "/orders/7/items/a%2Fb", "DELETE /orders/{id}/items/{item}", map[string]string{"id": "7", "item": "a%2Fb"}},
		{"GET", "/files/a/b/c.txt", "GET /files/{path+}", map[string]string{"path": "a/b/c.txt"}},
		{"GET", "/", "GET /", map[string]string{}},
		{"POST", "/", "$default", map[string]string{}},
	}
	for _, tt := range tests {
		r, params, ok := routes.Match(tt.method, tt.path)
		if !ok || r.Key != tt.key || !maps.Equal(params, tt.params) {
			t.Errorf("%s %s: %q %v (matched %v), want %q %v", tt.method, tt.path, r.Key, params, ok, tt.key, tt.params)
		}
	}

	// Without a catch-all, a request no route takes has none: API Gateway
	// answers it without calling the authorizer.
	routes, err = ParseRoutes("rest", []string{"GET /orders/{id}", "ANY /files/{path+}"})
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range [][2]string{{"DELETE", "/orders/7"}, {"GET", "/orders"}, {"GET", "/orders/7/items"}, {"GET", "/files"}, {"GET", "/"}} {
		if r, _, ok := routes.Match(req[0], req[1]); ok {
			t.Errorf("%s %s matched %q", req[0], req[1], r.Key)
		}
	}
}

func TestParseRoutesRefusesWhatAPIGatewayRefuses(t *testing.T) {
	tests := []struct {
		kind  string
		specs []string
		want  string
	}{
		{"http", []string{"/orders"}, "is not METHOD /path"},
		{"http", []string{"FETCH /orders"}, "method FETCH"},
		{"http", []string{"GET orders"}, "must start with /"},
		{"http", []string{"GET /orders/"}, "empty segment"},
		{"http", []string{"GET /orders//x"}, "empty segment"},
		{"http", []string{"GET /{proxy+}/x"}, "greedy"},
		{"http", []string{"GET /orders/x{id}"}, "a whole segment"},
		{"http", []string{"GET /orders/{}"}, "names no parameter"},
		{"http", []string{"GET /{id}/{id}"}, "twice"},
		{"http", []string{"GET /orders/{id}", "GET /orders/{key}"}, "same route"},
		{"http", []string{"$default", "$default"}, "same route"},
		{"rest", []string{"$default"}, "REST APIs have no $default route"},
		{"http", []string{" "}, "is not METHOD /path"},
	}
	for _, tt := range tests {
		_, err := ParseRoutes(tt.kind, tt.specs)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %q: %v, want an error saying %q", tt.kind, tt.specs, err, tt.want)
		}
	}
}
