// Package searchparam checks what a SearchParameter or a
// CapabilityStatement says about search parameters against the definitions
// it names: a SearchParameter derived from another keeps its type and bases,
// and a CapabilityStatement's searchParam agrees with its definition on the
// type. These are the reference validator's rules (SearchParameterValidator,
// CapabilityStatementValidator); the R4 core parameters are embedded
// (core.txt, see ./gen), others come from the registry (--load).
package searchparam

import (
	_ "embed"
	"encoding/json"
	"strings"
	"sync"

	"github.com/sandkasse/sandkasse/validator/spec"
)

//go:generate sh -c "go run ./gen -bundle \"$R4PKG\"/Bundle-searchParams.json -out core.txt"

//go:embed core.txt
var coreText string

// corePrefix is the canonical URL of every core search parameter, before
// its id.
const corePrefix = "http://hl7.org/fhir/SearchParameter/"

// coreVersion is the version of the embedded core definitions.
const coreVersion = "4.0.1"

// Def is what the checks need of a SearchParameter.
type Def struct {
	URL, Version string
	Type         string
	Base         []string
}

// VersionedURL is URL|Version, or URL when the version is unknown.
func (d Def) VersionedURL() string {
	if d.Version == "" {
		return d.URL
	}
	return d.URL + "|" + d.Version
}

func (d Def) hasBase(t string) bool {
	for _, b := range d.Base {
		if b == t {
			return true
		}
	}
	return false
}

var (
	coreOnce sync.Once
	core     map[string]Def // by id
)

func loadCore() {
	core = make(map[string]Def, 1400)
	for _, line := range strings.Split(coreText, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			continue // the generator writes three fields; the test counts them
		}
		core[f[0]] = Def{URL: corePrefix + f[0], Version: coreVersion, Type: f[1], Base: strings.Split(f[2], ",")}
	}
}

// Lookup finds the SearchParameter a canonical URL names (a |version is
// ignored): first among the resources loaded into reg, then in the R4 core.
func Lookup(reg *spec.Registry, canonical string) (Def, bool) {
	url := canonical
	if i := strings.IndexByte(url, '|'); i >= 0 {
		url = url[:i]
	}
	if reg != nil {
		if rt, data, ok := reg.Resource(url); ok && rt == "SearchParameter" {
			var sp struct {
				URL     string   `json:"url"`
				Version string   `json:"version"`
				Type    string   `json:"type"`
				Base    []string `json:"base"`
			}
			if json.Unmarshal(data, &sp) == nil && sp.Type != "" {
				return Def{URL: url, Version: sp.Version, Type: sp.Type, Base: sp.Base}, true
			}
		}
	}
	if id, ok := strings.CutPrefix(url, corePrefix); ok {
		coreOnce.Do(loadCore)
		d, ok := core[id]
		return d, ok
	}
	return Def{}, false
}
