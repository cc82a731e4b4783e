package fhirpath_test

import (
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
)

// The trees here are built by hand in the shape the typed builder produces
// (FHIR type codes, choice elements named without suffix, resources marked),
// so that type-dependent behaviour is tested without it.

func node(name, typ string, children ...*element.Element) *element.Element {
	e := &element.Element{Name: name, Type: typ, Index: -1, Children: children}
	for _, c := range children {
		c.Parent = e
	}
	return e
}

func prim(name, typ, value string) *element.Element {
	return &element.Element{Name: name, Type: typ, Value: value, HasValue: true, Index: -1}
}

func resource(name, typ string, children ...*element.Element) *element.Element {
	e := node(name, typ, children...)
	e.IsResource = true
	return e
}

func choice(e *element.Element) *element.Element {
	e.Choice = true
	return e
}

func typedPatient() *element.Element {
	return resource("Patient", "Patient",
		prim("id", "id", "example"),
		resource("contained", "Organization", prim("id", "id", "1"), prim("name", "string", "Acme")),
		node("identifier", "Identifier",
			prim("value", "string", "12345"),
			node("period", "Period",
				prim("start", "dateTime", "2001-05-06"),
				prim("end", "dateTime", "2001-05-06T10:10:10Z"))),
		prim("active", "boolean", "true"),
		node("name", "HumanName",
			prim("use", "code", "official"),
			prim("family", "string", "Chalmers"),
			prim("given", "string", "Peter"),
			prim("given", "string", "James")),
		node("name", "HumanName",
			prim("use", "code", "usual"),
			prim("given", "string", "Jim")),
		prim("gender", "code", "male"),
		prim("birthDate", "date", "1974-12-25"),
		choice(prim("deceased", "boolean", "false")),
		node("managingOrganization", "Reference", prim("reference", "string", "#1")),
	)
}

func typedObservation() *element.Element {
	return resource("Observation", "Observation",
		prim("id", "id", "example"),
		node("extension", "Extension",
			prim("url", "uri", "http://example.com/fhir/StructureDefinition/patient-age"),
			choice(node("value", "Age",
				prim("value", "decimal", "41"),
				prim("system", "uri", "http://unitsofmeasure.org"),
				prim("code", "code", "a")))),
		prim("status", "code", "final"),
		choice(node("value", "Quantity",
			prim("value", "decimal", "185"),
			prim("unit", "string", "lbs"),
			prim("system", "uri", "http://unitsofmeasure.org"),
			prim("code", "code", "[lb_av]"))),
	)
}

// render shows a result as type:text, like the suite runner.
func render(c fhirpath.Collection) string {
	var parts []string
	for _, it := range c {
		ti := fhirpath.TypeName(it)
		s, ok := fhirpath.ItemString(it)
		if !ok {
			s = "{}"
		}
		parts = append(parts, ti.Name+":"+s)
	}
	return strings.Join(parts, ",")
}

func evalOn(t *testing.T, root *element.Element, env *fhirpath.Env, expr string) (string, error) {
	t.Helper()
	e, err := fhirpath.Compile(expr)
	if err != nil {
		t.Fatalf("compile %q: %v", expr, err)
	}
	if env == nil {
		env = &fhirpath.Env{Model: fhirpath.R4}
	}
	var in fhirpath.Collection
	if root != nil {
		in = fhirpath.Collection{root}
	}
	out, err := e.Evaluate(env, in)
	return render(out), err
}

func TestTypedTree(t *testing.T) {
	pat, obs := typedPatient(), typedObservation()
	cases := []struct {
		root *element.Element
		expr string
		want string
	}{
		{pat, "birthDate", "date:1974-12-25"},
		{pat, "Patient.birthDate < now()", "Boolean:true"},
		{pat, "Patient.birthDate < @1975", "Boolean:true"},
		{pat, "name.use", "code:official,code:usual"},
		{pat, "Patient.gender.is(code)", "Boolean:true"},
		{pat, "Patient.gender.is(string)", "Boolean:true"},
		{pat, "Patient.gender.is(id)", "Boolean:false"},
		{pat, "Patient.gender.is(System.String)", "Boolean:false"},
		{pat, "Patient.gender.as(code)", "code:male"},
		{pat, "Patient.gender.as(string)", ""},
		{pat, "Patient.gender.ofType(code)", "code:male"},
		{pat, "Patient.gender = 'male'", "Boolean:true"},
		{pat, "Patient.name.ofType(HumanName).use", "code:official,code:usual"},
		{pat, "Patient.name.first().is(Element)", "Boolean:true"},
		{pat, "contained.id", "id:1"},
		{pat, "Patient.is(DomainResource)", "Boolean:true"},
		{pat, "Resource.id", "id:example"},
		{pat, "DomainResource.id", "id:example"},
		{pat, "Observation.id", ""},
		{pat, "Patient.active.type().name", "String:boolean"},
		{pat, "Patient.active.type().namespace", "String:FHIR"},
		{pat, "Patient.deceased", "boolean:false"},
		{pat, "Patient.deceasedBoolean", "boolean:false"},
		{pat, "Patient.deceased.ofType(boolean)", "boolean:false"},
		{pat, "managingOrganization.resolve().name", "string:Acme"},
		{pat, "conformsTo('http://hl7.org/fhir/StructureDefinition/Patient')", "Boolean:true"},
		{pat, "conformsTo('http://hl7.org/fhir/StructureDefinition/Person')", "Boolean:false"},
		{pat, "Patient.identifier.period.all(start.hasValue().not() or end.hasValue().not() or (start <= end))", "Boolean:false"},
		{pat, "Patient.identifier.period.all(start.empty() or end.empty() or (start.lowBoundary() < end.highBoundary()))", "Boolean:true"},
		{pat, "%resource.contained.first().select(%resource.id)", "id:example"},
		// ref-1
		{pat, "managingOrganization.all(reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id))", "Boolean:true"},
		// dom-3 (as() over collections must filter)
		{pat, dom3, "Boolean:true"},
		{obs, "Observation.value = 185 '[lb_av]'", "Boolean:true"},
		{obs, "Observation.value ~ 185 '[lb_av]'", "Boolean:true"},
		{obs, "Observation.value < 200 '[lb_av]'", "Boolean:true"},
		{obs, "Observation.value > 80 'kg'", "Boolean:true"},
		{obs, "Observation.value < 90 'kg'", "Boolean:true"},
		{obs, "Observation.value = 185 'kg'", "Boolean:false"},
		{obs, "Observation.value.ofType(Quantity).value", "decimal:185"},
		{obs, "(Observation.value as Quantity).unit", "string:lbs"},
		{obs, "Observation.value as Quantity", "Quantity:185 '[lb_av]'"},
		{obs, "Observation.valueQuantity.code", "code:[lb_av]"},
		{obs, "Observation.valueString", ""},
		{obs, "Observation.extension('http://example.com/fhir/StructureDefinition/patient-age').value is Age", "Boolean:true"},
		{obs, "Observation.extension('http://example.com/fhir/StructureDefinition/patient-age').value is Quantity", "Boolean:true"},
		{obs, "Observation.extension('http://example.com/fhir/StructureDefinition/patient-age').value is Duration", "Boolean:false"},
		{obs, "Observation.extension('http://example.com/fhir/StructureDefinition/patient-age').value.as(Quantity).value", "decimal:41"},
		{obs, "Observation.extension.value > 40 years", ""}, // calendar year vs 'a' is uncertain
		{obs, "Observation.extension.value > 40 'a'", "Boolean:true"},
		// ext-1 and ele-1
		{obs, "extension.all(extension.exists() != value.exists())", "Boolean:true"},
		{obs, "descendants().all(hasValue() or (children().count() > id.count()))", "Boolean:true"},
	}
	for _, tc := range cases {
		got, err := evalOn(t, tc.root, nil, tc.expr)
		if err != nil {
			t.Errorf("%s: %v", tc.expr, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%s\n got  %q\n want %q", tc.expr, got, tc.want)
		}
	}
}

const dom3 = `contained.where((('#'+id in (%resource.descendants().reference | %resource.descendants().as(canonical) | %resource.descendants().as(uri) | %resource.descendants().as(url))) or descendants().where(reference = '#').exists() or descendants().where(as(canonical) = '#').exists() or descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()`

func TestStrictAs(t *testing.T) {
	pat := typedPatient()
	if _, err := evalOn(t, pat, &fhirpath.Env{Model: fhirpath.R4, StrictAs: true}, "Patient.name.as(HumanName).use"); err == nil {
		t.Error("StrictAs: as() on two items should fail")
	}
	got, err := evalOn(t, pat, &fhirpath.Env{Model: fhirpath.R4}, "Patient.name.as(HumanName).use")
	if err != nil || got != "code:official,code:usual" {
		t.Errorf("lenient as(): %q %v", got, err)
	}
}

func TestContainedRootResource(t *testing.T) {
	pat := typedPatient()
	org := pat.Children[1]
	e := fhirpath.MustCompile("%rootResource.id | %resource.id")
	out, err := e.Evaluate(&fhirpath.Env{}, fhirpath.Collection{org})
	if err != nil {
		t.Fatal(err)
	}
	if got := render(out); got != "id:example,id:1" {
		t.Errorf("got %q", got)
	}
}

func TestUnknownType(t *testing.T) {
	pat := typedPatient()
	for _, x := range []string{"Patient.gender.as(string1)", "Patient.gender.ofType(string1)", "Patient.gender is FHIR.Strin"} {
		if _, err := evalOn(t, pat, nil, x); err == nil {
			t.Errorf("%s: want an unknown-type error", x)
		}
	}
	// Without a model, names are compared exactly and unknown ones are false.
	got, err := evalOn(t, pat, &fhirpath.Env{}, "Patient.gender.is(string1) | Patient.gender.is(string) | Patient.gender.is(code)")
	if err != nil || got != "Boolean:false,Boolean:true" {
		t.Errorf("no model: %q %v", got, err)
	}
}
