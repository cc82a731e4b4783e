package epr

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

type kind uint8

const (
	kString kind = iota
	kToken
	kReference
	kDate
	kURI
)

func (k kind) String() string {
	return [...]string{"string", "token", "reference", "date", "uri"}[k]
}

// param is one search parameter: its name, type, and the paths (dotted
// element names from the resource root; arrays are followed; a name ending
// in [x] matches each choice) whose values it indexes.
type param struct {
	name    string
	kind    kind
	paths   []string
	targets []string // reference params: the resource types a bare id may name
}

// Params every resource type has, besides _id and _lastUpdated.
var common = []param{
	{name: "_profile", kind: kURI, paths: []string{"meta.profile"}},
	{name: "_tag", kind: kToken, paths: []string{"meta.tag"}},
	{name: "_security", kind: kToken, paths: []string{"meta.security"}},
}

var subjectTargets = []string{"Patient", "Group", "Device", "Location", "Practitioner", "Organization"}

func patientRef(path string) param {
	return param{name: "patient", kind: kReference, paths: []string{path}, targets: []string{"Patient"}}
}

func subjectRef(path string) param {
	return param{name: "subject", kind: kReference, paths: []string{path}, targets: subjectTargets}
}

// params are the search parameters of each resource type: the common ones
// of the FHIR R4 specification for the types the sandbox's patients and the
// VKP use.
var params = map[string][]param{
	"Patient": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "name", kind: kString, paths: []string{"name"}},
		{name: "family", kind: kString, paths: []string{"name.family"}},
		{name: "given", kind: kString, paths: []string{"name.given"}},
		{name: "birthdate", kind: kDate, paths: []string{"birthDate"}},
		{name: "gender", kind: kToken, paths: []string{"gender"}},
		{name: "active", kind: kToken, paths: []string{"active"}},
		{name: "address-postalcode", kind: kString, paths: []string{"address.postalCode"}},
		{name: "general-practitioner", kind: kReference, paths: []string{"generalPractitioner"}, targets: []string{"Practitioner", "Organization", "PractitionerRole"}},
		{name: "organization", kind: kReference, paths: []string{"managingOrganization"}, targets: []string{"Organization"}},
	},
	"Practitioner": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "name", kind: kString, paths: []string{"name"}},
		{name: "family", kind: kString, paths: []string{"name.family"}},
		{name: "given", kind: kString, paths: []string{"name.given"}},
		{name: "active", kind: kToken, paths: []string{"active"}},
	},
	"PractitionerRole": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "practitioner", kind: kReference, paths: []string{"practitioner"}, targets: []string{"Practitioner"}},
		{name: "organization", kind: kReference, paths: []string{"organization"}, targets: []string{"Organization"}},
		{name: "role", kind: kToken, paths: []string{"code"}},
		{name: "active", kind: kToken, paths: []string{"active"}},
	},
	"Organization": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "name", kind: kString, paths: []string{"name", "alias"}},
		{name: "type", kind: kToken, paths: []string{"type"}},
		{name: "active", kind: kToken, paths: []string{"active"}},
		{name: "partof", kind: kReference, paths: []string{"partOf"}, targets: []string{"Organization"}},
	},
	"Observation": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "code", kind: kToken, paths: []string{"code"}},
		{name: "category", kind: kToken, paths: []string{"category"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "date", kind: kDate, paths: []string{"effective[x]"}},
		subjectRef("subject"), patientRef("subject"),
		{name: "performer", kind: kReference, paths: []string{"performer"}, targets: []string{"Practitioner", "Organization", "Patient", "PractitionerRole"}},
		{name: "device", kind: kReference, paths: []string{"device"}, targets: []string{"Device"}},
		{name: "encounter", kind: kReference, paths: []string{"encounter"}, targets: []string{"Encounter"}},
	},
	"Condition": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "code", kind: kToken, paths: []string{"code"}},
		{name: "category", kind: kToken, paths: []string{"category"}},
		{name: "clinical-status", kind: kToken, paths: []string{"clinicalStatus"}},
		{name: "verification-status", kind: kToken, paths: []string{"verificationStatus"}},
		{name: "onset-date", kind: kDate, paths: []string{"onset[x]"}},
		{name: "recorded-date", kind: kDate, paths: []string{"recordedDate"}},
		subjectRef("subject"), patientRef("subject"),
	},
	"AllergyIntolerance": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "code", kind: kToken, paths: []string{"code"}},
		{name: "clinical-status", kind: kToken, paths: []string{"clinicalStatus"}},
		{name: "date", kind: kDate, paths: []string{"recordedDate"}},
		patientRef("patient"),
	},
	"MedicationStatement": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "code", kind: kToken, paths: []string{"medicationCodeableConcept"}},
		{name: "medication", kind: kReference, paths: []string{"medicationReference"}, targets: []string{"Medication"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "effective", kind: kDate, paths: []string{"effective[x]"}},
		subjectRef("subject"), patientRef("subject"),
	},
	"Medication": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "code", kind: kToken, paths: []string{"code"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
	},
	"CarePlan": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "category", kind: kToken, paths: []string{"category"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "intent", kind: kToken, paths: []string{"intent"}},
		{name: "date", kind: kDate, paths: []string{"period"}},
		subjectRef("subject"), patientRef("subject"),
	},
	"EpisodeOfCare": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "type", kind: kToken, paths: []string{"type"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "date", kind: kDate, paths: []string{"period"}},
		{name: "organization", kind: kReference, paths: []string{"managingOrganization"}, targets: []string{"Organization"}},
		patientRef("patient"),
	},
	"Composition": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "type", kind: kToken, paths: []string{"type"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "date", kind: kDate, paths: []string{"date"}},
		subjectRef("subject"), patientRef("subject"),
	},
	"DetectedIssue": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "code", kind: kToken, paths: []string{"code"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "identified", kind: kDate, paths: []string{"identified[x]"}},
		patientRef("patient"),
	},
	"QuestionnaireResponse": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "authored", kind: kDate, paths: []string{"authored"}},
		{name: "questionnaire", kind: kURI, paths: []string{"questionnaire"}},
		subjectRef("subject"), patientRef("subject"),
	},
	"Questionnaire": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "url", kind: kURI, paths: []string{"url"}},
		{name: "name", kind: kString, paths: []string{"name"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
	},
	"Device": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "type", kind: kToken, paths: []string{"type"}},
		patientRef("patient"),
	},
	"Encounter": {
		{name: "identifier", kind: kToken, paths: []string{"identifier"}},
		{name: "status", kind: kToken, paths: []string{"status"}},
		{name: "date", kind: kDate, paths: []string{"period"}},
		subjectRef("subject"), patientRef("subject"),
	},
}

// paramsOf returns the search params of a type.
func paramsOf(typ string) []param {
	return append(params[typ][:len(params[typ]):len(params[typ])], common...)
}

func lookupParam(typ, name string) (param, bool) {
	for _, p := range params[typ] {
		if p.name == name {
			return p, true
		}
	}
	for _, p := range common {
		if p.name == name {
			return p, true
		}
	}
	return param{}, false
}

// normString folds a string for string search: lower case, accents
// removed (é → e, å → a; ø and æ are letters of their own and stay).
func normString(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// localRef turns a literal reference that resolves on this server into
// Type/id, a _history suffix dropped: a relative Type/id, or an absolute
// URL under base (the tenant's FHIR base the request came through). An
// absolute reference to another server gives "", as do contained (#x) and
// urn: references: Patient/X of another server is not the local Patient/X,
// so it must not put a resource in X's compartment, match a search for
// it, or include it.
func localRef(ref, base string) string {
	if ref == "" || ref[0] == '#' || strings.HasPrefix(ref, "urn:") {
		return ""
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	if strings.Contains(ref, "://") {
		rest, ok := strings.CutPrefix(ref, base+"/")
		if base == "" || !ok {
			return ""
		}
		ref = rest
	}
	if _, _, ok := cutRef(ref); !ok || strings.Count(ref, "/") != 1 {
		return ""
	}
	return ref
}

// foreignRef is an absolute reference to another server as it is indexed
// and searched: the whole URL, a _history suffix dropped, so that a search
// by that URL finds it and a search by Type/id does not.
func foreignRef(ref string) string {
	if !strings.Contains(ref, "://") {
		return ""
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	return ref
}

// nodes returns the values at a dotted path.
func nodes(n *fhirjson.Node, path string) []*fhirjson.Node {
	cur := []*fhirjson.Node{n}
	for _, step := range strings.Split(path, ".") {
		var next []*fhirjson.Node
		for _, c := range cur {
			if c.Kind != fhirjson.Object {
				continue
			}
			var vs []*fhirjson.Node
			if prefix, ok := strings.CutSuffix(step, "[x]"); ok {
				for _, f := range c.Fields {
					if strings.HasPrefix(f.Name, prefix) && len(f.Name) > len(prefix) && unicode.IsUpper(rune(f.Name[len(prefix)])) {
						vs = append(vs, f.Value)
					}
				}
			} else if v := c.Get(step); v != nil {
				vs = append(vs, v)
			}
			for _, v := range vs {
				if v.Kind == fhirjson.Array {
					next = append(next, v.Items...)
				} else {
					next = append(next, v)
				}
			}
		}
		cur = next
	}
	return cur
}

// farFuture bounds an open-ended period.
const (
	farPast   = -62135596800000 // 0001-01-01
	farFuture = 253402300800000 // 10000-01-01
)

// extract returns the search index entries of the resource typ/id, whose
// absolute references are local under base.
func extract(typ, id string, root *fhirjson.Node, base string) []store.Index {
	var out []store.Index
	for _, pid := range compartments(typ, id, root, base) {
		out = append(out, store.Index{Param: compartmentParam, Value: "Patient/" + pid})
	}
	for _, p := range paramsOf(typ) {
		for _, path := range p.paths {
			for _, v := range nodes(root, path) {
				out = indexValue(out, p, v, base)
			}
		}
	}
	return out
}

func indexValue(out []store.Index, p param, v *fhirjson.Node, base string) []store.Index {
	switch p.kind {
	case kString:
		switch v.Kind {
		case fhirjson.String:
			out = append(out, store.Index{Param: p.name, Value: normString(v.Str)})
		case fhirjson.Object: // HumanName, Address
			for _, f := range []string{"text", "family", "given", "prefix", "suffix", "line", "city", "postalCode"} {
				for _, s := range nodes(v, f) {
					if s.Kind == fhirjson.String {
						out = append(out, store.Index{Param: p.name, Value: normString(s.Str)})
					}
				}
			}
		}
	case kURI:
		if v.Kind == fhirjson.String {
			out = append(out, store.Index{Param: p.name, Value: v.Str})
		}
	case kToken:
		switch v.Kind {
		case fhirjson.String, fhirjson.Bool:
			out = append(out, store.Index{Param: p.name, Value: v.Str})
		case fhirjson.Object:
			if codings := v.Get("coding"); codings != nil { // CodeableConcept
				for _, c := range nodes(v, "coding") {
					if code := str(c, "code"); code != "" {
						out = append(out, store.Index{Param: p.name, System: str(c, "system"), Value: code})
					}
				}
			} else if val := str(v, "value"); val != "" { // Identifier
				out = append(out, store.Index{Param: p.name, System: str(v, "system"), Value: val})
			} else if code := str(v, "code"); code != "" { // Coding
				out = append(out, store.Index{Param: p.name, System: str(v, "system"), Value: code})
			}
		}
	case kReference:
		if v.Kind != fhirjson.Object {
			break
		}
		ref := str(v, "reference")
		if r := localRef(ref, base); r != "" {
			out = append(out, store.Index{Param: p.name, Value: r})
		} else if r := foreignRef(ref); r != "" {
			out = append(out, store.Index{Param: p.name, Value: r})
		}
		if id := v.Get("identifier"); id != nil && id.Kind == fhirjson.Object {
			if val := str(id, "value"); val != "" {
				out = append(out, store.Index{Param: p.name + ":identifier", System: str(id, "system"), Value: val})
			}
		}
	case kDate:
		switch v.Kind {
		case fhirjson.String:
			if lo, hi, ok := parseDate(v.Str); ok {
				out = append(out, store.Index{Param: p.name, IsRange: true, Lo: lo, Hi: hi})
			}
		case fhirjson.Object: // Period
			lo, hi := int64(farPast), int64(farFuture)
			if s, _, ok := parseDate(str(v, "start")); ok {
				lo = s
			}
			if _, e, ok := parseDate(str(v, "end")); ok {
				hi = e
			}
			out = append(out, store.Index{Param: p.name, IsRange: true, Lo: lo, Hi: hi})
		}
	}
	return out
}
