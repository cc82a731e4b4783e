package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// testSearchThenCreate is a conditional create raced by many writers: each
// searches for the identifier and creates a resource of its own id when
// nothing matched. Updates of one tenant are serialised, so exactly one
// creates and every other finds it. Another tenant's updates are not held
// up by that: its writer creates its own resource alongside.
func testSearchThenCreate(t *testing.T, s store.Store) {
	ctx := context.Background()
	const writers = 8
	for round := range 5 {
		ident := fmt.Sprintf("race-%d", round)
		q := store.Query{Type: "Patient", Count: 1, Total: true,
			Where: []store.Clause{{Param: "identifier", Any: []store.Cond{{Kind: store.MatchExact, Value: ident}}}}}
		start := make(chan struct{})
		var wg sync.WaitGroup
		created := make(chan string, writers+1)
		errs := make(chan error, writers+1)
		for w := range writers + 1 {
			tenant := "a"
			if w == writers {
				tenant = "b"
			}
			wg.Go(func() {
				<-start
				err := s.Update(ctx, tenant, func(tx store.Tx) error {
					p, err := tx.Search(ctx, q)
					if err != nil {
						return err
					}
					if p.Total > 0 {
						return nil
					}
					// Widen the window between the search and the write, as
					// validating the resource does in the EPR.
					time.Sleep(5 * time.Millisecond)
					id := fmt.Sprintf("p%d-%d", round, w)
					if err := tx.Put(ctx, res("Patient", id, 1, `{}`), []store.Index{{Param: "identifier", Value: ident}}, 0); err != nil {
						return err
					}
					created <- tenant + "/" + id
					return nil
				})
				if err != nil {
					errs <- err
				}
			})
		}
		close(start)
		wg.Wait()
		close(created)
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
		var got []string
		for c := range created {
			got = append(got, c)
		}
		for _, tenant := range []string{"a", "b"} {
			p, err := s.Search(ctx, tenant, q)
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != 1 {
				t.Fatalf("round %d: tenant %s has %d resources with the identifier after a raced conditional create (created: %v); want 1", round, tenant, p.Total, got)
			}
		}
	}
}
