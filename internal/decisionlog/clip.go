package decisionlog

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/apigw-authz/authz/internal/logging"
)

// clip returns v with every string longer than logging.MaxValueBytes cut
// (ending in "…"), and adds the JSON pointer of each string it cut to
// clipped: a client chooses the path and the headers, and a line must stay
// well inside what CloudWatch Logs takes (256 KB). It copies what it changes
// and never changes v.
func clip(v any, at string, clipped *[]string) any {
	out, _ := clipValue(v, at, clipped)
	return out
}

func clipValue(v any, at string, clipped *[]string) (any, bool) {
	switch x := v.(type) {
	case string:
		if len(x) <= logging.MaxValueBytes {
			return x, false
		}
		*clipped = append(*clipped, at)
		return logging.Clean(x), true
	case map[string]any:
		var out map[string]any
		for k, item := range x {
			c, changed := clipValue(item, at+"/"+escapePointer(k), clipped)
			if !changed {
				continue
			}
			if out == nil {
				out = make(map[string]any, len(x))
				for k2, v2 := range x {
					out[k2] = v2
				}
			}
			out[k] = c
		}
		if out == nil {
			return x, false
		}
		return out, true
	case []any:
		var out []any
		for i, item := range x {
			c, changed := clipValue(item, at+"/"+strconv.Itoa(i), clipped)
			if !changed {
				continue
			}
			if out == nil {
				out = append([]any(nil), x...)
			}
			out[i] = c
		}
		if out == nil {
			return x, false
		}
		return out, true
	case []string:
		var out []string
		for i, item := range x {
			if len(item) <= logging.MaxValueBytes {
				continue
			}
			if out == nil {
				out = append([]string(nil), x...)
			}
			*clipped = append(*clipped, at+"/"+strconv.Itoa(i))
			out[i] = logging.Clean(item)
		}
		if out == nil {
			return x, false
		}
		return out, true
	}
	return v, false
}

// escapePointer escapes a key for a JSON pointer (RFC 6901).
func escapePointer(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

// plain is v in the types JSON decodes to: OPA's mask rules can only erase
// or replace members of map[string]any, and fail silently (dropping the
// event) on the typed maps the input document is built from.
func plain(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[k] = plain(item)
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, item := range x {
			out[k] = item
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = plain(item)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = item
		}
		return out
	case string, bool, float64, int, int64, nil, json.Number:
		return x
	}
	var out any
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, &out) != nil {
		return fmt.Sprintf("%v", v)
	}
	return out
}
