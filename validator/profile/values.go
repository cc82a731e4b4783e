package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// decoded caches fixed/pattern/min/max values decoded from their JSON.
var decoded sync.Map // rawKey -> any

// rawKey identifies a value by where its JSON is held: definitions are
// never modified once loaded, so the bytes stay put.
type rawKey struct {
	p *byte
	n int
}

func decodeValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	key := rawKey{&raw[0], len(raw)}
	if v, ok := decoded.Load(key); ok {
		return v
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		v = nil
	}
	decoded.Store(key, v)
	return v
}

// checkValues checks fixed[x], pattern[x], minValue[x], maxValue[x] and
// maxLength.
func (w *walker) checkValues(e *element.Element, d *spec.ElementDefinition, c *ctx) {
	if len(d.Values) > 0 {
		if typ, raw, ok := d.Value("fixed"); ok {
			w.reportMismatches(e, raw, true, typ, c)
		}
		if typ, raw, ok := d.Value("pattern"); ok {
			w.reportMismatches(e, raw, false, typ, c)
		}
		if typ, raw, ok := d.Value("minValue"); ok {
			w.checkLimit(e, typ, raw, true, c)
		}
		if typ, raw, ok := d.Value("maxValue"); ok {
			w.checkLimit(e, typ, raw, false, c)
		}
	}
	if d.MaxLength != nil && *d.MaxLength > 0 && e.HasValue && e.IsPrimitive() {
		if n := utf8.RuneCountInString(e.Value); n > *d.MaxLength {
			w.add(e, issue.Error, "profile-max-length", "value",
				fmt.Sprintf("the value is %d characters long, more than the maximum length of %d%s", n, *d.MaxLength, c.from()),
				"shorten the value", c.url)
		}
	}
}

// mismatch is one place where an instance differs from a fixed or pattern
// value.
type mismatch struct {
	e   *element.Element
	msg string
}

func (w *walker) reportMismatches(e *element.Element, raw json.RawMessage, exact bool, typ string, c *ctx) {
	want := decodeValue(raw)
	if want == nil {
		return
	}
	var ms []mismatch
	matchValue(e, want, exact, &ms)
	kind := "pattern"
	code := "profile-pattern"
	if exact {
		kind, code = "fixed value", "profile-fixed"
	}
	for _, m := range ms {
		w.add(m.e, issue.Error, code, "value", m.msg+" (the "+kind+" of type "+typ+" in the profile)"+c.from(),
			"make the element match the profile's "+kind, c.url)
	}
}

// matches reports whether e matches the value quietly.
func matches(e *element.Element, want any, exact bool) bool {
	var ms []mismatch
	matchValue(e, want, exact, &ms)
	return len(ms) == 0
}

// matchValue compares an element with a decoded JSON value: a pattern
// requires what it gives, a fixed value also forbids anything else.
// Mismatch messages quote only the profile's values.
func matchValue(e *element.Element, want any, exact bool, ms *[]mismatch) {
	switch v := want.(type) {
	case map[string]any:
		keys := make(map[string]bool, len(v))
		for k, x := range v {
			if strings.HasPrefix(k, "_") {
				continue // extensions on a primitive of the pattern
			}
			keys[k] = true
			kids := childrenByJSONName(e, k)
			items, isArr := x.([]any)
			if !isArr {
				items = []any{x}
			}
			if len(kids) == 0 {
				*ms = append(*ms, mismatch{e, fmt.Sprintf("the element %s is missing", k)})
				continue
			}
			if exact && isArr {
				if len(kids) != len(items) {
					*ms = append(*ms, mismatch{e, fmt.Sprintf("the element %s must occur %d times, found %d", k, len(items), len(kids))})
					continue
				}
				for i := range items {
					matchValue(kids[i], items[i], exact, ms)
				}
				continue
			}
			for _, it := range items {
				if exact || !isArr && len(kids) == 1 {
					matchValue(kids[0], it, exact, ms)
					continue
				}
				found := false
				for _, k := range kids {
					if matches(k, it, exact) {
						found = true
						break
					}
				}
				if !found {
					*ms = append(*ms, mismatch{e, fmt.Sprintf("no %s matches the required value", k)})
				}
			}
		}
		if exact {
			for _, ch := range e.Children {
				name := jsonName(ch)
				if !keys[name] {
					*ms = append(*ms, mismatch{ch, fmt.Sprintf("the element %s is present in the instance but not allowed in the applicable fixed value", ch.Name)})
				}
			}
		}
	default:
		want := scalarText(v)
		if !e.HasValue {
			*ms = append(*ms, mismatch{e, fmt.Sprintf("the value is missing; it must be '%s'", want)})
			return
		}
		if !sameScalar(e, v) {
			*ms = append(*ms, mismatch{e, fmt.Sprintf("the value must be '%s'", truncate(want, 200))})
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func sameScalar(e *element.Element, v any) bool {
	switch x := v.(type) {
	case string:
		return e.Value == x
	case bool:
		return e.Value == scalarText(x)
	case json.Number:
		a, ok1 := fhirpath.ParseDecimal(e.Value)
		b, ok2 := fhirpath.ParseDecimal(x.String())
		if ok1 && ok2 {
			return a.Cmp(b) == 0
		}
		return e.Value == x.String()
	}
	return false
}

// jsonName is the JSON member name of an element: valueQuantity for a
// choice, else the name.
func jsonName(e *element.Element) string {
	if e.Choice {
		return e.Name + upperFirst(e.Type)
	}
	return e.Name
}

func childrenByJSONName(e *element.Element, name string) []*element.Element {
	var out []*element.Element
	for _, ch := range e.Children {
		if ch.Name == name && !ch.Choice || ch.Choice && jsonName(ch) == name {
			out = append(out, ch)
		}
	}
	return out
}

// valueElement makes an element from a JSON value of a FHIR type, enough
// for comparisons (primitives and Quantity-like types).
func valueElement(typ string, v any) *element.Element {
	typ = lowerFirstPrimitive(typ)
	switch x := v.(type) {
	case map[string]any:
		e := &element.Element{Name: "value", Type: typ, Index: -1}
		for k, c := range x {
			ct := "string"
			switch k {
			case "value":
				ct = "decimal"
			case "system":
				ct = "uri"
			case "code", "comparator":
				ct = "code"
			}
			ce := valueElement(ct, c)
			ce.Name, ce.Parent = k, e
			e.Children = append(e.Children, ce)
		}
		return e
	default:
		return &element.Element{Name: "value", Type: typ, Value: scalarText(x), HasValue: true, Index: -1}
	}
}

// lowerFirstPrimitive turns the type suffix of minValueDateTime into the
// type code (dateTime); complex types keep their capital.
func lowerFirstPrimitive(t string) string {
	switch t {
	case "Date", "DateTime", "Instant", "Time", "Decimal", "Integer", "PositiveInt", "UnsignedInt", "String", "Uri", "Code":
		return strings.ToLower(t[:1]) + t[1:]
	}
	return t
}

var (
	lessExpr    = fhirpath.MustCompile("%v < %limit")
	greaterExpr = fhirpath.MustCompile("%v > %limit")
)

// checkLimit checks minValue[x] (min true) or maxValue[x]. A Duration limit
// on a date, dateTime or instant counts from today: the minimum is today
// minus the duration, the maximum today plus it (as the reference validator
// reads them).
func (w *walker) checkLimit(e *element.Element, typ string, raw json.RawMessage, min bool, c *ctx) {
	v := decodeValue(raw)
	if v == nil {
		return
	}
	subject := e
	limit := valueElement(typ, v)
	limitText := scalarText(v)
	if m, ok := v.(map[string]any); ok {
		limitText = scalarText(m["value"]) + " " + scalarText(m["code"])
		if m["code"] == nil {
			limitText = scalarText(m["value"]) + " " + scalarText(m["unit"])
		}
	}
	switch e.Type {
	case "date", "dateTime", "instant":
		if typ == "Duration" || typ == "Quantity" || typ == "Age" {
			d, ok := durationOf(v)
			if !ok || !e.HasValue {
				return
			}
			now := time.Now().UTC()
			var t time.Time
			if min {
				t = now.AddDate(-d.years, -d.months, -d.days).Add(-d.rest)
			} else {
				t = now.AddDate(d.years, d.months, d.days).Add(d.rest)
			}
			limit = &element.Element{Name: "value", Type: e.Type, HasValue: true, Index: -1,
				Value: t.Format("2006-01-02T15:04:05Z")}
			if e.Type == "date" {
				limit.Value = t.Format("2006-01-02")
			}
			limitText = limit.Value
		}
	}
	expr := greaterExpr
	if min {
		expr = lessExpr
	}
	env := fhirpath.Env{Model: w.v.reg, Vars: map[string]fhirpath.Collection{"v": {subject}, "limit": {limit}}}
	r, err := expr.EvalTri(&env, fhirpath.Collection{subject})
	if err != nil || r != fhirpath.True {
		return
	}
	code, word := "profile-max-value", "more than the maximum"
	if min {
		code, word = "profile-min-value", "less than the minimum"
	}
	w.add(e, issue.Error, code, "value",
		fmt.Sprintf("the value is %s value %s%s", word, limitText, c.from()), "", c.url)
}

type duration struct {
	years, months, days int
	rest                time.Duration
}

// durationOf reads a UCUM duration quantity (a, mo, wk, d, h, min, s).
func durationOf(v any) (duration, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return duration{}, false
	}
	num, ok := m["value"].(json.Number)
	if !ok {
		return duration{}, false
	}
	f, err := num.Float64()
	if err != nil {
		return duration{}, false
	}
	unit, _ := m["code"].(string)
	if unit == "" {
		unit, _ = m["unit"].(string)
	}
	n := int(f)
	switch unit {
	case "a", "year", "years":
		return duration{years: n}, true
	case "mo", "month", "months":
		return duration{months: n}, true
	case "wk", "week", "weeks":
		return duration{days: 7 * n}, true
	case "d", "day", "days":
		return duration{days: n}, true
	case "h":
		return duration{rest: time.Duration(f * float64(time.Hour))}, true
	case "min":
		return duration{rest: time.Duration(f * float64(time.Minute))}, true
	case "s":
		return duration{rest: time.Duration(f * float64(time.Second))}, true
	}
	return duration{}, false
}
