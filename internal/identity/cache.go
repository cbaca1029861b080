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
// signature check: a client's second request costs less than its first.
//
// It must never let through a token that would not verify now. So it holds
// successes only, keyed by the SHA-256 of the whole token (the token itself is
// never kept as a key); an entry ends at the token's exp; it is used only
// while the key set that verified it is unchanged (a key added, rotated or
// removed starts a new generation) and fresh (stale keys are refreshed by a
// full verification, which a cache hit must not skip); and it is bounded.
// Every other check is one a verified token can only pass better as time
// goes on: nbf and iat recede, the remaining lifetime shrinks.
//
// Memory is bounded twice: by the number of tokens, and by their bytes
// (cacheBytes), since a signed token's claims can take many times its own
// length once decoded.
type tokenCache struct {
	max   int
	bytes int          // the raw tokens' bytes held
	hits  atomic.Int64 // tokens answered from the cache

	mu      sync.Mutex
	entries map[[sha256.Size]byte]cached
}

// cacheBytes bounds the raw bytes of the tokens a cache holds: some 500
// Entra access tokens, and at most a few tens of MiB once decoded, whatever
// their claims.
const cacheBytes = 1 << 20

// maxCachedToken is the largest token cached: larger ones, which only a
// token stuffed with claims reaches, are verified every time.
const maxCachedToken = 8 << 10

type cached struct {
	size    int // len of the raw token
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
			c.remove(key)
		}
		c.mu.Unlock()
		return nil, false
	}
	c.hits.Add(1)
	return e.token.clone(), true
}

// put keeps tok, whose raw token has size bytes, verified with keys at
// generation gen (read before the verification began, so that keys changed
// meanwhile invalidate it).
func (c *tokenCache) put(key [sha256.Size]byte, size int, tok *Token, keys *keySet, gen uint64, now time.Time) {
	if c == nil || c.max <= 0 || tok.ExpiresAt == 0 || size > maxCachedToken {
		return
	}
	expires := time.Unix(tok.ExpiresAt, 0)
	if !now.Before(expires) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; ok {
		c.remove(key)
	}
	if len(c.entries) >= c.max || c.bytes+size > cacheBytes {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				c.remove(k)
			}
		}
		// Still over: any entry goes (Go's map order is random).
		for k := range c.entries {
			if len(c.entries) < c.max && c.bytes+size <= cacheBytes {
				break
			}
			c.remove(k)
		}
	}
	c.entries[key] = cached{size: size, token: tok.clone(), expires: expires, keys: keys, gen: gen}
	c.bytes += size
}

// remove deletes an entry, held under c.mu.
func (c *tokenCache) remove(key [sha256.Size]byte) {
	c.bytes -= c.entries[key].size
	delete(c.entries, key)
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
