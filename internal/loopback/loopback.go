// Package loopback says what is this machine and nothing else: the one rule for
// the http:// URLs the authorizer may fetch, the addresses the local tools may
// listen on, and the Host a local tool may be asked for. It never widens
// anything to a network address.
package loopback

import (
	"net"
	"net/http"
	"strings"
)

// Host reports whether host (a name or an IP, without port) is this machine:
// "localhost" or a loopback IP.
func Host(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Addr reports whether a listening address (host:port) is an IP literal on
// loopback. Names are refused: a resolver could send them elsewhere.
func Addr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// Guard refuses requests that do not name this machine in their Host header, as
// a page that rebinds its own domain to 127.0.0.1 would, and requests a browser
// marks as cross-site. A tool that is only for the person at the keyboard should
// answer only them.
func Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		if !Host(host) {
			http.Error(w, "this local tool answers only requests for 127.0.0.1, [::1] or localhost", http.StatusMisdirectedRequest)
			return
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			http.Error(w, "cross-site requests are refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}
