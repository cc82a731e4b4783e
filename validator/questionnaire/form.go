package questionnaire

import (
	"strconv"

	"github.com/sandkasse/sandkasse/validator/element"
)

// Extension URLs of the core and SDC rules the checks apply.
const (
	extMinOccurs         = "http://hl7.org/fhir/StructureDefinition/questionnaire-minOccurs"
	extMaxOccurs         = "http://hl7.org/fhir/StructureDefinition/questionnaire-maxOccurs"
	extMinValue          = "http://hl7.org/fhir/StructureDefinition/minValue"
	extMaxValue          = "http://hl7.org/fhir/StructureDefinition/maxValue"
	extMinLength         = "http://hl7.org/fhir/StructureDefinition/minLength"
	extMaxSize           = "http://hl7.org/fhir/StructureDefinition/maxSize"
	extMimeType          = "http://hl7.org/fhir/StructureDefinition/mimeType"
	extReferenceResource = "http://hl7.org/fhir/StructureDefinition/questionnaire-referenceResource"
	extUnitOption        = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
	extOptionExclusive   = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
	extMinQuantity       = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-minQuantity"
	extMaxQuantity       = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-maxQuantity"
	extEnableWhenExpr    = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression"
)

// form is a Questionnaire read once into what the checks need.
type form struct {
	root *element.Element
	// container holds the resources "#id" references resolve against: the
	// response when the questionnaire is contained in it, else the
	// questionnaire itself.
	container *element.Element
	items     []*qItem
	byLink    map[string]*qItem
}

// qItem is one Questionnaire.item.
type qItem struct {
	e              *element.Element
	linkID, text   string
	typ            string
	required       bool
	repeats        bool
	options        []*element.Element // answerOption
	valueSet       string
	enableWhen     []*element.Element
	enableBehavior string
	// enableExpr marks an enableWhenExpression, which needs FHIRPath; such
	// items are treated as of unknown enablement.
	enableExpr bool
	minOccurs  int
	maxOccurs  int
	minLength  int
	maxLength  int
	items      []*qItem
	parent     *qItem
}

func newForm(q, container *element.Element) *form {
	f := &form{root: q, container: container, byLink: map[string]*qItem{}}
	if f.container == nil {
		f.container = q
	}
	f.items = f.read(q, nil)
	return f
}

func (f *form) read(e *element.Element, parent *qItem) []*qItem {
	var out []*qItem
	for _, ie := range e.Child("item") {
		d := &qItem{
			e:              ie,
			linkID:         value(ie.First("linkId")),
			text:           value(ie.First("text")),
			typ:            value(ie.First("type")),
			required:       value(ie.First("required")) == "true",
			repeats:        value(ie.First("repeats")) == "true",
			options:        ie.Child("answerOption"),
			valueSet:       value(ie.First("answerValueSet")),
			enableWhen:     ie.Child("enableWhen"),
			enableBehavior: value(ie.First("enableBehavior")),
			enableExpr:     len(extValues(ie, extEnableWhenExpr)) > 0,
			minOccurs:      extInt(ie, extMinOccurs),
			maxOccurs:      extInt(ie, extMaxOccurs),
			minLength:      extInt(ie, extMinLength),
			parent:         parent,
		}
		if n, err := strconv.Atoi(value(ie.First("maxLength"))); err == nil {
			d.maxLength = n
		}
		if _, dup := f.byLink[d.linkID]; !dup && d.linkID != "" {
			f.byLink[d.linkID] = d
		}
		d.items = f.read(ie, d)
		out = append(out, d)
	}
	return out
}

// extValues returns the value elements of e's extensions with the URL.
func extValues(e *element.Element, url string) []*element.Element {
	var out []*element.Element
	for _, x := range e.Child("extension") {
		if value(x.First("url")) == url {
			if v := x.First("value"); v != nil {
				out = append(out, v)
			}
		}
	}
	return out
}

func extInt(e *element.Element, url string) int {
	for _, v := range extValues(e, url) {
		if n, err := strconv.Atoi(v.Value); err == nil {
			return n
		}
	}
	return 0
}

// optionValue is the value element of an answerOption.
func optionValue(o *element.Element) *element.Element { return o.First("value") }
