// Package traffic records the requests and responses on a tenant's mock
// endpoints for the verification suites to examine. Secrets never reach the
// record: credentials in headers are replaced by "[redacted]".
//
// Recording is asynchronous: Record queues an exchange and a background
// writer stores queued exchanges in batches, one transaction per batch, so
// that recording does not add a synchronous disk write to every read. Flush
// waits until everything queued so far is stored (the traffic list calls it
// first, so a client sees its own requests). When the queue is full an
// exchange is dropped and counted rather than slowing the endpoint.
package traffic

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// MaxBody is the most of one body a record keeps.
const MaxBody = 256 << 10

// KeepPerTenant is how many exchanges a tenant keeps; older ones go.
const KeepPerTenant = 10000

// secret names headers whose values are credentials.
func secret(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key":
		return true
	}
	return strings.Contains(n, "token") || strings.Contains(n, "secret") || strings.Contains(n, "password") ||
		strings.Contains(n, "session") || strings.Contains(n, "api-key") || strings.Contains(n, "auth")
}

// Redact copies a header with credential values replaced.
func Redact(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		if secret(k) {
			red := make([]string, len(vs))
			for i, v := range vs {
				// Keep the scheme: a suite may check that a Bearer token was sent.
				if scheme, _, ok := strings.Cut(v, " "); ok && strings.EqualFold(k, "Authorization") {
					red[i] = scheme + " [redacted]"
				} else {
					red[i] = "[redacted]"
				}
			}
			out[k] = red
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Body returns what a record keeps of a body.
func Body(b []byte) ([]byte, bool) {
	if len(b) > MaxBody {
		return append([]byte(nil), b[:MaxBody]...), true
	}
	return append([]byte(nil), b...), false
}

// Recorder stores exchanges in the background.
type Recorder struct {
	st      store.Store
	queue   chan item
	dropped atomic.Int64
	done    chan struct{}
	once    sync.Once
}

type item struct {
	x     store.Exchange
	flush chan struct{} // a flush marker instead of an exchange
}

// New starts a recorder on a store; Close stops it.
func New(st store.Store) *Recorder {
	r := &Recorder{st: st, queue: make(chan item, 8192), done: make(chan struct{})}
	go r.run()
	return r
}

// Record queues one exchange (never blocks).
func (r *Recorder) Record(x store.Exchange) {
	select {
	case r.queue <- item{x: x}:
	default:
		r.dropped.Add(1)
	}
}

// Dropped is the number of exchanges lost to a full queue.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Flush waits until every exchange recorded before the call is stored.
func (r *Recorder) Flush(ctx context.Context) error {
	ch := make(chan struct{})
	select {
	case r.queue <- item{flush: ch}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stores what is queued and stops.
func (r *Recorder) Close() {
	r.once.Do(func() {
		close(r.queue)
		<-r.done
	})
}

func (r *Recorder) run() {
	defer close(r.done)
	var batch []store.Exchange
	var waiting []chan struct{}
	touched := map[string]int{}
	write := func() {
		if len(batch) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			// A failed write loses the batch: recording must not take the
			// endpoints down with it.
			if r.st.RecordTraffic(ctx, batch) == nil {
				for _, x := range batch {
					touched[x.Tenant]++
				}
			} else {
				r.dropped.Add(int64(len(batch)))
			}
			for t, n := range touched {
				if n >= KeepPerTenant/10 {
					r.st.PruneTraffic(ctx, t, KeepPerTenant)
					delete(touched, t)
				}
			}
			cancel()
			batch = batch[:0]
		}
		for _, w := range waiting {
			close(w)
		}
		waiting = waiting[:0]
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case it, ok := <-r.queue:
			if !ok {
				write()
				return
			}
			if it.flush != nil {
				waiting = append(waiting, it.flush)
				write()
				continue
			}
			batch = append(batch, it.x)
			if len(batch) >= 512 {
				write()
			}
		case <-tick.C:
			write()
		}
	}
}
