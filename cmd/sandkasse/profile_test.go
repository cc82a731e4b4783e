package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfileShow(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "profiles", "vkp-r4-0.9.0")
	nb := filepath.Join("..", "..", "..", "shared", "profiles", "no-basis-2.2.0")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("profile packages not found: %v", err)
	}
	r := runCLI(t, "", "profile", "show", "--load", nb, "--load", dir, "--constrained",
		"http://hl7.no/fhir/StructureDefinition/vkp-Observation-Bodytemp-v090")
	if r.code != exitOK {
		t.Fatalf("exit %d: %s", r.code, r.err)
	}
	for _, want := range []string{"vkp-Observation-Bodytemp-v090", "coding:BodyTempSCTCode", "0..*"} {
		if !strings.Contains(r.out, want) {
			t.Errorf("output lacks %q:\n%s", want, r.out)
		}
	}
	if r := runCLI(t, "", "profile", "show", "http://example.org/none"); r.code != exitUsage || !strings.Contains(r.err, "not loaded") {
		t.Errorf("unknown profile: exit %d, %q", r.code, r.err)
	}
	if r := runCLI(t, "", "profile", "list"); r.code != exitUsage {
		t.Errorf("bad subcommand: exit %d", r.code)
	}
}
