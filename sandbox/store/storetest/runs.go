package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

func testRuns(t *testing.T, s store.Store) {
	ctx := context.Background()
	mk := func(id, tenant string, created time.Time) store.Run {
		return store.Run{ID: id, Tenant: tenant, Suite: "dho-journal", App: "app", Version: "1.0", After: 7,
			Wait: 1500 * time.Millisecond, FHIRBase: "http://x/t/" + tenant + "/fhir", Status: store.RunQueued, Created: created}
	}
	for i, r := range []store.Run{mk("r2", "a1", t0.Add(time.Second)), mk("r1", "a1", t0), mk("r3", "b2", t0.Add(2*time.Second))} {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if err := s.CreateRun(ctx, mk("r1", "a1", t0)); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate run id: %v, want ErrExists", err)
	}
	got, err := s.Run(ctx, "a1", "r2")
	if err != nil || got.Status != store.RunQueued || got.After != 7 || got.Wait != 1500*time.Millisecond ||
		got.FHIRBase != "http://x/t/a1/fhir" || !got.Created.Equal(t0.Add(time.Second)) || got.Report != nil {
		t.Fatalf("Run(a1, r2) = %+v, %v", got, err)
	}
	if _, err := s.Run(ctx, "b2", "r2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another tenant's run: %v, want ErrNotFound", err)
	}

	// Oldest first, each once.
	var order []string
	for range 3 {
		r, err := s.ClaimRun(ctx, "inst-1", t0.Add(time.Minute), true)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != store.RunRunning || r.Owner != "inst-1" || !r.Started.Equal(t0.Add(time.Minute)) {
			t.Fatalf("claimed run %+v", r)
		}
		order = append(order, r.ID)
	}
	if fmt.Sprint(order) != "[r1 r2 r3]" {
		t.Fatalf("claim order %v, want oldest first", order)
	}
	if _, err := s.ClaimRun(ctx, "inst-1", t0, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("claim on an empty queue: %v, want ErrNotFound", err)
	}

	if err := s.RunProgress(ctx, "r1", "inst-2", "x", t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("progress by another owner: %v, want ErrConflict", err)
	}
	if err := s.RunProgress(ctx, "r1", "inst-1", "3 exchanges", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	done := store.Run{ID: "r1", Owner: "inst-1", Status: store.RunPassed, Outcome: "pass", Message: "ok", Report: []byte(`{"a":1}`)}
	if err := s.FinishRun(ctx, store.Run{ID: "r1", Owner: "inst-2", Status: store.RunFailed}, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("finish by another owner: %v, want ErrConflict", err)
	}
	if err := s.FinishRun(ctx, store.Run{ID: "r1", Owner: "inst-1", Status: store.RunRunning}, t0); err == nil {
		t.Fatal("finish with a status that is not final was accepted")
	}
	if err := s.FinishRun(ctx, done, t0.Add(3*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, done, t0.Add(4*time.Minute)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second finish: %v, want ErrConflict (a verdict is written once)", err)
	}
	got, err = s.Run(ctx, "a1", "r1")
	if err != nil || got.Status != store.RunPassed || got.Outcome != "pass" || string(got.Report) != `{"a":1}` ||
		!got.Finished.Equal(t0.Add(3*time.Minute)) || got.Progress != "" {
		t.Fatalf("finished run %+v, %v", got, err)
	}

	// r2 beat at +1 min, r3 too; r2 beats again at +5 min. Reaping at +3
	// min ends r3 only, and r3's owner can no longer finish it.
	if err := s.RunProgress(ctx, "r2", "inst-1", "alive", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	n, err := s.FailStaleRuns(ctx, t0.Add(3*time.Minute), "the instance running it stopped", t0.Add(6*time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("FailStaleRuns = %d, %v; want 1", n, err)
	}
	got, _ = s.Run(ctx, "b2", "r3")
	if got.Status != store.RunError || got.Message != "the instance running it stopped" || got.Outcome != "error" {
		t.Fatalf("reaped run %+v", got)
	}
	if err := s.FinishRun(ctx, store.Run{ID: "r3", Owner: "inst-1", Status: store.RunPassed}, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("finishing a reaped run: %v, want ErrConflict", err)
	}
	if got, _ = s.Run(ctx, "a1", "r2"); got.Status != store.RunRunning {
		t.Fatalf("live run reaped: %+v", got)
	}

	// Concurrent claimers: every run is claimed exactly once.
	const runs, workers = 40, 8
	for i := range runs {
		if err := s.CreateRun(ctx, mk(fmt.Sprintf("c%02d", i), "a1", t0.Add(time.Duration(i)*time.Millisecond))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimed := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("w%d", w)
			for {
				r, err := s.ClaimRun(ctx, owner, t0.Add(time.Hour), true)
				if errors.Is(err, store.ErrNotFound) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				if prev, dup := claimed[r.ID]; dup {
					mu.Unlock()
					errs <- fmt.Errorf("run %s claimed by %s and %s", r.ID, prev, owner)
					return
				}
				claimed[r.ID] = owner
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(claimed) != runs {
		t.Fatalf("%d runs claimed, want %d", len(claimed), runs)
	}
	t.Run("ListCancel", func(t *testing.T) { testRunListCancel(t, s) })
	t.Run("CancelRacesFinish", func(t *testing.T) { testCancelRacesFinish(t, s) })
}

// testCancelRacesFinish: a cancel and a pass recorded at the same moment
// never both succeed: either the cancel is accepted and the pass refused
// (ErrCancelled), or the pass is recorded and the cancel answers
// ErrConflict.
func testCancelRacesFinish(t *testing.T, s store.Store) {
	ctx := context.Background()
	for i := range 30 {
		id := fmt.Sprintf("race%02d", i)
		if err := s.CreateRun(ctx, store.Run{ID: id, Tenant: "x7", Suite: "s", Status: store.RunQueued, Created: t0.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		r, err := s.ClaimRun(ctx, "racer", t0, true)
		if err != nil || r.ID != id {
			t.Fatalf("claim %s: %s, %v", id, r.ID, err)
		}
		var cancelErr, finishErr error
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, cancelErr = s.CancelRun(ctx, "x7", id, "cancelled by the vendor", t0)
		}()
		go func() {
			defer wg.Done()
			finishErr = s.FinishRun(ctx, store.Run{ID: id, Owner: "racer", Status: store.RunPassed, Outcome: "pass"}, t0)
		}()
		wg.Wait()
		got, _ := s.Run(ctx, "x7", id)
		switch {
		case cancelErr == nil && errors.Is(finishErr, store.ErrCancelled) && got.Status == store.RunRunning && got.CancelRequested:
		case errors.Is(cancelErr, store.ErrConflict) && finishErr == nil && got.Status == store.RunPassed && !got.CancelRequested:
		default:
			t.Fatalf("%s: cancel %v, finish %v, run %s (cancel requested %v)", id, cancelErr, finishErr, got.Status, got.CancelRequested)
		}
		if got.Status == store.RunRunning {
			if err := s.FinishRun(ctx, store.Run{ID: id, Owner: "racer", Status: store.RunError, Outcome: "error"}, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// testRunListCancel: a tenant's runs page newest first with a status
// filter; cancelling ends a queued run at once, flags a running one for its
// owner (heartbeat and finish answer ErrCancelled; only an error end is
// recorded) and answers ErrConflict on a run that had ended.
func testRunListCancel(t *testing.T, s store.Store) {
	ctx := context.Background()
	const tn = "z9"
	for i := range 5 {
		r := store.Run{ID: fmt.Sprintf("z%d", i), Tenant: tn, Suite: "s", Status: store.RunQueued,
			Created: t0.Add(time.Duration(i/2) * time.Second), Report: []byte(`{"big":1}`)}
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateRun(ctx, store.Run{ID: "other", Tenant: "y8", Suite: "s", Status: store.RunQueued, Created: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	// z4 (t0+2s), then z3, z2 (t0+1s, id descending), then z1, z0.
	var ids []string
	q := store.RunQuery{Tenant: tn, Limit: 2}
	for page := 0; ; page++ {
		rs, err := s.ListRuns(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if page > 3 || len(rs) > 2 {
			t.Fatalf("page %d: %d runs", page, len(rs))
		}
		for _, r := range rs {
			if r.Report != nil || r.Tenant != tn {
				t.Fatalf("listed run %+v: a list holds no report and only the tenant's runs", r)
			}
			ids = append(ids, r.ID)
		}
		if len(rs) < 2 {
			break
		}
		q.BeforeCreated, q.BeforeID = rs[len(rs)-1].Created, rs[len(rs)-1].ID
	}
	if fmt.Sprint(ids) != "[z4 z3 z2 z1 z0]" {
		t.Fatalf("paged list %v, want newest first, each once", ids)
	}
	for _, lim := range []int{0, -1, store.MaxRunPage + 1} {
		if _, err := s.ListRuns(ctx, store.RunQuery{Tenant: tn, Limit: lim}); err == nil {
			t.Fatalf("limit %d was accepted", lim)
		}
	}

	// z0 is claimed (oldest), z1 stays queued.
	if _, err := s.ClaimRun(ctx, "own", t0, true); err != nil {
		t.Fatal(err)
	}
	claimed, _ := s.Run(ctx, tn, "z0")
	if claimed.Status != store.RunRunning {
		// Another test's runs may be older; claim until z0 is running.
		for claimed.Status != store.RunRunning {
			if _, err := s.ClaimRun(ctx, "own", t0, true); err != nil {
				t.Fatalf("z0 never claimed: %v", err)
			}
			claimed, _ = s.Run(ctx, tn, "z0")
		}
	}
	owner := claimed.Owner
	if _, err := s.CancelRun(ctx, "y8", "z1", "cancelled by the vendor", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel through another tenant: %v, want ErrNotFound", err)
	}
	if _, err := s.CancelRun(ctx, tn, "nope", "cancelled by the vendor", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel of no run: %v, want ErrNotFound", err)
	}
	got, err := s.CancelRun(ctx, tn, "z1", "cancelled by the vendor", t0.Add(time.Minute))
	if err != nil || got.Status != store.RunError || got.Message != "cancelled by the vendor" || !got.CancelRequested ||
		!got.Finished.Equal(t0.Add(time.Minute)) {
		t.Fatalf("cancel of a queued run = %+v, %v", got, err)
	}
	if _, err := s.CancelRun(ctx, tn, "z1", "cancelled by the vendor", t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second cancel of an ended run: %v, want ErrConflict", err)
	}
	if rs, _ := s.ListRuns(ctx, store.RunQuery{Tenant: tn, Status: store.RunError, Limit: 10}); len(rs) != 1 || rs[0].ID != "z1" {
		t.Fatalf("status filter error: %v", rs)
	}
	if rs, _ := s.ListRuns(ctx, store.RunQuery{Tenant: tn, Status: store.RunRunning, Limit: 10}); len(rs) != 1 || rs[0].ID != "z0" {
		t.Fatalf("status filter running: %v", rs)
	}

	// Running: flagged, not ended; the owner learns it from its heartbeat.
	if err := s.RunProgress(ctx, "z0", owner, "working", t0); err != nil {
		t.Fatalf("heartbeat before a cancel: %v", err)
	}
	got, err = s.CancelRun(ctx, tn, "z0", "cancelled by the vendor", t0)
	if err != nil || got.Status != store.RunRunning || !got.CancelRequested {
		t.Fatalf("cancel of a running run = %+v, %v", got, err)
	}
	if _, err := s.CancelRun(ctx, tn, "z0", "cancelled by the vendor", t0); err != nil {
		t.Fatalf("repeated cancel of a running run: %v", err)
	}
	if err := s.RunProgress(ctx, "z0", owner, "working", t0); !errors.Is(err, store.ErrCancelled) {
		t.Fatalf("heartbeat after a cancel: %v, want ErrCancelled", err)
	}
	if err := s.FinishRun(ctx, store.Run{ID: "z0", Owner: owner, Status: store.RunPassed, Outcome: "pass"}, t0); !errors.Is(err, store.ErrCancelled) {
		t.Fatalf("a pass recorded on a cancelled run: %v, want ErrCancelled", err)
	}
	if got, _ := s.Run(ctx, tn, "z0"); got.Status != store.RunRunning {
		t.Fatalf("the refused finish was written: %+v", got)
	}
	if err := s.FinishRun(ctx, store.Run{ID: "z0", Owner: owner, Status: store.RunError, Outcome: "error", Message: "cancelled by the vendor"}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelRun(ctx, tn, "z0", "cancelled by the vendor", t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cancel after the end: %v, want ErrConflict", err)
	}
	// A run that ended without a cancel answers ErrConflict and stays as it was.
	if _, err := s.ClaimRun(ctx, "own2", t0, true); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"z2", "z3", "z4"} {
		if r, _ := s.Run(ctx, tn, id); r.Status == store.RunRunning {
			if err := s.FinishRun(ctx, store.Run{ID: id, Owner: r.Owner, Status: store.RunPassed, Outcome: "pass"}, t0); err != nil {
				t.Fatal(err)
			}
			got, err := s.CancelRun(ctx, tn, id, "cancelled by the vendor", t0)
			if !errors.Is(err, store.ErrConflict) || got.Status != store.RunPassed || got.CancelRequested {
				t.Fatalf("cancel of a passed run = %+v, %v", got, err)
			}
			return
		}
	}
	t.Fatal("no run of z9 was claimed the second time")
}

// testRunCertificates: a run that asks for a certificate keeps the vendor's
// organisation number, is claimed only by an instance that can issue, and
// records its certificate id once, with its pass, under the owner's check.
func testRunCertificates(t *testing.T, s store.Store) {
	ctx := context.Background()
	plain := store.Run{ID: "p1", Tenant: "a1", Suite: "smart-app", Status: store.RunQueued, Created: t0}
	issue := store.Run{ID: "i1", Tenant: "a1", Suite: "smart-app", App: "app", Version: "1", ArtifactDigest: "sha256:x",
		Issue: true, VendorOrg: "974760673", Status: store.RunQueued, Created: t0.Add(-time.Second)}
	if err := s.CreateRun(ctx, store.Run{ID: "bad", Tenant: "a1", Suite: "smart-app", Issue: true}); err == nil {
		t.Fatal("an issue run without a vendor organisation was created")
	}
	for _, r := range []store.Run{issue, plain} {
		if err := s.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Run(ctx, "a1", "i1")
	if err != nil || !got.Issue || got.VendorOrg != "974760673" || got.CertificateID != "" {
		t.Fatalf("Run(i1) = %+v, %v", got, err)
	}
	if got, _ := s.Run(ctx, "a1", "p1"); got.Issue || got.VendorOrg != "" {
		t.Fatalf("Run(p1) = %+v", got)
	}
	// The issue run is older, but an instance that cannot sign skips it.
	r, err := s.ClaimRun(ctx, "nokey", t0, false)
	if err != nil || r.ID != "p1" {
		t.Fatalf("ClaimRun without issuing = %s, %v; want p1", r.ID, err)
	}
	if _, err := s.ClaimRun(ctx, "nokey", t0, false); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second ClaimRun without issuing: %v, want ErrNotFound", err)
	}
	r, err = s.ClaimRun(ctx, "key", t0, true)
	if err != nil || r.ID != "i1" || !r.Issue || r.VendorOrg != "974760673" {
		t.Fatalf("ClaimRun with issuing = %+v, %v", r, err)
	}
	// A certificate goes only with a pass, and only on a run that asked.
	if err := s.FinishRun(ctx, store.Run{ID: "p1", Owner: "nokey", Status: store.RunFailed, CertificateID: "c"}, t0); err == nil {
		t.Fatal("a failed run recorded a certificate")
	}
	if err := s.FinishRun(ctx, store.Run{ID: "p1", Owner: "nokey", Status: store.RunPassed, CertificateID: "c"}, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("certificate on a run that did not ask: %v, want ErrConflict", err)
	}
	if got, _ := s.Run(ctx, "a1", "p1"); got.Status != store.RunRunning {
		t.Fatalf("the refused finish was partly written: %+v", got)
	}
	if err := s.FinishRun(ctx, store.Run{ID: "i1", Owner: "nokey", Status: store.RunPassed, CertificateID: "c1"}, t0); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("finish by another instance: %v, want ErrConflict", err)
	}
	if err := s.FinishRun(ctx, store.Run{ID: "i1", Owner: "key", Status: store.RunPassed, Outcome: "pass", CertificateID: "c1"}, t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Run(ctx, "a1", "i1"); got.CertificateID != "c1" || got.Status != store.RunPassed {
		t.Fatalf("Run(i1) after finish = %+v", got)
	}
}
