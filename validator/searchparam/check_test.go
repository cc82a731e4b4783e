package searchparam

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/internal/testtree"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

// tree builds an inline resource's tree, failing the test on any structural error.
var tree = testtree.Build

func describe(l issue.List) []string {
	out := []string{}
	for _, is := range l {
		if is.Line == 0 {
			out = append(out, "no position: "+is.Code)
		}
		out = append(out, fmt.Sprintf("%s %s %s", is.Severity, is.Code, is.Expression))
	}
	sort.Strings(out)
	return out
}

func TestCoreTable(t *testing.T) {
	coreOnce.Do(loadCore)
	lines := 0
	for _, l := range strings.Split(coreText, "\n") {
		if l != "" && l[0] != '#' {
			lines++
		}
	}
	// 1,375 in hl7.fhir.r4.examples@4.0.1; a line the reader skipped would
	// make the two differ.
	if len(core) != 1375 || lines != 1375 {
		t.Fatalf("core table: %d lines, %d definitions read; want 1375 of each", lines, len(core))
	}
	d, ok := Lookup(nil, "http://hl7.org/fhir/SearchParameter/clinical-code|4.0.1")
	if !ok || d.Type != "token" || !d.hasBase("Observation") || d.VersionedURL() != "http://hl7.org/fhir/SearchParameter/clinical-code|4.0.1" {
		t.Fatalf("clinical-code: %+v %v", d, ok)
	}
	if _, ok := Lookup(nil, "http://example.org/SearchParameter/x"); ok {
		t.Fatal("an unknown URL was found")
	}
}

func sp(base, typ, from string) string {
	return spExpr(base, typ, from, "")
}

// spExpr is a SearchParameter whose expression starts with its first base
// unless expr is given.
func spExpr(base, typ, from, expr string) string {
	if expr == "" {
		first := strings.SplitN(strings.Trim(base, `[]"`), `"`, 2)[0]
		expr = first + ".name"
	}
	b, _ := json.Marshal(expr)
	return `{"resourceType":"SearchParameter","url":"http://example.org/SearchParameter/p","name":"p","status":"active",
	"description":"d","code":"name","base":` + base + `,"type":"` + typ + `","expression":` + string(b) + `,
	"derivedFrom":"` + from + `"}`
}

func TestSearchParameterDerivation(t *testing.T) {
	reg := r4.NewRegistry()
	const orgName = "http://hl7.org/fhir/SearchParameter/Organization-name"
	cases := []struct {
		name, js string
		want     []string
	}{
		{"same type and base", sp(`["Organization"]`, "string", orgName), []string{}},
		{"versioned canonical", sp(`["Organization"]`, "string", orgName+"|4.0.1"), []string{}},
		{"other type", sp(`["Organization"]`, "token", orgName),
			[]string{"error searchparam-derived-type SearchParameter"}},
		{"base not in the master", sp(`["Organization","Patient"]`, "string", orgName),
			[]string{"error searchparam-derived-base SearchParameter"}},
		{"master on Resource allows any base", sp(`["Patient"]`, "token", "http://hl7.org/fhir/SearchParameter/Resource-id"), []string{}},
		{"unknown master", sp(`["Organization"]`, "string", "http://example.org/SearchParameter/none"),
			[]string{"warning searchparam-derived-unknown SearchParameter"}},
		{"no derivedFrom", strings.Replace(sp(`["Patient"]`, "token", orgName), `"derivedFrom"`, `"version"`, 1), []string{}},
	}
	for _, c := range cases {
		got := describe(CheckSearchParameter(tree(t, reg, c.js), reg, func(*element.Element) (int, int) { return 1, 1 }))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSearchParameterExpressionTypes(t *testing.T) {
	reg := r4.NewRegistry()
	const orgName = "http://hl7.org/fhir/SearchParameter/Organization-name"
	cases := []struct {
		name, base, expr string
		want             []string
	}{
		{"bases only", `["Organization","Patient"]`, "Organization.name | (Patient.name) | Patient.name.where(use = 'official')", []string{}},
		{"other type", `["Patient"]`, "Organization.name | Organization.alias",
			[]string{"error searchparam-expression-type SearchParameter.expression"}},
		{"second term", `["Patient"]`, "Patient.name | (Organization.alias as string)",
			[]string{"error searchparam-expression-type SearchParameter.expression"}},
		{"bar inside a string or a call is not a union", `["Patient"]`, "Patient.name.where(text = 'a | Organization') | Patient.extension('u|Group')", []string{}},
		{"functions and variables are not types", `["Patient"]`, "iif(true, Patient.name, {}) | %resource.name | name", []string{}},
		{"Resource base allows any", `["Resource"]`, "Patient.id", []string{}},
		{"not a resource type", `["Patient"]`, "HumanName.family | Patient.name", []string{}},
	}
	for _, c := range cases {
		js := strings.Replace(spExpr(c.base, "string", orgName, c.expr), `"derivedFrom":"`+orgName+`"`, `"version":"1"`, 1)
		got := describe(CheckSearchParameter(tree(t, reg, js), reg, func(*element.Element) (int, int) { return 1, 1 }))
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSearchParameterLoadedMaster(t *testing.T) {
	reg := r4.NewRegistry()
	reg.AddResource("SearchParameter", "http://example.org/SearchParameter/m",
		[]byte(`{"resourceType":"SearchParameter","url":"http://example.org/SearchParameter/m","version":"1.0","type":"date","base":["Patient"]}`))
	got := describe(CheckSearchParameter(tree(t, reg, sp(`["Patient"]`, "token", "http://example.org/SearchParameter/m")), reg,
		func(*element.Element) (int, int) { return 3, 4 }))
	want := []string{"error searchparam-derived-type SearchParameter"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestCapabilityStatementSearchParamType(t *testing.T) {
	reg := r4.NewRegistry()
	js := `{"resourceType":"CapabilityStatement","status":"draft","date":"2020-01-01","kind":"instance",
	"implementation":{"description":"x"},"fhirVersion":"4.0.1","format":["json"],
	"rest":[{"mode":"server",
	  "searchParam":[{"name":"_id","definition":"http://hl7.org/fhir/SearchParameter/Resource-id","type":"string"}],
	  "resource":[{"type":"AllergyIntolerance","searchParam":[
	    {"name":"clinical-status","definition":"http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status","type":"date"},
	    {"name":"code","definition":"http://hl7.org/fhir/SearchParameter/clinical-code","type":"token"},
	    {"name":"local","definition":"http://example.org/SearchParameter/none","type":"token"}
	    ]}]}]}`
	l := CheckCapabilityStatement(tree(t, reg, js), reg, func(*element.Element) (int, int) { return 1, 1 })
	got := describe(l)
	want := []string{
		"error capabilitystatement-searchparam-type CapabilityStatement.rest[0].resource[0].searchParam[0]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, is := range l {
		if strings.Contains(is.Expression, "resource[0]") &&
			is.Message != "Type mismatch - SearchParameter 'http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status|4.0.1' type is token, but type here is date" {
			t.Errorf("message: %s", is.Message)
		}
	}
}
