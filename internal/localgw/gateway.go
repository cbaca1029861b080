package localgw

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/apigw-authz/authz/internal/authorizer"
	"github.com/apigw-authz/authz/internal/gateway"
)

// Headers that carry the authorizer's result to the backend. Values a client
// sends under these names are removed first.
const (
	HeaderPrincipal = "X-Authorizer-Principal-Id"
	HeaderContext   = "X-Authorizer-Context" // a JSON object: $context.authorizer.*
)

// Authorize is the authorizer core the gateway calls.
type Authorize func(ctx context.Context, event []byte) *authorizer.Result

// Options configure a Gateway.
type Options struct {
	// Kind is the event kind built for each request: "rest" or "http" (payload 2.0).
	Kind string
	API  API
	// IdentitySources are what API Gateway requires before it calls the
	// authorizer, and keys its cache on. Empty calls the authorizer every time
	// and needs CacheTTL 0, as in API Gateway.
	IdentitySources IdentitySources
	// CacheTTL is the authorizer result cache's time to live; 0 turns it off.
	CacheTTL time.Duration
	// Routes are the API's routes. Each request is matched to one, as API
	// Gateway matches it, which gives the event its route, route key and path
	// parameters; a request no route takes is answered as API Gateway answers
	// it, without the authorizer. Without routes, every path is its own route:
	// a cache keyed on the route key or resource path keeps one entry per
	// path, where API Gateway keeps one per route.
	Routes  Routes
	Backend http.Handler
	Log     *slog.Logger
	Now     func() time.Time
}

// Gateway is API Gateway on a laptop. It matches plain HTTP requests to the
// API's routes, turns them into the authorizer events API Gateway would send,
// calls the core, enforces the returned IAM policy with IAM's rules (an
// explicit Deny wins, '*' crosses '/'), caches authorizer results per identity
// source for the TTL as API Gateway does, answers 401 and 403 with API
// Gateway's bodies, and hands allowed requests to the backend.
type Gateway struct {
	opts Options

	mu        sync.Mutex
	authorize Authorize
	// generation counts Replace calls, so that a result of the previous
	// policy, decided while the policy was replaced, is not cached.
	generation int
	cache      map[string]cached
}

type cached struct {
	response any
	expires  time.Time
}

// New returns a gateway calling authorize.
func New(opts Options, authorize Authorize) *Gateway {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Kind == "" {
		opts.Kind = "rest"
	}
	if opts.Backend == nil {
		opts.Backend = Echo()
	}
	return &Gateway{opts: opts, authorize: authorize, cache: map[string]cached{}}
}

// Replace swaps the authorizer core, as a deployment of a new policy does, and
// empties the cache, as that deployment would.
func (g *Gateway) Replace(authorize Authorize) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.authorize = authorize
	g.generation++
	g.cache = map[string]cached{}
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := g.opts.Now()
	line := []any{"method", r.Method, "path", r.URL.Path}
	status, outcome, cache, route := g.serve(w, r)
	if len(g.opts.Routes) > 0 {
		line = append(line, "route", route)
	}
	line = append(line, "status", status, "outcome", outcome, "cache", cache,
		"latency_ms", float64(g.opts.Now().Sub(start).Microseconds())/1000)
	g.opts.Log.Info("request", line...)
}

// serve answers one request and returns what the log line says of it.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request) (status int, outcome, cache, routeKey string) {
	req := Request{Kind: g.opts.Kind, Method: r.Method, Path: r.URL.RequestURI(), Headers: r.Header, SourceIP: sourceIP(r)}
	if len(g.opts.Routes) > 0 {
		path, _, _ := strings.Cut(req.Path, "?")
		route, params, ok := g.opts.Routes.Match(strings.ToUpper(r.Method), path)
		if !ok {
			return g.noRoute(w), "no route: authorizer not called", "-", "-"
		}
		req.Route, req.RouteKey, req.PathParams = route.Template, route.Key, params
		routeKey = route.Key
	}
	status, outcome, cache = g.decide(w, r, req)
	return status, outcome, cache, routeKey
}

// decide calls the authorizer for req, or its cache, and answers as the
// returned policy says.
func (g *Gateway) decide(w http.ResponseWriter, r *http.Request, req Request) (status int, outcome, cache string) {
	event, err := Event(req, g.opts.API)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return http.StatusBadRequest, "bad request", "-"
	}
	ev, err := gateway.Decode(event)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return http.StatusInternalServerError, "event", "-"
	}
	// The key is read from the request as the event carries it, the way
	// authz check reads it from the input document: the two agree on what
	// the cache keys on.
	key, ok := g.opts.IdentitySources.Key(ev.Request.Document())
	if !ok {
		g.refuse(w, http.StatusUnauthorized, "")
		return http.StatusUnauthorized, "identity source missing: authorizer not called", "-"
	}

	response, cache := g.lookup(key)
	if response == nil {
		g.mu.Lock()
		authorize, generation := g.authorize, g.generation
		g.mu.Unlock()
		res := authorize(r.Context(), event)
		outcome = string(res.Outcome) + " " + res.Reason
		if res.Outcome == authorizer.OutcomeUnauthorized {
			// An error from the authorizer is not cached.
			g.refuse(w, http.StatusUnauthorized, "")
			return http.StatusUnauthorized, outcome, cache
		}
		response = res.Response
		g.store(key, response, generation)
	} else {
		outcome = "cached result"
	}

	view, _ := gateway.ViewOf(response)
	principal, ctx, effect := view.PrincipalID, view.Context, view.Effect(ev.ARN.String())
	if effect != "Allow" {
		g.refuse(w, http.StatusForbidden, effect)
		return http.StatusForbidden, outcome, cache
	}
	fwd := r.Clone(r.Context())
	for name := range fwd.Header {
		// Also X-Authorizer_Context and the like, which CGI-style backends
		// read as the same variable.
		if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(name), "_", "-"), "x-authorizer-") {
			fwd.Header.Del(name)
		}
	}
	fwd.Header.Set(HeaderPrincipal, principal)
	b, _ := json.Marshal(ctx)
	fwd.Header.Set(HeaderContext, string(b))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	g.opts.Backend.ServeHTTP(rec, fwd)
	return rec.status, outcome, cache
}

func (g *Gateway) lookup(key string) (any, string) {
	if g.opts.CacheTTL <= 0 || len(g.opts.IdentitySources) == 0 {
		return nil, "off"
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.cache[key]
	if !ok || !g.opts.Now().Before(c.expires) {
		return nil, "miss"
	}
	return c.response, "hit"
}

func (g *Gateway) store(key string, response any, generation int) {
	if g.opts.CacheTTL <= 0 || len(g.opts.IdentitySources) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if generation != g.generation {
		return // decided by a policy replaced since
	}
	now := g.opts.Now()
	for k, c := range g.cache {
		if !now.Before(c.expires) {
			delete(g.cache, k)
		}
	}
	g.cache[key] = cached{response: response, expires: now.Add(g.opts.CacheTTL)}
}

// refuse answers as API Gateway does: 401 for a missing or refused token, 403 for
// a denied request, with its bodies and error type headers.
func (g *Gateway) refuse(w http.ResponseWriter, status int, effect string) {
	w.Header().Set("Content-Type", "application/json")
	body := `{"message":"Unauthorized"}`
	errorType := "UnauthorizedException"
	if status == http.StatusForbidden {
		errorType = "AccessDeniedException"
		switch {
		case g.opts.Kind == "http":
			body = `{"message":"Forbidden"}`
		case effect == "Deny":
			body = `{"Message":"User is not authorized to access this resource with an explicit deny"}`
		default:
			body = `{"Message":"User is not authorized to access this resource"}`
		}
	}
	w.Header().Set("X-Amzn-Errortype", errorType)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body + "\n"))
}

// noRoute answers a request no route takes as API Gateway does, before any
// authorizer: an HTTP API with 404, a REST API with 403 and its misleading
// "Missing Authentication Token".
func (g *Gateway) noRoute(w http.ResponseWriter) int {
	w.Header().Set("Content-Type", "application/json")
	if g.opts.Kind == "http" {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"Not Found"}` + "\n"))
		return http.StatusNotFound
	}
	w.Header().Set("X-Amzn-Errortype", "MissingAuthenticationTokenException")
	w.WriteHeader(http.StatusForbidden)
	_, _ = w.Write([]byte(`{"message":"Missing Authentication Token"}` + "\n"))
	return http.StatusForbidden
}

func sourceIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Echo is a backend that answers with what it received: the request, and the
// $context.authorizer values API Gateway would pass to an integration.
func Echo() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers := map[string]string{}
		for name, values := range r.Header {
			switch {
			case name == HeaderPrincipal || name == HeaderContext:
			case strings.EqualFold(name, "Authorization"), strings.EqualFold(name, "Cookie"):
				headers[name] = "(present; not echoed: it may hold a token)"
			default:
				headers[name] = strings.Join(values, ",")
			}
		}
		authz := map[string]any{}
		_ = json.Unmarshal([]byte(r.Header.Get(HeaderContext)), &authz)
		if authz == nil { // the context was null
			authz = map[string]any{}
		}
		if p := r.Header.Get(HeaderPrincipal); p != "" {
			authz["principalId"] = p
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{
			"message":    "the request reached the backend",
			"method":     r.Method,
			"path":       r.URL.Path,
			"query":      r.URL.Query(),
			"headers":    headers,
			"authorizer": authz,
		})
	})
}
