package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath/suite"
)

// suiteFloor is the bar for the official FHIRPath suite (R4), run on
// the typed tree the validator builds. Raise it as the engine improves;
// never lower it to pass.
const suiteFloor = 0.95

func TestOfficialFHIRPathSuiteOnTypedTree(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "fhirpath")
	path := filepath.Join(dir, "tests-fhir-r4.xml")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("official FHIRPath suite not found at %s (../shared/corpus beside the repo): %v", path, err)
	}
	rep, err := suite.RunFile(path, suite.Options{InputDir: dir, Loader: func(p string) (*element.Element, error) {
		return loadResource(p, nil)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if !r.Passed {
			t.Logf("fails: %s/%s: %s (expected %v, got %v %s)", r.Group, r.Name, r.Expression, r.Expected, r.Actual, r.Err)
		}
	}
	t.Logf("official FHIRPath suite, typed tree: %d/%d passed (%.1f%%)", rep.Passed, rep.Total(), 100*rep.Rate())
	if rep.Rate() < suiteFloor {
		t.Fatalf("%.1f%% passed, below the floor of %.0f%%", 100*rep.Rate(), 100*suiteFloor)
	}
}
