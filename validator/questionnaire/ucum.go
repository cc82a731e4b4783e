package questionnaire

import "math/big"

const ucumSystem = "http://unitsofmeasure.org"

// ucumAtom is a unit we can convert: its size in the base unit of its
// dimension, and whether metric prefixes apply to it. The table covers the
// units forms ask for (lengths, masses, durations, volumes, pressures); a
// unit outside it is left undecided rather than reported, so a gap here
// never turns a valid answer into an error.
type ucumAtom struct {
	factor string
	dim    string
	metric bool
}

var ucumAtoms = map[string]ucumAtom{
	"m":          {"1", "length", true},
	"[in_i]":     {"0.0254", "length", false},
	"[ft_i]":     {"0.3048", "length", false},
	"[yd_i]":     {"0.9144", "length", false},
	"[mi_i]":     {"1609.344", "length", false},
	"g":          {"1", "mass", true},
	"[lb_av]":    {"453.59237", "mass", false},
	"[oz_av]":    {"28.349523125", "mass", false},
	"[stone_av]": {"6350.29318", "mass", false},
	"s":          {"1", "time", true},
	"min":        {"60", "time", false},
	"h":          {"3600", "time", false},
	"d":          {"86400", "time", false},
	"wk":         {"604800", "time", false},
	"mo":         {"2629800", "time", false},
	"a":          {"31557600", "time", false},
	"L":          {"1", "volume", true},
	"l":          {"1", "volume", true},
	"Pa":         {"1", "pressure", true},
	"bar":        {"100000", "pressure", true},
	"mm[Hg]":     {"133.322", "pressure", false},
}

var ucumPrefixes = map[string]string{
	"Y": "1e24", "Z": "1e21", "E": "1e18", "P": "1e15", "T": "1e12", "G": "1e9", "M": "1e6",
	"k": "1e3", "h": "1e2", "da": "1e1", "d": "1e-1", "c": "1e-2", "m": "1e-3", "u": "1e-6",
	"n": "1e-9", "p": "1e-12", "f": "1e-15",
}

// ucumCanonical converts v in unit code to the base unit of its dimension.
func ucumCanonical(v *big.Rat, code string) (*big.Rat, string, bool) {
	if a, ok := ucumAtoms[code]; ok {
		f, _ := new(big.Rat).SetString(a.factor)
		return new(big.Rat).Mul(v, f), a.dim, true
	}
	for p, pf := range ucumPrefixes {
		if len(code) <= len(p) || code[:len(p)] != p {
			continue
		}
		a, ok := ucumAtoms[code[len(p):]]
		if !ok || !a.metric {
			continue
		}
		f, _ := new(big.Rat).SetString(a.factor)
		m, _ := new(big.Rat).SetString(pf)
		return new(big.Rat).Mul(v, new(big.Rat).Mul(f, m)), a.dim, true
	}
	return nil, "", false
}
