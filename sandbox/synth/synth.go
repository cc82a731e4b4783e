package synth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"
	_ "time/tzdata" // Europe/Oslo on hosts without zoneinfo, same offsets everywhere
)

// Options configure a synthetic population.
type Options struct {
	// Seed selects the population: the same Options give byte-identical
	// output, on any machine and with any number of workers.
	Seed uint64
	// Patients is the number of patients (0: none, only the shared
	// organisations, practitioners, medications and questionnaires).
	Patients int
	// Days of home measurements from Start (0: DefaultDays).
	Days int
	// Start is the first day of home measurements; only its date counts, in
	// Europe/Oslo. Zero: DefaultStart.
	Start time.Time
	// Workers generating patients in parallel (0: GOMAXPROCS). Output does
	// not depend on it.
	Workers int
}

const DefaultDays = 28

// DefaultStart is the first measurement day when Options.Start is zero.
var DefaultStart = time.Date(2025, time.January, 6, 0, 0, 0, 0, oslo)

var oslo = mustLocation("Europe/Oslo")

func mustLocation(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic("synth: " + err.Error())
	}
	return l
}

// Resource is one generated FHIR R4 resource.
type Resource struct {
	Type string // resourceType
	ID   string // logical id
	// JSON is the resource, compact, without a trailing newline. It is valid
	// only during the emit call that receives it: copy it to keep it.
	JSON []byte
}

// MaxPatients bounds Options.Patients.
const MaxPatients = 10_000_000

// MaxDays bounds Options.Days (ten years).
const MaxDays = 3660

func (o Options) normalised() (Options, error) {
	if o.Patients < 0 || o.Patients > MaxPatients {
		return o, fmt.Errorf("synth: patients must be 0..%d", MaxPatients)
	}
	if o.Days < 0 || o.Days > MaxDays {
		return o, fmt.Errorf("synth: days must be 0..%d", MaxDays)
	}
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	if o.Start.IsZero() {
		o.Start = DefaultStart
	} else {
		y, m, d := o.Start.In(oslo).Date()
		if y < 1960 || y > 2035 {
			// Patients are born up to 96 years before Start, and synthetic
			// person numbers exist for births 1854-2039.
			return o, errors.New("synth: start must be in 1960..2035")
		}
		o.Start = time.Date(y, m, d, 0, 0, 0, 0, oslo)
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o, nil
}

// Generate streams a synthetic population to emit: first the shared
// resources (Organizations, Practitioners, PractitionerRoles, Medications,
// Questionnaires), then each patient with everything that belongs to them,
// patient by patient. Only a few patients are in memory at once. Generate
// stops at the first error emit returns, or when ctx is done.
//
// Generated data never goes to a log: the identities are synthetic, but
// code that handles them must be safe for real ones too.
func Generate(ctx context.Context, opts Options, emit func(Resource) error) error {
	o, err := opts.normalised()
	if err != nil {
		return err
	}
	w := newWorld(o)
	shared := &batch{}
	w.shared(shared)
	if err := shared.each(emit); err != nil {
		return err
	}
	if o.Patients == 0 {
		return ctx.Err()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	window := 4 * o.Workers
	tokens := make(chan struct{}, window)
	jobs := make(chan int)
	done := make(chan *batch, window)
	go func() {
		defer close(jobs)
		for i := 0; i < o.Patients; i++ {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				b := batchPool.Get().(*batch)
				b.reset(i)
				w.patient(b, i)
				done <- b // never blocks: at most window batches are out
			}
		}()
	}
	finish := func(err error) error {
		cancel()
		wg.Wait()
		return err
	}
	pending := map[int]*batch{}
	for next := 0; next < o.Patients; {
		var b *batch
		select {
		case b = <-done:
		case <-ctx.Done():
			return finish(ctx.Err())
		}
		pending[b.index] = b
		for {
			b, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			err := b.each(emit)
			batchPool.Put(b)
			if err != nil {
				return finish(err)
			}
			<-tokens
			next++
		}
	}
	return finish(nil)
}

// batch holds the resources of one patient (or the shared ones) as JSON in
// one buffer.
type batch struct {
	index int
	w     jw
	items []item
}

type item struct {
	typ, id    string
	start, end int
}

var batchPool = sync.Pool{New: func() any { return &batch{} }}

func (b *batch) reset(i int) {
	b.index = i
	b.w.b = b.w.b[:0]
	b.w.comma = false
	b.items = b.items[:0]
}

// open starts a resource in the batch; close finishes it.
func (b *batch) open(resourceType, id, profile string) {
	b.w.comma = false
	b.items = append(b.items, item{typ: resourceType, id: id, start: len(b.w.b)})
	b.w.begin(resourceType, id, profile)
}

func (b *batch) close() {
	b.w.end()
	b.items[len(b.items)-1].end = len(b.w.b)
}

func (b *batch) each(emit func(Resource) error) error {
	for _, it := range b.items {
		if err := emit(Resource{Type: it.typ, ID: it.id, JSON: b.w.b[it.start:it.end:it.end]}); err != nil {
			return err
		}
	}
	return nil
}

// rng returns the random stream for one purpose: patient i, or the shared
// world. Streams are independent, so patient i is the same whatever the
// number of workers.
func rng(seed uint64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, stream*0x9e3779b97f4a7c15+0x632be59bd9b4e019))
}

// uuid draws a random (version 4) UUID.
func uuid(r *rand.Rand) string {
	var b [36]byte
	hi, lo := r.Uint64(), r.Uint64()
	hi = hi&^(0xf<<12) | 0x4<<12 // version 4
	lo = lo&^(0x3<<62) | 0x2<<62 // variant 10
	put := func(dst []byte, v uint64, n int) {
		for i := n - 1; i >= 0; i-- {
			dst[i] = hexDigits[v&0xf]
			v >>= 4
		}
	}
	put(b[0:8], hi>>32, 8)
	b[8] = '-'
	put(b[9:13], hi>>16, 4)
	b[13] = '-'
	put(b[14:18], hi, 4)
	b[18] = '-'
	put(b[19:23], lo>>48, 4)
	b[23] = '-'
	put(b[24:36], lo, 12)
	return string(b[:])
}
