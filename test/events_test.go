package e2e

import (
	"encoding/json"
	"strings"
)

const arnPrefix = "arn:aws:execute-api:eu-west-1:123456789012:e2eapi/prod/"

// kind is one kind of authorizer event API Gateway sends, built for a method, a
// path and an Authorization value ("" for none).
type kind struct {
	name string
	// event builds the event.
	event func(method, path, authorization string) []byte
	// arn is the ARN API Gateway checks the returned policy against.
	arn func(method, path string) string
	// simple is true when the answer is {isAuthorized}; flattened when context
	// values arrive as strings.
	simple, flattened bool
	// env is added to the function's environment for this kind.
	env map[string]string
}

func restARN(method, path string) string { return arnPrefix + method + path }

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func headers(authorization string) map[string]string {
	h := map[string]string{"Accept": "application/json", "User-Agent": "e2e/1.0"}
	if authorization != "" {
		h["Authorization"] = authorization
	}
	return h
}

var kinds = []kind{
	{
		name: "rest", flattened: true, arn: restARN,
		event: func(method, path, auth string) []byte {
			h := headers(auth)
			multi := map[string][]string{}
			for k, v := range h {
				multi[k] = []string{v}
			}
			return mustJSON(map[string]any{
				"type": "REQUEST", "methodArn": restARN(method, path), "resource": path, "path": path, "httpMethod": method,
				"headers": h, "multiValueHeaders": multi, "queryStringParameters": map[string]string{"q": "1"},
				"requestContext": map[string]any{"accountId": "123456789012", "apiId": "e2eapi", "stage": "prod",
					"requestId": "rest-req", "httpMethod": method, "resourcePath": path,
					"identity": map[string]any{"sourceIp": "203.0.113.9", "userAgent": "e2e/1.0"}},
			})
		},
	},
	{
		name: "token", flattened: true, arn: restARN,
		event: func(method, path, auth string) []byte {
			return mustJSON(map[string]any{"type": "TOKEN", "authorizationToken": auth, "methodArn": restARN(method, path)})
		},
	},
	{
		name: "http-1.0", flattened: true, arn: restARN,
		event: func(method, path, auth string) []byte {
			return mustJSON(map[string]any{
				"version": "1.0", "type": "REQUEST", "methodArn": restARN(method, path), "identitySource": auth,
				"resource": path, "path": "/prod" + path, "httpMethod": method, "headers": headers(auth),
				"requestContext": map[string]any{"accountId": "123456789012", "apiId": "e2eapi", "stage": "prod",
					"requestId": "http1-req", "httpMethod": method, "identity": map[string]any{"sourceIp": "203.0.113.9"}},
			})
		},
	},
	{
		name: "http-2.0-simple", simple: true, arn: restARN,
		event: http2Event,
	},
	{
		name: "http-2.0-iam", arn: restARN, env: map[string]string{"AUTHZ_HTTP_SIMPLE_RESPONSES": "false"},
		event: http2Event,
	},
	{
		name: "websocket", flattened: true,
		arn: func(string, string) string { return arnPrefix + "$connect" },
		event: func(_, _, auth string) []byte {
			return mustJSON(map[string]any{
				"type": "REQUEST", "methodArn": arnPrefix + "$connect", "headers": headers(auth),
				"queryStringParameters": map[string]string{"room": "general"},
				"requestContext": map[string]any{"routeKey": "$connect", "eventType": "CONNECT", "messageDirection": "IN",
					"connectionId": "conn-1", "stage": "prod", "apiId": "e2eapi", "requestId": "ws-req",
					"identity": map[string]any{"sourceIp": "203.0.113.9", "userAgent": "wscat"}},
			})
		},
	},
}

func http2Event(method, path, auth string) []byte {
	h := map[string]string{"accept": "application/json"}
	var sources []string
	if auth != "" {
		h["authorization"] = auth
		sources = []string{auth}
	}
	return mustJSON(map[string]any{
		"version": "2.0", "type": "REQUEST", "routeArn": restARN(method, path), "identitySource": sources,
		"routeKey": method + " " + path, "rawPath": "/prod" + path, "headers": h,
		"requestContext": map[string]any{"accountId": "123456789012", "apiId": "e2eapi", "stage": "prod",
			"requestId": "http2-req", "routeKey": method + " " + path, "timeEpoch": 1795255200000,
			"http": map[string]any{"method": method, "path": "/prod" + path, "sourceIp": "203.0.113.9", "userAgent": "e2e"}},
	})
}

func (k kind) isWebSocket() bool { return strings.HasPrefix(k.name, "websocket") }
