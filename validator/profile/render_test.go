package profile_test

import (
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/profile"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
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

// An element that refers to an ancestor (Composition.section.section) is
// printed once with a pointer to it, not expanded forever.
func TestRenderRecursiveContentReference(t *testing.T) {
	reg := r4.NewRegistry()
	v := profile.New(reg, nil, profile.Options{})
	sd, err := v.Profile(spec.CoreBase + "clinicaldocument")
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []profile.RenderOptions{{}, {Constrained: true}} {
		var out strings.Builder
		if err := profile.Render(&out, sd, opts); err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out.String(), "\n"); n > 200 {
			t.Errorf("%+v: %d lines", opts, n)
		}
		if !opts.Constrained && !strings.Contains(out.String(), "see Composition.section") {
			t.Errorf("section.section not shown as a reference:\n%s", out.String())
		}
	}
}
