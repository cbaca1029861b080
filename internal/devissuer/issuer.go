// Package devissuer is a real OpenID Connect issuer for local runs and tests: it
// serves a discovery document and a JSON Web Key Set on a loopback address, with
// keys generated at start, and mints signed tokens for any claims. Tokens it
// mints go through the same verification path as an identity provider's.
//
// It must never be used as a production identity provider: its keys live in
// memory and anyone who can reach it can ask for nothing but its public keys,
// but anyone holding the process can mint anything.
package devissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/apigw-authz/authz/internal/loopback"
)

// Options configure an issuer. Zero values take the defaults.
type Options struct {
	// Addr is the loopback address to listen on. Default "127.0.0.1:0", a free port.
	Addr string
	// Algorithm signs tokens: RS256 (default), PS256 or ES256.
	Algorithm string
	// Audience is the default aud of minted tokens. Default "api://default",
	// or EntraAPIClientID for the entra profile, whose v2 tokens carry the
	// API's application id.
	Audience string
	// TTL is the default lifetime of minted tokens. Default one hour.
	TTL time.Duration
	// Path is the issuer's path, such as "/oauth2/default": the issuer URL is
	// http://127.0.0.1:PORT + Path, and discovery lives under it. Default "".
	Path string
	// Discovery adds fields to the discovery document, such as AD FS's
	// access_token_issuer.
	Discovery map[string]any
	// Profile shapes the tokens MintFor mints like one identity provider's
	// (see Profiles) and, when Path is empty, puts the issuer where that
	// provider's is. Default "generic".
	Profile string
	// MintEndpoint serves POST /mint, which mints a token for a JSON Principal,
	// and GET /issuers, the AUTHZ_ISSUERS that trusts what it mints (Trusted),
	// for other processes: anyone who can reach the loopback address can mint
	// tokens.
	MintEndpoint bool
	// AllProfiles also serves an issuer for every other profile, each where
	// that provider's would be (see IssuerFor), all with the same keys, so that
	// MintFor can mint every shape.
	AllProfiles bool
}

// Issuer is a running development issuer.
type Issuer struct {
	// URL is the issuer URL, the iss of every token: http://127.0.0.1:PORT.
	URL string

	opts     Options
	origin   string // http://127.0.0.1:PORT
	server   *http.Server
	listener net.Listener

	mu      sync.Mutex
	keys    []*jose.JSONWebKey // private keys, the current one last
	jwksHit atomic.Int64
}

// Start generates a key and starts serving on a loopback address.
func Start(opts Options) (*Issuer, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Algorithm == "" {
		opts.Algorithm = "RS256"
	}
	if opts.TTL <= 0 {
		opts.TTL = time.Hour
	}
	if opts.Profile == "" {
		opts.Profile = "generic"
	}
	if opts.Audience == "" {
		opts.Audience = defaultAudience(opts.Profile)
	}
	if pathOf(opts.Profile) == "" && opts.Profile != "generic" {
		return nil, fmt.Errorf("devissuer: profile %q is not one of %s", opts.Profile, strings.Join(Profiles, ", "))
	}
	if opts.Path == "" {
		opts.Path = pathOf(opts.Profile)
	}
	if !loopback.Addr(opts.Addr) {
		return nil, fmt.Errorf("devissuer: %q is not a loopback IP and port; the dev issuer only listens on loopback", opts.Addr)
	}
	iss := &Issuer{opts: opts}
	if _, err := iss.Rotate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("devissuer: %v", err)
	}
	if opts.Path != "" && !strings.HasPrefix(opts.Path, "/") {
		ln.Close()
		return nil, fmt.Errorf("devissuer: path %q must start with /", opts.Path)
	}
	iss.listener = ln
	iss.origin = "http://" + ln.Addr().String()
	iss.URL = iss.origin + opts.Path
	base := strings.TrimSuffix(opts.Path, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+"/.well-known/openid-configuration", iss.serveDiscovery(opts.Profile))
	mux.HandleFunc("GET "+base+"/keys", iss.serveKeys)
	if opts.AllProfiles {
		for _, p := range Profiles {
			if p != opts.Profile {
				mux.HandleFunc("GET "+pathOf(p)+"/.well-known/openid-configuration", iss.serveDiscovery(p))
			}
		}
	}
	if opts.MintEndpoint {
		mux.HandleFunc("POST /mint", iss.serveMint)
		mux.HandleFunc("GET /issuers", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, iss.Trusted()) })
	}
	iss.server = &http.Server{Handler: loopback.Guard(mux), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = iss.server.Serve(ln) }()
	return iss, nil
}

// Close stops the server.
func (i *Issuer) Close() error { return i.server.Close() }

// Origin is http://127.0.0.1:PORT, where POST /mint and GET /issuers live
// whatever the issuer's path.
func (i *Issuer) Origin() string { return i.origin }

// JWKSURL is the URL of the key set.
func (i *Issuer) JWKSURL() string { return strings.TrimSuffix(i.URL, "/") + "/keys" }

// Audience is the default audience of minted tokens.
func (i *Issuer) Audience() string { return i.opts.Audience }

// Algorithm is the signing algorithm of minted tokens.
func (i *Issuer) Algorithm() string { return i.opts.Algorithm }

// KeySetFetches counts the requests for the key set served so far.
func (i *Issuer) KeySetFetches() int64 { return i.jwksHit.Load() }

// Rotate generates a new signing key, publishes it beside the old ones and makes
// it the one Mint uses. It returns the new key's kid.
func (i *Issuer) Rotate() (string, error) {
	var priv crypto.Signer
	var err error
	switch i.opts.Algorithm {
	case "RS256", "PS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return "", fmt.Errorf("devissuer: algorithm %q is not one of RS256, PS256, ES256", i.opts.Algorithm)
	}
	if err != nil {
		return "", err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	var id [8]byte
	_, _ = rand.Read(id[:])
	kid := fmt.Sprintf("dev-%x", id)
	i.keys = append(i.keys, &jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: i.opts.Algorithm, Use: "sig"})
	return kid, nil
}

// Retire stops publishing the key kid, as an identity provider removes a key
// it no longer trusts: tokens it signed stop verifying once a verifier
// fetches the set again. The key Mint signs with cannot be retired.
func (i *Issuer) Retire(kid string) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	for n, k := range i.keys {
		if k.KeyID != kid {
			continue
		}
		if n == len(i.keys)-1 {
			return fmt.Errorf("devissuer: %s is the key Mint signs with; rotate first", kid)
		}
		i.keys = append(i.keys[:n], i.keys[n+1:]...)
		return nil
	}
	return fmt.Errorf("devissuer: no key %s", kid)
}

// Claims returns the registered claims of a token for sub: iss, sub, aud, iat, nbf
// and exp, ready for more claims to be added.
func (i *Issuer) Claims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": i.URL,
		"sub": sub,
		"aud": i.opts.Audience,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(i.opts.TTL).Unix(),
	}
}

// Mint signs claims with the current key. Extra header fields (such as typ) may
// be given; kid and alg are always set.
func (i *Issuer) Mint(claims map[string]any, header map[string]any) (string, error) {
	i.mu.Lock()
	key := i.keys[len(i.keys)-1]
	i.mu.Unlock()
	opts := &jose.SignerOptions{}
	opts.WithType("JWT")
	for k, v := range header {
		opts.WithHeader(jose.HeaderKey(k), v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// MustMint is Mint for tests and examples, where a failure is a bug.
func (i *Issuer) MustMint(claims map[string]any) string {
	tok, err := i.Mint(claims, nil)
	if err != nil {
		panic(err)
	}
	return tok
}

// serveDiscovery serves the discovery document of profile's issuer.
func (i *Issuer) serveDiscovery(profile string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		issuer := i.IssuerFor(profile)
		doc := map[string]any{
			"issuer":                                issuer,
			"jwks_uri":                              i.JWKSURL(),
			"authorization_endpoint":                issuer + "/authorize",
			"token_endpoint":                        issuer + "/token",
			"response_types_supported":              []string{"code"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{i.opts.Algorithm},
		}
		if ati := i.AccessTokenIssuerFor(profile); ati != "" {
			doc["access_token_issuer"] = ati
		}
		if profile == i.opts.Profile {
			for k, v := range i.opts.Discovery {
				doc[k] = v
			}
		}
		writeJSON(w, doc)
	}
}

func (i *Issuer) serveKeys(w http.ResponseWriter, _ *http.Request) {
	i.jwksHit.Add(1)
	i.mu.Lock()
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, k.Public())
	}
	i.mu.Unlock()
	writeJSON(w, set)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
