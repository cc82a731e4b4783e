package validator_test

// Every example resource of the R4 specification (npm package
// hl7.fhir.r4.examples@4.0.1, CC0) is valid R4: an error on one of them is a
// bug of ours, unless it is a known defect of the example, listed in
// r4Errata with the reason.
//
// The package is not in the repository. Point SANDKASSE_R4_EXAMPLES at the
// unpacked package directory (the one holding package.json and the
// *.json files):
//
//	npm pack hl7.fhir.r4.examples@4.0.1 && tar xzf hl7.fhir.r4.examples-4.0.1.tgz
//	SANDKASSE_R4_EXAMPLES=$PWD/package go test ./validator -run TestR4ExamplesHaveNoErrors
//
// (npm install puts the same files in node_modules/hl7.fhir.r4.examples/.)

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
)

const r4ExamplesEnv = "SANDKASSE_R4_EXAMPLES"

// r4ExampleCount is how many files the selection below finds in
// hl7.fhir.r4.examples@4.0.1: of its 5,306 JSON resource files, the 721 whose
// resourceType is not a conformance resource type. That is the 706 example
// resources of the peers' benchmark corpus (make-corpus.js) plus the 15
// Bundles the specification publishes its definitions in (Bundle-resources,
// Bundle-types, Bundle-valuesets, …; make-corpus.js leaves those out).
const r4ExampleCount = 721

// r4ConformanceTypes are left out of the example selection: they are the
// definitions, not examples (same list as make-corpus.js).
var r4ConformanceTypes = map[string]bool{
	"StructureDefinition": true, "ValueSet": true, "CodeSystem": true, "SearchParameter": true,
	"OperationDefinition": true, "CompartmentDefinition": true, "ConceptMap": true, "NamingSystem": true,
	"CapabilityStatement": true, "ImplementationGuide": true, "StructureMap": true, "GraphDefinition": true,
	"MessageDefinition": true,
}

// erratum is an error the engine rightly reports on an R4 example: a defect
// of the example. File, Code and Expression must all match. Expression "*"
// matches any location in the file; "[]" in Expression matches any index
// (Bundle.entry[].resource.extension[]). Add an entry only after reading the
// example and confirming the defect; when in doubt the engine is wrong.
type erratum struct {
	File, Code, Expression string
	Reason                 string
}

var r4Errata = []erratum{
	// Body temperature (LOINC 8310-5) makes the Observation a vital sign,
	// which must conform to the bodytemp profile (vital signs: effective[x]
	// 1..1); this example has only issued.
	{"Observation-f202.json", "profile-cardinality-min", "Observation",
		"a body-temperature vital sign without effective[x] (bodytemp requires 1..1)"},

	// Questionnaire.item.linkId is 1..1; 32 nested display items of this
	// generated questionnaire (item[0].item[n].item[0] and the like) have none.
	{"Questionnaire-qs1.json", "cardinality-min", "*",
		"32 nested display items have no linkId (Questionnaire.item.linkId is 1..1)"},

	// txt-2 (Narrative.div, severity error): "The narrative SHALL have some
	// non-whitespace content". These divs hold only whitespace.
	{"ActivityDefinition-blood-tubes-supply.json", "txt-2", "ActivityDefinition.text.div",
		`text.div is "<div xmlns=...>\n    </div>": no non-whitespace content`},
	{"ActivityDefinition-heart-valve-replacement.json", "txt-2", "ActivityDefinition.text.div",
		`text.div is "<div xmlns=...>\n    </div>": no non-whitespace content`},
	{"EventDefinition-example.json", "txt-2", "EventDefinition.text.div",
		`text.div is "<div xmlns=...>\n    </div>": no non-whitespace content`},
	{"Questionnaire-zika-virus-exposure-assessment.json", "txt-2", "Questionnaire.text.div",
		`text.div holds only an empty <pre> (whitespace): no non-whitespace content`},

	// "urn:oid:X.Y.Z" is a placeholder, not an OID (urn:oid: must be followed
	// by [0-2](\.(0|[1-9][0-9]*))+).
	{"Library-zika-virus-intervention-logic.json", "format-oid", "Library.dataRequirement[0].codeFilter[0].valueSet",
		`valueSet is the placeholder "urn:oid:X.Y.Z"`},
	{"Library-zika-virus-intervention-logic.json", "format-oid", "Library.dataRequirement[1].codeFilter[0].valueSet",
		`valueSet is the placeholder "urn:oid:X.Y.Z"`},

	// References to a resource type the element does not allow (target
	// profiles checked against the R4 StructureDefinitions).
	{"DeviceMetric-example.json", "reference-target-type", "DeviceMetric.parent",
		"parent is Reference(Device); the example points at DeviceDefinition/dc102"},
	{"DeviceUseStatement-example.json", "reference-target-type", "DeviceUseStatement.reasonReference[0]",
		"reasonReference is Reference(Condition|Observation|DiagnosticReport|DocumentReference|Media); the example points at Procedure/example"},
	{"MedicationRequest-medrx0301.json", "reference-target-type", "MedicationRequest.dispenseRequest.performer",
		"dispenseRequest.performer is Reference(Organization); the example points at Practitioner/f001"},
	{"Observation-clinical-gender.json", "reference-target-type", "Observation.performer[0]",
		"performer is Reference(Practitioner|PractitionerRole|Organization|CareTeam|Patient|RelatedPerson); the example points at Encounter/example"},

	// Attachment.hash is base64Binary of the SHA-1 of the data. The example's
	// hash "571ef9c5…" is hex, and is the SHA-1 of the base64 text
	// ("cGRmSW5CYXNlNjRCaW5hcnk="), not of the decoded data.
	{"DiagnosticReport-example-pgx.json", "attachment-hash", "DiagnosticReport.presentedForm[0]",
		"hash is the hex SHA-1 of the base64 text, not the base64 SHA-1 of the data"},

	// Bundle.entry.fullUrl "SHALL NOT disagree with the id in the resource"
	// (R4 Bundle.entry.fullUrl): RESTful fullUrls ending in another id.
	{"Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json", "bundle-fullurl-id", "Bundle.entry[2]",
		"fullUrl http://acme.com/ehr/fhir/Patient/pat12 for a Patient with id pat2"},
	{"Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json", "bundle-fullurl-id", "Bundle.entry[3]",
		"fullUrl http://acme.com/ehr/fhir/Patient/pat12 for a Patient with id pat2"},
	{"Bundle-lri-example.json", "bundle-fullurl-id", "Bundle.entry[]",
		"entries 1-16: fullUrl .../Observation/lri-gramstain1 and the like for Observations with ids gramstain1 and the like (lri- prefix missing)"},

	// bdl-7: fullUrl unique unless meta.versionId differs. Seven data
	// element fullUrls (de-Quantity.value, .comparator, .unit, .system, .code
	// and two more) occur three times each, none with a versionId.
	{"Bundle-dataelements.json", "bdl-7", "Bundle",
		"7 fullUrls (http://hl7.org/fhir/StructureDefinition/de-Quantity.value and others) occur 3 times each without meta.versionId"},

	// The definition Bundles use core extensions outside the contexts their
	// own definitions (Bundle-extensions.json) declare.
	{"Bundle-valueset-expansions.json", "extension-context", "Bundle.entry[].resource.expansion.contains[].extension[]",
		"translation (context string, code, markdown) put on ValueSet.expansion.contains itself, not on its display"},
	{"Bundle-valueset-expansions.json", "extension-context", "Bundle.entry[].resource.extension[]",
		"structuredefinition-normative-version (context StructureDefinition) on 65 ValueSets"},
	{"Bundle-valuesets.json", "extension-context", "Bundle.entry[].resource.extension[]",
		"structuredefinition-normative-version (context StructureDefinition) on ValueSets and CodeSystems"},
	{"Bundle-v2-valuesets.json", "extension-context", "Bundle.entry[].resource.extension[]",
		"structuredefinition-normative-version (context StructureDefinition) on 2 CodeSystems"},
	{"Bundle-v3-valuesets.json", "extension-context", "Bundle.entry[].resource.extension[]",
		"structuredefinition-normative-version (context StructureDefinition) on 3 CodeSystems"},
	{"Bundle-resources.json", "extension-context", "Bundle.entry[].resource.extension[]",
		"structuredefinition-normative-version (context StructureDefinition) on 6 OperationDefinitions"},
	{"Bundle-types.json", "extension-context", "Bundle.entry[].resource.snapshot.element[].extension[]",
		"structuredefinition-normative-version (context StructureDefinition) on ElementDefinitions"},
	{"Bundle-types.json", "extension-context", "Bundle.entry[].resource.differential.element[].extension[]",
		"structuredefinition-normative-version (context StructureDefinition) on ElementDefinitions"},
	{"Bundle-valuesets.json", "extension-context", "Bundle.entry[].resource.concept[].extension[]",
		"valueset-concept-comments (context ValueSet.compose.include.concept) on CodeSystem.concept"},
	// regex is declared for Questionnaire.item and ElementDefinition, and
	// used on ElementDefinition.type; a known inconsistency of R4 that the
	// Java validator works around by also allowing ElementDefinition.type.
	{"Bundle-types.json", "extension-context", "Bundle.entry[].resource.snapshot.element[].type[].extension[]",
		"regex (context Questionnaire.item, ElementDefinition) on ElementDefinition.type"},
	{"Bundle-types.json", "extension-context", "Bundle.entry[].resource.differential.element[].type[].extension[]",
		"regex (context Questionnaire.item, ElementDefinition) on ElementDefinition.type"},
	{"Bundle-dataelements.json", "extension-context", "Bundle.entry[].resource.snapshot.element[].type[].extension[]",
		"regex (context Questionnaire.item, ElementDefinition) on ElementDefinition.type"},

	// Internal narrative hyperlinks must lead to an id or anchor in the
	// document. The v3 value set narratives link to the bare code
	// (<a href="#CONCURRENT">) while the anchors they carry are prefixed
	// (<a name="v3-ActRelationshipType-SCWSEBE">); on the HL7 web pages the
	// bare ones exist outside the narrative. 780 links lead nowhere here.
	{"Bundle-v3-valuesets.json", "narrative-link-unresolved", "Bundle.entry[].resource.text.div",
		`v3 value set narratives link to "#CODE" while their anchors are named "v3-<System>-CODE"`},
}

var anyIndex = regexp.MustCompile(`\[\d+\]`)

func (e erratum) matches(file string, is issue.Issue) bool {
	if e.File != file || e.Code != is.Code {
		return false
	}
	switch {
	case e.Expression == "*":
		return true
	case strings.Contains(e.Expression, "[]"):
		return e.Expression == anyIndex.ReplaceAllString(is.Expression, "[]")
	}
	return e.Expression == is.Expression
}

// peekResourceType reads the top-level resourceType without decoding the
// whole document (the definition Bundles are up to 35 MB).
func peekResourceType(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", fmt.Errorf("%s: not a JSON object", path)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		if tok == "resourceType" {
			var rt string
			err := dec.Decode(&rt)
			return rt, err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", err
		}
	}
	return "", io.EOF
}

// r4ExampleFiles lists the selection described at r4ExampleCount, sorted.
func r4ExampleFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".json") || n == "package.json" || strings.HasPrefix(n, ".") {
			continue
		}
		rt, err := peekResourceType(filepath.Join(dir, n))
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if r4ConformanceTypes[rt] {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func r4ExamplesDir(t testing.TB) string {
	dir := os.Getenv(r4ExamplesEnv)
	if dir == "" {
		t.Skipf("%s is not set: point it at the unpacked npm package hl7.fhir.r4.examples@4.0.1 "+
			"(npm pack hl7.fhir.r4.examples@4.0.1 && tar xzf hl7.fhir.r4.examples-4.0.1.tgz; use ./package)", r4ExamplesEnv)
	}
	if _, err := os.Stat(filepath.Join(dir, "Patient-example.json")); err != nil {
		t.Fatalf("%s=%s does not look like hl7.fhir.r4.examples@4.0.1: %v", r4ExamplesEnv, dir, err)
	}
	return dir
}

func TestR4ExamplesHaveNoErrors(t *testing.T) {
	dir := r4ExamplesDir(t)
	files, err := r4ExampleFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != r4ExampleCount {
		t.Fatalf("found %d example files in %s, want %d (is it hl7.fhir.r4.examples@4.0.1?)", len(files), dir, r4ExampleCount)
	}
	v, err := validator.New(validator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	used := make([]bool, len(r4Errata))
	byCode := map[string]int{}
	failedFiles, excused := 0, 0
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		res := v.Validate(ctx, data)
		var bad []issue.Issue
		for _, is := range res.Issues {
			if is.Severity < issue.Error {
				continue
			}
			ok := false
			for i, e := range r4Errata {
				if e.matches(f, is) {
					used[i], ok = true, true
				}
			}
			if ok {
				excused++
				continue
			}
			bad = append(bad, is)
			byCode[is.Code]++
		}
		if len(bad) > 0 {
			failedFiles++
			const show = 10
			for i, is := range bad {
				if i == show {
					t.Errorf("%s: … and %d more errors", f, len(bad)-show)
					break
				}
				t.Errorf("%s: %s", f, is)
			}
		}
	}
	for i, e := range r4Errata {
		if !used[i] {
			t.Logf("erratum no longer reported (remove it?): %s %s %s", e.File, e.Code, e.Expression)
		}
	}
	codes := make([]string, 0, len(byCode))
	for c := range byCode {
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool {
		return byCode[codes[i]] > byCode[codes[j]] || byCode[codes[i]] == byCode[codes[j]] && codes[i] < codes[j]
	})
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%s=%d", c, byCode[c]))
	}
	t.Logf("R4 examples: %d files validated, %d with errors; %d errors excused by %d errata entries; errors by code: %s",
		len(files), failedFiles, excused, len(r4Errata), strings.Join(parts, " "))
}
