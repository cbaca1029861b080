package identity

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha256" // the hashes of RS256 and PS256
	_ "crypto/sha512" // of RS384, RS512, PS384, PS512
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/apigw-authz/authz/internal/metrics"
)

// minRSABits is the smallest RSA key accepted; smaller keys in a key set are ignored.
const minRSABits = 2048

// keySet is an issuer's remote JSON Web Key Set. It implements go-oidc's KeySet.
// Keys are fetched once and shared; an unknown kid refetches at most once per
// cooldown, so a flood of made-up kids cannot hammer the identity provider; keys
// older than maxAge are refreshed on use; and a failed fetch keeps the old keys.
type keySet struct {
	url      string
	client   *http.Client
	cooldown time.Duration
	maxAge   time.Duration
	now      func() time.Time
	log      *slog.Logger

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	gen       uint64        // counts the changes of keys: a verified-token cache entry holds it
	fetchedAt time.Time     // last successful fetch
	triedAt   time.Time     // last attempt, successful or not
	lastErr   error         // why the last attempt failed; nil if it succeeded
	inflight  chan struct{} // closed when the running fetch ends
}

// verification carries what the key set saw through go-oidc, which flattens the
// key set's errors into text and keeps the payload to itself: why a signature was
// refused, and the payload bytes it covers.
type verification struct {
	err     error
	payload []byte
}

type verificationKey struct{}

// VerifySignature verifies the JWS with the issuer's keys and returns its payload.
func (k *keySet) VerifySignature(ctx context.Context, raw string) ([]byte, error) {
	payload, err := k.verify(ctx, raw)
	if rec, ok := ctx.Value(verificationKey{}).(*verification); ok {
		rec.err, rec.payload = err, payload
	}
	return payload, err
}

func (k *keySet) verify(ctx context.Context, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, asymmetricAlgorithms)
	if err != nil {
		return nil, joseError(err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fail(ReasonMalformed, "expected one signature, got %d", len(jws.Signatures))
	}
	header := jws.Signatures[0].Protected
	if want := signatureSize(header.Algorithm); want > 0 && len(jws.Signatures[0].Signature) != want {
		return nil, fail(ReasonSignature, "the %s signature has %d bytes, not %d", header.Algorithm, len(jws.Signatures[0].Signature), want)
	}
	candidates, err := k.candidates(ctx, header.KeyID, header.Algorithm)
	if err != nil {
		return nil, err
	}
	for _, key := range candidates {
		payload, err := jws.Verify(key.Key)
		if err == nil && strictPSS(raw, header.Algorithm, key, jws.Signatures[0].Signature) {
			return payload, nil
		}
	}
	return nil, fail(ReasonSignature, "the signature does not verify with key %q", truncate(header.KeyID, 64))
}

// candidates returns the keys that may have signed a token with this kid and alg,
// fetching the set first if it has none, or if the kid is unknown and the
// cooldown allows. It fails as unavailable when the set is needed and cannot be
// fetched (now, or at the last attempt within the cooldown), and as an unknown
// key when the set, as last fetched, has no such key.
func (k *keySet) candidates(ctx context.Context, kid, alg string) ([]jose.JSONWebKey, error) {
	keys, stale := k.current()
	if keys == nil {
		if err := k.refresh(ctx); err != nil {
			return nil, err
		}
		keys, _ = k.current()
	} else if stale {
		// The request that finds the keys stale waits for the fetch, within
		// its own deadline: Lambda freezes the process as soon as a request
		// is answered, so a fetch left to run in the background would be
		// frozen mid-way and time out at the next thaw, and a revoked key
		// would stay. If the fetch fails or takes too long, the old keys
		// still verify (and the next attempt waits for the cooldown).
		_ = k.refresh(ctx)
		keys, _ = k.current()
	}
	match := matching(keys, kid, alg)
	if len(match) == 0 && kid != "" && !containsKID(keys, kid) {
		// The identity provider may have rotated its keys. If the set
		// cannot be fetched, a key it has just published cannot be told
		// from a made-up one: the request is denied as the provider's
		// failure, not refused as the token's, which would send a user with
		// a good token to log in again (and get another token signed with
		// the same new key).
		if err := k.refresh(ctx); err != nil {
			return nil, err
		}
		keys, _ = k.current()
		match = matching(keys, kid, alg)
	}
	if len(match) > 0 {
		return match, nil
	}
	switch {
	case kid == "" && len(keys) > 1:
		return nil, fail(ReasonUnknownKey, "the token has no kid and the key set holds %d keys", len(keys))
	case containsKID(keys, kid):
		return nil, fail(ReasonUnknownKey, "key %q is not for alg %s", truncate(kid, 64), alg)
	default:
		return nil, fail(ReasonUnknownKey, "no key %q in the key set", truncate(kid, 64))
	}
}

// set replaces the keys, held under k.mu. A set that differs from the one held
// (a key added, removed or changed) is a new generation, and tokens verified
// with the old one are verified again.
func (k *keySet) set(keys []jose.JSONWebKey, fetchedAt time.Time) {
	if !sameKeys(k.keys, keys) {
		k.gen++
	}
	k.keys, k.fetchedAt = keys, fetchedAt
}

// generation returns the keys' generation, and whether they are fresh: held,
// and younger than maxAge. Stale keys are refreshed by a verification, which
// a cached token must not skip.
func (k *keySet) generation() (gen uint64, fresh bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gen, k.keys != nil && k.now().Sub(k.fetchedAt) <= k.maxAge
}

// sameKeys says whether a and b hold the same keys, by id, algorithm, use and
// public key, in any order.
func sameKeys(a, b []jose.JSONWebKey) bool {
	if len(a) != len(b) {
		return false
	}
	id := func(key jose.JSONWebKey) string {
		tp, err := key.Thumbprint(crypto.SHA256)
		if err != nil {
			return "" // not comparable: never the same
		}
		return key.KeyID + "\x00" + key.Algorithm + "\x00" + key.Use + "\x00" + string(tp)
	}
	seen := map[string]int{}
	for _, key := range a {
		seen[id(key)]++
	}
	for _, key := range b {
		i := id(key)
		if i == "" || seen[i] == 0 {
			return false
		}
		seen[i]--
	}
	return true
}

func (k *keySet) current() (keys []jose.JSONWebKey, stale bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys, k.keys != nil && k.now().Sub(k.fetchedAt) > k.maxAge
}

// refresh brings the key set as up to date as the cooldown allows and reports
// whether the latest attempt succeeded: it fetches the set and waits for the
// result, or waits for the fetch running. Within the cooldown it fetches nothing
// and reports the last attempt's outcome, so that a caller arriving just after a
// successful fetch (another issuer warming the same key set) is told the keys
// are there, not that the set cannot be fetched. A failure says which of the two
// the caller saw: its fetch failed, or no fetch was made for it.
func (k *keySet) refresh(ctx context.Context) error {
	done, attempted := k.start()
	if attempted {
		select {
		case <-done:
		case <-ctx.Done():
			return fail(ReasonUnavailable, "waiting for the key set of %s: %v", k.url, ctx.Err())
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case k.lastErr != nil && attempted:
		return fail(ReasonUnavailable, "fetching the key set of %s failed: %v (no new attempt for %s)", k.url, k.lastErr, k.cooldown)
	case k.lastErr != nil:
		return fail(ReasonUnavailable, "the last fetch of the key set of %s, %s ago, failed (no new attempt until %s after it): %v",
			k.url, k.now().Sub(k.triedAt).Round(time.Second), k.cooldown, k.lastErr)
	}
	if k.keys == nil {
		return fail(ReasonUnavailable, "the key set of %s has not been fetched", k.url)
	}
	return nil
}

// start begins a fetch, or joins the one running, and returns a channel closed
// when it ends. It reports false when the cooldown forbids a new attempt.
func (k *keySet) start() (<-chan struct{}, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inflight != nil {
		return k.inflight, true
	}
	if !k.triedAt.IsZero() && k.now().Sub(k.triedAt) < k.cooldown {
		return nil, false
	}
	k.triedAt = k.now()
	k.inflight = make(chan struct{})
	go k.fetch(k.inflight)
	return k.inflight, true
}

// fetch runs detached from any request, so that a request that gives up does not
// waste a fetch that others wait for; the client's timeout bounds it.
func (k *keySet) fetch(done chan struct{}) {
	metrics.JWKSFetches.Add(1)
	keys, err := k.download()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lastErr = err
	if err == nil {
		k.set(keys, k.now())
	} else {
		k.log.Warn("fetching the key set failed; keeping the keys held", "jwks_uri", k.url, "keys_held", len(k.keys), "error", err.Error())
	}
	close(done)
	k.inflight = nil
}

func (k *keySet) download() ([]jose.JSONWebKey, error) {
	body, err := k.fetchBody(context.Background())
	if err != nil {
		return nil, err
	}
	return parseKeySet(body)
}

// fetchBody GETs the key set and returns it as served, for download to parse
// and for a snapshot to keep.
func (k *keySet) fetchBody(ctx context.Context) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json, application/jwk-set+json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", k.url, resp.Status)
	}
	return body, nil
}

// parseKeySet reads a JWKS and keeps the keys that may verify signatures: public
// asymmetric keys, marked for signing or unmarked, RSA of at least 2048 bits.
// Keys it cannot use are skipped, as RFC 7517 section 5 asks, not fatal.
func parseKeySet(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("the key set is not JSON: %v", err)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var meta struct {
			Use    string   `json:"use"`
			KeyOps []string `json:"key_ops"`
		}
		if json.Unmarshal(raw, &meta) != nil {
			continue
		}
		if meta.Use != "" && meta.Use != "sig" {
			continue
		}
		if meta.KeyOps != nil && !slices.Contains(meta.KeyOps, "verify") {
			continue
		}
		var key jose.JSONWebKey
		if key.UnmarshalJSON(raw) != nil || !key.Valid() {
			continue
		}
		if key.Algorithm != "" && !slices.Contains(asymmetricAlgorithms, jose.SignatureAlgorithm(key.Algorithm)) {
			continue
		}
		pub := key.Public()
		if !pub.Valid() {
			continue // symmetric: there is no public half
		}
		switch pk := pub.Key.(type) {
		case *rsa.PublicKey:
			if pk.N.BitLen() < minRSABits || pk.E < 3 || hasROCAFingerprint(pk.N) {
				continue
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			continue
		}
		keys = append(keys, pub)
	}
	return keys, nil
}

// matching returns the keys with this kid (all keys when kid is empty and there
// is only one) whose own alg, if any, is the token's.
func matching(keys []jose.JSONWebKey, kid, alg string) []jose.JSONWebKey {
	if kid == "" && len(keys) > 1 {
		return nil
	}
	var out []jose.JSONWebKey
	for _, key := range keys {
		if kid != "" && key.KeyID != kid {
			continue
		}
		if key.Algorithm != "" && key.Algorithm != alg {
			continue
		}
		if !keyFitsAlgorithm(key, alg) {
			continue
		}
		out = append(out, key)
	}
	return out
}

// keyFitsAlgorithm reports whether the key's type can produce alg's signatures,
// so that an RSA key is never tried against an ECDSA signature or the reverse.
func keyFitsAlgorithm(key jose.JSONWebKey, alg string) bool {
	switch pk := key.Key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		want := curveBits[alg]
		return want != 0 && pk.Curve.Params().BitSize == want
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// strictPSS checks an RSASSA-PSS signature again with the salt length RFC 7518
// requires (the hash's size): go-jose accepts any salt length. Other algorithms
// pass.
func strictPSS(raw, alg string, key jose.JSONWebKey, sig []byte) bool {
	h, ok := pssHashes[alg]
	if !ok {
		return true
	}
	pub, ok := key.Key.(*rsa.PublicKey)
	if !ok {
		return false
	}
	digest := h.New()
	digest.Write([]byte(raw[:strings.LastIndexByte(raw, '.')]))
	return rsa.VerifyPSS(pub, h, digest.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
}

var pssHashes = map[string]crypto.Hash{"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512}

// signatureSize is the fixed signature length of an ECDSA or EdDSA algorithm, or 0.
func signatureSize(alg string) int { return signatureSizes[alg] }

var signatureSizes = map[string]int{"ES256": 64, "ES384": 96, "ES512": 132, "EdDSA": 64}

// curveBits is the curve each ECDSA algorithm signs with.
var curveBits = map[string]int{"ES256": 256, "ES384": 384, "ES512": 521}

func containsKID(keys []jose.JSONWebKey, kid string) bool {
	for _, key := range keys {
		if key.KeyID == kid {
			return true
		}
	}
	return false
}

// asymmetricAlgorithms are the algorithms the key set parses; the verifier
// narrows them to the issuer's list before any key is used.
var asymmetricAlgorithms = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(asymmetric))
	for i, a := range asymmetric {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()
