package snapshot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

// profilesDir is ../shared/profiles seen from the project root.
func profilesDir(t testing.TB) string {
	d := filepath.Join("..", "..", "..", "shared", "profiles")
	if v := os.Getenv("SANDKASSE_PROFILES"); v != "" {
		d = v
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("profile packages not found at %s (set SANDKASSE_PROFILES): %v", d, err)
	}
	return d
}

func loadNorwegian(t testing.TB) *spec.Registry {
	reg := r4.NewRegistry()
	d := profilesDir(t)
	for _, p := range []string{"no-basis-2.2.0", "vkp-r4-0.9.0"} {
		if err := reg.Load(filepath.Join(d, p)); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// describe renders the parts of an element the comparison looks at.
func describe(e *spec.ElementDefinition) string {
	var b strings.Builder
	min := "-"
	if e.Min != nil {
		min = fmt.Sprint(*e.Min)
	}
	fmt.Fprintf(&b, "path=%s slice=%s card=%s..%s types=[", e.Path, e.SliceName, min, e.Max)
	for _, t := range e.Type {
		fmt.Fprintf(&b, "%s%v%v ", typeCode(t), t.Profile, t.TargetProfile)
	}
	b.WriteString("]")
	var keys []string
	for k := range e.Values {
		if valuePrefix(k) == "fixed" || valuePrefix(k) == "pattern" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		var v any
		_ = json.Unmarshal(e.Values[k], &v)
		c, _ := json.Marshal(v)
		fmt.Fprintf(&b, " %s=%s", k, c)
	}
	if e.Slicing != nil && !defaultExtensionSlicing(e) {
		fmt.Fprintf(&b, " slicing=%v/%s/%v", e.Slicing.Discriminator, e.Slicing.Rules, e.Slicing.Ordered)
	}
	if e.Binding != nil {
		fmt.Fprintf(&b, " binding=%s:%s", e.Binding.Strength, e.Binding.ValueSet)
	}
	return b.String()
}

// defaultExtensionSlicing is the open slicing by url that some generators
// put on every extension element: it changes nothing in validation, which
// matches extensions by url anyway, so comparisons ignore it.
func defaultExtensionSlicing(e *spec.ElementDefinition) bool {
	s := e.Slicing
	return (strings.HasSuffix(e.Path, ".extension") || strings.HasSuffix(e.Path, ".modifierExtension")) &&
		s.Rules == "open" && !s.Ordered && len(s.Discriminator) == 1 && s.Discriminator[0] == spec.Discriminator{Type: "value", Path: "url"}
}

// compare lists the differences between a published and a generated
// snapshot, element by element (by id).
func compare(published, generated []*spec.ElementDefinition) []string {
	var diffs []string
	gen := map[string]*spec.ElementDefinition{}
	var genOrder []string
	for _, e := range generated {
		gen[e.ID] = e
		genOrder = append(genOrder, e.ID)
	}
	var pubOrder []string
	for _, e := range published {
		pubOrder = append(pubOrder, e.ID)
		g := gen[e.ID]
		if g == nil {
			diffs = append(diffs, "missing from generated: "+e.ID)
			continue
		}
		if a, b := describe(e), describe(g); a != b {
			diffs = append(diffs, fmt.Sprintf("%s:\n    published %s\n    generated %s", e.ID, a, b))
		}
		delete(gen, e.ID)
	}
	for _, id := range genOrder {
		if gen[id] != nil {
			diffs = append(diffs, "only in generated: "+id)
		}
	}
	if len(diffs) == 0 && strings.Join(pubOrder, ",") != strings.Join(genOrder, ",") {
		diffs = append(diffs, "same elements in a different order")
	}
	return diffs
}

const vkpBP = "http://ehelse.no/fhir/StructureDefinition/vkp-Observation-Bloodpressure-v090"

// The VKP blood-pressure profile is the one VKP profile published with a
// snapshot: the generated snapshot must agree with it.
func TestVKPBloodPressureAgreesWithPublishedSnapshot(t *testing.T) {
	reg := loadNorwegian(t)
	sd := reg.StructureDefinition(vkpBP)
	if sd == nil || sd.Snapshot == nil {
		t.Fatal("VKP blood-pressure profile with snapshot not loaded")
	}
	gen, err := Generate(reg, sd)
	if err != nil {
		t.Fatal(err)
	}
	if d := compare(sd.Snapshot.Element, gen.Snapshot.Element); len(d) > 0 {
		t.Errorf("%d differences:\n  %s", len(d), strings.Join(d, "\n  "))
	}
	t.Logf("%d elements compared", len(sd.Snapshot.Element))
}

// Every profile of both packages gets a snapshot; where the package
// publishes one (all of no-basis, and VKP blood pressure), the generated one
// must agree with it (paths, cardinality, types, fixed/pattern, slicing,
// bindings; the open url slicing some generators put on every extension
// element is ignored).
func TestNorwegianProfilesGenerate(t *testing.T) {
	reg := loadNorwegian(t)
	d := profilesDir(t)
	var urls []string
	published := map[string]bool{}
	for _, p := range []string{"no-basis-2.2.0", "vkp-r4-0.9.0"} {
		files, _ := filepath.Glob(filepath.Join(d, p, "*.json"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			var h struct {
				ResourceType, URL string
				Snapshot          json.RawMessage
			}
			if json.Unmarshal(b, &h) == nil && h.ResourceType == "StructureDefinition" {
				urls = append(urls, h.URL)
				published[h.URL] = len(h.Snapshot) > 0
			}
		}
	}
	g := New(reg)
	compared := 0
	defer func() {
		t.Logf("%d profiles generated, %d compared with their published snapshot", len(urls), compared)
	}()
	for _, u := range urls {
		sd := reg.StructureDefinition(u)
		gen, err := Generate(reg, sd)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if _, err := spec.NewElementIndex(gen); err != nil {
			t.Errorf("%s: generated snapshot does not index: %v", u, err)
		}
		if published[u] {
			compared++
			if d := compare(sd.Snapshot.Element, gen.Snapshot.Element); len(d) > 0 {
				t.Errorf("%s: %d differences from the published snapshot:\n  %s", u, len(d), strings.Join(d, "\n  "))
			}
		}
		if _, err := g.Of(sd); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func mustSD(t *testing.T, js string) *spec.StructureDefinition {
	t.Helper()
	var sd spec.StructureDefinition
	if err := json.NewDecoder(bytes.NewReader([]byte(js))).Decode(&sd); err != nil {
		t.Fatal(err)
	}
	return &sd
}

func TestBadDefinitions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sds   []string
		url   string
		wants []string
	}{
		{"circular", []string{
			`{"resourceType":"StructureDefinition","url":"http://x/A","type":"Patient","kind":"resource","derivation":"constraint","baseDefinition":"http://x/B","differential":{"element":[{"id":"Patient","path":"Patient"}]}}`,
			`{"resourceType":"StructureDefinition","url":"http://x/B","type":"Patient","kind":"resource","derivation":"constraint","baseDefinition":"http://x/A","differential":{"element":[{"id":"Patient","path":"Patient"}]}}`,
		}, "http://x/A", []string{"http://x/A", "circular baseDefinition", "http://x/B"}},
		{"missing base", []string{
			`{"resourceType":"StructureDefinition","url":"http://x/C","type":"Patient","kind":"resource","derivation":"constraint","baseDefinition":"http://x/nowhere","differential":{"element":[{"id":"Patient","path":"Patient"}]}}`,
		}, "http://x/C", []string{"http://x/C", "http://x/nowhere", "not loaded"}},
		{"unknown element", []string{
			`{"resourceType":"StructureDefinition","url":"http://x/D","type":"Patient","kind":"resource","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient","differential":{"element":[{"id":"Patient.shoeSize","path":"Patient.shoeSize","min":1}]}}`,
		}, "http://x/D", []string{"http://x/D", "Patient.shoeSize", "no element shoeSize"}},
		{"wider max", []string{
			`{"resourceType":"StructureDefinition","url":"http://x/E","type":"Patient","kind":"resource","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient","differential":{"element":[{"id":"Patient.gender","path":"Patient.gender","max":"*"}]}}`,
		}, "http://x/E", []string{"http://x/E", "Patient.gender", "wider"}},
		{"wrong type", []string{
			`{"resourceType":"StructureDefinition","url":"http://x/F","type":"Patient","kind":"resource","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient","differential":{"element":[{"id":"Patient.birthDate","path":"Patient.birthDate","type":[{"code":"Quantity"}]}]}}`,
		}, "http://x/F", []string{"http://x/F", "Patient.birthDate", "type Quantity is not allowed"}},
		{"wrong root", []string{
			`{"resourceType":"StructureDefinition","url":"http://x/G","type":"Patient","kind":"resource","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Patient","differential":{"element":[{"id":"Observation.code","path":"Observation.code"}]}}`,
		}, "http://x/G", []string{"http://x/G", "Observation.code", "does not start with Patient"}},
		{"choice type", []string{
			`{"resourceType":"StructureDefinition","url":"http://x/H","type":"Observation","kind":"resource","derivation":"constraint","baseDefinition":"http://hl7.org/fhir/StructureDefinition/Observation","differential":{"element":[{"id":"Observation.valueFoo","path":"Observation.valueFoo"}]}}`,
		}, "http://x/H", []string{"http://x/H", "Observation.valueFoo", "no element valueFoo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := r4.NewRegistry()
			var target *spec.StructureDefinition
			for _, s := range tc.sds {
				sd := mustSD(t, s)
				reg.AddStructureDefinition(sd)
				if sd.URL == tc.url {
					target = sd
				}
			}
			// Generate directly: the registry may hand back a snapshot of
			// its own making for differential-only profiles.
			_, err := Generate(reg, target)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNarrowAndSlice(t *testing.T) {
	reg := r4.NewRegistry()
	sd := mustSD(t, `{"resourceType":"StructureDefinition","url":"http://x/O","type":"Observation","kind":"resource","derivation":"constraint",
	 "baseDefinition":"http://hl7.org/fhir/StructureDefinition/Observation","differential":{"element":[
	 {"id":"Observation.valueQuantity","path":"Observation.valueQuantity","min":1},
	 {"id":"Observation.valueQuantity.unit","path":"Observation.valueQuantity.unit","min":1},
	 {"id":"Observation.identifier","path":"Observation.identifier","slicing":{"discriminator":[{"type":"value","path":"system"}],"rules":"closed"}},
	 {"id":"Observation.identifier:a","path":"Observation.identifier","sliceName":"a","max":"1"},
	 {"id":"Observation.identifier:a.system","path":"Observation.identifier.system","fixedUri":"urn:a"},
	 {"id":"Observation.identifier:a/b","path":"Observation.identifier","sliceName":"a/b"}]}}`)
	reg.AddStructureDefinition(sd)
	gen, err := Generate(reg, sd)
	if err != nil {
		t.Fatal(err)
	}
	x, err := spec.NewElementIndex(gen)
	if err != nil {
		t.Fatal(err)
	}
	v := x.ByID("Observation.value[x]")
	if v == nil || len(v.Def.Type) != 1 || v.Def.Type[0].Code != "Quantity" || v.Def.Slicing == nil {
		t.Fatalf("value[x] not narrowed and type-sliced: %+v", v)
	}
	q := x.ByID("Observation.value[x]:valueQuantity")
	if q == nil || *q.Def.Min != 1 || len(q.Def.Type) != 1 {
		t.Fatalf("type slice valueQuantity missing or without the differential's min")
	}
	if u := x.ByID("Observation.value[x]:valueQuantity.unit"); u == nil || *u.Def.Min != 1 {
		t.Fatalf("valueQuantity.unit not expanded/constrained")
	}
	a := x.ByID("Observation.identifier:a")
	if a == nil || a.Def.Max != "1" || a.SliceOf == nil {
		t.Fatalf("slice a missing")
	}
	if s := x.ByID("Observation.identifier:a.system"); s == nil || s.Def.Values["fixedUri"] == nil {
		t.Fatalf("slice child missing")
	}
	if x.ByID("Observation.identifier:a/b") == nil {
		t.Fatalf("reslice missing")
	}
	if base := reg.Type("Observation"); base.Snapshot.Element[0].ID != "Observation" {
		t.Fatal("base changed")
	}
	for _, e := range reg.Type("Observation").Snapshot.Element {
		if e.Path == "Observation.value[x]" && len(e.Type) == 1 {
			t.Fatal("generation changed the base definition")
		}
	}
}

// The core constraint profiles (vital signs, extensions, …) all publish
// snapshots: regenerating them from their differentials is a broad check of
// the generator against the reference tooling.
func TestCoreProfilesAgreeWithPublishedSnapshots(t *testing.T) {
	reg := r4.NewRegistry()
	total, agree := 0, 0
	var failures []string
	for _, ti := range reg.TypeInfos() {
		if ti.Derivation != "constraint" {
			continue
		}
		sd := reg.StructureDefinition(ti.URL)
		if sd == nil || sd.Snapshot == nil || sd.Differential == nil {
			continue
		}
		total++
		gen, err := Generate(reg, sd)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		if d := compare(sd.Snapshot.Element, gen.Snapshot.Element); len(d) > 0 {
			failures = append(failures, fmt.Sprintf("%s: %d differences, first %s", ti.URL, len(d), d[0]))
			continue
		}
		agree++
	}
	for _, f := range failures {
		t.Log(f)
	}
	t.Logf("core constraint profiles: %d of %d regenerated snapshots agree with the published ones", agree, total)
	if total == 0 || float64(agree) < 0.95*float64(total) {
		t.Errorf("only %d of %d core profiles agree", agree, total)
	}
}
