package chunks

import "testing"

type node struct {
	a, b int
	p    *node
}

func TestTakeAndRelease(t *testing.T) {
	p := Pool[node]{Size: 4, Keep: 2}
	x := p.One()
	x.a = 7
	s := p.Take(3)
	if len(s) != 3 || cap(s) != 3 {
		t.Fatalf("Take(3): len %d cap %d", len(s), cap(s))
	}
	s[2].p = x
	z := p.One() // the first chunk is full: a second one
	z.b = 3
	big := p.Take(10) // larger than a chunk: its own allocation
	if len(big) != 10 {
		t.Fatal("big take")
	}
	p.Release()
	if x.a != 0 || s[2].p != nil || z.b != 0 {
		t.Fatal("released memory not zeroed")
	}
	if len(p.free) != 2 {
		t.Fatalf("kept %d chunks, want 2", len(p.free))
	}
	y := p.One()
	if y.a != 0 || y.p != nil {
		t.Fatal("reused element not zero")
	}
	for i := 0; i < 20; i++ {
		p.One()
	}
	p.Release()
	if len(p.free) != 2 {
		t.Fatalf("kept %d chunks after a large run, want the cap of 2", len(p.free))
	}
}

// Release zeroes only what was handed out of the last chunk; every chunk
// taken again must still be entirely zero, also after a large Take that
// did not come from a chunk.
func TestReleasePartialChunk(t *testing.T) {
	p := Pool[node]{Size: 8, Keep: 4}
	for round := 0; round < 5; round++ {
		for i := 0; i < 3+round; i++ {
			x := p.One()
			if x.a != 0 || x.b != 0 || x.p != nil {
				t.Fatalf("round %d: One gave a used element %+v", round, *x)
			}
			x.a, x.b, x.p = 1, 2, x
		}
		big := p.Take(20)
		big[0].a = 9
		s := p.Take(2)
		for _, e := range s {
			if e.a != 0 || e.p != nil {
				t.Fatalf("round %d: Take gave a used element %+v", round, e)
			}
		}
		s[1].p = &s[0]
		p.Release()
		for _, c := range p.free {
			for _, e := range c[:cap(c)] {
				if e.a != 0 || e.b != 0 || e.p != nil {
					t.Fatalf("round %d: a kept chunk holds %+v", round, e)
				}
			}
		}
	}
}
