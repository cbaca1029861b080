package loopback

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHostAndAddr(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.8.9.10": true, "::1": true, "[::1]": true,
		"0.0.0.0": false, "10.0.0.1": false, "example.com": false, "localhost.example.com": false, "": false,
	} {
		if got := Host(host); got != want {
			t.Errorf("Host(%q) = %v", host, got)
		}
	}
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:0": true, "localhost:8080": false, "0.0.0.0:8080": false, ":8080": false, "127.0.0.1": false,
	} {
		if got := Addr(addr); got != want {
			t.Errorf("Addr(%q) = %v", addr, got)
		}
	}
}

func TestGuard(t *testing.T) {
	h := Guard(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct {
		host, site string
		want       int
	}{
		{"127.0.0.1:8080", "", http.StatusTeapot},
		{"localhost:8080", "same-origin", http.StatusTeapot},
		{"[::1]:8080", "none", http.StatusTeapot},
		{"attacker.example", "", http.StatusMisdirectedRequest},
		{"attacker.example:8080", "", http.StatusMisdirectedRequest},
		{"127.0.0.1:8080", "cross-site", http.StatusForbidden},
	} {
		r := httptest.NewRequest("POST", "/mint", nil)
		r.Host = tc.host
		if tc.site != "" {
			r.Header.Set("Sec-Fetch-Site", tc.site)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Host %q, Sec-Fetch-Site %q: %d, want %d", tc.host, tc.site, w.Code, tc.want)
		}
	}
}
