package localgw

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apigw-authz/authz/internal/identity"
)

// WithToken puts token into an authorizer event where the first token source
// says the authorizer looks for it (authorizationToken for a TOKEN event), as a
// client would have sent it. Local tools use it to give an event file a token.
func WithToken(event []byte, sources identity.Sources, token string) ([]byte, error) {
	var ev map[string]any
	if err := json.Unmarshal(event, &ev); err != nil {
		return nil, fmt.Errorf("localgw: the event is not a JSON object: %v", err)
	}
	if ev["type"] == "TOKEN" {
		ev["authorizationToken"] = "Bearer " + token
		return json.Marshal(ev)
	}
	if len(sources) == 0 {
		sources = identity.DefaultSources
	}
	v2 := ev["version"] == "2.0"
	src := sources[0]
	switch src.Kind {
	case "header":
		setValue(ev, "headers", "multiValueHeaders", src.Name, "Bearer "+token, true)
	case "query":
		setValue(ev, "queryStringParameters", "multiValueQueryStringParameters", src.Name, token, false)
	case "cookie":
		if v2 {
			cookies, _ := ev["cookies"].([]any)
			ev["cookies"] = append(cookies, src.Name+"="+token)
		} else {
			headers, _ := ev["headers"].(map[string]any)
			old, _ := headers["cookie"].(string)
			cookie := src.Name + "=" + token
			if old != "" {
				cookie = old + "; " + cookie
			}
			setValue(ev, "headers", "multiValueHeaders", "cookie", cookie, true)
		}
	}
	return json.Marshal(ev)
}

// setValue sets one value in an event's single- and multi-value maps, replacing
// any value under the same name (in any case, for headers).
func setValue(ev map[string]any, single, multi, name, value string, foldCase bool) {
	for _, field := range []string{single, multi} {
		m, _ := ev[field].(map[string]any)
		if m == nil {
			if field == multi {
				continue // the event kind has no multi-value map
			}
			m = map[string]any{}
			ev[field] = m
		}
		for k := range m {
			if k == name || (foldCase && strings.EqualFold(k, name)) {
				delete(m, k)
			}
		}
		if field == multi {
			m[name] = []any{value}
		} else {
			m[name] = value
		}
	}
}
