package spec

// ValueSet is modelled for local expansion: compose and a stored expansion.
type ValueSet struct {
	ResourceType string     `json:"resourceType"`
	ID           string     `json:"id,omitempty"`
	URL          string     `json:"url"`
	Version      string     `json:"version,omitempty"`
	Name         string     `json:"name,omitempty"`
	Compose      *Compose   `json:"compose,omitempty"`
	Expansion    *Expansion `json:"expansion,omitempty"`
}

// Compose is ValueSet.compose.
type Compose struct {
	Inactive bool         `json:"inactive,omitempty"`
	Include  []ConceptSet `json:"include,omitempty"`
	Exclude  []ConceptSet `json:"exclude,omitempty"`
}

// ConceptSet is one include or exclude.
type ConceptSet struct {
	System   string          `json:"system,omitempty"`
	Version  string          `json:"version,omitempty"`
	Concept  []ConceptRef    `json:"concept,omitempty"`
	Filter   []ConceptFilter `json:"filter,omitempty"`
	ValueSet []string        `json:"valueSet,omitempty"`
}

// ConceptRef is a code listed in a ConceptSet.
type ConceptRef struct {
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// ConceptFilter is a ConceptSet filter (is-a, descendent-of, =, …).
type ConceptFilter struct {
	Property string `json:"property"`
	Op       string `json:"op"`
	Value    string `json:"value"`
}

// Expansion is ValueSet.expansion.
type Expansion struct {
	// Total and Offset tell whether a stored expansion is complete: one
	// that is paged (offset > 0 or total > number of codes) cannot prove a
	// code absent.
	Total    *int                `json:"total,omitempty"`
	Offset   int                 `json:"offset,omitempty"`
	Contains []ExpansionContains `json:"contains,omitempty"`
}

// ExpansionContains is one (possibly nested) expansion entry.
type ExpansionContains struct {
	System   string              `json:"system,omitempty"`
	Code     string              `json:"code,omitempty"`
	Display  string              `json:"display,omitempty"`
	Abstract bool                `json:"abstract,omitempty"`
	Inactive bool                `json:"inactive,omitempty"`
	Contains []ExpansionContains `json:"contains,omitempty"`
}

// CodeSystem is modelled for membership tests and hierarchy (is-a).
type CodeSystem struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id,omitempty"`
	URL          string `json:"url"`
	Version      string `json:"version,omitempty"`
	Name         string `json:"name,omitempty"`
	// CaseSensitive is a pointer because most v2 tables in R4 omit it, and
	// absence must not read as "case-insensitive"; see IsCaseSensitive.
	CaseSensitive    *bool     `json:"caseSensitive,omitempty"`
	Content          string    `json:"content,omitempty"` // not-present | example | fragment | complete | supplement
	HierarchyMeaning string    `json:"hierarchyMeaning,omitempty"`
	Concept          []Concept `json:"concept,omitempty"`
}

// Concept is a CodeSystem concept with its children.
type Concept struct {
	Code     string            `json:"code"`
	Display  string            `json:"display,omitempty"`
	Concept  []Concept         `json:"concept,omitempty"`
	Property []ConceptProperty `json:"property,omitempty"`
}

// ConceptProperty is kept for the "status"/"deprecated"/"parent" properties.
type ConceptProperty struct {
	Code         string `json:"code"`
	ValueCode    string `json:"valueCode,omitempty"`
	ValueString  string `json:"valueString,omitempty"`
	ValueBoolean *bool  `json:"valueBoolean,omitempty"`
	ValueInteger *int   `json:"valueInteger,omitempty"`
	// ValueDateTime carries deprecationDate.
	ValueDateTime string `json:"valueDateTime,omitempty"`
}

// IsCaseSensitive reports whether codes must match exactly. An absent
// caseSensitive is treated as true: being strict about an unknown rule is
// safer than accepting "Male" for "male".
func (cs *CodeSystem) IsCaseSensitive() bool {
	return cs.CaseSensitive == nil || *cs.CaseSensitive
}
