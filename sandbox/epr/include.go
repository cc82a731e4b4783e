package epr

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// Limits of _include on one page of results. A page has at most MaxCount
// matches, but each may reference many resources (Observation.performer,
// CarePlan.activity…), so without a cap one request could make the server
// read and hold an unbounded number of resources.
const (
	// MaxIncluded is the most resources one page includes: one per match
	// of a full page.
	MaxIncluded = MaxCount
	// MaxIncludedBytes bounds the bodies of the included resources of one
	// page.
	MaxIncludedBytes = 16 << 20
	// MaxIncludeReads bounds the references one page follows, included or
	// not: a reference that dangles, is deleted, or leads outside what the
	// caller may read costs a store read and includes nothing, so the two
	// caps above alone would let matches full of such references make one
	// request read without end.
	MaxIncludeReads = 4 * MaxIncluded
)

// CodeIncludeCapped is the warning of a page whose includes were cut at
// MaxIncluded or MaxIncludedBytes.
const CodeIncludeCapped = "include-capped"

// addInclude adds an include ("param" or "param:Target") once.
func addInclude(incs []string, param, target string) []string {
	inc := param
	if target != "" {
		inc += ":" + target
	}
	if slices.Contains(incs, inc) {
		return incs
	}
	return append(incs, inc)
}

// included returns the resources the matches reference through the
// include params of typ (each once, in reference order, none that is a
// match), leaving out what the caller may not read: a type its scopes do
// not grant, or a resource outside the patient compartment its grant is
// confined to. It stops at MaxIncluded resources, MaxIncludedBytes or
// MaxIncludeReads references followed and then says so in a warning, which the searchset carries as an
// OperationOutcome entry (search.mode outcome).
func (s *Server) included(ctx context.Context, req *Request, typ string, incs []string, matches []store.Resource, read reader) ([]store.Resource, issue.List, error) {
	onPage := make(map[string]bool, len(matches))
	for _, r := range matches {
		onPage[r.Type+"/"+r.ID] = true
	}
	seen := map[string]bool{}
	var refs []string
	for _, r := range matches {
		doc, err := fhirjson.Parse(r.Body, fhirjson.Limits{})
		if err != nil {
			continue // stored bodies are the server's own JSON
		}
		for _, inc := range incs {
			name, target, _ := strings.Cut(inc, ":")
			p, ok := lookupParam(typ, name)
			if !ok {
				continue
			}
			for _, path := range p.paths {
				for _, v := range nodes(doc.Root, path) {
					if v.Kind != fhirjson.Object {
						continue
					}
					ref := localRef(str(v, "reference"), req.Base)
					t, _, ok := cutRef(ref)
					if !ok || seen[ref] || onPage[ref] || (target != "" && t != target) {
						continue
					}
					seen[ref] = true
					refs = append(refs, ref)
				}
			}
		}
	}
	slices.Sort(refs) // a stable order across pages and back ends
	var out []store.Resource
	size, reads := 0, 0
	capped := func(i int) issue.List {
		return issue.List{{Severity: issue.Warning, Type: "too-costly", Code: CodeIncludeCapped,
			Message: "this page includes " + strconv.Itoa(len(out)) + " resources and leaves out " + strconv.Itoa(len(refs)-i) +
				" more references: a page includes at most " + strconv.Itoa(s.lim.MaxIncluded) + " resources and " +
				strconv.Itoa(s.lim.MaxIncludedBytes) + " bytes of them, and follows at most " + strconv.Itoa(s.lim.MaxIncludeReads) +
				" references; ask for a smaller _count"}}
	}
	for i, ref := range refs {
		t, id, _ := cutRef(ref)
		if !s.types[t] || !req.allowed(t, Read) {
			continue
		}
		patient, fe := req.confine(t, Read)
		if fe != nil {
			continue
		}
		if reads == s.lim.MaxIncludeReads {
			return out, capped(i), nil
		}
		reads++
		r, err := read(ctx, t, id)
		if errors.Is(err, store.ErrNotFound) {
			continue // a dangling reference includes nothing
		}
		if err != nil {
			return nil, nil, err
		}
		if r.Deleted || (patient != "" && !storedInCompartment(r, patient, req.Base)) {
			continue
		}
		if len(out) == s.lim.MaxIncluded || size+len(r.Body) > s.lim.MaxIncludedBytes {
			return out, capped(i), nil
		}
		size += len(r.Body)
		out = append(out, r)
	}
	return out, nil, nil
}
