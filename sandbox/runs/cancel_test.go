package runs_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/store"
)

// A queued run is cancelled at once and never claimed afterwards.
func TestCancelQueuedRun(t *testing.T) {
	st := openStore(t)
	s := service(t, st, runs.Options{})
	r, err := s.Create(context.Background(), "t1", "", runs.Request{Suite: "smart-app", Wait: "0s"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Cancel(context.Background(), "t1", r.ID)
	if err != nil || got.Status != store.RunError || got.Message != runs.CancelMessage || !got.CancelRequested {
		t.Fatalf("Cancel = %+v, %v", got, err)
	}
	if _, err := s.Cancel(context.Background(), "t2", r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel through another tenant: %v", err)
	}
	start(t, s)
	// The worker polls every 10 ms; a claimed run would be running or done
	// with another message by then.
	time.Sleep(200 * time.Millisecond)
	if got, _ := st.Run(context.Background(), "t1", r.ID); got.Status != store.RunError || got.Message != runs.CancelMessage || !got.Started.IsZero() {
		t.Fatalf("a cancelled run was claimed: %+v", got)
	}
}

// A running run stops at its owner's next heartbeat, long before its wait.
func TestCancelRunningRun(t *testing.T) {
	st := openStore(t)
	s := service(t, st, runs.Options{})
	start(t, s)
	r, err := s.Create(context.Background(), "t1", "", runs.Request{Suite: "smart-app", Wait: "10m"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		got, _ := st.Run(context.Background(), "t1", r.ID)
		if got.Status == store.RunRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run never started: %+v", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
	asked := time.Now()
	got, err := s.Cancel(context.Background(), "t1", r.ID)
	if err != nil || got.Status != store.RunRunning || !got.CancelRequested {
		t.Fatalf("Cancel = %+v, %v", got, err)
	}
	got = await(t, st, "t1", r.ID)
	if got.Status != store.RunError || got.Outcome != "error" || got.Message != runs.CancelMessage || len(got.Report) != 0 {
		t.Fatalf("cancelled run ended %s/%s: %q", got.Status, got.Outcome, got.Message)
	}
	if took := time.Since(asked); took > 30*time.Second {
		t.Fatalf("the run took %s to stop", took)
	}
	if _, err := s.Cancel(context.Background(), "t1", r.ID); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("cancel of an ended run: %v, want ErrConflict", err)
	}
}

// cancelAtFinish is a store in which the vendor's cancel arrives just as
// the owner records a pass with its certificate.
type cancelAtFinish struct{ store.Store }

func (f cancelAtFinish) FinishRun(ctx context.Context, r store.Run, now time.Time) error {
	if r.CertificateID != "" {
		if _, err := f.Store.CancelRun(ctx, "t1", r.ID, runs.CancelMessage, now); err != nil {
			return err
		}
	}
	return f.Store.FinishRun(ctx, r, now)
}

// No certificate for a cancelled run: one cancelled after it was stored is
// not recorded and is revoked.
func TestCancelledRunKeepsNoCertificate(t *testing.T) {
	st := openStore(t)
	reg, r := passingIssueRun(t, st, cancelAtFinish{st})
	got := await(t, st, "t1", r.ID)
	if got.Status != store.RunError || got.Message != runs.CancelMessage || got.CertificateID != "" {
		t.Fatalf("run ended %s (%q) with certificate %q", got.Status, got.Message, got.CertificateID)
	}
	awaitRevoked(t, reg, runs.CertificateID(r.ID))
}
