package identity

import (
	"crypto/sha256"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// tokenCache remembers tokens that verified, so that a token presented again
// within its lifetime costs a hash and a map lookup instead of a parse and a
// signature check. It is what makes a client's second request cheaper than a
// hand-written authorizer that verifies every time.
//
// It must never let through a token that would not verify now. So it holds
// successes only, keyed by the SHA-256 of the whole token (the token itself is
// never kept as a key); an entry ends at the token's exp; it is used only
// while the key set that verified it is unchanged (a key added, rotated or
// removed starts a new generation) and fresh (stale keys are refreshed by a
// full verification, which a cache hit must not skip); and it is bounded.
// Every other check is one a verified token can only pass better as time
// goes on: nbf and iat recede, the remaining lifetime shrinks.
type tokenCache struct {
	max  int
	hits atomic.Int64 // tokens answered from the cache

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cached
}

type cached struct {
	token   *Token
	expires time.Time
	keys    *keySet
	gen     uint64
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, entries: make(map[[sha256.Size]byte]cached)}
}

func cacheKey(raw string) [sha256.Size]byte { return sha256.Sum256([]byte(raw)) }

// get returns a copy of the token cached under key, if it is still good at now.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (*Token, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	gen, fresh := e.keys.generation()
	if !now.Before(e.expires) || gen != e.gen || !fresh {
		c.mu.Lock()
		if cur, ok := c.entries[key]; ok && cur == e {
			delete(c.entries, key)
		}
		c.mu.Unlock()
		return nil, false
	}
	c.hits.Add(1)
	return e.token.clone(), true
}

// put keeps tok, verified with keys at generation gen (read before the
// verification began, so that keys changed meanwhile invalidate it).
func (c *tokenCache) put(key [sha256.Size]byte, tok *Token, keys *keySet, gen uint64, now time.Time) {
	if c == nil || c.max <= 0 || tok.ExpiresAt == 0 {
		return
	}
	expires := time.Unix(tok.ExpiresAt, 0)
	if !now.Before(expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		// Still full: any entry goes (Go's map order is random).
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = cached{token: tok.clone(), expires: expires, keys: keys, gen: gen}
}

// clone copies the token deeply, so that what a caller does with its token
// cannot change what the cache hands out next.
func (t *Token) clone() *Token {
	c := *t
	c.Audience = slices.Clone(t.Audience)
	c.Scopes = slices.Clone(t.Scopes)
	c.Groups = slices.Clone(t.Groups)
	c.Roles = slices.Clone(t.Roles)
	c.Claims = cloneJSON(t.Claims).(map[string]any)
	return &c
}

// cloneJSON copies a decoded JSON value; scalars are immutable and shared.
func cloneJSON(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return v
		}
		c := maps.Clone(v)
		for k, e := range c {
			c[k] = cloneJSON(e)
		}
		return c
	case []any:
		c := slices.Clone(v)
		for i, e := range c {
			c[i] = cloneJSON(e)
		}
		return c
	default:
		return v
	}
}
