package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/issue"
)

func TestSynthCLI(t *testing.T) {
	a := runCLI(t, "", "synth", "--seed", "5", "--patients", "3", "--days", "7")
	if a.code != exitOK {
		t.Fatalf("exit %d: %s", a.code, a.err)
	}
	lines := strings.Split(strings.TrimSuffix(a.out, "\n"), "\n")
	types := map[string]int{}
	for _, l := range lines {
		var r struct{ ResourceType string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not NDJSON: %v", err)
		}
		types[r.ResourceType]++
	}
	if types["Patient"] != 3 || types["Observation"] == 0 {
		t.Errorf("resource counts %v", types)
	}
	if b := runCLI(t, "", "synth", "--seed", "5", "--patients", "3", "--days", "7"); b.out != a.out {
		t.Error("same flags, different output")
	}
	if c := runCLI(t, "", "synth", "--seed", "6", "--patients", "3", "--days", "7"); c.out == a.out {
		t.Error("different seeds, same output")
	}

	bundle := runCLI(t, "", "synth", "--patients", "2", "--format", "bundle", "--bundle-type", "collection")
	var b struct {
		ResourceType, Type string
		Entry              []json.RawMessage
	}
	if bundle.code != exitOK || json.Unmarshal([]byte(bundle.out), &b) != nil || b.ResourceType != "Bundle" || b.Type != "collection" || len(b.Entry) == 0 {
		t.Errorf("bundle: exit %d, %s %s with %d entries", bundle.code, b.ResourceType, b.Type, len(b.Entry))
	}

	for _, args := range [][]string{
		{"synth", "--format", "xml"},
		{"synth", "--format", "bundle", "--bundle-type", "batch"},
		{"synth", "--patients", "-1"},
		{"synth", "--start", "06.01.2025"},
		{"synth", "extra"},
		{"synth", "--out", filepath.Join(t.TempDir(), "missing", "x.ndjson")},
	} {
		if r := runCLI(t, "", args...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, exitUsage)
		}
	}
}

// TestSynthOutputValidates writes a population with --out and runs
// 'sandkasse validate' over it, with the no-basis and VKP packages when the
// shared checkout is there. It is written as a collection Bundle: no-basis
// requires a MedicationStatement's Medication in the same Bundle
// (aggregation bundled), so a MedicationStatement alone on an NDJSON line
// is rightly refused.
func TestSynthOutputValidates(t *testing.T) {
	out := filepath.Join(t.TempDir(), "pop.json")
	if r := runCLI(t, "", "synth", "--seed", "9", "--patients", "8", "--days", "14", "--format", "bundle", "--bundle-type", "collection", "--out", out); r.code != exitOK {
		t.Fatalf("synth: exit %d: %s", r.code, r.err)
	}
	args := []string{"validate", "--format", "json"}
	for _, p := range []string{"../../../shared/profiles/no-basis-2.2.0", "../../../shared/profiles/vkp-r4-0.9.0"} {
		if _, err := os.Stat(p); err == nil {
			args = append(args, "--load", p)
		}
	}
	r := runCLI(t, "", append(args, out)...)
	if r.code != exitOK {
		n := 0
		for _, res := range jsonLines(t, r.out) {
			for _, is := range res.Issues {
				if is.Severity == issue.Error || is.Severity == issue.Fatal {
					if n++; n <= 5 {
						t.Errorf("%s %s at %s: %s", is.Severity, is.Code, is.Expression, is.Message)
					}
				}
			}
		}
		t.Fatalf("validate: exit %d, %d errors", r.code, n)
	}
}
