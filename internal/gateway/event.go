// Package gateway translates between API Gateway and the authorizer core. It
// decodes every authorizer event API Gateway sends (REST REQUEST and TOKEN, HTTP
// API payload 1.0 and 2.0, WebSocket $connect) into the contract's request
// document, and shapes the core's verdict into the IAM policy or simple response
// API Gateway expects.
//
// It decides nothing and never turns a doubt into access: an event it cannot read
// is an error, a verdict it cannot express safely is an error, and both leave the
// caller to deny.
package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// Kind is the kind of API, and so of event, a request came from.
type Kind string

// The event kinds of the contract's request.kind.
const (
	KindREST      Kind = "rest"      // REST API, REQUEST authorizer
	KindToken     Kind = "token"     // REST API, TOKEN authorizer
	KindHTTP      Kind = "http"      // HTTP API, payload 1.0 or 2.0
	KindWebSocket Kind = "websocket" // WebSocket API, $connect
)

// Event is a decoded authorizer event.
type Event struct {
	Kind Kind
	// PayloadVersion is "1.0" or "2.0" for HTTP APIs, "" otherwise.
	PayloadVersion string
	// ARN is the method or route ARN the response's policy must name.
	ARN ARN
	// AuthorizationToken is the token of a TOKEN event; the only place it has one.
	AuthorizationToken string
	// Request is the contract's request document.
	Request Request
}

// Request is the contract's input.request: what the policy sees of the request.
// Maps are never nil. Fields an event kind does not carry are empty.
type Request struct {
	Kind   Kind
	Method string
	// Path is the resource path API Gateway authorizes: the one in the method
	// ARN, without stage or custom-domain base path, so that what the policy
	// matches is what the IAM policy is enforced on.
	Path string
	// RawPath is the path as the event gives it; for HTTP APIs it carries a named
	// stage and base path.
	RawPath        string
	Route          string
	RouteKey       string
	Headers        map[string]string // names lower-cased, repeated values joined with ","
	Query          map[string]string // repeated values joined with ","
	PathParams     map[string]string
	StageVariables map[string]string
	Cookies        map[string]string
	SourceIP       string
	UserAgent      string
	APIID          string
	Stage          string
	AccountID      string
	Region         string
	DomainName     string
	RequestID      string
	TimeMS         int64
	MethodARN      string
	ConnectionID   string // WebSocket only
}

// Document returns the request as the policy's input.request.
func (r *Request) Document() map[string]any {
	return map[string]any{
		"kind":            string(r.Kind),
		"method":          r.Method,
		"path":            r.Path,
		"raw_path":        r.RawPath,
		"route":           r.Route,
		"route_key":       r.RouteKey,
		"headers":         r.Headers,
		"query":           r.Query,
		"path_params":     r.PathParams,
		"stage_variables": r.StageVariables,
		"cookies":         r.Cookies,
		"source_ip":       r.SourceIP,
		"user_agent":      r.UserAgent,
		"api_id":          r.APIID,
		"stage":           r.Stage,
		"account_id":      r.AccountID,
		"region":          r.Region,
		"domain_name":     r.DomainName,
		"request_id":      r.RequestID,
		"time_ms":         r.TimeMS,
		"method_arn":      r.MethodARN,
		"connection_id":   r.ConnectionID,
	}
}

// Redacted stands for the token wherever Request.Redact found a copy of it.
const Redacted = "[token]"

// Redact replaces every copy of secret (the bearer token) in what the policy
// will see, wherever the client put it: in the names and values of headers,
// query parameters, cookies, path parameters and stage variables, and in the
// user agent, the token becomes Redacted. Entries are kept, not deleted: a
// client must not be able to remove a field the policy reads (such as
// X-Forwarded-For, to which API Gateway appends) by writing its token into it.
// It reports false when the secret is also in the path, the route or the ARN,
// as sent or percent-decoded, which cannot be changed without changing what is
// authorized: such a request must not reach the policy at all.
func (r *Request) Redact(secret string) bool {
	if secret == "" {
		return true
	}
	for _, m := range []map[string]string{r.Headers, r.Query, r.Cookies, r.PathParams, r.StageVariables} {
		for k, v := range m {
			if !strings.Contains(k, secret) && !strings.Contains(v, secret) {
				continue
			}
			delete(m, k)
			m[strings.ReplaceAll(k, secret, Redacted)] = strings.ReplaceAll(v, secret, Redacted)
		}
	}
	r.UserAgent = strings.ReplaceAll(r.UserAgent, secret, Redacted)
	for _, s := range []string{r.Path, r.RawPath, r.Route, r.RouteKey, r.MethodARN, r.DomainName} {
		if strings.Contains(s, secret) {
			return false
		}
		if !strings.Contains(s, "%") {
			continue
		}
		if decoded, err := url.PathUnescape(s); err == nil && strings.Contains(decoded, secret) {
			return false
		}
	}
	return true
}

// ErrEvent marks an event the adapter cannot read.
var ErrEvent = errors.New("gateway: unreadable event")

// probe is the part of every event kind that tells them apart.
type probe struct {
	Type           string `json:"type"`
	Version        string `json:"version"`
	MethodARN      string `json:"methodArn"`
	RequestContext struct {
		EventType    string `json:"eventType"`
		ConnectionID string `json:"connectionId"`
	} `json:"requestContext"`
}

// requestEvent is a REST REQUEST, HTTP payload 1.0 or WebSocket $connect event.
// aws-lambda-go's authorizer type lacks parts of the request context that API
// Gateway sends (domain name, time, user agent; for WebSocket, the connection),
// so the context is replaced by the richer type of the same shape.
type requestEvent[C any] struct {
	events.APIGatewayCustomAuthorizerRequestTypeRequest
	Version        string `json:"version"`
	RequestContext C      `json:"requestContext"`
}

// Decode reads an authorizer event. On error it still returns what it could read,
// at least the kind and, when parseable, the ARN, so that the caller can deny in
// the right format.
func Decode(raw []byte) (*Event, error) {
	var p probe
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrEvent, err)
	}
	var (
		ev  *Event
		err error
	)
	switch {
	case p.Type == "TOKEN":
		ev, err = decodeToken(raw)
	case p.Type != "REQUEST":
		return nil, fmt.Errorf("%w: type %q is neither TOKEN nor REQUEST", ErrEvent, truncate(p.Type, 20))
	case p.Version == "2.0":
		ev, err = decodeHTTPv2(raw)
	case p.Version == "1.0":
		ev, err = decodeRequest(raw, KindHTTP)
	case p.Version != "":
		return nil, fmt.Errorf("%w: payload version %q is neither 1.0 nor 2.0", ErrEvent, truncate(p.Version, 20))
	case p.RequestContext.ConnectionID != "" || p.RequestContext.EventType != "" || isRouteKeyARN(p.MethodARN):
		// Only the request context or an ARN of three segments, whose last is a
		// route key, say WebSocket: a REST path ending in /$connect does not.
		ev, err = decodeWebSocket(raw)
	default:
		ev, err = decodeRequest(raw, KindREST)
	}
	if err != nil {
		return ev, fmt.Errorf("%w: %v", ErrEvent, err)
	}
	return ev, nil
}

func decodeToken(raw []byte) (*Event, error) {
	var e events.APIGatewayCustomAuthorizerRequest
	if err := json.Unmarshal(raw, &e); err != nil {
		return nil, err
	}
	ev := &Event{Kind: KindToken, AuthorizationToken: e.AuthorizationToken}
	arn, err := ParseARN(e.MethodArn)
	if err != nil {
		return ev, err
	}
	ev.ARN = arn
	ev.Request = Request{
		Kind:           KindToken,
		Method:         arn.Method,
		Headers:        map[string]string{},
		Query:          map[string]string{},
		PathParams:     map[string]string{},
		StageVariables: map[string]string{},
		Cookies:        map[string]string{},
	}
	ev.Request.fillFromARN(arn)
	return ev, nil
}

func decodeRequest(raw []byte, kind Kind) (*Event, error) {
	var e requestEvent[events.APIGatewayProxyRequestContext]
	if err := json.Unmarshal(raw, &e); err != nil {
		return &Event{Kind: kind, PayloadVersion: e.Version}, err
	}
	ev := &Event{Kind: kind, PayloadVersion: e.Version}
	arn, err := ParseARN(e.MethodArn)
	if err != nil {
		return ev, err
	}
	ev.ARN = arn
	rc := e.RequestContext
	ev.Request = requestOf(kind, &e.APIGatewayCustomAuthorizerRequestTypeRequest, requestContext{
		identity: rc.Identity, apiID: rc.APIID, stage: rc.Stage, accountID: rc.AccountID,
		domainName: rc.DomainName, requestID: rc.RequestID, timeMS: rc.RequestTimeEpoch,
	})
	r := &ev.Request
	r.Method = methodOf(arn, e.HTTPMethod, rc.HTTPMethod)
	r.RawPath = e.Path
	r.Route = first(e.Resource, rc.ResourcePath)
	if r.Route != "" {
		r.RouteKey = r.Method + " " + r.Route
	}
	r.fillFromARN(arn)
	return ev, nil
}

func decodeWebSocket(raw []byte) (*Event, error) {
	var e requestEvent[events.APIGatewayWebsocketProxyRequestContext]
	if err := json.Unmarshal(raw, &e); err != nil {
		return &Event{Kind: KindWebSocket}, err
	}
	ev := &Event{Kind: KindWebSocket}
	arn, err := ParseARN(e.MethodArn)
	if err != nil {
		return ev, err
	}
	ev.ARN = arn
	rc := e.RequestContext
	ev.Request = requestOf(KindWebSocket, &e.APIGatewayCustomAuthorizerRequestTypeRequest, requestContext{
		identity: rc.Identity, apiID: rc.APIID, stage: rc.Stage, accountID: rc.AccountID,
		domainName: rc.DomainName, requestID: rc.RequestID, timeMS: rc.RequestTimeEpoch,
	})
	r := &ev.Request
	route := first(rc.RouteKey, arn.Path)
	r.RawPath, r.Route, r.RouteKey = route, route, route
	r.ConnectionID = rc.ConnectionID
	r.fillFromARN(arn)
	return ev, nil
}

// requestContext is what the request contexts of REST, HTTP 1.0 and WebSocket
// events share, under different types.
type requestContext struct {
	identity                                       events.APIGatewayRequestIdentity
	apiID, stage, accountID, domainName, requestID string
	timeMS                                         int64
}

// requestOf fills what REST, HTTP 1.0 and WebSocket events carry alike.
func requestOf(kind Kind, e *events.APIGatewayCustomAuthorizerRequestTypeRequest, rc requestContext) Request {
	headers := joinHeaders(e.Headers, e.MultiValueHeaders)
	return Request{
		Kind:           kind,
		Headers:        headers,
		Query:          joinValues(e.QueryStringParameters, e.MultiValueQueryStringParameters),
		PathParams:     orEmpty(e.PathParameters),
		StageVariables: orEmpty(e.StageVariables),
		Cookies:        parseCookies(headers["cookie"]),
		SourceIP:       rc.identity.SourceIP,
		UserAgent:      first(rc.identity.UserAgent, headers["user-agent"]),
		APIID:          rc.apiID,
		Stage:          rc.stage,
		AccountID:      rc.accountID,
		DomainName:     rc.domainName,
		RequestID:      rc.requestID,
		TimeMS:         rc.timeMS,
	}
}

func decodeHTTPv2(raw []byte) (*Event, error) {
	var e events.APIGatewayV2CustomAuthorizerV2Request
	if err := json.Unmarshal(raw, &e); err != nil {
		return &Event{Kind: KindHTTP, PayloadVersion: "2.0"}, err
	}
	ev := &Event{Kind: KindHTTP, PayloadVersion: "2.0"}
	arn, err := ParseARN(e.RouteArn)
	if err != nil {
		return ev, err
	}
	ev.ARN = arn
	rc := e.RequestContext
	headers := joinHeaders(e.Headers, nil)
	cookies := parseCookies(headers["cookie"])
	for _, c := range e.Cookies {
		addCookies(cookies, c)
	}
	route := e.RouteKey
	if _, path, ok := strings.Cut(route, " "); ok {
		route = path
	}
	ev.Request = Request{
		Kind:           KindHTTP,
		Method:         methodOf(arn, rc.HTTP.Method),
		RawPath:        first(rc.HTTP.Path, e.RawPath),
		Route:          route,
		RouteKey:       e.RouteKey,
		Headers:        headers,
		Query:          orEmpty(e.QueryStringParameters),
		PathParams:     orEmpty(e.PathParameters),
		StageVariables: orEmpty(e.StageVariables),
		Cookies:        cookies,
		SourceIP:       rc.HTTP.SourceIP,
		UserAgent:      first(rc.HTTP.UserAgent, headers["user-agent"]),
		APIID:          rc.APIID,
		Stage:          rc.Stage,
		AccountID:      rc.AccountID,
		DomainName:     rc.DomainName,
		RequestID:      rc.RequestID,
		TimeMS:         rc.TimeEpoch,
	}
	ev.Request.fillFromARN(arn)
	return ev, nil
}

// methodOf is the request's method: the method ARN's verb, as the path is the
// ARN's path. API Gateway enforces the returned IAM policy on the ARN, so the
// policy must judge the same verb: an event whose httpMethod says GET while its
// ARN says DELETE is decided as DELETE. Only an ARN without a verb (a route key)
// leaves the method to the event.
func methodOf(arn ARN, fromEvent ...string) string {
	if arn.Method != "" {
		return arn.Method
	}
	return first(fromEvent...)
}

func isRouteKeyARN(s string) bool {
	a, err := ParseARN(s)
	return err == nil && a.Method == ""
}

// fillFromARN sets the path from the ARN and completes what the request context
// left empty from it: API Gateway always sends the ARN, and the region is only
// ever there.
func (r *Request) fillFromARN(arn ARN) {
	r.Path = arn.Path
	r.Region = arn.Region
	r.APIID = first(r.APIID, arn.APIID)
	r.Stage = first(r.Stage, arn.Stage)
	r.AccountID = first(r.AccountID, arn.AccountID)
	r.MethodARN = arn.String()
}

// joinHeaders lower-cases header names and joins repeated values with ",", as
// payload 2.0 does; Cookie headers join with "; ", as HTTP/2 does, so that they
// stay one cookie list. Names that differ only in case are joined too, in a
// stable order.
func joinHeaders(single map[string]string, multi map[string][]string) map[string]string {
	out := make(map[string]string, len(single))
	add := func(name string, values ...string) {
		name = strings.ToLower(name)
		sep := ","
		if name == "cookie" {
			sep = "; "
		}
		v := strings.Join(values, sep)
		if old, ok := out[name]; ok {
			v = old + sep + v
		}
		out[name] = v
	}
	for _, name := range sortedKeys(multi) {
		add(name, multi[name]...)
	}
	for _, name := range sortedKeys(single) {
		if _, ok := multi[name]; !ok {
			add(name, single[name])
		}
	}
	return out
}

// joinValues merges single- and multi-value query parameters, joining repeated
// values with ",". Names are case-sensitive.
func joinValues(single map[string]string, multi map[string][]string) map[string]string {
	out := make(map[string]string, len(single))
	for name, values := range multi {
		out[name] = strings.Join(values, ",")
	}
	for name, v := range single {
		if _, ok := multi[name]; !ok {
			out[name] = v
		}
	}
	return out
}

func appendValue(m map[string]string, k, v string) {
	if old, ok := m[k]; ok {
		m[k] = old + "," + v
		return
	}
	m[k] = v
}

// parseCookies reads a Cookie header. A name given twice keeps both values joined
// with ",", so that a repeated token cookie cannot pick one silently.
func parseCookies(header string) map[string]string {
	out := map[string]string{}
	addCookies(out, header)
	return out
}

func addCookies(m map[string]string, header string) {
	for _, part := range strings.Split(header, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			continue
		}
		appendValue(m, name, strings.TrimSpace(value))
	}
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
