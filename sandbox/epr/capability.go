package epr

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// Version of the mock EPR's CapabilityStatement.
const Version = "0.1.0"

type csSearchParam struct {
	Name          string `json:"name"`
	Definition    string `json:"definition,omitempty"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

type csCode struct {
	Code string `json:"code"`
}

type csResource struct {
	Type              string          `json:"type"`
	Interaction       []csCode        `json:"interaction"`
	Versioning        string          `json:"versioning"`
	ReadHistory       bool            `json:"readHistory"`
	UpdateCreate      bool            `json:"updateCreate"`
	ConditionalCreate bool            `json:"conditionalCreate"`
	ConditionalRead   string          `json:"conditionalRead"`
	ConditionalUpdate bool            `json:"conditionalUpdate"`
	ConditionalDelete string          `json:"conditionalDelete"`
	SearchInclude     []string        `json:"searchInclude,omitempty"`
	SearchParam       []csSearchParam `json:"searchParam"`
}

// capabilityStatement describes what this package implements, generated
// from the same tables the server runs on.
func (s *Server) capabilityStatement() []byte {
	types := make([]string, 0, len(s.types))
	for t := range s.types {
		types = append(types, t)
	}
	sort.Strings(types)
	var resources []csResource
	for _, t := range types {
		r := csResource{
			Type:              t,
			Versioning:        "versioned-update",
			ReadHistory:       true,
			UpdateCreate:      true,
			ConditionalCreate: true,
			ConditionalRead:   "not-supported",
			ConditionalDelete: "not-supported",
		}
		for _, c := range []string{"read", "vread", "update", "delete", "create", "search-type"} {
			r.Interaction = append(r.Interaction, csCode{c})
		}
		r.SearchParam = []csSearchParam{
			{Name: "_id", Definition: "http://hl7.org/fhir/SearchParameter/Resource-id", Type: "token"},
			{Name: "_lastUpdated", Definition: "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated", Type: "date"},
		}
		for _, p := range paramsOf(t) {
			r.SearchParam = append(r.SearchParam, csSearchParam{Name: p.name, Type: p.kind.String()})
			if p.kind == kReference {
				r.SearchInclude = append(r.SearchInclude, t+":"+p.name)
			}
		}
		resources = append(resources, r)
	}
	cs := map[string]any{
		"resourceType": "CapabilityStatement",
		"status":       "active",
		"date":         time.Now().UTC().Format("2006-01-02"),
		"publisher":    "Sandkasse",
		"kind":         "instance",
		"software":     map[string]any{"name": "Sandkasse mock EPR", "version": Version},
		"implementation": map[string]any{
			"description": "Mock EPR (EPJ) of a Sandkasse tenant: synthetic data only",
		},
		"fhirVersion": "4.0.1",
		"format":      []string{"json", "application/fhir+json"},
		"rest": []any{map[string]any{
			"mode":          "server",
			"documentation": "Bearer token required on every interaction except metadata. Search: unknown parameters are refused with 400 unless Prefer: handling=lenient; paging with _count (at most " + strconv.Itoa(MaxCount) + ") and the Bundle's next/previous links; a page ends early once its matches exceed " + strconv.Itoa(s.lim.MaxPageBytes) + " bytes, and its next link goes on from there; at most " + strconv.Itoa(MaxSearchValues) + " parameter values and " + strconv.Itoa(MaxSortKeys) + " _sort keys (else 400 too-costly); string parameters match case- and accent-insensitively from the start (:exact, :contains); dates take the prefixes eq, ne, lt, le, gt, ge, sa, eb, and values without a time zone are read as UTC. _include (Type:param[:Target] or Type:*) adds at most " + strconv.Itoa(s.lim.MaxIncluded) + " resources and " + strconv.Itoa(s.lim.MaxIncludedBytes) + " bytes of them to a page, following at most " + strconv.Itoa(s.lim.MaxIncludeReads) + " references; a page cut there carries an OperationOutcome entry (search.mode outcome) with the warning include-capped. A batch or transaction holds at most " + strconv.Itoa(s.lim.MaxBundleGets) + " GET entries (else 413 too-costly), which read at most " + strconv.Itoa(s.lim.MaxBundleResponseBytes) + " bytes (else 400 too-costly).",
			"security": map[string]any{
				"description": "Authorization: Bearer <token>; a tenant's developer token carries every scope of that tenant. SMART patient/ scopes are confined to the launch patient's compartment (R4 CompartmentDefinition patient): reading a resource outside it is 403 outside-patient-compartment, a search returns only what is inside it (totals and paging included), writes outside it are 403; resource types in no patient's compartment (Practitioner, Organization, Medication, Device, ...) may be read and searched, not written, with patient/ scopes. user/ and system/ scopes are not confined.",
			},
			"resource":    resources,
			"interaction": []csCode{{"transaction"}, {"batch"}},
		}},
	}
	out, err := json.Marshal(cs)
	if err != nil {
		panic(err)
	}
	// resourceType first, as FHIR JSON is usually written.
	return stampFirst(out)
}

// stampFirst moves "resourceType" to the front of a marshalled map (Go
// sorts map keys).
func stampFirst(b []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "resourceType" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := []byte(`{"resourceType":` + string(m["resourceType"]))
	for _, k := range keys {
		kb, _ := json.Marshal(k)
		out = append(out, ',')
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, m[k]...)
	}
	return append(out, '}')
}
