package fhirpath

import (
	"math/big"
	"strings"
	"sync"
)

// A small UCUM: enough of the unit grammar (prefixes, products, quotients,
// exponents, annotations, 10*n) and of the atom table to compare and convert
// the quantities met in clinical data (mass, length, volume, time, amount of
// substance, pressure, the customary US units). Units it does not know, and
// the non-linear ones (Cel, [degF], [pH]), are comparable only to the very
// same unit string.

// dims is the exponent of each UCUM base unit: m, s, g, rad, K, C, cd.
type dims [7]int8

type unitVal struct {
	f *big.Rat
	d dims
}

type atomDef struct {
	value  string // magnitude, as a decimal or rational ("1/12")
	unit   string // definition in terms of other units; "" for a base unit
	base   int    // index in dims for base units
	metric bool   // may take a prefix
}

var ucumAtoms = map[string]atomDef{
	// base units
	"m": {base: 0, metric: true}, "s": {base: 1, metric: true}, "g": {base: 2, metric: true},
	"rad": {base: 3, metric: true}, "K": {base: 4, metric: true}, "C": {base: 5, metric: true},
	"cd": {base: 6, metric: true},
	// dimensionless
	"10*": {value: "10", unit: "1"}, "10^": {value: "10", unit: "1"},
	"%": {value: "1/100", unit: "1"}, "[ppth]": {value: "1/1000", unit: "1"},
	"[ppm]": {value: "1/1000000", unit: "1"}, "[ppb]": {value: "1/1000000000", unit: "1"},
	"[pptr]": {value: "1/1000000000000", unit: "1"},
	"mol":    {value: "602213670000000000000000", unit: "1", metric: true},
	"sr":     {value: "1", unit: "rad2", metric: true},
	// SI derived
	"Hz": {value: "1", unit: "s-1", metric: true}, "N": {value: "1", unit: "kg.m/s2", metric: true},
	"Pa": {value: "1", unit: "N/m2", metric: true}, "J": {value: "1", unit: "N.m", metric: true},
	"W": {value: "1", unit: "J/s", metric: true}, "A": {value: "1", unit: "C/s", metric: true},
	"V": {value: "1", unit: "J/C", metric: true}, "F": {value: "1", unit: "C/V", metric: true},
	"Ohm": {value: "1", unit: "V/A", metric: true}, "S": {value: "1", unit: "Ohm-1", metric: true},
	"Wb": {value: "1", unit: "V.s", metric: true}, "T": {value: "1", unit: "Wb/m2", metric: true},
	"H": {value: "1", unit: "Wb/A", metric: true}, "lm": {value: "1", unit: "cd.sr", metric: true},
	"lx": {value: "1", unit: "lm/m2", metric: true}, "Bq": {value: "1", unit: "s-1", metric: true},
	"Gy": {value: "1", unit: "J/kg", metric: true}, "Sv": {value: "1", unit: "J/kg", metric: true},
	"l": {value: "1", unit: "dm3", metric: true}, "L": {value: "1", unit: "l", metric: true},
	"ar": {value: "100", unit: "m2", metric: true}, "t": {value: "1000", unit: "kg", metric: true},
	"bar": {value: "100000", unit: "Pa", metric: true},
	"u":   {value: "0.0000000000000000000000016605402", unit: "g", metric: true},
	"eV":  {value: "0.000000000000000000160217733", unit: "J", metric: true},
	"eq":  {value: "1", unit: "mol", metric: true}, "osm": {value: "1", unit: "mol", metric: true},
	"kat": {value: "1", unit: "mol/s", metric: true}, "U": {value: "1", unit: "umol/min", metric: true},
	"cal": {value: "4.184", unit: "J", metric: true}, "[Cal]": {value: "1", unit: "kcal"},
	"g%":     {value: "1", unit: "g/dl", metric: true},
	"m[Hg]":  {value: "133322", unit: "Pa", metric: true},
	"m[H2O]": {value: "9806.65", unit: "Pa", metric: true},
	"atm":    {value: "101325", unit: "Pa", metric: true},
	"deg":    {value: "0.017453292519943295", unit: "rad"},
	"'":      {value: "1/60", unit: "deg"}, "''": {value: "1/60", unit: "'"},
	// time
	"min": {value: "60", unit: "s"}, "h": {value: "60", unit: "min"}, "d": {value: "24", unit: "h"},
	"wk": {value: "7", unit: "d"}, "a_j": {value: "365.25", unit: "d"}, "a": {value: "1", unit: "a_j"},
	"a_t": {value: "365.24219", unit: "d"}, "a_g": {value: "365.2425", unit: "d"},
	"mo_j": {value: "1/12", unit: "a_j"}, "mo": {value: "1", unit: "mo_j"},
	"mo_s": {value: "29.53059", unit: "d"}, "mo_g": {value: "1/12", unit: "a_g"},
	// customary units
	"[in_i]": {value: "2.54", unit: "cm"}, "[ft_i]": {value: "12", unit: "[in_i]"},
	"[yd_i]": {value: "3", unit: "[ft_i]"}, "[mi_i]": {value: "5280", unit: "[ft_i]"},
	"[nmi_i]": {value: "1852", unit: "m"}, "[lb_av]": {value: "453.59237", unit: "g"},
	"[oz_av]": {value: "1/16", unit: "[lb_av]"}, "[dr_av]": {value: "1/16", unit: "[oz_av]"},
	"[gr]": {value: "64.79891", unit: "mg"}, "[stone_av]": {value: "14", unit: "[lb_av]"},
	"[gal_us]": {value: "231", unit: "[in_i]3"}, "[qt_us]": {value: "1/4", unit: "[gal_us]"},
	"[pt_us]": {value: "1/2", unit: "[qt_us]"}, "[gil_us]": {value: "1/4", unit: "[pt_us]"},
	"[foz_us]": {value: "1/4", unit: "[gil_us]"}, "[tbs_us]": {value: "1/2", unit: "[foz_us]"},
	"[tsp_us]": {value: "1/3", unit: "[tbs_us]"}, "[cup_us]": {value: "16", unit: "[tbs_us]"},
	"[drp]": {value: "1/20", unit: "ml"}, "[lbf_av]": {value: "1", unit: "[lb_av].[g]"},
	"[g]": {value: "9.80665", unit: "m/s2"}, "[psi]": {value: "1", unit: "[lbf_av]/[in_i]2"},
}

// ucumSpecial units are valid but cannot be converted linearly (or are
// arbitrary): they compare only with themselves.
var ucumSpecial = map[string]bool{
	"Cel": true, "[degF]": true, "[degR]": true, "[pH]": true, "[iU]": true, "[IU]": true,
	"[arb'U]": true, "[USP'U]": true, "[CFU]": true, "[HPF]": true, "[LPF]": true,
}

var ucumPrefixes = map[string]string{
	"Y": "1000000000000000000000000", "Z": "1000000000000000000000", "E": "1000000000000000000",
	"P": "1000000000000000", "T": "1000000000000", "G": "1000000000", "M": "1000000",
	"k": "1000", "h": "100", "da": "10", "d": "1/10", "c": "1/100", "m": "1/1000",
	"u": "1/1000000", "n": "1/1000000000", "p": "1/1000000000000", "f": "1/1000000000000000",
	"a": "1/1000000000000000000", "z": "1/1000000000000000000000", "y": "1/1000000000000000000000000",
}

var (
	ucumOnce  sync.Once
	ucumCache sync.Map // unit string -> *unitParse
)

type unitParse struct {
	v       unitVal
	ok      bool
	special bool
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("fhirpath: bad UCUM table value " + s)
	}
	return r
}

// ucumAtomCache holds resolved atoms; it is filled once from ucumAtoms.
var ucumAtomVals map[string]unitVal

func initUCUM() {
	ucumAtomVals = map[string]unitVal{}
	var resolve func(string, int) unitVal
	resolve = func(name string, depth int) unitVal {
		if v, ok := ucumAtomVals[name]; ok {
			return v
		}
		def := ucumAtoms[name]
		var v unitVal
		if def.unit == "" && def.value == "" {
			v = unitVal{f: big.NewRat(1, 1)}
			v.d[def.base] = 1
		} else {
			p := &unitParser{s: def.unit, resolveAtom: func(a string) (unitVal, bool) {
				if depth > 20 {
					return unitVal{}, false
				}
				return lookupAtomWith(a, func(n string) (unitVal, bool) {
					if _, ok := ucumAtoms[n]; !ok {
						return unitVal{}, false
					}
					return resolve(n, depth+1), true
				})
			}}
			u, ok := p.parse()
			if !ok {
				panic("fhirpath: bad UCUM definition for " + name)
			}
			u.f = new(big.Rat).Mul(u.f, rat(def.value))
			v = u
		}
		ucumAtomVals[name] = v
		return v
	}
	for name := range ucumAtoms {
		resolve(name, 0)
	}
}

// parseUnit returns the magnitude and dimension of a UCUM unit string.
func parseUnit(s string) (unitVal, bool, bool) {
	ucumOnce.Do(initUCUM)
	if c, ok := ucumCache.Load(s); ok {
		p := c.(*unitParse)
		return p.v, p.ok, p.special
	}
	res := &unitParse{}
	if ucumSpecial[s] {
		res.special = true
	} else if len(s) <= 200 {
		p := &unitParser{s: s, resolveAtom: lookupAtom}
		res.v, res.ok = p.parse()
	}
	// Bound the cache: unit strings come from documents.
	if len(s) <= 64 {
		ucumCache.Store(strings.Clone(s), res) // s may share a document's reused memory
	}
	return res.v, res.ok, res.special
}

func lookupAtom(sym string) (unitVal, bool) {
	return lookupAtomWith(sym, func(n string) (unitVal, bool) {
		v, ok := ucumAtomVals[n]
		return v, ok
	})
}

// lookupAtomWith finds an atom, or a metric atom behind a prefix.
func lookupAtomWith(sym string, atom func(string) (unitVal, bool)) (unitVal, bool) {
	if v, ok := atom(sym); ok {
		return v, true
	}
	for _, plen := range []int{2, 1} {
		if len(sym) <= plen {
			continue
		}
		pf, ok := ucumPrefixes[sym[:plen]]
		if !ok {
			continue
		}
		a := sym[plen:]
		if def, ok := ucumAtoms[a]; ok && def.metric {
			v, ok := atom(a)
			if !ok {
				return unitVal{}, false
			}
			return unitVal{f: new(big.Rat).Mul(v.f, rat(pf)), d: v.d}, true
		}
	}
	return unitVal{}, false
}

type unitParser struct {
	s           string
	i           int
	depth       int
	resolveAtom func(string) (unitVal, bool)
}

func (p *unitParser) parse() (unitVal, bool) {
	if p.s == "" {
		return unitVal{f: big.NewRat(1, 1)}, true
	}
	v, ok := p.term()
	if !ok || p.i != len(p.s) {
		return unitVal{}, false
	}
	return v, true
}

func (p *unitParser) term() (unitVal, bool) {
	acc := unitVal{f: big.NewRat(1, 1)}
	div := false
	if p.i < len(p.s) && p.s[p.i] == '/' {
		div = true
		p.i++
	}
	for {
		c, ok := p.component()
		if !ok {
			return unitVal{}, false
		}
		acc = combine(acc, c, div)
		if p.i >= len(p.s) || (p.s[p.i] != '.' && p.s[p.i] != '/') {
			return acc, true
		}
		div = p.s[p.i] == '/'
		p.i++
	}
}

func combine(a, b unitVal, div bool) unitVal {
	r := unitVal{d: a.d}
	if div {
		r.f = new(big.Rat).Quo(a.f, b.f)
		for i := range r.d {
			r.d[i] -= b.d[i]
		}
	} else {
		r.f = new(big.Rat).Mul(a.f, b.f)
		for i := range r.d {
			r.d[i] += b.d[i]
		}
	}
	return r
}

func (p *unitParser) component() (unitVal, bool) {
	if p.i >= len(p.s) {
		return unitVal{}, false
	}
	switch p.s[p.i] {
	case '(':
		p.depth++
		if p.depth > 10 {
			return unitVal{}, false
		}
		p.i++
		v, ok := p.term()
		if !ok || p.i >= len(p.s) || p.s[p.i] != ')' {
			return unitVal{}, false
		}
		p.i++
		p.depth--
		p.skipAnnotation()
		return v, true
	case '{':
		if !p.skipAnnotation() {
			return unitVal{}, false
		}
		return unitVal{f: big.NewRat(1, 1)}, true
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '[' {
			j := strings.IndexByte(p.s[p.i:], ']')
			if j < 0 {
				return unitVal{}, false
			}
			p.i += j + 1
			continue
		}
		if c == '.' || c == '/' || c == '(' || c == ')' || c == '{' {
			break
		}
		p.i++
	}
	sym := p.s[start:p.i]
	p.skipAnnotation()
	if sym == "" {
		return unitVal{}, false
	}
	if allDigits(sym) {
		n, ok := new(big.Rat).SetString(sym)
		if !ok || n.Sign() == 0 {
			return unitVal{}, false
		}
		return unitVal{f: n}, true
	}
	// 10*3 and 10^3 carry their exponent inside the symbol.
	if strings.HasPrefix(sym, "10*") || strings.HasPrefix(sym, "10^") {
		e, ok := parseExp(sym[3:])
		if !ok {
			return unitVal{}, false
		}
		return unitVal{f: ratPow(big.NewRat(10, 1), e)}, true
	}
	// Split a trailing exponent (m2, s-1).
	j := len(sym)
	for j > 0 && sym[j-1] >= '0' && sym[j-1] <= '9' {
		j--
	}
	if j > 0 && j < len(sym) && (sym[j-1] == '-' || sym[j-1] == '+') {
		j--
	}
	exp := 1
	if j > 0 && j < len(sym) {
		e, ok := parseExp(sym[j:])
		if !ok {
			return unitVal{}, false
		}
		exp, sym = e, sym[:j]
	}
	v, ok := p.resolveAtom(sym)
	if !ok {
		return unitVal{}, false
	}
	if exp != 1 {
		r := unitVal{f: ratPow(v.f, exp)}
		for i := range r.d {
			r.d[i] = v.d[i] * int8(exp)
		}
		v = r
	}
	return v, true
}

func (p *unitParser) skipAnnotation() bool {
	if p.i < len(p.s) && p.s[p.i] == '{' {
		j := strings.IndexByte(p.s[p.i:], '}')
		if j < 0 {
			return false
		}
		p.i += j + 1
	}
	return true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func parseExp(s string) (int, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if !allDigits(s) || len(s) > 2 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	if n > 24 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func ratPow(r *big.Rat, e int) *big.Rat {
	out := big.NewRat(1, 1)
	neg := e < 0
	if neg {
		e = -e
	}
	for i := 0; i < e; i++ {
		out.Mul(out, r)
	}
	if neg && out.Sign() != 0 {
		out.Inv(out)
	}
	return out
}

// calendarUCUM maps the calendar duration keywords to UCUM codes.
func calendarUCUM(unit string) (string, bool) {
	switch unit {
	case "year", "years":
		return "a", true
	case "month", "months":
		return "mo", true
	case "week", "weeks":
		return "wk", true
	case "day", "days":
		return "d", true
	case "hour", "hours":
		return "h", true
	case "minute", "minutes":
		return "min", true
	case "second", "seconds":
		return "s", true
	case "millisecond", "milliseconds":
		return "ms", true
	}
	return "", false
}

// ucumCode is the UCUM code of a quantity's unit; uncertain is true for the
// calendar year and month, whose length is not that of 'a' and 'mo'.
func (q Quantity) ucumCode() (code string, uncertain bool) {
	if c, ok := calendarUCUM(q.Unit); ok && q.Calendar {
		return c, c == "a" || c == "mo"
	}
	if q.Unit == "" {
		return "1", false
	}
	return q.Unit, false
}

// quantityRats brings two quantities to a common unit; ok is false when
// they are not comparable.
func quantityRats(a, b Quantity, strictCalendar bool) (*big.Rat, *big.Rat, bool) {
	ua, ca := a.ucumCode()
	ub, cb := b.ucumCode()
	if strictCalendar && ca != cb {
		return nil, nil, false
	}
	if ua == ub {
		return a.Value.Rat(), b.Value.Rat(), true
	}
	va, oka, _ := parseUnit(ua)
	vb, okb, _ := parseUnit(ub)
	if !oka || !okb || va.d != vb.d {
		return nil, nil, false
	}
	return new(big.Rat).Mul(a.Value.Rat(), va.f), new(big.Rat).Mul(b.Value.Rat(), vb.f), true
}

// unitsComparable reports whether two units measure the same dimension.
func unitsComparable(a, b Quantity) bool {
	_, _, ok := quantityRats(a, b, false)
	return ok
}

// convertQuantity expresses q in unit (a UCUM code or calendar keyword).
func convertQuantity(q Quantity, unit string, calendar bool) (Quantity, bool) {
	target := Quantity{Value: DecimalFromInt(1), Unit: unit, Calendar: calendar}
	if a, _ := q.ucumCode(); func() bool { b, _ := target.ucumCode(); return a == b }() {
		return Quantity{Value: q.Value, Unit: unit, Calendar: calendar}, true
	}
	ra, rb, ok := quantityRats(q, target, false)
	if !ok || rb.Sign() == 0 {
		return Quantity{}, false
	}
	v := new(big.Rat).Quo(ra, rb)
	return Quantity{Value: ratToDecimal(v, max(q.Value.scale, 0)+divScale), Unit: unit, Calendar: calendar}, true
}
