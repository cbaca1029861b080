package gateway

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
//   - "." and ".." segments, also with ";parameters" ("..;" is ".." to Tomcat),
//     and segments of dots and spaces ("...", ".. "), which Windows trims to
//     dot segments;
//   - percent-encoded ".", "/", "\", ";" and "%" (double encoding), encoded
//     control characters, and percent-encodings that are not two hexadecimal
//     digits;
//   - bytes that are not UTF-8 once decoded, overlong forms of "." and "/"
//     ("%c0%ae") among them, which old decoders accept;
//   - characters that Unicode compatibility normalisation (NFKC, and the
//     "best-fit" mappings of Windows) turns into ".", "/" or "\": the fullwidth
//     "．" and "／", "‥", "∕";
//   - backslashes, which Windows servers and some proxies read as "/";
//   - NUL and other control characters.
//
// The path and the raw path are checked as sent; path parameters, which API
// Gateway has already decoded, are checked as decoded. A WebSocket route key is
// not a path and is not checked.
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
	decoded := p
	if encoded {
		var why string
		if decoded, why = percentDecode(p); why != "" {
			return why
		}
	}
	if !utf8.ValidString(decoded) {
		return "bytes that are not UTF-8 (such as an overlong encoding of . or /)"
	}
	for _, c := range decoded {
		switch {
		case c < 0x20 || c == 0x7f:
			return "a control character"
		case c == '\\':
			return "a backslash"
		case c >= utf8.RuneSelf && normalisesToSeparator(c):
			return fmt.Sprintf("a character that normalises to . / or \\ (U+%04X)", c)
		}
	}
	// Encoded separators were refused above, so the decoded segments are the
	// segments as sent.
	for seg := range strings.SplitSeq(decoded, "/") {
		name, _, _ := strings.Cut(seg, ";")
		if strings.Contains(name, ".") && strings.Trim(name, ". ") == "" {
			return "a dot segment (., .., or dots and spaces)"
		}
	}
	return ""
}

// percentDecode decodes the percent-encodings of a path as sent, refusing those
// that decode to a character that could change how the path splits or what it
// names after one more decoding.
func percentDecode(p string) (string, string) {
	if !strings.Contains(p, "%") {
		return p, ""
	}
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
			return "", "a malformed percent-encoding"
		}
		c := unhex(p[i+1])<<4 | unhex(p[i+2])
		switch {
		case c == '.':
			return "", "an encoded dot (%2E)"
		case c == '/':
			return "", "an encoded slash (%2F)"
		case c == '\\':
			return "", "an encoded backslash (%5C)"
		case c == ';':
			return "", "an encoded semicolon (%3B)"
		case c == '%':
			return "", "an encoded percent sign (%25, double encoding)"
		case c < 0x20 || c == 0x7f:
			return "", "an encoded control character"
		}
		b.WriteByte(c)
		i += 2
	}
	return b.String(), ""
}

// normalisesToSeparator reports whether a non-ASCII character becomes ".", "/"
// or "\" under compatibility normalisation: "．" (U+FF0E), "／" (U+FF0F), "‥"
// (U+2025) and their kind. Division slash (U+2215) and set minus (U+2216) are
// not NFKC equivalents, but Windows' best-fit code-page mapping turns them into
// "/" and "\", and IIS has been bypassed with them.
func normalisesToSeparator(c rune) bool {
	if c == '\u2215' || c == '\u2216' {
		return true
	}
	var buf [utf8.UTFMax]byte
	n := utf8.EncodeRune(buf[:], c)
	return strings.ContainsAny(norm.NFKC.String(string(buf[:n])), `./\`)
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

// ambiguousPathPatterns are the forms of ambiguous path that an IAM pattern can
// name, after the stage: a Deny of them in every policy that lists grants keeps
// API Gateway's authorizer cache, which applies a cached policy without asking
// the authorizer, from letting them through under a grant such as "/orders/*".
// IAM compares case-sensitively, so each hexadecimal letter comes in both cases.
// Forms no pattern can name (malformed encodings, most non-ASCII look-alikes)
// are refused only when the authorizer runs: see the README.
var ambiguousPathPatterns = []string{
	"*/./*", "*/.", "*/../*", "*/..", "*/.;*", "*/..;*",
	`*\*`,
	"*%2e*", "*%2E*", "*%2f*", "*%2F*", "*%5c*", "*%5C*", "*%3b*", "*%3B*", "*%25*",
	"*%00*", "*%09*", "*%0a*", "*%0A*", "*%0d*", "*%0D*",
	"*%c0*", "*%C0*", "*%c1*", "*%C1*",
}

// AmbiguousPathResources returns the Resources that name the ambiguous forms of
// any path on the request's API and stage, or nil for an ARN of a route key,
// which has no path.
func (a ARN) AmbiguousPathResources() []string {
	if a.Method == "" {
		return nil
	}
	prefix := "arn:" + a.Partition + ":execute-api:" + a.Region + ":" + a.AccountID + ":" + a.APIID + "/" + a.Stage + "/"
	// One string holds them all, each Resource a slice of it: every response
	// with grants carries them, so they cost two allocations, not one each.
	var b strings.Builder
	b.Grow(len(ambiguousPathPatterns)*len(prefix) + ambiguousPatternBytes)
	for _, p := range ambiguousPathPatterns {
		b.WriteString(prefix)
		b.WriteString(p)
	}
	all, at := b.String(), 0
	out := make([]string, len(ambiguousPathPatterns))
	for i, p := range ambiguousPathPatterns {
		n := len(prefix) + len(p)
		out[i], at = all[at:at+n], at+n
	}
	return out
}

// ambiguousPatternBytes is the length of all ambiguousPathPatterns together.
var ambiguousPatternBytes = func() int {
	n := 0
	for _, p := range ambiguousPathPatterns {
		n += len(p)
	}
	return n
}()
