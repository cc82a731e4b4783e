package api

import (
	"container/list"
	"sync"

	"github.com/sandkasse/sandkasse/validator"
)

// MaxProfileValidators bounds the validators kept for $validate's profile
// parameter. A derived validator is cheap to make (it shares the registry
// and the compiled profiles) but keeps its own cache of fix hints, so the
// ones in use are kept; only profiles the server knows get here, and the
// bound stops a client cycling through every loaded profile from growing
// the cache with them.
const MaxProfileValidators = 64

// profileCache maps a profile URL to a validator that also checks it,
// least recently used first out. Safe for concurrent use.
type profileCache struct {
	base *validator.Validator
	max  int

	mu    sync.Mutex
	order *list.List // of *profileEntry, most recent at the front
	byURL map[string]*list.Element
}

type profileEntry struct {
	url string
	v   *validator.Validator
}

func newProfileCache(base *validator.Validator, max int) *profileCache {
	if max <= 0 {
		max = MaxProfileValidators
	}
	return &profileCache{base: base, max: max, order: list.New(), byURL: map[string]*list.Element{}}
}

func (c *profileCache) get(url string) *validator.Validator {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.byURL[url]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*profileEntry).v
	}
	v := c.base.WithProfiles(url)
	c.byURL[url] = c.order.PushFront(&profileEntry{url: url, v: v})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.byURL, old.Value.(*profileEntry).url)
	}
	return v
}

func (c *profileCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
