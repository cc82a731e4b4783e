package r4

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4/internal/wire"
)

func TestAllDefinitionsDecode(t *testing.T) {
	c := Source()
	start := time.Now()
	n := 0
	for _, u := range c.URLs("StructureDefinition") {
		sd := c.StructureDefinition(u)
		if sd == nil || sd.URL != u {
			t.Fatalf("StructureDefinition %s did not decode", u)
		}
		// The two example-* profiles ship as differentials only.
		if sd.Kind != "logical" && !strings.HasPrefix(sd.URL, spec.CoreBase+"example-") && (sd.Snapshot == nil || len(sd.Snapshot.Element) == 0) {
			t.Errorf("%s has no snapshot", u)
		}
		n++
	}
	t.Logf("decoded %d StructureDefinitions in %v", n, time.Since(start))
	if n < 650 {
		t.Errorf("only %d StructureDefinitions embedded", n)
	}
	start = time.Now()
	for _, u := range c.URLs("ValueSet") {
		if vs := c.ValueSet(u); vs == nil || vs.URL != u {
			t.Fatalf("ValueSet %s did not decode", u)
		}
	}
	for _, u := range c.URLs("CodeSystem") {
		if cs := c.CodeSystem(u); cs == nil || cs.URL != u {
			t.Fatalf("CodeSystem %s did not decode", u)
		}
	}
	t.Logf("decoded %d ValueSets and %d CodeSystems in %v", len(c.URLs("ValueSet")), len(c.URLs("CodeSystem")), time.Since(start))
}

func TestTrimmedContent(t *testing.T) {
	reg := NewRegistry()
	pat := reg.Type("Patient")
	if pat == nil || pat.Kind != "resource" || pat.BaseDefinition != spec.CoreBase+"DomainResource" {
		t.Fatalf("Patient: %+v", pat)
	}
	var gender *spec.ElementDefinition
	for _, e := range pat.Snapshot.Element {
		if e.Path == "Patient.gender" {
			gender = e
		}
	}
	if gender == nil || gender.Binding == nil || gender.Binding.Strength != "required" ||
		gender.Binding.ValueSet != "http://hl7.org/fhir/ValueSet/administrative-gender|4.0.1" {
		t.Fatalf("Patient.gender binding: %+v", gender)
	}
	// Fixed/pattern values must survive the trimming.
	bp := reg.StructureDefinition(spec.CoreBase + "bp")
	found := false
	for _, e := range bp.Snapshot.Element {
		if typ, raw, ok := e.Value("fixed"); ok && e.ID == "Observation.code.coding:BPCode.code" {
			found = typ == "Code" && string(raw) == `"85354-9"`
		}
	}
	if !found {
		t.Error("bp: Observation.code.coding:BPCode.code lost its fixedCode")
	}
	if cs := reg.CodeSystem("http://terminology.hl7.org/CodeSystem/v2-0203"); cs == nil || cs.IsCaseSensitive() != true {
		t.Errorf("v2-0203: %+v", cs)
	}
}

func TestCatalog(t *testing.T) {
	reg := NewRegistry()
	cases := []struct {
		typ, base string
		want      bool
	}{
		{"Patient", "DomainResource", true},
		{"Patient", "Resource", true},
		{"Patient", "Patient", true},
		{"Bundle", "DomainResource", false},
		{"Bundle", "Resource", true},
		{"Age", "Quantity", true},
		{"SimpleQuantity", "Quantity", true},
		{"MoneyQuantity", "Quantity", true},
		{"Quantity", "Age", false},
		{"code", "string", true},
		{"id", "string", true},
		{"positiveInt", "integer", true},
		{"integer", "string", false},
		{spec.CoreBase + "bp", "Observation", true},
		{spec.CoreBase + "bp", spec.CoreBase + "vitalsigns", true},
		{"http://example.org/unknown", "Resource", false},
	}
	for _, c := range cases {
		if got := reg.IsSubtype(c.typ, c.base); got != c.want {
			t.Errorf("IsSubtype(%s, %s) = %v, want %v", c.typ, c.base, got, c.want)
		}
	}
	for typ, kind := range map[string]string{"Patient": "resource", "HumanName": "complex-type", "boolean": "primitive-type",
		"Extension": "complex-type", spec.CoreBase + "vitalsigns": "resource", "Nope": ""} {
		if got := reg.Kind(typ); got != kind {
			t.Errorf("Kind(%s) = %q, want %q", typ, got, kind)
		}
	}
	rts := reg.ResourceTypes()
	if len(rts) != 146 {
		t.Errorf("%d resource types, want 146", len(rts))
	}
	for _, name := range rts {
		if !reg.IsResourceType(name) {
			t.Errorf("IsResourceType(%s) is false", name)
		}
	}
	for _, bad := range []string{"Resource", "DomainResource", "vitalsigns", "HumanName", "string", "", spec.CoreBase + "Patient"} {
		if reg.IsResourceType(bad) {
			t.Errorf("IsResourceType(%q) is true", bad)
		}
	}
	for _, bad := range []string{"Resource", "DomainResource", "vitalsigns"} {
		for _, r := range rts {
			if r == bad {
				t.Errorf("ResourceTypes lists %s", bad)
			}
		}
	}
}

func BenchmarkColdTypeLookup(b *testing.B) {
	for b.Loop() {
		c := &Core{}
		if c.StructureDefinition(spec.CoreBase+"Patient") == nil {
			b.Fatal("no Patient")
		}
	}
}

func BenchmarkColdDecodeObservation(b *testing.B) {
	c := Source()
	c.load()
	it := &c.items[c.sds[spec.CoreBase+"Observation"]]
	for b.Loop() {
		it.once = sync.Once{}
		c.StructureDefinition(spec.CoreBase + "Observation")
	}
}

func BenchmarkIndexLoad(b *testing.B) {
	for b.Loop() {
		c := &Core{}
		c.load()
	}
}

// The wire form must carry exactly what the FHIR form does.
func TestWireRoundTrip(t *testing.T) {
	for _, name := range []string{"bp", "Observation", "Extension", "string"} {
		sd := Source().StructureDefinition(spec.CoreBase + name)
		want, _ := json.Marshal(sd)
		b, err := json.Marshal(wire.ToWire(sd))
		if err != nil {
			t.Fatal(err)
		}
		var w wire.StructureDefinition
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(wire.FromWire(&w))
		if string(got) != string(want) {
			t.Errorf("%s: wire round trip differs", name)
		}
	}
}
