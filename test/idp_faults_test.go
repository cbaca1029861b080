package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apigw-authz/authz/internal/devissuer"
)

// The identity provider's faults, end to end: the built binary under the
// Lambda runtime, verifying tokens of an issuer on loopback whose discovery
// document and key set fail in each way a real one can.

// idpFault is what the flaky identity provider does with a request.
type idpFault int

const (
	idpHealthy   idpFault = iota
	idpStatus500          // 500 with a body
	idpHang               // holds the request until the client gives up
	idpGarbage            // 200 with HTML instead of JSON
	idpHuge               // 200 with 10 MiB: the real answer after 10 MiB of spaces, no Content-Length
	idpCutOff             // announces 64 KiB, sends the first bytes of the answer, closes the connection
	idpHangUp             // closes the connection without an answer, as a provider that is down
)

var idpFaults = []struct {
	name  string
	fault idpFault
}{
	{"500", idpStatus500}, {"timeout", idpHang}, {"garbage", idpGarbage},
	{"10 MiB", idpHuge}, {"cut off mid-body", idpCutOff}, {"down", idpHangUp},
}

// The function's bounds in these tests: each fetch gives up after
// idpTimeout, and a failed (or any) fetch is not tried again within
// idpCooldown.
const (
	idpTimeout  = 500 * time.Millisecond
	idpCooldown = time.Second
)

// flakyIdP is an OpenID provider on loopback that serves its own discovery
// document and passes its key set through from a development issuer, which
// holds the keys and mints the tokens; either answer can be made to fail.
type flakyIdP struct {
	URL string
	iss *devissuer.Issuer

	mu                sync.Mutex
	discovery, keys   idpFault
	discoveries, sets []time.Time // when each request for the document or the key set came
	closed            chan struct{}
}

func startFlakyIdP(t *testing.T) *flakyIdP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyIdP{URL: "http://" + ln.Addr().String(), iss: startIssuer(t), closed: make(chan struct{})}
	srv := &http.Server{Handler: http.HandlerFunc(p.handle)}
	go srv.Serve(ln)
	t.Cleanup(func() {
		close(p.closed)
		srv.Close()
	})
	return p
}

// set makes the discovery document and the key set fail (or not) from now on.
func (p *flakyIdP) set(discovery, keys idpFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.discovery, p.keys = discovery, keys
}

// waitOutCooldown sleeps until a cooldown (and a little) has passed since
// the last request for the key set: a function's next fetch is then allowed.
func (p *flakyIdP) waitOutCooldown() {
	p.mu.Lock()
	var last time.Time
	if n := len(p.sets); n > 0 {
		last = p.sets[n-1]
	}
	p.mu.Unlock()
	time.Sleep(time.Until(last.Add(idpCooldown + 50*time.Millisecond)))
}

// requests counts the requests for the discovery document and for the key
// set since the given time.
func (p *flakyIdP) requests(since time.Time) (discoveries, sets int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	count := func(ts []time.Time) (n int) {
		for _, at := range ts {
			if !at.Before(since) {
				n++
			}
		}
		return n
	}
	return count(p.discoveries), count(p.sets)
}

func (p *flakyIdP) env() map[string]string {
	return map[string]string{
		"AUTHZ_ISSUERS":       string(mustJSON([]map[string]any{{"issuer": p.URL, "audiences": []string{p.iss.Audience()}}})),
		"AUTHZ_IDP_TIMEOUT":   idpTimeout.String(),
		"AUTHZ_JWKS_COOLDOWN": idpCooldown.String(),
	}
}

// mint is a token of this provider, signed with the development issuer's
// current key.
func (p *flakyIdP) mint(t *testing.T, sub string, groups ...string) string {
	t.Helper()
	return mint(t, p.iss, sub, func(c map[string]any) {
		c["iss"] = p.URL
		c["groups"] = groups
	})
}

func (p *flakyIdP) handle(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	var fault idpFault
	var body []byte
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		fault = p.discovery
		p.discoveries = append(p.discoveries, time.Now())
		body = mustJSON(map[string]any{
			"issuer": p.URL, "jwks_uri": p.URL + "/keys",
			"response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
			"id_token_signing_alg_values_supported": []string{p.iss.Algorithm()},
		})
	case "/keys":
		fault = p.keys
		p.sets = append(p.sets, time.Now())
	default:
		p.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	p.mu.Unlock()
	if body == nil {
		resp, err := http.Get(p.iss.JWKSURL())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	switch fault {
	case idpHealthy:
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	case idpStatus500:
		http.Error(w, "internal error", http.StatusInternalServerError)
	case idpHang:
		select {
		case <-r.Context().Done():
		case <-p.closed:
		}
	case idpGarbage:
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>Service temporarily unavailable</body></html>"))
	case idpHuge:
		// Valid JSON, were it read whole: only the size cap refuses it.
		w.Header().Set("Content-Type", "application/json")
		spaces := bytes.Repeat([]byte(" "), 64<<10)
		for range 160 {
			if _, err := w.Write(spaces); err != nil {
				return
			}
		}
		w.Write(body)
	case idpCutOff, idpHangUp:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if fault == idpCutOff {
			fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", 64<<10)
			conn.Write(body[:len(body)/2])
		}
		conn.Close()
	}
}

// checkIdPCall holds one answer to what an identity provider's fault allows:
// never an Allow unless wanted, and an answer in time (checkTook).
func checkIdPCall(t *testing.T, what string, c call, outcome, reason string) {
	t.Helper()
	if c.outcome != outcome || c.reason != reason {
		t.Fatalf("%s: %s/%s, want %s/%s", what, c.outcome, c.reason, outcome, reason)
	}
	checkTook(t, what, c)
}

// checkTook holds an answer to the fetch timeout, which bounds how long a
// request waits for the provider, with a second's slack for a loaded machine.
func checkTook(t *testing.T, what string, c call) {
	t.Helper()
	if limit := idpTimeout + time.Second; c.took > limit {
		t.Fatalf("%s: answered in %v, more than the fetch timeout %v and a second", what, c.took, idpTimeout)
	}
}

// idpAttempts is the most requests for one document a function may make in
// the time given: one at once, and one per cooldown after it. net/http sends
// a GET again, once, when a connection it reused closes without an answer,
// so a provider that hangs up sees each attempt twice.
func idpAttempts(f idpFault, in time.Duration) int {
	n := 1 + int(in/idpCooldown)
	if f == idpHangUp {
		n *= 2
	}
	return n
}

// recovers asks with token until it is allowed, once the provider answers
// again: until then each answer must be the provider's failure, in time, and
// the function must get there without another start-up. It says how many
// invocations and how long that took.
func recovers(t *testing.T, fn *function, what, token string) (int, time.Duration) {
	t.Helper()
	n, took := followed(t, fn, 3*idpCooldown, func() call { return ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+token) },
		func(c call) bool {
			if c.outcome != "allow" {
				checkIdPCall(t, what+", provider back", c, "error", "idp_unavailable")
			}
			return c.outcome == "allow"
		})
	if r := readyLines(fn); r != 1 {
		t.Fatalf("%d start-ups logged, want 1", r)
	}
	return n, took
}

// readyLines counts the start-ups the function logged: a recovery must not
// need another.
func readyLines(fn *function) int { return len(matching(fn, 0, "authorizer ready")) }

// TestIdentityProviderFaultsAtColdStart starts the function while the
// provider's discovery document, or its key set, fails in each way. Until the
// provider answers, a request with a valid token is denied (error,
// idp_unavailable: the token is not at fault, so not Unauthorized, which
// would send the user to log in again) within the fetch timeout, the provider
// is asked at most once per cooldown, and only a token that cannot verify
// whatever the provider says is Unauthorized. Once it answers, the same
// process allows the token: no cold start is needed.
func TestIdentityProviderFaultsAtColdStart(t *testing.T) {
	t.Parallel()
	for _, part := range []string{"discovery", "key set"} {
		for _, f := range idpFaults {
			t.Run(part+"/"+f.name, func(t *testing.T) {
				t.Parallel()
				p := startFlakyIdP(t)
				if part == "discovery" {
					p.set(f.fault, idpHealthy)
				} else {
					p.set(idpHealthy, f.fault)
				}
				admin := p.mint(t, "alice", "admins")
				start := time.Now()
				fn := startFunction(t, p.env())
				fn.checkOutput(noLineHoldsTokens(admin))
				fn.awaitReady(t)

				for i := range 6 {
					c := ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+admin)
					checkIdPCall(t, fmt.Sprintf("request %d, valid token", i), c, "error", "idp_unavailable")
					checkIdPCall(t, "not a token", ask(t, fn, deliveryMethod, deliveryPath, "Bearer not-a-jwt"), "unauthorized", "token_malformed")
					time.Sleep(150 * time.Millisecond)
				}
				discoveries, sets := p.requests(start)
				if allowed := idpAttempts(f.fault, time.Since(start)); discoveries > allowed || sets > allowed {
					t.Fatalf("%d requests for the document and %d for the key set in %v; at most %d of each with a cooldown of %v",
						discoveries, sets, time.Since(start).Round(time.Millisecond), allowed, idpCooldown)
				}

				p.set(idpHealthy, idpHealthy)
				n, took := recovers(t, fn, "valid token", admin)
				t.Logf("faulty: %d document and %d key-set requests; allowed %d invocations and %v after the provider came back, no cold start",
					discoveries, sets, n, took.Round(time.Millisecond))
			})
		}
	}
}

// TestIdentityProviderFaultsWhenWarm breaks the key set of a provider whose
// keys the function holds. Tokens signed with a held key keep verifying; a
// token signed with a key the provider has just published cannot be told
// from a forgery until the set can be fetched, so it is denied as
// idp_unavailable, not Unauthorized; a token with a key id nobody published
// is the same until then, and Unauthorized after. Once the set answers, the
// new key verifies, without a cold start.
func TestIdentityProviderFaultsWhenWarm(t *testing.T) {
	t.Parallel()
	rogue, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range idpFaults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			p := startFlakyIdP(t)
			admin := p.mint(t, "alice", "admins")
			fn := startFunction(t, p.env())
			fn.awaitReady(t)
			checkIdPCall(t, "healthy", ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+admin), "allow", "policy_allowed")

			p.set(idpHealthy, f.fault)
			if _, err := p.iss.Rotate(); err != nil {
				t.Fatal(err)
			}
			rotated := p.mint(t, "bob", "admins")
			claims := p.iss.Claims("mallory")
			claims["iss"], claims["groups"] = p.URL, []string{"admins"}
			forged := forgeKid(t, claims, rogue, "made-up")
			fn.checkOutput(noLineHoldsTokens(admin, rotated, forged))
			p.waitOutCooldown() // the start-up fetch no longer holds a new one back
			start := time.Now()
			for i := range 6 {
				checkIdPCall(t, fmt.Sprintf("request %d, held key", i), ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+admin), "allow", "policy_allowed")
				checkIdPCall(t, fmt.Sprintf("request %d, new key", i), ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+rotated), "error", "idp_unavailable")
				checkIdPCall(t, fmt.Sprintf("request %d, made-up key id", i), ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+forged), "error", "idp_unavailable")
				time.Sleep(150 * time.Millisecond)
			}
			_, sets := p.requests(start)
			if allowed := idpAttempts(f.fault, time.Since(start)); sets > allowed {
				t.Fatalf("%d key-set requests in %v; at most %d with a cooldown of %v", sets, time.Since(start).Round(time.Millisecond), allowed, idpCooldown)
			}

			p.set(idpHealthy, idpHealthy)
			n, took := recovers(t, fn, "new key", rotated)
			checkIdPCall(t, "made-up key id, provider back", ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+forged), "unauthorized", "token_unknown_key")
			checkIdPCall(t, "held key, provider back", ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+admin), "allow", "policy_allowed")
			t.Logf("faulty: %d key-set requests; the new key verified %d invocations and %v after the set answered again",
				sets, n, took.Round(time.Millisecond))
		})
	}
}

// noLineHoldsTokens is an output check: no line holds the signature of any
// of the tokens (the part that makes a token usable).
func noLineHoldsTokens(tokens ...string) func(t *testing.T, lines []string) {
	return func(t *testing.T, lines []string) {
		for _, line := range lines {
			for _, tok := range tokens {
				if sig := tok[strings.LastIndexByte(tok, '.')+1:]; strings.Contains(line, sig) {
					t.Errorf("a log line holds a token: %s", line)
				}
			}
		}
	}
}

// TestIdentityProviderKeyRotationUnderTraffic rotates the provider's keys as
// requests flow, one after another as Lambda hands them to an instance: a new
// key is published and signs from then on, and later the first is removed
// and a third takes over. A token of a new key verifies at its first request
// (one key-set fetch for it), every token of a published key keeps verifying,
// and the token of the removed key is Unauthorized from the fetch that shows
// it gone, never allowed after it.
func TestIdentityProviderKeyRotationUnderTraffic(t *testing.T) {
	t.Parallel()
	p := startFlakyIdP(t)
	first := p.mint(t, "alice", "admins")
	fn := startFunction(t, p.env())
	fn.awaitReady(t)
	// traffic asks with each token in turn for the time given and holds every
	// answer to want, which says what a token's answer must be.
	traffic := func(phase string, d time.Duration, tokens []string, want func(i int, c call)) (calls int) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			for i, tok := range tokens {
				c := ask(t, fn, deliveryMethod, deliveryPath, "Bearer "+tok)
				checkTook(t, fmt.Sprintf("%s, token %d", phase, i), c)
				want(i, c)
				calls++
			}
		}
		return calls
	}
	allowed := func(phase string) func(i int, c call) {
		return func(i int, c call) {
			if c.outcome != "allow" {
				t.Fatalf("%s, token %d: %s/%s, want allow", phase, i, c.outcome, c.reason)
			}
		}
	}
	traffic("one key", 300*time.Millisecond, []string{first}, allowed("one key"))

	// A fetch for a new key waits for the cooldown of the start-up fetch:
	// providers publish keys ahead of using them, and a token signed with a
	// key published within a cooldown of the last fetch is refused until it
	// ends (see the README's rotation trade-off).
	p.waitOutCooldown()
	mark := time.Now()
	if _, err := p.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	second := p.mint(t, "bob", "admins")
	n := traffic("a second key", idpCooldown+200*time.Millisecond, []string{second, first}, allowed("a second key"))
	if _, sets := p.requests(mark); sets != 1 {
		t.Fatalf("%d key-set fetches for the second key, want 1", sets)
	}
	t.Logf("a second key: %d requests, all allowed, one key-set fetch", n)

	p.waitOutCooldown()
	mark = time.Now()
	if err := p.iss.Retire(keyID(t, first)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	third := p.mint(t, "carol", "admins")
	refused := 0
	n = traffic("the first key removed", idpCooldown+200*time.Millisecond, []string{third, second, first}, func(i int, c call) {
		if i < 2 {
			allowed("the first key removed")(i, c)
			return
		}
		// The third key's token came first: its fetch has shown the first
		// key gone.
		if c.outcome != "unauthorized" || c.reason != "token_unknown_key" {
			t.Fatalf("the removed key's token: %s/%s, want unauthorized/token_unknown_key", c.outcome, c.reason)
		}
		refused++
	})
	// The removed key's token asks for the set again once per cooldown.
	_, sets := p.requests(mark)
	if most := idpAttempts(idpHealthy, time.Since(mark)); sets < 1 || sets > most {
		t.Fatalf("%d key-set fetches in %v, want 1 to %d", sets, time.Since(mark).Round(time.Millisecond), most)
	}
	t.Logf("the first key removed, a third in use: %d requests; the removed key's token refused %d times, the others allowed; %d key-set fetches", n, refused, sets)
}

// keyID is the kid in a token's header.
func keyID(t *testing.T, token string) string {
	t.Helper()
	var header struct {
		Kid string `json:"kid"`
	}
	b, err := base64.RawURLEncoding.DecodeString(token[:strings.IndexByte(token, '.')])
	if err != nil || json.Unmarshal(b, &header) != nil || header.Kid == "" {
		t.Fatalf("no kid in the token's header %q", b)
	}
	return header.Kid
}
