package fhirpath

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Decimal is an exact decimal number: unscaled × 10^-scale. FHIRPath needs
// the written precision (1.0 is not printed as 1, equivalence and the
// boundary functions depend on it), which float64 cannot keep.
type Decimal struct {
	u     *big.Int // never mutated once the Decimal is built; nil means 0
	scale int32    // digits after the point, >= 0
}

// maxDecimalScale bounds the digits a decimal may carry so that a hostile
// literal ("1e999999999") cannot make arithmetic allocate without limit.
const maxDecimalScale = 1000

// maxDecimalBits bounds the magnitude of decimals (about 600 digits; FHIR decimals have at most 18 significant digits in practice), so
// that repeated doubling cannot make arithmetic and printing slow.
const maxDecimalBits = 2048

func (d Decimal) inRange() bool { return d.u == nil || d.u.BitLen() <= maxDecimalBits }

// divScale is the number of fraction digits a non-terminating division keeps,
// matching the reference implementation's results (1.2 / 1.8 = 0.66666667).
const divScale = 8

var bigTen = big.NewInt(10)

var pow10Cache = func() []*big.Int {
	out := make([]*big.Int, 40)
	p := big.NewInt(1)
	for i := range out {
		out[i] = new(big.Int).Set(p)
		p.Mul(p, bigTen)
	}
	return out
}()

func pow10(n int32) *big.Int {
	if n < 0 {
		n = 0
	}
	if int(n) < len(pow10Cache) {
		return pow10Cache[n]
	}
	return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil)
}

func (d Decimal) unscaled() *big.Int {
	if d.u == nil {
		return new(big.Int)
	}
	return d.u
}

// DecimalFromInt returns n as a decimal with no fraction digits.
func DecimalFromInt(n int64) Decimal {
	return Decimal{u: big.NewInt(n)}
}

// ParseDecimal reads a decimal in FHIR/JSON syntax: an optional sign,
// digits, an optional fraction and an optional exponent.
func ParseDecimal(s string) (Decimal, bool) {
	if s == "" {
		return Decimal{}, false
	}
	i := 0
	neg := false
	if s[0] == '+' || s[0] == '-' {
		neg = s[0] == '-'
		i++
	}
	var digits strings.Builder
	intDigits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		digits.WriteByte(s[i])
		i++
		intDigits++
	}
	if intDigits == 0 {
		return Decimal{}, false
	}
	scale := 0
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digits.WriteByte(s[i])
			i++
			scale++
		}
		if scale == 0 {
			return Decimal{}, false
		}
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || s[i+1:] == "" || e > maxDecimalScale || e < -maxDecimalScale {
			return Decimal{}, false
		}
		exp = e
		i = len(s)
	}
	if i != len(s) {
		return Decimal{}, false
	}
	u, ok := new(big.Int).SetString(digits.String(), 10)
	if !ok {
		return Decimal{}, false
	}
	scale -= exp
	if scale < 0 {
		u.Mul(u, pow10(int32(-scale)))
		scale = 0
	}
	if scale > maxDecimalScale || u.BitLen() > maxDecimalBits {
		return Decimal{}, false
	}
	if neg {
		u.Neg(u)
	}
	return Decimal{u: u, scale: int32(scale)}, true
}

// String prints the decimal with exactly its scale's fraction digits.
func (d Decimal) String() string {
	u := d.unscaled()
	s := new(big.Int).Abs(u).String()
	if d.scale > 0 {
		if len(s) <= int(d.scale) {
			s = strings.Repeat("0", int(d.scale)-len(s)+1) + s
		}
		s = s[:len(s)-int(d.scale)] + "." + s[len(s)-int(d.scale):]
	}
	if u.Sign() < 0 {
		s = "-" + s
	}
	return s
}

// Scale is the number of digits after the decimal point.
func (d Decimal) Scale() int { return int(d.scale) }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int { return d.unscaled().Sign() }

// rescale returns the unscaled value at a larger scale s (s >= d.scale).
func (d Decimal) rescale(s int32) *big.Int {
	if s == d.scale {
		return d.unscaled()
	}
	return new(big.Int).Mul(d.unscaled(), pow10(s-d.scale))
}

// Cmp compares numerically (1.10 equals 1.1).
func (d Decimal) Cmp(o Decimal) int {
	s := max(d.scale, o.scale)
	return d.rescale(s).Cmp(o.rescale(s))
}

// Add returns d + o.
func (d Decimal) Add(o Decimal) Decimal {
	s := max(d.scale, o.scale)
	return Decimal{u: new(big.Int).Add(d.rescale(s), o.rescale(s)), scale: s}
}

// Sub returns d - o.
func (d Decimal) Sub(o Decimal) Decimal {
	s := max(d.scale, o.scale)
	return Decimal{u: new(big.Int).Sub(d.rescale(s), o.rescale(s)), scale: s}
}

// Mul returns d × o.
func (d Decimal) Mul(o Decimal) (Decimal, bool) {
	if d.scale+o.scale > maxDecimalScale {
		return Decimal{}, false
	}
	return Decimal{u: new(big.Int).Mul(d.unscaled(), o.unscaled()), scale: d.scale + o.scale}, true
}

// Neg returns -d.
func (d Decimal) Neg() Decimal {
	return Decimal{u: new(big.Int).Neg(d.unscaled()), scale: d.scale}
}

// Abs returns |d|.
func (d Decimal) Abs() Decimal {
	if d.Sign() >= 0 {
		return d
	}
	return d.Neg()
}

// Quo divides, rounding half away from zero to divScale fraction digits and
// then dropping trailing zeros; ok is false on division by zero.
func (d Decimal) Quo(o Decimal) (Decimal, bool) {
	if o.Sign() == 0 {
		return Decimal{}, false
	}
	target := max(int32(divScale), d.scale, o.scale)
	// d.u/10^ds ÷ o.u/10^os = (d.u × 10^(target+os-ds)) / o.u at scale target.
	num := new(big.Int).Set(d.unscaled())
	shift := target + o.scale - d.scale
	if shift > maxDecimalScale {
		return Decimal{}, false
	}
	if shift >= 0 {
		num.Mul(num, pow10(shift))
	}
	den := o.unscaled()
	if shift < 0 {
		den = new(big.Int).Mul(den, pow10(-shift))
	}
	q := roundQuo(num, den)
	return Decimal{u: q, scale: target}.trim(0), true
}

// roundQuo divides rounding half away from zero.
func roundQuo(num, den *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Sign() != 0 {
		r2 := new(big.Int).Abs(r)
		r2.Lsh(r2, 1)
		if r2.Cmp(new(big.Int).Abs(den)) >= 0 {
			if (num.Sign() < 0) != (den.Sign() < 0) {
				q.Sub(q, big.NewInt(1))
			} else {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return q
}

// trim drops trailing fraction zeros but keeps at least minScale digits.
func (d Decimal) trim(minScale int32) Decimal {
	u := d.unscaled()
	if d.scale <= minScale || u.Sign() == 0 {
		if u.Sign() == 0 {
			return Decimal{u: u, scale: min(d.scale, max(minScale, 0))}
		}
		return d
	}
	u = new(big.Int).Set(u)
	s := d.scale
	r := new(big.Int)
	for s > minScale {
		q, rem := new(big.Int).QuoRem(u, bigTen, r)
		if rem.Sign() != 0 {
			break
		}
		u = q
		s--
	}
	return Decimal{u: u, scale: s}
}

// truncInt returns the integer part (toward zero).
func (d Decimal) truncInt() *big.Int {
	return new(big.Int).Quo(d.unscaled(), pow10(d.scale))
}

// Int64 returns the integer value when d has no fractional part and fits.
func (d Decimal) Int64() (int64, bool) {
	q, r := new(big.Int).QuoRem(d.unscaled(), pow10(d.scale), new(big.Int))
	if r.Sign() != 0 || !q.IsInt64() {
		return 0, false
	}
	return q.Int64(), true
}

// Float64 converts with the usual binary rounding.
func (d Decimal) Float64() float64 {
	f, _ := new(big.Rat).SetFrac(d.unscaled(), pow10(d.scale)).Float64()
	return f
}

// Rat returns the exact value.
func (d Decimal) Rat() *big.Rat {
	return new(big.Rat).SetFrac(d.unscaled(), pow10(d.scale))
}

// setScale changes the scale to s, rounding when digits are dropped:
// mode 't' truncates toward zero, 'h' rounds half away from zero, 'f' floors,
// 'c' ceils.
func (d Decimal) setScale(s int32, mode byte) Decimal {
	if s >= d.scale {
		return Decimal{u: d.rescale(s), scale: s}
	}
	den := pow10(d.scale - s)
	u := d.unscaled()
	q, r := new(big.Int).QuoRem(u, den, new(big.Int))
	if r.Sign() != 0 {
		switch mode {
		case 'h':
			r2 := new(big.Int).Abs(r)
			r2.Lsh(r2, 1)
			if r2.Cmp(den) >= 0 {
				if u.Sign() < 0 {
					q.Sub(q, big.NewInt(1))
				} else {
					q.Add(q, big.NewInt(1))
				}
			}
		case 'f':
			if u.Sign() < 0 {
				q.Sub(q, big.NewInt(1))
			}
		case 'c':
			if u.Sign() > 0 {
				q.Add(q, big.NewInt(1))
			}
		}
	}
	return Decimal{u: q, scale: s}
}

// decimalFromFloat converts a math result back, keeping up to 15
// significant digits so that sqrt(81) is 9 and not 9.000000000000002.
func decimalFromFloat(f float64) (Decimal, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return Decimal{}, false
	}
	s := strconv.FormatFloat(f, 'g', 15, 64)
	d, ok := ParseDecimal(s)
	if !ok {
		return Decimal{}, false
	}
	return d.trim(0), true
}

// ratToDecimal converts a rational to a decimal with up to scale digits.
func ratToDecimal(r *big.Rat, scale int32) Decimal {
	num := new(big.Int).Mul(r.Num(), pow10(scale))
	return Decimal{u: roundQuo(num, r.Denom()), scale: scale}.trim(0)
}
