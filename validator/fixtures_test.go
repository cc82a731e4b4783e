package validator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
)

// The shared fixtures in ../testdata: *.good.json must give no error,
// *.bad.json at least the findings its *.bad.want lists.
func TestFixtures(t *testing.T) {
	var load []string
	if _, err := os.Stat("../../shared/profiles/no-basis-2.2.0"); err == nil {
		load = append(load, "../../shared/profiles/no-basis-2.2.0")
	}
	v := newValidator(t, validator.Options{Load: load})
	files, err := filepath.Glob("../testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r := v.Validate(context.Background(), data)
			switch {
			case strings.HasSuffix(f, ".good.json"):
				if !r.Valid() {
					t.Fatalf("a good fixture is invalid: %v", r.Issues)
				}
			case strings.HasSuffix(f, ".bad.json"):
				want, err := os.ReadFile(strings.TrimSuffix(f, ".json") + ".want")
				if err != nil {
					t.Fatal(err)
				}
				for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
					code, expr, _ := strings.Cut(line, " ")
					found := false
					for _, is := range r.Issues {
						if is.Code == code && is.Expression == expr {
							found = true
						}
					}
					if !found {
						t.Errorf("missing %s at %s in %v", code, expr, r.Issues)
					}
				}
			default:
				t.Fatalf("a fixture must be named *.good.json or *.bad.json")
			}
		})
	}
}
