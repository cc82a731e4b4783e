package validator

import (
	"strings"
	"sync"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/structure"
	"github.com/sandkasse/sandkasse/validator/terminology"
)

// canonicals resolves the Questionnaires (and other canonical resources) a
// QuestionnaireResponse names, from the registry. A tree is built once per
// URL and kept for the Validator's life: forms are read, never changed.
type canonicals struct {
	reg   *spec.Registry
	trees sync.Map // url -> *element.Element (nil: not usable)
}

func (c *canonicals) Questionnaire(url string) *element.Element {
	if v, ok := c.trees.Load(url); ok {
		return v.(*element.Element)
	}
	var root *element.Element
	if rt, data, ok := c.reg.Resource(url); ok && rt == "Questionnaire" {
		if doc, err := fhirjson.Parse(data, fhirjson.Limits{}); err == nil {
			root = structure.Build(doc, c.reg, structure.Limits{}).Root
		}
	}
	v, _ := c.trees.LoadOrStore(strings.Clone(url), root) // url is read from the document
	return v.(*element.Element)
}

// CanonicalType names what a canonical URL points at, so that a
// questionnaire reference to a ValueSet is reported as the wrong type.
func (c *canonicals) CanonicalType(url string) string {
	switch {
	case c.reg.ValueSet(url) != nil:
		return "ValueSet"
	case c.reg.CodeSystem(url) != nil:
		return "CodeSystem"
	case c.reg.StructureDefinition(url) != nil:
		return "StructureDefinition"
	}
	if rt, _, ok := c.reg.Resource(url); ok {
		return rt
	}
	return ""
}

// answerTerms adapts the terminology service to the questionnaire checks,
// where an empty system means "this code in any system of the value set".
type answerTerms struct{ t *terminology.Service }

func (a answerTerms) ValidateCoding(vs, system, code, display string) (bool, bool, string) {
	var r terminology.Result
	if system == "" {
		r = a.t.ValidateBareCode(vs, code)
	} else {
		r = a.t.ValidateCode(vs, system, code, display)
	}
	return r.Valid, r.Checked, r.Message
}
