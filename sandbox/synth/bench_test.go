package synth

import (
	"context"
	"io"
	"testing"
	"time"
)

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// BenchmarkGenerate10kYear generates 10,000 patients with a year of home
// measurements as NDJSON to a discarding writer:
//
//	go test -run '^$' -bench Generate10kYear -benchtime 1x ./sandbox/synth
//
// The target (issue 4) is under a minute.
func BenchmarkGenerate10kYear(b *testing.B) {
	benchGenerate(b, Options{Seed: 1, Patients: 10_000, Days: 365})
}

// BenchmarkGenerate100Year is the same for 100 patients, for quick runs.
func BenchmarkGenerate100Year(b *testing.B) {
	benchGenerate(b, Options{Seed: 1, Patients: 100, Days: 365})
}

func benchGenerate(b *testing.B, o Options) {
	b.ReportAllocs()
	var resources int
	var bytes int64
	start := time.Now()
	for b.Loop() {
		cw := &countingWriter{}
		resources = 0
		err := Generate(context.Background(), o, func(r Resource) error {
			resources++
			_, err := cw.Write(r.JSON)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		bytes = cw.n
	}
	el := time.Since(start).Seconds() / float64(b.N)
	b.ReportMetric(float64(resources), "resources/op")
	b.ReportMetric(float64(bytes)/1e6, "MB/op")
	b.ReportMetric(float64(resources)/el, "resources/s")
}

var _ = io.Discard
