package validator_test

import (
	"context"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// One row per rule of the engine's own passes: a resource that breaks it
// (want the code at the location) and, where the rule has a near miss, one
// that keeps it (want no such code).
func TestRules(t *testing.T) {
	v := newValidator(t, validator.Options{})
	cases := []struct {
		name, json, code, expr string
		sev                    issue.Severity
		absent                 bool // the code must not appear
	}{
		// structure
		{name: "unknown element", json: `{"resourceType":"Patient","nmae":[{"family":"X"}]}`, code: "structure-unknown-element", expr: "Patient", sev: issue.Error},
		{name: "array expected", json: `{"resourceType":"Patient","name":{"family":"X"}}`, code: "structure-array-expected", expr: "Patient.name", sev: issue.Error},
		{name: "array unexpected", json: `{"resourceType":"Patient","gender":["male"]}`, code: "structure-array-unexpected", expr: "Patient.gender", sev: issue.Error},
		{name: "wrong JSON kind", json: `{"resourceType":"Patient","active":"true"}`, code: "type-json", expr: "Patient.active", sev: issue.Error},
		{name: "empty string", json: `{"resourceType":"Patient","gender":""}`, code: "json-empty-string", expr: "Patient.gender", sev: issue.Error},
		{name: "null", json: `{"resourceType":"Patient","gender":null}`, code: "json-null", expr: "Patient.gender", sev: issue.Error},
		{name: "empty object", json: `{"resourceType":"Patient","maritalStatus":{}}`, code: "json-empty-object", expr: "Patient.maritalStatus", sev: issue.Error},
		{name: "empty array", json: `{"resourceType":"Patient","name":[]}`, code: "json-empty-array", expr: "Patient.name", sev: issue.Error},
		{name: "required element missing", json: `{"resourceType":"Observation","code":{"text":"x"}}`, code: "cardinality-min", expr: "Observation", sev: issue.Error},
		{name: "date format", json: `{"resourceType":"Patient","birthDate":"1990-02-30"}`, code: "format-date", expr: "Patient.birthDate", sev: issue.Error},
		{name: "dateTime without zone", json: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2020-01-01T10:00:00"}`, code: "format-dateTime-zone", expr: "Observation.effective.ofType(dateTime)", sev: issue.Error},
		{name: "id too long", json: `{"resourceType":"Patient","id":"` + strings.Repeat("a", 65) + `"}`, code: "format-id-length", expr: "Patient.id", sev: issue.Error},
		{name: "primitive extension only", json: `{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"unknown"}]}}`, code: "ele-1", absent: true},
		{name: "primitive array lengths differ", json: `{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null]}]}`, code: "json-primitive-array-length", expr: "Patient.name[0].given", sev: issue.Error},
		{name: "duplicate key", json: `{"resourceType":"Patient","active":true,"active":false}`, code: "json-duplicate-key", sev: issue.Error},
		{name: "narrative script", json: `{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><script>x</script></div>"}}`, code: "txt-1", expr: "Patient.text.div", sev: issue.Error},
		// invariants
		{name: "invariant pat-1", json: `{"resourceType":"Patient","contact":[{"gender":"male"}]}`, code: "pat-1", expr: "Patient.contact[0]", sev: issue.Error},
		{name: "invariant dom-3 (contained not referenced)", json: `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","name":"x"}]}`, code: "dom-3", expr: "Patient", sev: issue.Error},
		{name: "invariant dom-3 kept", json: `{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o1","name":"x"}],"managingOrganization":{"reference":"#o1"}}`, code: "dom-3", absent: true},
		{name: "que-7 (R4 erratum: answer is boolean)", json: `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"a","type":"boolean"},{"linkId":"b","type":"string","enableWhen":[{"question":"a","operator":"exists","answerString":"x"}]}]}`, code: "que-7", expr: "Questionnaire.item[1].enableWhen[0]", sev: issue.Error},
		{name: "que-7 kept", json: `{"resourceType":"Questionnaire","status":"draft","item":[{"linkId":"a","type":"boolean"},{"linkId":"b","type":"string","enableWhen":[{"question":"a","operator":"exists","answerBoolean":true}]}]}`, code: "que-7", absent: true},
		{name: "constraint of a contentReference target (que-1 on a nested group)", json: `{"resourceType":"Questionnaire","status":"active","item":[{"linkId":"a","type":"group","item":[{"linkId":"b","type":"group"}]}]}`, code: "que-1", expr: "Questionnaire.item[0].item[0]", sev: issue.Error},
		{name: "_name beside a complex element", json: `{"resourceType":"Patient","name":[{"family":"x"}],"_name":{"id":"a"}}`, code: "structure-unknown-element", expr: "Patient", sev: issue.Error},
		{name: "unpaired null in _given", json: `{"resourceType":"Patient","name":[{"family":"x","_given":[null]}]}`, code: "json-null", expr: "Patient.name[0]._given[0]", sev: issue.Error},
		{name: "empty property name", json: `{"resourceType":"Patient","":1}`, code: "structure-unknown-element", expr: "Patient", sev: issue.Error},
		// terminology
		{name: "required binding", json: `{"resourceType":"Patient","gender":"F"}`, code: "binding-required", expr: "Patient.gender", sev: issue.Error},
		{name: "code not in its CodeSystem", json: `{"resourceType":"Patient","maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"ZZ"}]}}`, code: "code-unknown", expr: "Patient.maritalStatus.coding[0]", sev: issue.Error},
		{name: "SNOMED CT not checked", json: `{"resourceType":"Condition","subject":{"reference":"Patient/1"},"code":{"coding":[{"system":"http://snomed.info/sct","code":"13645005"}]}}`, code: "code-unknown", absent: true},
		// references and bundles
		{name: "reference target type", json: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Medication/1"}}`, code: "reference-target-type", expr: "Observation.subject", sev: issue.Error},
		{name: "reference syntax", json: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"not a reference"}}`, code: "reference-syntax", expr: "Observation.subject", sev: issue.Error},
		{name: "unresolved local reference", json: `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#p"}}`, code: "reference-local-unresolved", expr: "Observation.subject", sev: issue.Error},
		{name: "relative fullUrl", json: `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"Patient/1","resource":{"resourceType":"Patient","id":"1"}}]}`, code: "bundle-fullurl-relative", expr: "Bundle.entry[0]", sev: issue.Error},
		{name: "fullUrl and id disagree", json: `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://x.org/fhir/Patient/1","resource":{"resourceType":"Patient","id":"2"}}]}`, code: "bundle-fullurl-id", expr: "Bundle.entry[0]", sev: issue.Error},
		{name: "document reference unresolved", json: `{"resourceType":"Bundle","type":"document","identifier":{"system":"urn:x","value":"1"},"timestamp":"2020-01-01T00:00:00Z","entry":[{"fullUrl":"http://x.org/fhir/Composition/1","resource":{"resourceType":"Composition","id":"1","status":"final","type":{"text":"x"},"date":"2020","author":[{"reference":"Practitioner/9"}],"title":"t"}}]}`, code: "bundle-reference-unresolved", expr: "Bundle.entry[0].resource.author[0]", sev: issue.Error},
		{name: "duplicate self link", json: `{"resourceType":"Bundle","type":"searchset","link":[{"relation":"self","url":"http://x"},{"relation":"self","url":"http://y"}]}`, code: "bundle-link-duplicate", expr: "Bundle.link[1]", sev: issue.Error},
		{name: "conditional reference in a transaction", json: `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:6b1c3e0e-1f8e-4c55-9a49-51d2a2a5c3a1","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=urn:oid:2.16.578.1.12.4.1.4.1|13829030823"}},"request":{"method":"POST","url":"Observation"}}]}`, code: "reference-syntax", absent: true},
		{name: "conditional reference outside a transaction", json: `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:6b1c3e0e-1f8e-4c55-9a49-51d2a2a5c3a1","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient?identifier=x"}}}]}`, code: "reference-syntax", expr: "Bundle.entry[0].resource.subject", sev: issue.Error},
		{name: "conditional reference to an unknown type", json: `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:6b1c3e0e-1f8e-4c55-9a49-51d2a2a5c3a1","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Chicken?id=1"}},"request":{"method":"POST","url":"Observation"}}]}`, code: "reference-type-unknown", expr: "Bundle.entry[0].resource.subject", sev: issue.Error},
		// extensions
		{name: "extension out of context", json: `{"resourceType":"Patient","name":[{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/humanname-own-prefix","valueString":"x"}],"family":"X"}]}`, code: "extension-context", expr: "Patient.name[0].extension[0]", sev: issue.Error},
		{name: "extension in context", json: `{"resourceType":"Patient","name":[{"family":"X","_family":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/humanname-own-prefix","valueString":"x"}]}}]}`, code: "extension-context", absent: true},
		{name: "extension value type", json: `{"resourceType":"Patient","extension":[{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueString":"Oslo"}]}`, code: "extension-value-type", expr: "Patient.extension[0]", sev: issue.Error},
		{name: "unknown extension warns", json: `{"resourceType":"Patient","extension":[{"url":"http://example.org/ext","valueString":"x"}]}`, code: "extension-unknown", expr: "Patient.extension[0]", sev: issue.Warning},
		// datatypes
		{name: "attachment size", json: `{"resourceType":"DocumentReference","status":"current","content":[{"attachment":{"data":"aGVsbG8=","size":6}}]}`, code: "attachment-size", expr: "DocumentReference.content[0].attachment", sev: issue.Error},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := v.Validate(context.Background(), []byte(c.json))
			var got *issue.Issue
			for i := range r.Issues {
				if r.Issues[i].Code == c.code {
					got = &r.Issues[i]
					break
				}
			}
			if c.absent {
				if got != nil {
					t.Fatalf("unexpected %v", *got)
				}
				return
			}
			if got == nil {
				t.Fatalf("no %s in %v", c.code, r.Issues)
			}
			if got.Severity != c.sev || (c.expr != "" && got.Expression != c.expr) || got.Line < 1 {
				t.Fatalf("got %v, want %s %s at %s", *got, c.sev, c.code, c.expr)
			}
		})
	}
}
