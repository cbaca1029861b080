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
	path := []string{at}
	out, _ := clipValue(v, &path, clipped)
	return out
}

// clipValue walks v with path, the pointer's parts so far (the root, then
// keys and indexes, unescaped): the pointer is only written out for a string
// it cuts, so that a line with nothing to cut costs no allocation here.
func clipValue(v any, path *[]string, clipped *[]string) (any, bool) {
	switch x := v.(type) {
	case string:
		if len(x) <= logging.MaxValueBytes {
			return x, false
		}
		*clipped = append(*clipped, pointer(*path))
		return logging.Clean(x), true
	case map[string]any:
		var out map[string]any
		for k, item := range x {
			*path = append(*path, k)
			c, changed := clipValue(item, path, clipped)
			*path = (*path)[:len(*path)-1]
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
			*path = append(*path, strconv.Itoa(i))
			c, changed := clipValue(item, path, clipped)
			*path = (*path)[:len(*path)-1]
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
			*clipped = append(*clipped, pointer(append(*path, strconv.Itoa(i))))
			out[i] = logging.Clean(item)
		}
		if out == nil {
			return x, false
		}
		return out, true
	}
	return v, false
}

// pointer writes a JSON pointer from its root and its unescaped parts.
func pointer(parts []string) string {
	var b strings.Builder
	b.WriteString(parts[0])
	for _, p := range parts[1:] {
		b.WriteByte('/')
		b.WriteString(escapePointer(p))
	}
	return b.String()
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
