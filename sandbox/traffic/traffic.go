// Package traffic records the requests and responses on a tenant's mock
// endpoints for the verification suites to examine. Secrets never reach the
// record: credentials in headers are replaced by "[redacted]".
//
// Recording is asynchronous: Record queues an exchange and a background
// writer stores queued exchanges in batches, one transaction per batch, so
// that recording does not add a synchronous disk write to every read. Flush
// waits until everything queued so far is stored (the traffic list calls it
// first, so a client sees its own requests).
//
// The queue is bounded twice: by count (QueueLen exchanges) and by the
// bytes the queued exchanges hold (MaxQueueBytes, until they are stored).
// Record never blocks the endpoint: an exchange that does not fit in the
// bytes left is queued without its bodies (Truncated set); one that does
// not fit even so, or finds the queue full, is dropped. Both are counted
// (BodiesDropped, Dropped) and logged at most once a second with the
// tenant id and the totals, never with anything of the exchange.
//
// What a tenant's traffic can grow to is bounded twice more. Retention: a
// tenant keeps its newest KeepPerTenant exchanges (Options.KeepPerTenant);
// the writer prunes a tenant every tenth of that many stored exchanges, so
// the table holds at most 1.1 times the limit per tenant. Unauthenticated
// exchanges (RecordAnonymous: no credential, or one the endpoint refused;
// the open OAuth endpoints), which anyone who knows a tenant id can send:
// per tenant and clock minute, the first AnonymousWhole are kept whole, the
// next up to AnonymousPerMinute without bodies (Truncated), and the rest
// are dropped and counted. An app's own refused requests are evidence, so
// they are kept; a flood can neither fill the disk nor push a tenant's
// evidence out of its retention faster than AnonymousPerMinute a minute.
// Callers record only for tenants that exist (tenant.Service.Known).
package traffic

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// Bounds of the queue of exchanges waiting to be stored.
const (
	QueueLen      = 8192
	MaxQueueBytes = 32 << 20
)

// MaxBody is the most of one body a record keeps.
const MaxBody = 256 << 10

// KeepPerTenant is how many exchanges a tenant keeps by default; older
// ones go.
const KeepPerTenant = 10000

// Bounds of unauthenticated exchanges per tenant and clock minute: kept
// whole, then kept without bodies, then dropped.
const (
	AnonymousWhole     = 60
	AnonymousPerMinute = 600
)

// maxAnonTenants bounds the per-tenant minute counters; past it, counters
// of past minutes are dropped, and if none is, a tenant without a counter
// has its unauthenticated exchanges kept without bodies until a minute
// ends.
const maxAnonTenants = 10000

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
	st       store.Store
	log      *slog.Logger
	maxBytes int64
	queue    chan item
	queued   atomic.Int64 // bytes held by queued and unwritten exchanges
	dropped  atomic.Int64
	stripped atomic.Int64
	lastLog  atomic.Int64 // unix nanoseconds of the last drop log line
	done     chan struct{}
	once     sync.Once

	keep               int
	anonWhole, anonMax int
	now                func() time.Time
	anonMu             sync.Mutex
	anon               map[string]*minute
}

// minute counts a tenant's unauthenticated exchanges in one clock minute.
type minute struct {
	start time.Time
	n     int
}

type item struct {
	x     store.Exchange
	size  int64
	flush chan struct{} // a flush marker instead of an exchange
}

// Options tune a Recorder; zero fields take the defaults.
type Options struct {
	Logger        *slog.Logger // where drops are reported (nil: slog.Default())
	QueueLen      int          // default QueueLen
	MaxQueueBytes int64        // default MaxQueueBytes
	KeepPerTenant int          // default KeepPerTenant
	// AnonymousWhole and AnonymousPerMinute bound the unauthenticated
	// exchanges of a tenant per minute (defaults: the constants).
	AnonymousWhole, AnonymousPerMinute int
	Now                                func() time.Time // default time.Now
}

// New starts a recorder on a store with the default options; Close stops it.
func New(st store.Store) *Recorder { return NewWith(st, Options{}) }

// NewWith starts a recorder on a store; Close stops it.
func NewWith(st store.Store, o Options) *Recorder {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.QueueLen <= 0 {
		o.QueueLen = QueueLen
	}
	if o.MaxQueueBytes <= 0 {
		o.MaxQueueBytes = MaxQueueBytes
	}
	if o.KeepPerTenant <= 0 {
		o.KeepPerTenant = KeepPerTenant
	}
	if o.AnonymousPerMinute <= 0 {
		o.AnonymousPerMinute = AnonymousPerMinute
	}
	if o.AnonymousWhole <= 0 {
		o.AnonymousWhole = AnonymousWhole
	}
	o.AnonymousWhole = min(o.AnonymousWhole, o.AnonymousPerMinute)
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Recorder{st: st, log: o.Logger, maxBytes: o.MaxQueueBytes, queue: make(chan item, o.QueueLen), done: make(chan struct{}),
		keep: o.KeepPerTenant, anonWhole: o.AnonymousWhole, anonMax: o.AnonymousPerMinute, now: o.Now, anon: map[string]*minute{}}
	go r.run()
	return r
}

// size is what an exchange holds in memory, near enough: its bodies,
// headers, path and query.
func size(x store.Exchange) int64 {
	n := len(x.RequestBody) + len(x.ResponseBody) + len(x.Path) + len(x.Query) + len(x.Route) + len(x.Method) + 256
	for _, h := range []http.Header{x.RequestHeader, x.ResponseHeader} {
		for k, vs := range h {
			n += len(k)
			for _, v := range vs {
				n += len(v) + 16
			}
		}
	}
	return int64(n)
}

// reserve takes n bytes of the queue's budget if they fit.
func (r *Recorder) reserve(n int64) bool {
	if r.queued.Add(n) > r.maxBytes {
		r.queued.Add(-n)
		return false
	}
	return true
}

// Record queues one exchange (never blocks).
func (r *Recorder) Record(x store.Exchange) {
	n := size(x)
	if !r.reserve(n) {
		x.RequestBody, x.ResponseBody, x.Truncated = nil, nil, true
		if n = size(x); !r.reserve(n) {
			r.lost(x.Tenant, "queue-bytes", 1)
			return
		}
		r.stripped.Add(1)
		r.report(x.Tenant, "bodies-dropped")
	}
	select {
	case r.queue <- item{x: x, size: n}:
	default:
		r.queued.Add(-n)
		r.lost(x.Tenant, "queue-full", 1)
	}
}

// RecordAnonymous queues an exchange whose request was not authenticated
// (no credential, or one the endpoint refused), within the tenant's
// per-minute bounds: kept whole, kept without bodies, or dropped.
func (r *Recorder) RecordAnonymous(x store.Exchange) {
	switch n := r.countAnonymous(x.Tenant); {
	case n <= r.anonWhole:
	case n <= r.anonMax:
		x.RequestBody, x.ResponseBody, x.Truncated = nil, nil, true
		r.stripped.Add(1)
		r.report(x.Tenant, "anonymous-bodies-dropped")
	default:
		r.lost(x.Tenant, "anonymous-rate", 1)
		return
	}
	r.Record(x)
}

// countAnonymous counts one unauthenticated exchange of tenant in the
// current clock minute and returns its number in it.
func (r *Recorder) countAnonymous(tenant string) int {
	now := r.now()
	start := now.Truncate(time.Minute)
	r.anonMu.Lock()
	defer r.anonMu.Unlock()
	m := r.anon[tenant]
	if m == nil {
		if len(r.anon) >= maxAnonTenants {
			for t, old := range r.anon {
				if old.start.Before(start) {
					delete(r.anon, t)
				}
			}
			if len(r.anon) >= maxAnonTenants {
				// Every counter is this minute's: this tenant's exchange
				// is kept without bodies, and not counted.
				return r.anonWhole + 1
			}
		}
		m = &minute{start: start}
		r.anon[tenant] = m
	}
	if !m.start.Equal(start) {
		m.start, m.n = start, 0
	}
	if m.n <= r.anonMax { // stop counting once past: no overflow on a flood
		m.n++
	}
	return m.n
}

// lost counts and reports exchanges that will not be stored.
func (r *Recorder) lost(tenant, reason string, n int64) {
	r.dropped.Add(n)
	r.report(tenant, reason)
}

// report logs a drop, at most once a second: a burst of drops must not
// become a burst of log lines. Only the tenant id and the totals.
func (r *Recorder) report(tenant, reason string) {
	now := time.Now().UnixNano()
	last := r.lastLog.Load()
	if now-last < int64(time.Second) || !r.lastLog.CompareAndSwap(last, now) {
		return
	}
	r.log.Warn("traffic recording is behind", slog.String("tenant", tenant), slog.String("reason", reason),
		slog.Int64("exchanges_dropped", r.dropped.Load()), slog.Int64("bodies_dropped", r.stripped.Load()))
}

// Dropped is the number of exchanges not stored (full queue, failed write).
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// BodiesDropped is the number of exchanges stored without their bodies
// because the queue's bytes were used up.
func (r *Recorder) BodiesDropped() int64 { return r.stripped.Load() }

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
	var batchBytes int64
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
				r.lost(batch[0].Tenant, "write-failed", int64(len(batch)))
			}
			for t, n := range touched {
				if n >= max(r.keep/10, 1) {
					// A failed prune is retried after the next tenth.
					if r.st.PruneTraffic(ctx, t, r.keep) != nil {
						r.report(t, "prune-failed")
					}
					delete(touched, t)
				}
			}
			cancel()
			clear(batch) // let the bodies go before the next batch fills the array
			batch = batch[:0]
			r.queued.Add(-batchBytes)
			batchBytes = 0
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
			batchBytes += it.size
			if len(batch) >= 512 {
				write()
			}
		case <-tick.C:
			write()
		}
	}
}
