package terminology

import (
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

var (
	coreOnce sync.Once
	coreSvc  *Service
)

func core() *Service {
	coreOnce.Do(func() { coreSvc = New(r4.NewRegistry()) })
	return coreSvc
}

const (
	gender   = "http://hl7.org/fhir/ValueSet/administrative-gender"
	genderCS = "http://hl7.org/fhir/administrative-gender"
	obsStat  = "http://hl7.org/fhir/ValueSet/observation-status|4.0.1"
	obsCS    = "http://hl7.org/fhir/observation-status"
	acctType = "http://hl7.org/fhir/ValueSet/account-type"
	actCode  = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
	contact  = "http://hl7.org/fhir/ValueSet/patient-contactrelationship"
	v20131   = "http://terminology.hl7.org/CodeSystem/v2-0131"
)

func TestValidateCode(t *testing.T) {
	s := core()
	cases := []struct {
		name                 string
		vs, system, code     string
		display              string
		valid, checked, disp bool
	}{
		{"gender male", gender, genderCS, "male", "", true, true, true},
		{"gender female", gender, genderCS, "female", "Female", true, true, true},
		{"gender other", gender, genderCS, "other", "", true, true, true},
		{"gender unknown", gender, genderCS, "unknown", "", true, true, true},
		{"gender F", gender, genderCS, "F", "", false, true, true},
		{"gender Male (case-sensitive)", gender, genderCS, "Male", "", false, true, true},
		{"gender wrong system", gender, "http://example.org/gender", "male", "", false, true, true},
		{"gender bad display", gender, genderCS, "male", "Mann", true, true, false},
		{"obs final", obsStat, obsCS, "final", "", true, true, true},
		{"obs entered-in-error", obsStat, obsCS, "entered-in-error", "", true, true, true},
		{"obs done", obsStat, obsCS, "done", "", false, true, true},
		// account-type: is-a _ActAccountCode on v3-ActCode, nested two deep.
		{"is-a direct child", acctType, actCode, "ACCTRECEIVABLE", "", true, true, true},
		{"is-a grandchild", acctType, actCode, "AE", "", true, true, true},
		{"is-a root", acctType, actCode, "_ActAccountCode", "", true, true, true},
		{"is-a outside", acctType, actCode, "AMB", "", false, true, true},
		{"is-a unknown code", acctType, actCode, "NOPE", "", false, true, true},
		// patient-contactrelationship: v2-0131 is-not-a O.
		{"is-not-a kept", contact, v20131, "C", "", true, true, true},
		{"is-not-a removed", contact, v20131, "O", "", false, true, true},
		{"unknown value set", "http://example.org/vs", genderCS, "male", "", true, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.ValidateCode(c.vs, c.system, c.code, c.display)
			if r.Valid != c.valid || r.Checked != c.checked || r.DisplayOK != c.disp {
				t.Errorf("got valid=%v checked=%v displayOK=%v (%s), want %v %v %v", r.Valid, r.Checked, r.DisplayOK, r.Message, c.valid, c.checked, c.disp)
			}
			if (!r.Valid || !r.Checked) && r.Message == "" {
				t.Error("no message")
			}
			if strings.Contains(r.Message, "Mann") {
				t.Errorf("message quotes the supplied display: %s", r.Message)
			}
		})
	}
}

func TestAbstractAndBareCodes(t *testing.T) {
	s := core()
	r := s.ValidateCode(acctType, actCode, "_ActAccountCode", "")
	if !r.Abstract {
		t.Error("_ActAccountCode is notSelectable but not reported abstract")
	}
	if r := s.ValidateBareCode(gender, "female"); !r.Valid || !r.Checked || r.System != genderCS {
		t.Errorf("bare female: %+v", r)
	}
	if r := s.ValidateBareCode(gender, "F"); r.Valid || !r.Checked {
		t.Errorf("bare F: %+v", r)
	}
	if r := s.ValidateCode(gender, "", "male", ""); !r.Valid || !r.Checked {
		t.Errorf("empty system: %+v", r)
	}
}

func TestCodeableConcept(t *testing.T) {
	s := core()
	r := s.ValidateCodeableConcept(gender, []Coding{{System: "http://example.org", Code: "x"}, {System: genderCS, Code: "male"}})
	if !r.Valid || !r.Checked {
		t.Errorf("second coding matches: %+v", r)
	}
	r = s.ValidateCodeableConcept(gender, []Coding{{System: genderCS, Code: "x"}, {System: genderCS, Code: "y"}})
	if r.Valid || !r.Checked || !strings.Contains(r.Message, "none of the 2") {
		t.Errorf("no coding matches: %+v", r)
	}
	r = s.ValidateCodeableConcept(gender, nil)
	if r.Valid {
		t.Error("empty CodeableConcept is valid")
	}
}

func TestExternalSystems(t *testing.T) {
	s := core()
	// observation-codes includes all of LOINC.
	loincVS := "http://hl7.org/fhir/ValueSet/observation-codes"
	cases := []struct {
		vs, system, code string
		valid, checked   bool
	}{
		{loincVS, LOINC, "8867-4", true, false},
		{loincVS, LOINC, "8867-3", false, true},  // check digit
		{loincVS, LOINC, "85354-9", true, false}, // bp panel
		{loincVS, LOINC, "heart rate", false, true},
		{"http://hl7.org/fhir/ValueSet/ucum-units", UCUM, "mm[Hg]", true, false},
		{"http://hl7.org/fhir/ValueSet/ucum-units", UCUM, "kg/m2", true, false},
		{"http://hl7.org/fhir/ValueSet/ucum-units", UCUM, "10*3/uL", true, false},
		{"http://hl7.org/fhir/ValueSet/ucum-units", UCUM, "{beats}/min", true, false},
		{"http://hl7.org/fhir/ValueSet/ucum-units", UCUM, "kg m", false, true},
		{"http://hl7.org/fhir/ValueSet/ucum-units", UCUM, "mm[Hg", false, true},
		{"http://hl7.org/fhir/ValueSet/all-languages", BCP47, "nb-NO", true, false},
		{"http://hl7.org/fhir/ValueSet/all-languages", BCP47, "en-US", true, false},
		{"http://hl7.org/fhir/ValueSet/all-languages", BCP47, "norwegian bokmål", false, true},
		{"http://hl7.org/fhir/ValueSet/mimetypes", BCP13, "application/fhir+json", true, false},
		{"http://hl7.org/fhir/ValueSet/mimetypes", BCP13, "text/plain; charset=UTF-8", true, false},
		{"http://hl7.org/fhir/ValueSet/mimetypes", BCP13, "pdf", false, true},
		{"http://hl7.org/fhir/ValueSet/currencies", ISO4217, "NOK", true, false},
		{"http://hl7.org/fhir/ValueSet/currencies", ISO4217, "kr", false, true},
	}
	for _, c := range cases {
		r := s.ValidateCode(c.vs, c.system, c.code, "")
		if r.Valid != c.valid || r.Checked != c.checked {
			t.Errorf("%s %s: valid=%v checked=%v (%s), want %v %v", c.system, c.code, r.Valid, r.Checked, r.Message, c.valid, c.checked)
		}
		if !r.Checked && !strings.Contains(r.Message, "not checked") {
			t.Errorf("%s %s: message does not say it was not checked: %s", c.system, c.code, r.Message)
		}
	}
	// SNOMED CT: a VS built on is-a over SNOMED cannot be evaluated, but a
	// malformed id is still wrong.
	snomedVS := "http://hl7.org/fhir/ValueSet/clinical-findings"
	for code, ok := range map[string]bool{"38341003": true, "73211009": true, "271649006": true, "38341004": false, "12": false} {
		r := s.ValidateCode(snomedVS, SNOMED, code, "")
		if r.Valid != ok || r.Checked == ok {
			t.Errorf("SNOMED %s: %+v", code, r)
		}
	}
	if r := s.CodeInSystem(SNOMED, "38341003", ""); r.Checked || !r.Valid {
		t.Errorf("CodeInSystem SNOMED: %+v", r)
	}
}

func TestCodeInSystem(t *testing.T) {
	s := core()
	if r := s.CodeInSystem(genderCS, "male", "Male"); !r.Valid || !r.Checked || !r.DisplayOK {
		t.Errorf("male: %+v", r)
	}
	if r := s.CodeInSystem(genderCS, "M", ""); r.Valid || !r.Checked {
		t.Errorf("M: %+v", r)
	}
	if r := s.CodeInSystem(genderCS+"|4.0.1", "female", ""); !r.Valid {
		t.Errorf("versioned system: %+v", r)
	}
	if !s.KnowsSystem(actCode) || s.KnowsSystem(SNOMED) {
		t.Error("KnowsSystem")
	}
}

func boolPtr(b bool) *bool { return &b }

// TestLocalDefinitions covers composition rules the core does not exercise
// cleanly: case-insensitive systems, parent properties, imports, excludes,
// cycles, stored expansions and unexpandable imports.
func TestLocalDefinitions(t *testing.T) {
	reg := spec.NewRegistry(r4.Source())
	reg.AddCodeSystem(&spec.CodeSystem{URL: "http://x/cs", CaseSensitive: boolPtr(false), Content: "complete", Concept: []spec.Concept{
		{Code: "animal", Display: "Animal", Concept: []spec.Concept{
			{Code: "dog", Display: "Dog", Concept: []spec.Concept{{Code: "puppy"}}},
			{Code: "cat", Display: "Cat"},
		}},
		{Code: "kitten", Property: []spec.ConceptProperty{{Code: "parent", ValueCode: "cat"}, {Code: "status", ValueCode: "retired"}}},
		{Code: "rock"},
	}})
	reg.AddValueSet(&spec.ValueSet{URL: "http://x/animals", Compose: &spec.Compose{
		Include: []spec.ConceptSet{{System: "http://x/cs", Filter: []spec.ConceptFilter{{Property: "concept", Op: "is-a", Value: "animal"}}}},
		Exclude: []spec.ConceptSet{{System: "http://x/cs", Concept: []spec.ConceptRef{{Code: "dog"}}}},
	}})
	reg.AddValueSet(&spec.ValueSet{URL: "http://x/pets", Compose: &spec.Compose{
		Include: []spec.ConceptSet{{ValueSet: []string{"http://x/animals"}}, {System: genderCS, Concept: []spec.ConceptRef{{Code: "other"}}}},
	}})
	reg.AddValueSet(&spec.ValueSet{URL: "http://x/cycle-a", Compose: &spec.Compose{Include: []spec.ConceptSet{{ValueSet: []string{"http://x/cycle-b"}}}}})
	reg.AddValueSet(&spec.ValueSet{URL: "http://x/cycle-b", Compose: &spec.Compose{Include: []spec.ConceptSet{{ValueSet: []string{"http://x/cycle-a"}}}}})
	reg.AddValueSet(&spec.ValueSet{URL: "http://x/imports-missing", Compose: &spec.Compose{Include: []spec.ConceptSet{
		{ValueSet: []string{"http://x/nowhere"}}, {System: "http://x/cs", Concept: []spec.ConceptRef{{Code: "rock"}}}}}})
	reg.AddValueSet(&spec.ValueSet{URL: "http://x/stored", Compose: &spec.Compose{Include: []spec.ConceptSet{{System: SNOMED}}},
		Expansion: &spec.Expansion{Contains: []spec.ExpansionContains{{System: SNOMED, Code: "38341003"}}}})
	s := New(reg)
	cases := []struct {
		vs, sys, code  string
		valid, checked bool
	}{
		{"http://x/animals", "http://x/cs", "cat", true, true},
		{"http://x/animals", "http://x/cs", "CAT", true, true}, // case-insensitive system
		{"http://x/animals", "http://x/cs", "puppy", true, true},
		{"http://x/animals", "http://x/cs", "kitten", true, true}, // via parent property
		{"http://x/animals", "http://x/cs", "dog", false, true},   // excluded
		{"http://x/animals", "http://x/cs", "rock", false, true},
		{"http://x/pets", "http://x/cs", "cat", true, true},
		{"http://x/pets", genderCS, "other", true, true},
		{"http://x/pets", genderCS, "male", false, true},
		{"http://x/cycle-a", "http://x/cs", "cat", true, false},
		{"http://x/imports-missing", "http://x/cs", "rock", true, true},
		{"http://x/imports-missing", "http://x/cs", "cat", true, false},
		{"http://x/stored", SNOMED, "38341003", true, true},
		{"http://x/stored", SNOMED, "73211009", false, true},
	}
	for _, c := range cases {
		r := s.ValidateCode(c.vs, c.sys, c.code, "")
		if r.Valid != c.valid || r.Checked != c.checked {
			t.Errorf("%s %s#%s: valid=%v checked=%v (%s), want %v %v", c.vs, c.sys, c.code, r.Valid, r.Checked, r.Message, c.valid, c.checked)
		}
	}
	if r := s.ValidateCode("http://x/animals", "http://x/cs", "kitten", ""); !r.Inactive {
		t.Error("retired kitten not reported inactive")
	}
	if r := s.ValidateCode("http://x/animals", "http://x/cs", "CAT", ""); !strings.Contains(r.Message, "case") {
		t.Errorf("case difference not mentioned: %s", r.Message)
	}
	if _, err := s.Expand("http://x/cycle-a"); err != nil {
		t.Errorf("cycle: the outer set should expand with an unknown part, got %v", err)
	}
}

// TestRequiredBindingsExpand expands every ValueSet bound with strength
// required anywhere in the core resource and datatype definitions, and
// lists the ones that cannot be fully decided offline.
func TestRequiredBindingsExpand(t *testing.T) {
	// LOINC answer lists are LOINC's, not part of the R4 package.
	notShipped := map[string]bool{"http://loinc.org/vs/LL379-9": true}
	s := core()
	reg := s.reg
	seen := map[string]bool{}
	closed, partial := 0, 0
	for _, ti := range reg.TypeInfos() {
		if ti.Derivation != "specialization" {
			continue
		}
		sd := reg.StructureDefinition(ti.URL)
		if sd.Snapshot == nil {
			continue
		}
		for _, e := range sd.Snapshot.Element {
			if e.Binding == nil || e.Binding.Strength != "required" || e.Binding.ValueSet == "" {
				continue
			}
			u := stripVersion(e.Binding.ValueSet)
			if seen[u] {
				continue
			}
			seen[u] = true
			ex, err := s.Expand(u)
			if err != nil && notShipped[u] {
				t.Logf("not expandable, as expected: %v", err)
				continue
			}
			if err != nil {
				t.Errorf("%s (bound at %s): %v", u, e.Path, err)
				continue
			}
			if len(ex.Open) > 0 || ex.Unknown != "" {
				partial++
				t.Logf("not fully decidable offline: %s (bound at %s): %v %s", u, e.Path, ex.Open, ex.Unknown)
				continue
			}
			if len(ex.Codes) == 0 {
				t.Errorf("%s (bound at %s) expands to no codes", u, e.Path)
			}
			closed++
		}
	}
	t.Logf("%d required-binding ValueSets: %d fully expanded, %d partly external", len(seen), closed, partial)
	if len(seen) < 200 {
		t.Errorf("only %d required-binding ValueSets found", len(seen))
	}
}

func TestConcurrentExpansion(t *testing.T) {
	s := New(r4.NewRegistry())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for _, vs := range []string{acctType, gender, contact, obsStat} {
				s.ValidateBareCode(vs, "x")
			}
		})
	}
	wg.Wait()
}

func BenchmarkValidateCode(b *testing.B) {
	s := core()
	s.ValidateCode(acctType, actCode, "AE", "")
	for b.Loop() {
		if r := s.ValidateCode(acctType, actCode, "AE", "American Express"); !r.Valid {
			b.Fatal(r.Message)
		}
	}
}

func BenchmarkValidateBareCode(b *testing.B) {
	s := core()
	for b.Loop() {
		if r := s.ValidateBareCode(gender, "female"); !r.Valid {
			b.Fatal(r.Message)
		}
	}
}

func BenchmarkColdExpansion(b *testing.B) {
	reg := r4.NewRegistry()
	for b.Loop() {
		s := New(reg)
		s.ValidateCode(acctType, actCode, "AE", "")
	}
}

// Lookups of systems and value sets that do not exist must not be cached:
// the urls come from instances, and a server would grow an entry per url.
func TestUnknownURLsAreNotCached(t *testing.T) {
	s := New(r4.NewRegistry())
	for i := 0; i < 100; i++ {
		u := "http://example.org/unknown/" + strconv.Itoa(i)
		s.KnowsSystem(u)
		s.ValidateCode(u, "http://example.org/cs", "x", "")
	}
	n := 0
	s.csCache.Range(func(_, _ any) bool { n++; return true })
	s.vsCache.Range(func(_, _ any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d cache entries for urls that resolve to nothing", n)
	}
	if !s.KnowsSystem("http://hl7.org/fhir/administrative-gender") {
		t.Fatal("a core CodeSystem is not known")
	}
}
