// Package localgw plays API Gateway's part on a laptop: it builds the authorizer
// events API Gateway would send for a plain HTTP request, so that the local tools
// drive the same core, with the same events, as the Lambda.
//
// It is for local runs only and never decides anything itself.
package localgw

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// API names the API a local request is made to.
type API struct {
	ID, Stage, Region, AccountID string
	// StageVariables are the stage's variables, in every event.
	StageVariables map[string]string
}

// DefaultAPI is the made-up API of local runs.
var DefaultAPI = API{ID: "local", Stage: "dev", Region: "us-east-1", AccountID: "000000000000"}

// Request is a plain HTTP request.
type Request struct {
	// Kind is rest, token, http (payload 2.0), http1 (payload 1.0) or websocket.
	Kind    string
	Method  string
	Path    string // may carry a ?query
	Headers map[string][]string
	// Route is the API's route template, such as /orders/{id}, or $default;
	// the path when empty.
	Route string
	// RouteKey is the route's key, which names its method or ANY:
	// "ANY /orders/{id}", "$default"; Method and Route when empty.
	RouteKey string
	// PathParams are the route's path parameters, as the path spells them.
	PathParams map[string]string
	SourceIP   string
}

// Kinds lists the kinds Event builds.
var Kinds = []string{"rest", "token", "http", "http1", "websocket"}

// Event builds the authorizer event API Gateway would send for r.
func Event(r Request, api API) ([]byte, error) {
	path, rawQuery, _ := strings.Cut(r.Path, "?")
	if path == "" || path[0] != '/' {
		return nil, fmt.Errorf("localgw: path %q must start with /", r.Path)
	}
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, fmt.Errorf("localgw: query of %q: %v", r.Path, err)
	}
	method := strings.ToUpper(r.Method)
	if method == "" {
		method = "GET"
	}
	route := r.Route
	if route == "" {
		route = path
	}
	routeKey := r.RouteKey
	if routeKey == "" {
		routeKey = method + " " + route
	}
	pathParams := r.PathParams
	if pathParams == nil {
		pathParams = map[string]string{}
	}
	sourceIP := r.SourceIP
	if sourceIP == "" {
		sourceIP = "127.0.0.1"
	}
	arnBase := fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/%s/", api.Region, api.AccountID, api.ID, api.Stage)
	methodARN := arnBase + method + path
	now := time.Now()
	requestID := fmt.Sprintf("local-%d", now.UnixNano())
	single, multi := flatten(r.Headers)
	userAgent := single["User-Agent"]
	domain := api.ID + ".execute-api.localhost"
	stageVariables := api.StageVariables
	if stageVariables == nil {
		stageVariables = map[string]string{}
	}

	var ev map[string]any
	switch r.Kind {
	case "rest", "", "http1":
		ev = map[string]any{
			"type": "REQUEST", "methodArn": methodARN, "resource": route, "path": path, "httpMethod": method,
			"headers": single, "multiValueHeaders": multi,
			"queryStringParameters": lastValues(query), "multiValueQueryStringParameters": map[string][]string(query),
			"pathParameters": pathParams, "stageVariables": stageVariables,
			"requestContext": map[string]any{
				"accountId": api.AccountID, "apiId": api.ID, "stage": api.Stage, "domainName": domain,
				"requestId": requestID, "requestTimeEpoch": now.UnixMilli(), "httpMethod": method,
				"resourcePath": route, "path": "/" + api.Stage + path,
				"identity": map[string]any{"sourceIp": sourceIP, "userAgent": userAgent},
			},
		}
		if r.Kind == "http1" {
			ev["version"] = "1.0"
			ev["path"] = "/" + api.Stage + path
		}
	case "token":
		ev = map[string]any{"type": "TOKEN", "authorizationToken": single["Authorization"], "methodArn": methodARN}
	case "http":
		lower := map[string]string{}
		var cookies []string
		for name, values := range multi {
			if strings.EqualFold(name, "cookie") {
				for _, v := range values {
					for _, c := range strings.Split(v, ";") {
						cookies = append(cookies, strings.TrimSpace(c))
					}
				}
				continue
			}
			lower[strings.ToLower(name)] = strings.Join(values, ",")
		}
		joined := map[string]string{}
		for k, v := range query {
			joined[k] = strings.Join(v, ",")
		}
		// An HTTP API decodes the path parameters; a REST API passes them as
		// the path spells them.
		decoded := make(map[string]string, len(pathParams))
		for name, v := range pathParams {
			if d, err := url.PathUnescape(v); err == nil {
				v = d
			}
			decoded[name] = v
		}
		ev = map[string]any{
			"version": "2.0", "type": "REQUEST", "routeArn": methodARN, "routeKey": routeKey,
			"rawPath": "/" + api.Stage + path, "rawQueryString": rawQuery, "cookies": cookies,
			"headers": lower, "queryStringParameters": joined, "pathParameters": decoded,
			"stageVariables": stageVariables,
			"requestContext": map[string]any{
				"accountId": api.AccountID, "apiId": api.ID, "stage": api.Stage, "domainName": domain,
				"requestId": requestID, "routeKey": routeKey, "timeEpoch": now.UnixMilli(),
				"http": map[string]any{"method": method, "path": "/" + api.Stage + path, "protocol": "HTTP/1.1",
					"sourceIp": sourceIP, "userAgent": userAgent},
			},
		}
	case "websocket":
		ev = map[string]any{
			"type": "REQUEST", "methodArn": arnBase + "$connect", "headers": single, "multiValueHeaders": multi,
			"queryStringParameters": lastValues(query), "multiValueQueryStringParameters": map[string][]string(query),
			"stageVariables": stageVariables,
			"requestContext": map[string]any{
				"routeKey": "$connect", "eventType": "CONNECT", "messageDirection": "IN",
				"connectionId": fmt.Sprintf("local%d=", now.UnixNano()%1e9), "connectedAt": now.UnixMilli(),
				"requestTimeEpoch": now.UnixMilli(), "stage": api.Stage, "apiId": api.ID, "domainName": domain,
				"requestId": requestID, "identity": map[string]any{"sourceIp": sourceIP, "userAgent": userAgent},
			},
		}
	default:
		return nil, fmt.Errorf("localgw: kind %q is not one of %s", r.Kind, strings.Join(Kinds, ", "))
	}
	return json.Marshal(ev)
}

// flatten gives headers in canonical names as API Gateway's single-value map
// (the last value wins, as API Gateway does) and multi-value map.
func flatten(h map[string][]string) (map[string]string, map[string][]string) {
	single := map[string]string{}
	multi := map[string][]string{}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := h[name]
		if len(values) == 0 {
			continue
		}
		multi[name] = append(multi[name], values...)
		single[name] = values[len(values)-1]
	}
	return single, multi
}

// lastValues keeps the last value of each parameter, as API Gateway's
// single-value map does.
func lastValues(q url.Values) map[string]string {
	out := map[string]string{}
	for k, v := range q {
		if len(v) > 0 {
			out[k] = v[len(v)-1]
		}
	}
	return out
}
