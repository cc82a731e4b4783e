package fhirpath_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sandkasse/sandkasse/validator/fhirpath/internal/untyped"
	"github.com/sandkasse/sandkasse/validator/fhirpath/suite"
)

// corpusDir is where the shared conformance corpora live, relative to this
// package directory.
const corpusDir = "../../../shared/corpus/fhirpath"

// untypedFloor is the pass count reached with the untyped loader; the
// missing tests depend on FHIR types (code vs string, choice elements,
// Age is Quantity …), which only the typed builder provides.
const untypedFloor = 626

func TestOfficialSuite(t *testing.T) {
	path := filepath.Join(corpusDir, "tests-fhir-r4.xml")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("official FHIRPath suite not found at %s (the shared corpus is not checked out): %v", path, err)
	}
	rep, err := suite.RunFile(path, suite.Options{Loader: untyped.Load})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !r.Passed {
			t.Logf("FAIL %s/%s: %s\n    expected %v\n    actual   %v\n    error    %s", r.Group, r.Name, r.Expression, r.Expected, r.Actual, r.Err)
		}
	}
	t.Logf("official suite with the untyped loader: %d/%d passed (%.1f%%)", rep.Passed, rep.Total(), 100*rep.Rate())
	if rep.Passed < untypedFloor {
		t.Errorf("pass count %d fell below the floor %d", rep.Passed, untypedFloor)
	}
}
