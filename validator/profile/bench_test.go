package profile_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

// profiledCorpus returns the resources that declare profiles (the no-basis
// examples and the VKP samples) and the same resources with meta.profile
// removed.
func profiledCorpus(tb testing.TB) (profiled, plain [][]byte) {
	d := profilesDir(tb)
	files, _ := filepath.Glob(filepath.Join(d, "no-basis-2.2.0", "examples", "*.json"))
	more, _ := filepath.Glob(filepath.Join("testdata", "vkp-*.json"))
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			tb.Fatal(err)
		}
		if _, ok := m["meta"]; !ok {
			continue
		}
		profiled = append(profiled, data)
		delete(m, "meta")
		b, _ := json.Marshal(m)
		plain = append(plain, b)
	}
	return profiled, plain
}

func benchValidate(b *testing.B, v *validator.Validator, docs [][]byte) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, d := range docs {
			v.Validate(ctx, d)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(docs)), "ns/resource")
}

// BenchmarkProfileCost compares validating the resources with their
// declared profiles (base + profile) to validating them without
// (base only).
//
//	go test ./validator/profile -run '^$' -bench ProfileCost
func BenchmarkProfileCost(b *testing.B) {
	profiled, plain := profiledCorpus(b)
	v, err := validator.New(validator.Options{Registry: norwegianRegistry(b)})
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range profiled { // warm the profile caches
		v.Validate(context.Background(), d)
	}
	b.Run("base", func(b *testing.B) { benchValidate(b, v, plain) })
	b.Run("profiled", func(b *testing.B) { benchValidate(b, v, profiled) })
}

// TestProfileCost measures the ratio the issue bounds (profile validation
// at most 2x base validation per resource). Timing on a shared, busy
// machine is noisy, so it fails above the bound only when
// SANDKASSE_PERF_ASSERT is set (as on a quiet benchmark host); otherwise it
// logs the ratio.
func TestProfileCost(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	profiled, plain := profiledCorpus(t)
	v, err := validator.New(validator.Options{Registry: norwegianRegistry(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range profiled {
		v.Validate(context.Background(), d)
	}
	run := func(docs [][]byte) time.Duration {
		start := time.Now()
		for range 20 {
			for _, d := range docs {
				v.Validate(context.Background(), d)
			}
		}
		return time.Since(start) / time.Duration(20*len(docs))
	}
	// Interleaved rounds, best of each: the machine may be busy, and the
	// best round is the least disturbed one.
	base, prof := time.Duration(1<<62), time.Duration(1<<62)
	for range 9 {
		base = min(base, run(plain))
		prof = min(prof, run(profiled))
	}
	ratio := float64(prof) / float64(base)
	t.Logf("%d resources: base %v/resource, with declared profiles %v/resource, ratio %.2f (bound 2.0)", len(plain), base, prof, ratio)
	if ratio > 2 && os.Getenv("SANDKASSE_PERF_ASSERT") != "" {
		t.Errorf("profile validation costs %.2fx base validation", ratio)
	}
}

// BenchmarkLoadNorwegianPackages times loading both Norwegian packages into
// a fresh registry (goal: under 200 ms).
func BenchmarkLoadNorwegianPackages(b *testing.B) {
	d := profilesDir(b)
	for i := 0; i < b.N; i++ {
		reg := r4.NewRegistry()
		for _, p := range []string{"no-basis-2.2.0", "vkp-r4-0.9.0"} {
			if err := reg.Load(filepath.Join(d, p)); err != nil {
				b.Fatal(err)
			}
		}
	}
}
