package main

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/report"
	"github.com/sandkasse/sandkasse/validator/source"
)

// BenchmarkPipeline validates an NDJSON file named by SANDKASSE_BENCH_NDJSON
// with 1 and 2 workers, to see how the pipeline scales.
func BenchmarkPipeline(b *testing.B) {
	path := os.Getenv("SANDKASSE_BENCH_NDJSON")
	if path == "" {
		b.Skip("set SANDKASSE_BENCH_NDJSON to an NDJSON file")
	}
	v, err := validator.New(validator.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range []int{1, 2} {
		b.Run("jobs="+strconv.Itoa(w), func(b *testing.B) {
			for b.Loop() {
				n := 0
				p := pipeline{v: v, workers: w}
				err := p.run(context.Background(), []string{path}, stdio{out: io.Discard, err: io.Discard}, source.Limits{},
					func(report.Result) bool { n++; return true })
				if err != nil || n == 0 {
					b.Fatal(err, n)
				}
			}
		})
	}
}
