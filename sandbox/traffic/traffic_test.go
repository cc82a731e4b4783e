package traffic

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// gateStore records traffic once the gate is open; nothing else of the
// store is used by a Recorder.
type gateStore struct {
	store.Store
	gate    chan struct{}
	entered chan struct{} // signalled when a write waits at the gate
	mu      sync.Mutex
	got     []store.Exchange
	fail    bool
}

func (g *gateStore) RecordTraffic(ctx context.Context, xs []store.Exchange) error {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fail {
		return errors.New("disk full")
	}
	for _, x := range xs {
		x.RequestBody = append([]byte(nil), x.RequestBody...)
		g.got = append(g.got, x)
	}
	return nil
}

func (g *gateStore) PruneTraffic(context.Context, string, int) error { return nil }

const secretBody = `{"resourceType":"Patient","name":[{"family":"Nordmann"}]}`

func exchange(path string, body int) store.Exchange {
	b := []byte(secretBody + strings.Repeat(" ", body))
	return store.Exchange{Tenant: "t1", Method: "POST", Path: path, Query: "identifier=12345678901",
		RequestHeader: http.Header{"Content-Type": {"application/fhir+json"}}, RequestBody: b, ResponseBody: b}
}

func TestQueueBoundedByBytes(t *testing.T) {
	st := &gateStore{gate: make(chan struct{})}
	var logs bytes.Buffer
	var logMu sync.Mutex
	r := NewWith(st, Options{Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil)), MaxQueueBytes: 64 << 10})
	defer r.Close()

	// The store is held shut, so everything recorded stays queued: the
	// first exchange fits with its bodies (2 x 20 KiB), the second does
	// not and is queued without them, and so are the ones after it.
	r.Record(exchange("/first", 20<<10))
	r.Record(exchange("/second", 20<<10))
	for range 10 {
		r.Record(exchange("/more", 20<<10))
	}
	if r.BodiesDropped() != 11 || r.Dropped() != 0 {
		t.Fatalf("bodies dropped %d, dropped %d; want 11, 0", r.BodiesDropped(), r.Dropped())
	}
	if q := r.queued.Load(); q > 64<<10 {
		t.Fatalf("queued bytes %d over the limit", q)
	}
	// An exchange whose headers alone exceed what is left is dropped.
	huge := exchange("/huge", 0)
	huge.RequestHeader.Set("X-Big", strings.Repeat("h", 64<<10))
	r.Record(huge)
	if r.Dropped() != 1 {
		t.Fatalf("dropped %d, want 1", r.Dropped())
	}

	close(st.gate)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	got := st.got
	st.mu.Unlock()
	if len(got) != 12 {
		t.Fatalf("stored %d exchanges, want 12", len(got))
	}
	if got[0].Path != "/first" || got[0].Truncated || len(got[0].RequestBody) == 0 {
		t.Errorf("first exchange: %s truncated=%v body=%d", got[0].Path, got[0].Truncated, len(got[0].RequestBody))
	}
	if got[1].Path != "/second" || !got[1].Truncated || got[1].RequestBody != nil || got[1].ResponseBody != nil {
		t.Errorf("second exchange: %s truncated=%v bodies=%d/%d", got[1].Path, got[1].Truncated, len(got[1].RequestBody), len(got[1].ResponseBody))
	}
	// Once written, the bytes are free again: a full exchange fits.
	if q := r.queued.Load(); q != 0 {
		t.Errorf("queued bytes after the flush: %d", q)
	}
	r.Record(exchange("/after", 20<<10))
	if r.BodiesDropped() != 11 {
		t.Errorf("bodies dropped after the queue drained: %d", r.BodiesDropped())
	}

	logMu.Lock()
	log := logs.String()
	logMu.Unlock()
	if !strings.Contains(log, "traffic recording is behind") || !strings.Contains(log, "tenant=t1") {
		t.Errorf("no drop log line:\n%s", log)
	}
	for _, leak := range []string{"Nordmann", "12345678901", "/first", "/second"} {
		if strings.Contains(log, leak) {
			t.Errorf("the log carries %q:\n%s", leak, log)
		}
	}
}

func TestQueueBoundedByCountNeverBlocks(t *testing.T) {
	st := &gateStore{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	r := NewWith(st, Options{Logger: slog.New(slog.DiscardHandler), QueueLen: 4})
	defer func() { close(st.gate); r.Close() }()
	// Hold the writer in a store write, so that nothing leaves the queue:
	// 4 exchanges fill it and the other 96 are dropped.
	r.Record(exchange("/first", 0))
	go r.Flush(context.Background())
	<-st.entered
	done := make(chan struct{})
	go func() {
		for range 100 {
			r.Record(exchange("/x", 0))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked on a full queue")
	}
	if d := r.Dropped(); d != 96 {
		t.Fatalf("dropped %d of 100 with a queue of 4, want 96", d)
	}
	if q, want := r.queued.Load(), size(exchange("/first", 0))+4*size(exchange("/x", 0)); q != want {
		t.Fatalf("queued bytes %d, want %d (the one being written and 4 queued)", q, want)
	}
}

func TestFailedWriteCounted(t *testing.T) {
	st := &gateStore{gate: make(chan struct{}), fail: true}
	close(st.gate)
	r := NewWith(st, Options{Logger: slog.New(slog.DiscardHandler)})
	defer r.Close()
	r.Record(exchange("/a", 0))
	r.Record(exchange("/b", 0))
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Dropped() != 2 || r.queued.Load() != 0 {
		t.Fatalf("dropped %d, queued bytes %d after a failed write; want 2, 0", r.Dropped(), r.queued.Load())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
