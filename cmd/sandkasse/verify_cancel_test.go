package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/store"
)

// Stopping verify --server (Ctrl-C cancels its context) cancels the run it
// started instead of leaving it to wait out its time in the sandbox.
func TestVerifyServerStopCancelsRun(t *testing.T) {
	l := newLiveSandbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"verify", "--suite", "smart-app", "--server", l.url, "--tenant", l.ten.Tenant.ID, "--token", l.ten.Token, "--wait", "10m"},
			stdio{in: strings.NewReader(""), out: &out, err: &errb})
	}()
	// Wait for the run to exist and be claimed, then stop the command.
	var id string
	deadline := time.Now().Add(time.Minute)
	for id == "" {
		rs, err := l.st.ListRuns(context.Background(), store.RunQuery{Tenant: l.ten.Tenant.ID, Status: store.RunRunning, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 1 {
			id = rs[0].ID
		} else if time.Now().After(deadline) {
			t.Fatal("the run never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	var code int
	select {
	case code = <-done:
	case <-time.After(time.Minute):
		t.Fatal("verify --server did not return after its context ended")
	}
	if code != exitUsage || !strings.Contains(errb.String(), "run "+id+" cancelled") {
		t.Fatalf("exit %d\n%s", code, errb.String())
	}
	for {
		r, err := l.st.Run(context.Background(), l.ten.Tenant.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status.Done() {
			if r.Message != runs.CancelMessage {
				t.Fatalf("the run ended %s: %s", r.Status, r.Message)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run goes on: %s %s", r.Status, r.Progress)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
