package synth

import (
	"strconv"
	"time"
)

// jw appends JSON to a byte slice. The generator writes FHIR resources
// field by field in a fixed order, which keeps output byte-identical for a
// seed and is several times faster than reflection-based encoders (millions
// of Observations for a year of home measurements). Keys are trusted
// literals; values are escaped.
type jw struct {
	b     []byte
	comma bool
}

func (w *jw) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
}

func (w *jw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
	w.comma = false
}

// obj opens an object: as the value of key k, or as an array item when k is "".
func (w *jw) obj(k string) {
	if k != "" {
		w.key(k)
	} else {
		w.sep()
	}
	w.b = append(w.b, '{')
	w.comma = false
}

func (w *jw) end() { w.b = append(w.b, '}'); w.comma = true }

// arr opens an array as the value of key k.
func (w *jw) arr(k string) {
	w.key(k)
	w.b = append(w.b, '[')
	w.comma = false
}

func (w *jw) endArr() { w.b = append(w.b, ']'); w.comma = true }

// str writes "k":"v"; with k == "" it writes an array item.
func (w *jw) str(k, v string) {
	if k != "" {
		w.key(k)
	} else {
		w.sep()
	}
	w.quote(v)
	w.comma = true
}

// opt writes "k":"v" unless v is empty.
func (w *jw) opt(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jw) int(k string, v int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
	w.comma = true
}

// dec writes a decimal with a fixed number of fraction digits.
func (w *jw) dec(k string, v float64, prec int) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', prec, 64)
	w.comma = true
}

func (w *jw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
	w.comma = true
}

const (
	layoutDateTime = "2006-01-02T15:04:05-07:00"
	layoutDate     = "2006-01-02"
)

func (w *jw) dateTime(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, layoutDateTime)
	w.b = append(w.b, '"')
	w.comma = true
}

func (w *jw) date(k string, t time.Time) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, layoutDate)
	w.b = append(w.b, '"')
	w.comma = true
}

const hexDigits = "0123456789abcdef"

func (w *jw) quote(s string) {
	w.b = append(w.b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		w.b = append(w.b, s[start:i]...)
		switch c {
		case '"', '\\':
			w.b = append(w.b, '\\', c)
		case '\n':
			w.b = append(w.b, '\\', 'n')
		case '\t':
			w.b = append(w.b, '\\', 't')
		case '\r':
			w.b = append(w.b, '\\', 'r')
		default:
			w.b = append(w.b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	w.b = append(w.b, s[start:]...)
	w.b = append(w.b, '"')
}

// FHIR building blocks.

type coding struct{ system, code, display string }

func (w *jw) coding(k string, c coding) {
	w.obj(k)
	w.str("system", c.system)
	w.opt("code", c.code)
	w.opt("display", c.display)
	w.end()
}

// concept writes a CodeableConcept; text may be empty.
func (w *jw) concept(k, text string, cs ...coding) {
	w.obj(k)
	if len(cs) > 0 {
		w.arr("coding")
		for _, c := range cs {
			w.coding("", c)
		}
		w.endArr()
	}
	w.opt("text", text)
	w.end()
}

// concepts writes an array holding one CodeableConcept.
func (w *jw) concepts(k, text string, cs ...coding) {
	w.arr(k)
	w.concept("", text, cs...)
	w.endArr()
}

// ref writes a Reference with a literal reference and a display.
func (w *jw) ref(k, reference, display string) {
	w.obj(k)
	w.str("reference", reference)
	w.opt("display", display)
	w.end()
}

func (w *jw) refs(k string, references ...string) {
	w.arr(k)
	for _, r := range references {
		w.ref("", r, "")
	}
	w.endArr()
}

func (w *jw) identifier(k, system, value string) {
	w.obj(k)
	w.str("system", system)
	w.str("value", value)
	w.end()
}

// meta writes meta.profile (when given) and the HTEST security label that
// marks every generated resource as test data.
func (w *jw) meta(profile string) {
	w.obj("meta")
	if profile != "" {
		w.arr("profile")
		w.str("", profile)
		w.endArr()
	}
	w.arr("security")
	w.coding("", coding{synthTagSystem, "HTEST", "test health data"})
	w.endArr()
	w.end()
}

func (w *jw) quantity(k string, v float64, prec int, unit, code string) {
	w.obj(k)
	w.dec("value", v, prec)
	w.str("unit", unit)
	w.str("system", "http://unitsofmeasure.org")
	w.str("code", code)
	w.end()
}

// begin starts a resource; the caller ends it with w.end().
func (w *jw) begin(resourceType, id, profile string) {
	w.obj("")
	w.str("resourceType", resourceType)
	w.str("id", id)
	w.meta(profile)
}
