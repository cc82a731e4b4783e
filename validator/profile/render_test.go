package profile_test

import (
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/profile"
)

func TestRenderVKPBloodPressure(t *testing.T) {
	reg := norwegianRegistry(t)
	v := profile.New(reg, nil, profile.Options{})
	sd, err := v.Profile("http://ehelse.no/fhir/StructureDefinition/vkp-Observation-Bloodpressure-v090")
	if err != nil {
		t.Fatal(err)
	}
	var full, short strings.Builder
	if err := profile.Render(&full, sd, profile.RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := profile.Render(&short, sd, profile.RenderOptions{Constrained: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"(http://ehelse.no/fhir/StructureDefinition/vkp-Observation-Bloodpressure-v090)",
		"type Observation, constraint of http://hl7.org/fhir/StructureDefinition/bp",
		"\n  code ", // children indented under the root
		"    coding:BPSCTCode",
		"pattern \"75367002\"",
		"sliced by value:code.coding.code, value:code.coding.system (open)",
		"  component:SystolicBP  ",
		"binding required http://ehelse.no/fhir/ValueSet/vkp-subject-identifiers.valueset",
		"Reference(",
	} {
		if !strings.Contains(full.String(), want) {
			t.Errorf("full rendering lacks %q", want)
		}
	}
	if n, m := strings.Count(full.String(), "\n"), strings.Count(short.String(), "\n"); m >= n || m < 20 {
		t.Errorf("constrained rendering has %d lines, full %d", m, n)
	}
	if strings.Contains(short.String(), "  implicitRules") {
		t.Error("constrained rendering shows an unconstrained element")
	}
	if testing.Verbose() {
		t.Log("\n" + short.String())
	}
}

func TestRenderNeedsSnapshot(t *testing.T) {
	if err := profile.Render(&strings.Builder{}, nil, profile.RenderOptions{}); err == nil {
		t.Error("no error for a missing definition")
	}
}
