package validator_test

// Throughput on the peers' benchmark corpus (see docs/benchmarks.md and
// bench/run.sh). SANDKASSE_BENCH_CORPUS names the directory make-corpus.js
// wrote: examples.ndjson (706 R4 example resources, one per line) and
// big-transaction.json (one 677-entry transaction Bundle).
//
//	SANDKASSE_BENCH_CORPUS=$SCRATCH/peers/corpus go test ./validator -run '^$' -bench 'BenchmarkValidate' -benchtime 3s
//
// The sequential benchmarks are the ones compared with the peers (Node runs
// them on one thread); the parallel ones show what both cores give.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/benchcpu"
	"github.com/sandkasse/sandkasse/validator/issue"
)

const benchCorpusEnv = "SANDKASSE_BENCH_CORPUS"

func benchCorpusFile(b *testing.B, name string) []byte {
	b.Helper()
	dir := os.Getenv(benchCorpusEnv)
	if dir == "" {
		b.Skipf("%s is not set: point it at the corpus/ directory make-corpus.js writes (see bench/run.sh)", benchCorpusEnv)
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// loadExamples returns the resources of examples.ndjson, one document each.
func loadExamples(b *testing.B) [][]byte {
	data := benchCorpusFile(b, "examples.ndjson")
	var docs [][]byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			docs = append(docs, line)
		}
	}
	return docs
}

func newBenchValidator(b *testing.B) *validator.Validator {
	v, err := validator.New(validator.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// pass validates every document once and counts the error/fatal findings,
// so a benchmark that suddenly finds nothing (engine short-circuiting) shows.
func pass(ctx context.Context, v *validator.Validator, docs [][]byte) (errors, invalid int) {
	for _, d := range docs {
		res := v.Validate(ctx, d)
		n := res.Issues.Count(issue.Error)
		errors += n
		if n > 0 {
			invalid++
		}
	}
	return errors, invalid
}

// reportCPU reports units per second of process CPU time (all threads, so
// the garbage collector's work on the other core counts): the figure to
// compare with the peers' CPU-time runs when the machine is busy with other
// work and wall-clock rates are noise.
func reportCPU(b *testing.B, since time.Duration, units float64, unit string) {
	if since == 0 {
		return
	}
	if d := benchcpu.Process() - since; d > 0 {
		b.ReportMetric(units/d.Seconds(), unit)
	}
}

// BenchmarkValidateExamples: one op is one pass over the 706 examples, one
// Validator, one goroutine. resources/s is the figure compared with the peers.
func BenchmarkValidateExamples(b *testing.B) {
	docs := loadExamples(b)
	v := newBenchValidator(b)
	ctx := context.Background()
	errs, invalid := pass(ctx, v, docs) // warm-up, as the peers do
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := benchcpu.Process()
	for b.Loop() {
		pass(ctx, v, docs)
	}
	reportCPU(b, cpu0, float64(len(docs))*float64(b.N), "resources/cpu-s")
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "resources/s")
	b.ReportMetric(float64(errs), "errors/pass")
	b.ReportMetric(float64(invalid), "invalid/pass")
}

// BenchmarkValidateExamplesParallel: the same passes on GOMAXPROCS
// goroutines sharing one Validator.
func BenchmarkValidateExamplesParallel(b *testing.B) {
	docs := loadExamples(b)
	v := newBenchValidator(b)
	ctx := context.Background()
	pass(ctx, v, docs)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			pass(ctx, v, docs)
		}
	})
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "resources/s")
}

// bigTransaction returns the Bundle and its unit count: entries + 1 (the
// Bundle itself), as the peers count it.
func bigTransaction(b *testing.B) ([]byte, int) {
	data := benchCorpusFile(b, "big-transaction.json")
	var bundle struct {
		Entry []json.RawMessage `json:"entry"`
	}
	if err := json.Unmarshal(data, &bundle); err != nil {
		b.Fatal(err)
	}
	return data, len(bundle.Entry) + 1
}

// BenchmarkValidateBigTransaction: one op validates the 677-entry Bundle.
func BenchmarkValidateBigTransaction(b *testing.B) {
	data, units := bigTransaction(b)
	v := newBenchValidator(b)
	ctx := context.Background()
	errs, _ := pass(ctx, v, [][]byte{data})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := benchcpu.Process()
	for b.Loop() {
		v.Validate(ctx, data)
	}
	reportCPU(b, cpu0, float64(units)*float64(b.N), "entries/cpu-s")
	b.ReportMetric(float64(units)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(errs), "errors/pass")
}

// BenchmarkValidateBigTransactionParallel: GOMAXPROCS goroutines each
// validating the whole Bundle.
func BenchmarkValidateBigTransactionParallel(b *testing.B) {
	data, units := bigTransaction(b)
	v := newBenchValidator(b)
	ctx := context.Background()
	v.Validate(ctx, data)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v.Validate(ctx, data)
		}
	})
	b.ReportMetric(float64(units)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}
