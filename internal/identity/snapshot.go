package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// A snapshot lets a cold start verify tokens before any network call, so that a
// burst of cold starts does not hit the identity providers' rate-limited keys
// endpoints. It trades freshness for fewer fetches and nothing else: its keys go
// through the checks fetched keys go through, an unknown kid still fetches the
// live set under the cooldown, and a seeded set is refreshed in the background
// soon after start, as any set is after KeyMaxAge.

const (
	snapshotVersion = 1
	// maxSnapshotBytes caps a snapshot file: the key sets of many issuers,
	// each capped when fetched (1 MiB by default).
	maxSnapshotBytes = 16 << 20
	// snapshotWarnAge is the age past which a snapshot is still used but said
	// to be old at start-up: the longer it is, the likelier a key it holds has
	// been removed by the identity provider, or a key it lacks is in use.
	snapshotWarnAge = 30 * 24 * time.Hour
	// snapshotRefreshWindow bounds when a seeded key set is first refreshed:
	// at a random moment between a fifth of it and all of it after start, so
	// that a burst of cold starts neither fetches at start nor all at once.
	snapshotRefreshWindow = 5 * time.Minute
)

// Snapshot holds issuers' key sets as fetched at one time, for a verifier to
// start from (Options.Snapshot). Write one with TakeSnapshot and Bytes, read one
// with ReadSnapshot or ParseSnapshot. It holds public keys only: taking or
// reading a key set with private key material fails.
type Snapshot struct {
	// Version is the format, 1.
	Version int `json:"version"`
	// Issuers are the key sets, one entry per issuer.
	Issuers []SnapshotEntry `json:"issuers"`
}

// SnapshotEntry is one issuer's key set in a snapshot.
type SnapshotEntry struct {
	// Issuer is the issuer as configured: the "issuer" of its AUTHZ_ISSUERS entry.
	Issuer string `json:"issuer"`
	// JWKSURI is the key set's URL: the configured jwks_uri, the profile's, or
	// the one discovery named.
	JWKSURI string `json:"jwks_uri"`
	// TakenAt is when the key set was fetched.
	TakenAt time.Time `json:"taken_at"`
	// KeySet is the JSON Web Key Set as the identity provider served it.
	KeySet json.RawMessage `json:"key_set"`

	keys []jose.JSONWebKey // what a fetch of KeySet would keep; set by ParseSnapshot
}

// KeyIDs are the kids of the keys the verifier would use, those that pass the
// checks of fetched keys, in the key set's order.
func (e *SnapshotEntry) KeyIDs() []string {
	keys := e.keys
	if keys == nil {
		keys, _ = e.usableKeys()
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.KeyID
	}
	return ids
}

// TakeSnapshot discovers each issuer and fetches its key set as a verifier with
// opts would, with the same bounded client and the same key checks, and returns
// the sets in the issuers' order. Issuers that share a key set fetch it once. It
// fails, naming each issuer at fault, when a key set cannot be fetched, holds
// private key material or has no key fit to verify signatures.
func TakeSnapshot(ctx context.Context, issuers []IssuerConfig, opts Options) (*Snapshot, error) {
	opts.Snapshot = nil // from the identity providers only
	v, err := New(issuers, opts)
	if err != nil {
		return nil, err
	}
	s := &Snapshot{Version: snapshotVersion}
	sets := map[string]*fetchedSet{}
	var errs []error
	for _, cfg := range issuers {
		e, err := v.snapshotOf(ctx, v.configured(cfg.Issuer), sets)
		if err != nil {
			errs = append(errs, fmt.Errorf("identity: snapshot of %s: %w", cfg.Issuer, err))
			continue
		}
		s.Issuers = append(s.Issuers, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// fetchedSet is one fetch of a key set for a snapshot.
type fetchedSet struct {
	body []byte
	at   time.Time
	err  error
}

func (v *Verifier) snapshotOf(ctx context.Context, iss *issuer, sets map[string]*fetchedSet) (SnapshotEntry, error) {
	ks, err := v.keysOf(ctx, iss)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			err = e.Err // the reason is a request's, not the snapshot's
		}
		return SnapshotEntry{}, err
	}
	f, ok := sets[ks.url]
	if !ok {
		f = &fetchedSet{at: v.opts.Now().UTC().Truncate(time.Second)}
		f.body, f.err = ks.fetchBody(ctx)
		sets[ks.url] = f
	}
	if f.err != nil {
		return SnapshotEntry{}, fmt.Errorf("fetching the key set of %s: %w", ks.url, f.err)
	}
	e := SnapshotEntry{Issuer: iss.cfg.Issuer, JWKSURI: ks.url, TakenAt: f.at, KeySet: f.body}
	if e.keys, err = e.usableKeys(); err != nil {
		return SnapshotEntry{}, fmt.Errorf("%s: %v", ks.url, err)
	}
	return e, nil
}

// ReadSnapshot reads and checks a snapshot file (see ParseSnapshot).
func ReadSnapshot(path string) (*Snapshot, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, pathless(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSnapshotBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, pathless(err))
	}
	if len(data) > maxSnapshotBytes {
		return nil, fmt.Errorf("%s: larger than %d MiB", path, maxSnapshotBytes>>20)
	}
	s, err := ParseSnapshot(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return s, nil
}

// pathless drops the operation and path of a file error, which the caller names.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ParseSnapshot reads a snapshot and checks every entry as the verifier checks a
// fetched key set, and more strictly: an unknown field, a key set with private
// key material (in any letter case, as go-jose reads member names) or with no
// key fit to verify signatures, or an issuer given twice is an error. Keys a
// fetch would skip (RSA under 2048 bits or with the ROCA fingerprint, keys for
// encryption, symmetric keys) are skipped.
func ParseSnapshot(data []byte) (*Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("not a JWKS snapshot (the JSON authz jwks snapshot writes): %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a JWKS snapshot: data after the JSON object")
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("version %d is not %d, the format this authorizer reads: take the snapshot again", s.Version, snapshotVersion)
	}
	if len(s.Issuers) == 0 {
		return nil, errors.New("no issuer in the snapshot")
	}
	seen := map[string]int{}
	for i := range s.Issuers {
		e := &s.Issuers[i]
		if j, dup := seen[e.Issuer]; dup {
			return nil, fmt.Errorf("entry %d: issuer %q is already entry %d", i, e.Issuer, j)
		}
		seen[e.Issuer] = i
		if err := e.check(); err != nil {
			return nil, fmt.Errorf("entry %d (%s): %v", i, e.Issuer, err)
		}
	}
	return &s, nil
}

// Bytes is the snapshot as its file holds it, once ParseSnapshot accepts it:
// what is written can be read.
func (s *Snapshot) Bytes() ([]byte, error) {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("identity: %v", err)
	}
	data = append(data, '\n')
	if _, err := ParseSnapshot(data); err != nil {
		return nil, fmt.Errorf("identity: the snapshot would not be read back: %v", err)
	}
	return data, nil
}

// check validates an entry read from a file and keeps its usable keys.
func (e *SnapshotEntry) check() error {
	switch {
	case e.Issuer == "":
		return errors.New(`field "issuer": required`)
	case e.TakenAt.IsZero():
		return errors.New(`field "taken_at": required`)
	case len(e.KeySet) == 0:
		return errors.New(`field "key_set": required`)
	}
	if err := checkURL(e.JWKSURI); err != nil {
		return fmt.Errorf(`field "jwks_uri": %v`, err)
	}
	keys, err := e.usableKeys()
	if err != nil {
		return err
	}
	e.keys = keys
	return nil
}

// usableKeys refuses a key set with private key material and returns the keys a
// fetch would keep, at least one.
func (e *SnapshotEntry) usableKeys() ([]jose.JSONWebKey, error) {
	if err := publicOnly(e.KeySet); err != nil {
		return nil, err
	}
	keys, err := parseKeySet(e.KeySet)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("the key set has no key fit to verify signatures (public, for signing, RSA of 2048 bits or more, EC or Ed25519)")
	}
	return keys, nil
}

// privateMembers are the JWK members that hold secrets (RFC 7518 section 6): the
// private parts of RSA, EC and OKP keys and the value of a symmetric key.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// publicOnly refuses a key set in which any key holds private key material. A
// fetch would keep only the public half; a file shipped in a package must not
// carry the other half at all. Names are compared in any letter case, since
// go-jose, through encoding/json, reads "D" as "d".
func publicOnly(set []byte) error {
	var s struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(set, &s); err != nil {
		return fmt.Errorf("the key set is not JSON: %v", err)
	}
	for i, raw := range s.Keys {
		var members map[string]json.RawMessage
		if json.Unmarshal(raw, &members) != nil {
			continue // not an object: no key, skipped by parseKeySet
		}
		for name := range members {
			if slices.ContainsFunc(privateMembers, func(p string) bool { return strings.EqualFold(p, name) }) {
				var kid string
				_ = json.Unmarshal(members["kid"], &kid)
				return fmt.Errorf("key %d (kid %q) holds private key material (member %q): a key set must hold public keys only", i, truncate(kid, 64), truncate(name, 8))
			}
		}
	}
	return nil
}

// configured returns the issuer configured with exactly this issuer value, or nil.
func (v *Verifier) configured(name string) *issuer {
	for _, iss := range v.all() {
		if iss.cfg.Issuer == name {
			return iss
		}
	}
	return nil
}

// seed gives the configured issuers of the snapshot their key sets, so that
// neither discovery nor a fetch is needed before their first token verifies.
// Each set is held as fetched long ago enough to be refreshed in the background
// within snapshotRefreshWindow of start: a key the identity provider has removed
// since the snapshot stops verifying then, if the provider can be reached. An
// entry whose issuer is not configured is ignored; one whose jwks_uri is not the
// configured one is ignored with a warning; issuers without an entry fetch as
// without a snapshot.
func (v *Verifier) seed(s *Snapshot) {
	now, log := v.opts.Now(), v.opts.Logger
	var seeded []string
	var oldest time.Time
	for i := range s.Issuers {
		e := &s.Issuers[i]
		iss := v.configured(e.Issuer)
		if iss == nil {
			log.Debug("JWKS snapshot: the issuer is not configured; entry ignored", "issuer", e.Issuer)
			continue
		}
		if fixed := iss.fixedJWKSURI(); fixed != "" && fixed != e.JWKSURI {
			log.Warn("JWKS snapshot: the entry holds another key set than the configured one, which is fetched instead; take the snapshot again",
				"issuer", e.Issuer, "snapshot_jwks_uri", e.JWKSURI, "jwks_uri", fixed)
			continue
		}
		keys := e.keys
		if keys == nil { // a Snapshot built by hand, not read
			var err error
			if keys, err = e.usableKeys(); err != nil {
				log.Warn("JWKS snapshot: entry ignored", "issuer", e.Issuer, "error", err.Error())
				continue
			}
		}
		ks := v.keySet(e.JWKSURI)
		ks.seed(keys, now.Add(v.snapshotRefreshDelay()-v.opts.KeyMaxAge))
		iss.keys = ks
		seeded = append(seeded, e.Issuer)
		if oldest.IsZero() || e.TakenAt.Before(oldest) {
			oldest = e.TakenAt
		}
	}
	if len(seeded) == 0 {
		log.Warn("JWKS snapshot: no configured issuer is in it; every key set is fetched")
		return
	}
	log.Info("key sets seeded from the JWKS snapshot", "issuers", strings.Join(seeded, " "), "taken_at", oldest.UTC().Format(time.RFC3339))
	if age := now.Sub(oldest); age > snapshotWarnAge {
		log.Warn("the JWKS snapshot is older than 30 days; it is used, but keys the identity provider has removed since verify until the first refresh: take a new one (authz jwks snapshot)",
			"taken_at", oldest.UTC().Format(time.RFC3339), "age_days", int(age.Hours()/24))
	}
}

// snapshotRefreshDelay is how long after start a seeded key set turns stale: a
// random moment in the later four fifths of snapshotRefreshWindow, or of
// KeyMaxAge when that is shorter.
func (v *Verifier) snapshotRefreshDelay() time.Duration {
	window := min(snapshotRefreshWindow, v.opts.KeyMaxAge)
	lo := window / 5
	if window-lo <= 0 {
		return window
	}
	return lo + rand.N(window-lo)
}

// seed holds keys as fetched at fetchedAt, unless the set holds keys already. No
// attempt is recorded, so that an unknown kid may fetch at once.
func (k *keySet) seed(keys []jose.JSONWebKey, fetchedAt time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.set(slices.Clone(keys), fetchedAt)
	}
}

// held reports whether the set holds keys, fetched or seeded.
func (k *keySet) held() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.keys != nil
}
