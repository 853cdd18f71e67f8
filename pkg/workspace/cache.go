package workspace

import (
	"container/list"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// cacheKey names a pack object by where it is stored.
type cacheKey struct {
	p   *pack
	off int64
}

// cached is one delta base held by a baseCache.
type cached struct {
	key  cacheKey
	typ  plumbing.ObjectType
	data []byte
}

// baseCache keeps recently rebuilt delta bases, least recently used first
// out, within a byte budget. It is safe for concurrent use; the cached
// slices are never modified.
type baseCache struct {
	mu   sync.Mutex
	max  int64
	used int64
	m    map[cacheKey]*list.Element
	lru  list.List // front is most recently used
}

// newBaseCache returns a cache holding at most maxBytes of content.
func newBaseCache(maxBytes int64) *baseCache {
	return &baseCache{max: maxBytes, m: make(map[cacheKey]*list.Element)}
}

// get returns the cached object at k.
func (c *baseCache) get(k cacheKey) (plumbing.ObjectType, []byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return 0, nil, false
	}
	c.lru.MoveToFront(el)
	v := el.Value.(*cached)
	return v.typ, v.data, true
}

// put stores data as the object at k, evicting old entries to stay within
// budget. Objects larger than a quarter of the budget are not kept, so one
// huge base cannot flush everything else.
func (c *baseCache) put(k cacheKey, typ plumbing.ObjectType, data []byte) {
	size := int64(len(data))
	if size > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; ok {
		return
	}
	for c.used+size > c.max {
		old := c.lru.Back()
		v := c.lru.Remove(old).(*cached)
		delete(c.m, v.key)
		c.used -= int64(len(v.data))
	}
	c.m[k] = c.lru.PushFront(&cached{key: k, typ: typ, data: data})
	c.used += size
}
