package identity

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// rawIssuer signs header and payload bytes exactly as given, which devissuer
// cannot: it builds tokens from maps, so no member name can repeat and no
// header value can be what its JSON encoder would not write. Its key set is
// served at URL/keys, so configure it with a jwks_uri (see config).
type rawIssuer struct {
	URL string
	key *rsa.PrivateKey
	set atomic.Pointer[[]byte] // the key set served
}

const (
	rawKID      = "raw-1"
	rawAudience = "api://raw"
)

func startRawIssuer(t testing.TB) *rawIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &key.PublicKey, KeyID: rawKID, Algorithm: "RS256", Use: "sig"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := &rawIssuer{key: key}
	r.set.Store(&set)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(*r.set.Load())
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// removeKeys makes the issuer serve an empty key set, as after a revocation.
func (r *rawIssuer) removeKeys() {
	empty := []byte(`{"keys":[]}`)
	r.set.Store(&empty)
}

func (r *rawIssuer) config() IssuerConfig {
	return IssuerConfig{Issuer: r.URL, JWKSURI: r.URL + "/keys", Audiences: []string{rawAudience}}
}

// Texts given to expand and sign may use these placeholders.
const (
	rawHeader = `{"alg":"RS256","kid":"{kid}"}`
	rawClaims = `{"iss":"{iss}","sub":"alice","aud":"{aud}","iat":{now},"nbf":{now},"exp":{exp}}`
)

// expand fills the placeholders {iss}, {aud}, {kid}, {now}, {exp} (an hour from
// now) and {past} (an hour ago).
func (r *rawIssuer) expand(s string) string {
	now := time.Now()
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	return strings.NewReplacer("{iss}", r.URL, "{aud}", rawAudience, "{kid}", rawKID,
		"{now}", unix(now), "{exp}", unix(now.Add(time.Hour)), "{past}", unix(now.Add(-time.Hour))).Replace(s)
}

// sign returns the compact JWS of header and payload, placeholders expanded,
// signed with RS256 by the issuer's key.
func (r *rawIssuer) sign(t *testing.T, header, payload string) string {
	t.Helper()
	input := b64([]byte(r.expand(header))) + "." + b64([]byte(r.expand(payload)))
	return input + "." + b64(rsaSigner(t, r.key)([]byte(input)))
}

// withAndWithout reads s, in which «…» marks a removable span, as two texts: with
// the span (markers dropped) and without it.
func withAndWithout(s string) (with, without string) {
	with = strings.NewReplacer("«", "", "»", "").Replace(s)
	for {
		i, j := strings.Index(s, "«"), strings.Index(s, "»")
		if i < 0 || j < i {
			return with, s
		}
		s = s[:i] + s[j+len("»"):]
	}
}
