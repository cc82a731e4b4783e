package policy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestVirtualCacheMatchesOPA replays random sequences of Put, Get, Push and
// Pop on OPA's virtual cache and on ours: every Get must answer the same
// (value, undefined, not cached), and Keys the same set. The refs share
// prefixes, collide on purpose (1 and 1.0 are equal terms with equal
// hashes) and mix strings, numbers, arrays and objects as function
// arguments do.
func TestVirtualCacheMatchesOPA(t *testing.T) {
	t.Run("hashed", testVirtualCacheMatchesOPA)
	// Every key in one chain: the chains alone must tell parents and keys
	// apart.
	vkeyBits = 0
	defer func() { vkeyBits = ^uint64(0) }()
	t.Run("colliding", testVirtualCacheMatchesOPA)
}

func testVirtualCacheMatchesOPA(t *testing.T) {
	elems := []*ast.Term{
		ast.DefaultRootDocument, ast.StringTerm("p"), ast.StringTerm("q"), ast.StringTerm("rule"),
		ast.NumberTerm("1"), ast.NumberTerm("1.0"), ast.NumberTerm("2"), ast.StringTerm("1"),
		ast.ArrayTerm(ast.StringTerm("a"), ast.NumberTerm("1")), ast.ArrayTerm(ast.StringTerm("a"), ast.NumberTerm("1.0")),
		ast.ObjectTerm([2]*ast.Term{ast.StringTerm("k"), ast.StringTerm("v")}), ast.BooleanTerm(true), ast.NullTerm(),
	}
	values := []*ast.Term{nil, ast.StringTerm("x"), ast.SetTerm(), ast.NumberTerm("3")}
	rng := rand.New(rand.NewPCG(1, 2))
	randRef := func() ast.Ref {
		ref := ast.Ref{ast.DefaultRootDocument}
		for range rng.IntN(5) {
			ref = append(ref, elems[rng.IntN(len(elems))])
		}
		return ref
	}
	for round := range 200 {
		theirs := topdown.NewVirtualCache()
		ours := acquireVirtualCache()
		depth := 0
		for step := range 300 {
			switch op := rng.IntN(20); {
			case op < 8:
				ref, v := randRef(), values[rng.IntN(len(values))]
				theirs.Put(ref, v)
				ours.Put(ref, v)
			case op < 17:
				ref := randRef()
				tv, tu := theirs.Get(ref)
				ov, ou := ours.Get(ref)
				if tu != ou || !tv.Equal(ov) {
					t.Fatalf("round %d step %d: Get(%v) = %v, %v; OPA's cache: %v, %v", round, step, ref, ov, ou, tv, tu)
				}
			case op < 18:
				theirs.Push()
				ours.Push()
				depth++
			case op < 19 && depth > 0:
				theirs.Pop()
				ours.Pop()
				depth--
			default:
				if got, want := refStrings(ours.Keys()), refStrings(theirs.Keys()); !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d step %d: Keys() = %v, OPA's cache: %v", round, step, got, want)
				}
			}
		}
		ours.release()
	}
}

func refStrings(refs []ast.Ref) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	slices.Sort(out)
	return out
}

// TestVirtualCacheReleaseDropsTerms: a pooled cache keeps nothing of the
// input it was used for.
func TestVirtualCacheReleaseDropsTerms(t *testing.T) {
	c := acquireVirtualCache()
	c.Push()
	c.Put(ast.Ref{ast.DefaultRootDocument, ast.StringTerm("a")}, ast.StringTerm("secret"))
	c.release()
	for _, f := range c.frames {
		for _, n := range f.nodes[:cap(f.nodes)] {
			if n.key != nil || n.value != nil {
				t.Fatalf("released cache still holds %v = %v", n.key, n.value)
			}
		}
		if len(f.index) != 0 {
			t.Fatalf("released cache still indexes %d keys", len(f.index))
		}
	}
	if c.top != 0 {
		t.Fatalf("released cache at frame %d", c.top)
	}
}

// TestEvalConcurrent evaluates the shipped rule sets' test inputs from
// several goroutines at once, each in its own order: every finding must be
// what a lone evaluation gives (pooled caches and slabs are per evaluation;
// `go test -race` checks that nothing is shared).
func TestEvalConcurrent(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"dho-vkp", "epr-smart-app"} {
		mods := shippedModules(t, id)
		e, err := Compile(ctx, mods)
		if err != nil {
			t.Fatal(err)
		}
		inputs := testInputs(t, mods)
		if len(inputs) < 20 {
			t.Fatalf("%s: only %d inputs", id, len(inputs))
		}
		want := make([]string, len(inputs))
		for i, v := range inputs {
			got, err := e.EvalValue(ctx, v)
			want[i] = fmt.Sprint(got, err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				order := rand.New(rand.NewPCG(uint64(g), 7)).Perm(len(inputs))
				for range 3 {
					for _, i := range order {
						got, err := e.EvalValue(ctx, inputs[i])
						if s := fmt.Sprint(got, err); s != want[i] {
							t.Errorf("%s: goroutine %d, input %d: %s, alone %s", id, g, i, s, want[i])
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}
}
