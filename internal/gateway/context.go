package gateway

import (
	"encoding/json"
	"strconv"
	"strings"
)

// flattenContext shapes a decision's context for the responses whose context API
// Gateway only accepts as scalars (REST, TOKEN, WebSocket and HTTP payload 1.0):
// scalars stay, arrays of scalars become a comma-joined string, anything else
// becomes its JSON text, and nulls are dropped.
func flattenContext(ctx map[string]any) map[string]any {
	if len(ctx) == 0 {
		return nil
	}
	out := make(map[string]any, len(ctx))
	for k, v := range ctx {
		switch x := v.(type) {
		case nil:
			continue
		case string, bool, json.Number, float64, int, int64:
			out[k] = x
		case []any:
			if s, ok := joinScalars(x); ok {
				out[k] = s
			} else {
				out[k] = jsonText(x)
			}
		default:
			out[k] = jsonText(x)
		}
	}
	return out
}

// joinScalars joins an array of scalars with commas, leaving out nulls. It reports
// false when an element is an array or an object.
func joinScalars(list []any) (string, bool) {
	parts := make([]string, 0, len(list))
	for _, e := range list {
		switch x := e.(type) {
		case nil:
			continue
		case string:
			parts = append(parts, x)
		case bool:
			parts = append(parts, strconv.FormatBool(x))
		case json.Number:
			parts = append(parts, x.String())
		case float64:
			parts = append(parts, strconv.FormatFloat(x, 'f', -1, 64))
		case int:
			parts = append(parts, strconv.Itoa(x))
		case int64:
			parts = append(parts, strconv.FormatInt(x, 10))
		default:
			return "", false
		}
	}
	return strings.Join(parts, ","), true
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Values come from a JSON document, so this cannot happen; an empty
		// string is still a safe value to hand to the backend.
		return ""
	}
	return string(b)
}
