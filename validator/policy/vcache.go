package policy

import (
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// virtualCache is OPA's cache of evaluated rules (topdown.VirtualCache)
// with the same keys, equality and answers, built to be reused. OPA's own
// makes a tree of hash maps per evaluation: a node and a map per rule, per
// function call and per path element, about a hundred allocations for one
// DHO Observation, all garbage a moment later. Here a frame is one slice of
// nodes and one map from (parent, key hash) to node, both cleared and kept
// for the next evaluation through a sync.Pool.
//
// A cache belongs to one evaluation at a time (OPA calls it from the
// evaluating goroutine only); release drops every term it holds, so a pooled
// cache keeps no part of an earlier input alive.
type virtualCache struct {
	frames []*vframe
	top    int // frames[top] is the active frame
}

type vframe struct {
	nodes []vnode // nodes[0] is the root; a child index is never 0
	index map[uint64]int32
}

// vkey mixes a parent's index and a child key's hash into one word, which
// Go's maps hash fastest; nodes whose words collide (equal hashes, or a
// collision of the mix) are chained through vnode.next, and a node matches
// only with the same parent and an equal key.
func vkey(parent int32, hash int) uint64 {
	return (uint64(hash) ^ (uint64(parent) * 0x9e3779b97f4a7c15)) & vkeyBits
}

// vkeyBits is all ones; a test clears it so that every key collides and
// every look-up walks the chains.
var vkeyBits = ^uint64(0)

type vnode struct {
	key       *ast.Term
	value     *ast.Term
	undefined bool
	parent    int32
	next      int32
}

// maxPooledNodes bounds what a pooled cache keeps: an evaluation that
// cached more (a policy calling a function on thousands of arguments) leaves
// its cache to the garbage collector rather than holding that memory.
const maxPooledNodes = 4096

var virtualCaches = sync.Pool{New: func() any { return &virtualCache{frames: []*vframe{newVframe()}} }}

func newVframe() *vframe {
	return &vframe{nodes: make([]vnode, 1, 64), index: make(map[uint64]int32, 64)}
}

func acquireVirtualCache() *virtualCache { return virtualCaches.Get().(*virtualCache) }

// release empties the cache and pools it.
func (c *virtualCache) release() {
	keep := true
	for _, f := range c.frames {
		if cap(f.nodes) > maxPooledNodes {
			keep = false
		}
		f.reset()
	}
	c.top = 0
	if keep {
		virtualCaches.Put(c)
	}
}

func (f *vframe) reset() {
	clear(f.nodes) // drop the terms: they belong to the input just evaluated
	f.nodes = f.nodes[:1]
	clear(f.index)
}

// Push starts an empty frame (OPA does so for `with`).
func (c *virtualCache) Push() {
	c.top++
	if c.top == len(c.frames) {
		c.frames = append(c.frames, newVframe())
	}
}

// Pop drops the active frame and everything cached in it.
func (c *virtualCache) Pop() {
	if c.top == 0 {
		return // OPA never pops the first frame; nothing to drop
	}
	c.frames[c.top].reset()
	c.top--
}

// find returns the node for ref, or 0 when some element has none.
func (f *vframe) find(ref ast.Ref) int32 {
	var n int32
	for _, t := range ref {
		n = f.child(n, f.index[vkey(n, t.Hash())], t)
		if n == 0 {
			return 0
		}
	}
	return n
}

// child follows the chain from i to parent's child with key t (0: none).
func (f *vframe) child(parent, i int32, t *ast.Term) int32 {
	for i != 0 && (f.nodes[i].parent != parent || !f.nodes[i].key.Equal(t)) {
		i = f.nodes[i].next
	}
	return i
}

// Get answers as topdown's cache does: (nil, true) for a ref recorded as
// undefined, (value, false) for one cached, (nil, false) for one not cached.
func (c *virtualCache) Get(ref ast.Ref) (*ast.Term, bool) {
	f := c.frames[c.top]
	n := f.find(ref)
	if n == 0 && len(ref) > 0 {
		return nil, false
	}
	if f.nodes[n].undefined {
		return nil, true
	}
	return f.nodes[n].value, false
}

// Put records value for ref, or that ref is undefined when value is nil.
func (c *virtualCache) Put(ref ast.Ref, value *ast.Term) {
	f := c.frames[c.top]
	var n int32
	for _, t := range ref {
		k := vkey(n, t.Hash())
		head := f.index[k]
		i := f.child(n, head, t)
		if i == 0 {
			i = int32(len(f.nodes))
			f.nodes = append(f.nodes, vnode{key: t, parent: n, next: head})
			f.index[k] = i
		}
		n = i
	}
	if value != nil {
		f.nodes[n].value = value
	} else {
		f.nodes[n].undefined = true
	}
}

// Keys lists the refs with a cached value in the active frame (OPA uses it
// for debugging only).
func (c *virtualCache) Keys() []ast.Ref {
	f := c.frames[c.top]
	var keys []ast.Ref
	for i := 1; i < len(f.nodes); i++ {
		if f.nodes[i].value == nil {
			continue
		}
		var ref ast.Ref
		for j := int32(i); j != 0; j = f.nodes[j].parent {
			ref = append(ast.Ref{f.nodes[j].key}, ref...)
		}
		keys = append(keys, ref)
	}
	return keys
}
