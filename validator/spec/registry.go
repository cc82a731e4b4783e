package spec

import (
	"sync"
	"sync/atomic"
)

// CoreBase is the canonical prefix of the R4 core definitions.
const CoreBase = "http://hl7.org/fhir/StructureDefinition/"

// Registry is the set of conformance resources a validation sees. It is safe
// for concurrent reads; Add* must not race with lookups of the same URL.
type Registry struct {
	mu        sync.RWMutex
	sds       map[string]*StructureDefinition
	vss       map[string]*ValueSet
	css       map[string]*CodeSystem
	other     map[string]rawResource
	subtypes  atomic.Pointer[sync.Map] // subtypeKey -> bool; replaced when definitions change
	fallback  Source
	indexes   sync.Map // *StructureDefinition → *indexResult
	snapshots sync.Map // *StructureDefinition → *snapshotResult
}

// Source supplies definitions on demand (the embedded R4 core decodes each
// definition the first time it is asked for, to keep start-up fast).
type Source interface {
	StructureDefinition(url string) *StructureDefinition
	ValueSet(url string) *ValueSet
	CodeSystem(url string) *CodeSystem
}

// NewRegistry returns an empty registry that asks fallback for what it does
// not hold itself (fallback may be nil).
func NewRegistry(fallback Source) *Registry {
	r := &Registry{
		sds:      map[string]*StructureDefinition{},
		vss:      map[string]*ValueSet{},
		css:      map[string]*CodeSystem{},
		fallback: fallback,
	}
	r.subtypes.Store(new(sync.Map))
	return r
}

// stripVersion drops a "|version" suffix from a canonical.
func stripVersion(url string) string {
	for i := len(url) - 1; i >= 0; i-- {
		if url[i] == '|' {
			return url[:i]
		}
	}
	return url
}

// AddStructureDefinition adds or replaces a definition by its URL.
func (r *Registry) AddStructureDefinition(sd *StructureDefinition) {
	r.mu.Lock()
	r.sds[sd.URL] = sd
	r.mu.Unlock()
	r.subtypes.Store(new(sync.Map))
}

// AddValueSet adds or replaces a ValueSet by its URL.
func (r *Registry) AddValueSet(vs *ValueSet) {
	r.mu.Lock()
	r.vss[vs.URL] = vs
	r.mu.Unlock()
}

// AddCodeSystem adds or replaces a CodeSystem by its URL.
func (r *Registry) AddCodeSystem(cs *CodeSystem) {
	r.mu.Lock()
	r.css[cs.URL] = cs
	r.mu.Unlock()
}

// StructureDefinition finds a definition by canonical URL (a |version suffix
// is ignored). A constraint profile that was published with only a
// differential comes back with a generated snapshot (see Snapshot); if
// generation fails it comes back as published, without one.
func (r *Registry) StructureDefinition(url string) *StructureDefinition {
	sd := r.rawStructureDefinition(url)
	if sd != nil && sd.Snapshot == nil && sd.Differential != nil && sd.Derivation == "constraint" {
		if full, err := r.Snapshot(sd); err == nil {
			return full
		}
	}
	return sd
}

// rawStructureDefinition is StructureDefinition without snapshot
// generation, which generation itself uses so that a cyclic chain of
// differential-only profiles ends in an error, not endless recursion.
func (r *Registry) rawStructureDefinition(url string) *StructureDefinition {
	url = stripVersion(url)
	r.mu.RLock()
	sd := r.sds[url]
	r.mu.RUnlock()
	if sd == nil && r.fallback != nil {
		sd = r.fallback.StructureDefinition(url)
	}
	return sd
}

// Type finds the base definition of a type or resource by its code
// ("Patient", "HumanName", "string").
func (r *Registry) Type(code string) *StructureDefinition {
	return r.StructureDefinition(CoreBase + code)
}

// ValueSet finds a ValueSet by canonical URL.
func (r *Registry) ValueSet(url string) *ValueSet {
	url = stripVersion(url)
	r.mu.RLock()
	vs := r.vss[url]
	r.mu.RUnlock()
	if vs == nil && r.fallback != nil {
		vs = r.fallback.ValueSet(url)
	}
	return vs
}

// CodeSystem finds a CodeSystem by canonical URL.
func (r *Registry) CodeSystem(url string) *CodeSystem {
	url = stripVersion(url)
	r.mu.RLock()
	cs := r.css[url]
	r.mu.RUnlock()
	if cs == nil && r.fallback != nil {
		cs = r.fallback.CodeSystem(url)
	}
	return cs
}
