// Package chunks hands out slices carved from larger chunks that can be
// reused from one validation to the next. A validation builds hundreds of
// thousands of small nodes that all die together when it returns; reusing
// their memory takes that garbage off the collector.
package chunks

// Pool holds chunks of T. The zero Pool allocates fresh chunks; Release
// makes the used ones available again. A Pool is used by one goroutine at
// a time.
type Pool[T any] struct {
	Size int // length of a new chunk (0: 256)
	// Keep is how many chunks Release keeps for reuse; the rest (after a
	// very large document) are left to the collector.
	Keep int
	free [][]T
	used [][]T
	cur  []T
}

// Take returns n zeroed, contiguous elements (a slice of length n and
// capacity n).
func (p *Pool[T]) Take(n int) []T {
	if n > p.size() {
		// Larger than a chunk: its own allocation, not kept.
		return make([]T, n)
	}
	if len(p.cur) < n {
		p.cur = p.chunk()
	}
	out := p.cur[:n:n]
	p.cur = p.cur[n:]
	return out
}

// One returns a pointer to one zeroed element.
func (p *Pool[T]) One() *T {
	if len(p.cur) == 0 {
		p.cur = p.chunk()
	}
	e := &p.cur[0]
	p.cur = p.cur[1:]
	return e
}

func (p *Pool[T]) size() int {
	if p.Size <= 0 {
		return 256
	}
	return p.Size
}

// chunk starts a new chunk; p.cur is then always the unused end of the
// last chunk in p.used.
func (p *Pool[T]) chunk() []T {
	var c []T
	if k := len(p.free); k > 0 {
		c, p.free = p.free[k-1], p.free[:k-1]
	} else {
		c = make([]T, p.size())
	}
	p.used = append(p.used, c)
	return c
}

// Release zeroes the chunks handed out since the last Release and keeps up
// to Keep of them for reuse. Nothing taken before may be used afterwards.
// Of the last chunk only the part handed out is zeroed: the rest never
// left the zeroed state, and a small document uses a small part of it.
func (p *Pool[T]) Release() {
	if k := len(p.used); k > 0 {
		last := p.used[k-1]
		p.used[k-1] = last[:len(last)-len(p.cur)]
	}
	for _, c := range p.used {
		clear(c)
		c = c[:cap(c)]
		if len(p.free) < p.Keep {
			p.free = append(p.free, c)
		}
	}
	clear(p.used)
	p.used = p.used[:0]
	p.cur = nil
}
