package certstore

import (
	"context"
	"testing"
	"time"
)

// BenchmarkDiff re-evaluates 20 stored certificates (the good SMART app's
// recording each) under a changed rule set; per-certificate cost is the
// reported time divided by 20, plus the one policy compilation.
func BenchmarkDiff(b *testing.B) {
	t := b
	f := newFixture(t)
	rec := recording(t)
	for i := 0; i < 20; i++ {
		if _, err := f.store.Put(f.issueFor(t, "epr-smart-app", "1.0", time.Now().Add(24*time.Hour)), f.report, rec); err != nil {
			b.Fatal(err)
		}
	}
	old, nw := loadRuleSet(t, smartRules), loadRuleSet(t, stricterSmart(t))
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := f.store.Diff(ctx, old, nw, DiffOptions{Validator: passAll})
		if err != nil || d.Losing() != 20 {
			b.Fatalf("%v, %d losing", err, d.Losing())
		}
	}
}
