package gateway

import (
	"fmt"
	"strings"
)

// AmbiguousPath says why the request's path may mean another path to some part
// of the chain than it means to the authorizer, or "" when it is unambiguous.
//
// API Gateway enforces the authorizer's IAM policy on the path as the client
// wrote it, and the policy judges that same text. A CDN, a proxy or the backend
// behind API Gateway may normalise it first: "/orders/../admin/users",
// "/orders/%2e%2e/admin/users" and "/orders/..%2Fadmin" are under "/orders/*"
// here, and are "/admin/users" to a server that resolves dot segments or decodes
// separators. Such paths are refused before any policy sees them:
//
//   - "." and ".." segments, also with ";parameters" ("..;" is ".." to Tomcat);
//   - percent-encoded ".", "/", "\" and "%" (double encoding), and
//     percent-encodings that are not two hexadecimal digits;
//   - backslashes, which Windows servers and some proxies read as "/";
//   - NUL and other control characters, raw or encoded.
//
// The path and the raw path are checked as sent; path parameters, which API
// Gateway has already decoded, are checked for dot segments, backslashes and
// control characters. A WebSocket route key is not a path and is not checked.
func (r *Request) AmbiguousPath() string {
	if r.Kind == KindWebSocket {
		return ""
	}
	for _, p := range []string{r.Path, r.RawPath} {
		if why := ambiguous(p, true); why != "" {
			return fmt.Sprintf("the path has %s", why)
		}
	}
	for _, name := range sortedKeys(r.PathParams) {
		if why := ambiguous(r.PathParams[name], false); why != "" {
			return fmt.Sprintf("the path parameter %s has %s", truncate(name, 40), why)
		}
	}
	return ""
}

// ambiguous checks one path; encoded says whether percent-encodings are still
// in it (a path as sent) or were decoded already (a path parameter).
func ambiguous(p string, encoded bool) string {
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c < 0x20 || c == 0x7f:
			return "a control character"
		case c == '\\':
			return "a backslash"
		case c == '%' && encoded:
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "a malformed percent-encoding"
			}
			switch b := unhex(p[i+1])<<4 | unhex(p[i+2]); {
			case b == '.':
				return "an encoded dot (%2E)"
			case b == '/':
				return "an encoded slash (%2F)"
			case b == '\\':
				return "an encoded backslash (%5C)"
			case b == '%':
				return "an encoded percent sign (%25, double encoding)"
			case b < 0x20 || b == 0x7f:
				return "an encoded control character"
			}
		}
	}
	for seg := range strings.SplitSeq(p, "/") {
		name, _, _ := strings.Cut(seg, ";")
		if name == "." || name == ".." {
			return "a dot segment (. or ..)"
		}
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
