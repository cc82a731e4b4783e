package spec

import (
	"sort"
	"strings"
)

// TypeInfo is the header of a StructureDefinition: enough to answer "what
// kind of type is this" and "what does it derive from" without decoding
// the snapshot.
type TypeInfo struct {
	URL            string
	Name           string
	Type           string // the type constrained or defined ("Observation" for vitalsigns)
	Kind           string // primitive-type | complex-type | resource | logical
	Abstract       bool
	Derivation     string // specialization | constraint | "" (base types)
	BaseDefinition string
}

// Info returns the header of sd.
func (sd *StructureDefinition) Info() TypeInfo {
	return TypeInfo{URL: sd.URL, Name: sd.Name, Type: sd.Type, Kind: sd.Kind, Abstract: sd.Abstract,
		Derivation: sd.Derivation, BaseDefinition: sd.BaseDefinition}
}

// Catalog is optionally implemented by a Source that can answer header and
// listing questions without decoding whole definitions (the embedded core
// keeps these in its index).
type Catalog interface {
	TypeInfo(url string) (TypeInfo, bool)
	// TypeInfos lists every StructureDefinition the source holds.
	TypeInfos() []TypeInfo
	// URLs lists the canonical URLs of the StructureDefinitions, ValueSets
	// or CodeSystems (by resourceType) the source holds.
	URLs(resourceType string) []string
}

// TypeURL turns a type name ("Patient", "code") into its core canonical;
// anything that already looks like a URL or URN is returned unchanged
// (without a |version suffix), so profiles and logical models pass through.
func TypeURL(nameOrURL string) string {
	if strings.ContainsAny(nameOrURL, ":/") {
		return stripVersion(nameOrURL)
	}
	return CoreBase + nameOrURL
}

// TypeInfo finds the header of a StructureDefinition by type name or URL.
func (r *Registry) TypeInfo(nameOrURL string) (TypeInfo, bool) {
	url := TypeURL(nameOrURL)
	r.mu.RLock()
	sd := r.sds[url]
	r.mu.RUnlock()
	if sd != nil {
		return sd.Info(), true
	}
	if c, ok := r.fallback.(Catalog); ok {
		return c.TypeInfo(url)
	}
	if r.fallback != nil {
		if sd := r.fallback.StructureDefinition(url); sd != nil {
			return sd.Info(), true
		}
	}
	return TypeInfo{}, false
}

// Kind returns primitive-type, complex-type, resource or logical for a type
// name or profile URL, or "" if unknown.
func (r *Registry) Kind(nameOrURL string) string {
	ti, _ := r.TypeInfo(nameOrURL)
	return ti.Kind
}

// IsResource reports whether nameOrURL is a resource type or a profile of one.
func (r *Registry) IsResource(nameOrURL string) bool { return r.Kind(nameOrURL) == "resource" }

// IsPrimitive reports whether nameOrURL is a primitive type (string, code, …).
func (r *Registry) IsPrimitive(nameOrURL string) bool { return r.Kind(nameOrURL) == "primitive-type" }

// IsSubtype reports whether typ is base or derives from it through
// baseDefinition: Patient→DomainResource→Resource, Age→Quantity,
// SimpleQuantity→Quantity, code→string, bp→vitalsigns→Observation. Both
// arguments are type names or canonical URLs.
func (r *Registry) IsSubtype(typ, base string) bool {
	// FHIRPath's is/as/ofType ask this for every item they test; the
	// answers only change when definitions are added.
	key := subtypeKey{typ, base}
	cache := r.subtypes.Load()
	if cache != nil {
		if v, ok := cache.Load(key); ok {
			return v.(bool)
		}
	}
	ok := r.isSubtype(typ, base)
	if cache != nil {
		// typ may be a string over a document's memory, which is reused.
		cache.Store(subtypeKey{strings.Clone(typ), strings.Clone(base)}, ok)
	}
	return ok
}

type subtypeKey struct{ typ, base string }

func (r *Registry) isSubtype(typ, base string) bool {
	u, b := TypeURL(typ), TypeURL(base)
	// The chain in R4 is at most ~5 deep; the bound only stops a cyclic
	// baseDefinition in a loaded package from hanging the validator.
	for range 64 {
		if u == b {
			return true
		}
		ti, ok := r.TypeInfo(u)
		if !ok || ti.BaseDefinition == "" {
			return false
		}
		u = stripVersion(ti.BaseDefinition)
	}
	return false
}

// IsResourceType reports whether name is a concrete resource type, i.e. a
// value resourceType may hold ("Patient", not "DomainResource" or
// "vitalsigns"). It is cheap enough to call per resource.
func (r *Registry) IsResourceType(name string) bool {
	if name == "" || strings.ContainsAny(name, ":/") {
		return false
	}
	ti, ok := r.TypeInfo(name)
	return ok && ti.Kind == "resource" && ti.Derivation == "specialization" && !ti.Abstract && ti.Type == name
}

// ResourceTypes lists the concrete resource types (kind resource,
// derivation specialization, not abstract), sorted: the names a
// resourceType member may hold.
func (r *Registry) ResourceTypes() []string {
	var out []string
	seen := map[string]bool{}
	for _, ti := range r.TypeInfos() {
		if ti.Kind == "resource" && ti.Derivation == "specialization" && !ti.Abstract && !seen[ti.Type] {
			seen[ti.Type] = true
			out = append(out, ti.Type)
		}
	}
	sort.Strings(out)
	return out
}

// TypeInfos lists the headers of all StructureDefinitions, the registry's
// own first; a URL the registry overrides is listed once.
func (r *Registry) TypeInfos() []TypeInfo {
	r.mu.RLock()
	out := make([]TypeInfo, 0, len(r.sds))
	own := make(map[string]bool, len(r.sds))
	for u, sd := range r.sds {
		out = append(out, sd.Info())
		own[u] = true
	}
	r.mu.RUnlock()
	if c, ok := r.fallback.(Catalog); ok {
		for _, ti := range c.TypeInfos() {
			if !own[ti.URL] {
				out = append(out, ti)
			}
		}
	}
	return out
}

// URLs lists the canonical URLs of all StructureDefinitions, ValueSets or
// CodeSystems (by resourceType), sorted.
func (r *Registry) URLs(resourceType string) []string {
	set := map[string]bool{}
	r.mu.RLock()
	switch resourceType {
	case "StructureDefinition":
		for u := range r.sds {
			set[u] = true
		}
	case "ValueSet":
		for u := range r.vss {
			set[u] = true
		}
	case "CodeSystem":
		for u := range r.css {
			set[u] = true
		}
	}
	r.mu.RUnlock()
	if c, ok := r.fallback.(Catalog); ok {
		for _, u := range c.URLs(resourceType) {
			set[u] = true
		}
	}
	out := make([]string, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}
