package invariant

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
	"github.com/sandkasse/sandkasse/validator/structure"
)

// BenchmarkCheckExamples runs the invariant pass over the sites of the
// peers' 706 examples (one op is one pass), the invariant share of the
// validator's BenchmarkValidateExamples.
func BenchmarkCheckExamples(b *testing.B) {
	dir := os.Getenv("SANDKASSE_BENCH_CORPUS")
	if dir == "" {
		b.Skip("SANDKASSE_BENCH_CORPUS is not set (see validator/bench_test.go)")
	}
	f, err := os.Open(filepath.Join(dir, "examples.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	reg := r4.NewRegistry()
	var docs [][]structure.Site
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		doc, err := fhirjson.Parse(sc.Bytes(), fhirjson.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, structure.Build(doc, reg, structure.Limits{}).Sites)
	}
	at := func(*element.Element) (int, int) { return 1, 1 }
	b.ReportAllocs()
	for b.Loop() {
		for _, sites := range docs {
			Check(sites, Options{Model: reg}, at)
		}
	}
}
