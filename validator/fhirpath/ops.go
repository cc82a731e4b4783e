package fhirpath

import (
	"math"
	"math/big"
	"strings"
)

type opCode uint8

const (
	opAnd opCode = iota
	opOr
	opXor
	opImplies
	opEq
	opNe
	opEquiv
	opNotEquiv
	opLt
	opLe
	opGt
	opGe
	opUnion
	opIn
	opContains
	opAdd
	opSub
	opMul
	opDiv
	opIntDiv
	opMod
	opConcat
)

var opCodes = map[string]opCode{
	"and": opAnd, "or": opOr, "xor": opXor, "implies": opImplies,
	"=": opEq, "!=": opNe, "~": opEquiv, "!~": opNotEquiv,
	"<": opLt, "<=": opLe, ">": opGt, ">=": opGe, "|": opUnion,
	"in": opIn, "contains": opContains, "+": opAdd, "-": opSub, "*": opMul,
	"/": opDiv, "div": opIntDiv, "mod": opMod, "&": opConcat,
}

type binNode struct {
	op   opCode
	text string
	l, r node
	pos  int
}

func newBinary(op string, l, r node, pos int) (node, error) {
	code, ok := opCodes[op]
	if !ok {
		return nil, &SyntaxError{Pos: pos, Msg: "unknown operator " + op}
	}
	return &binNode{op: code, text: op, l: l, r: r, pos: pos}, nil
}

func (n *binNode) eval(c *ctx) (Collection, error) {
	if err := c.tick(1); err != nil {
		return nil, err
	}
	switch n.op {
	case opAnd, opOr, opImplies, opXor:
		return n.logic(c)
	}
	l, err := n.l.eval(c)
	if err != nil {
		return nil, err
	}
	r, err := n.r.eval(c)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case opEq:
		if err := c.tick(len(l)); err != nil {
			return nil, err
		}
		return triColl(eqColl(l, r)), nil
	case opNe:
		return triColl(notTri(eqColl(l, r))), nil
	case opEquiv:
		if len(l) == 0 && len(r) == 0 {
			return collTrue, nil
		}
		if err := c.tick(len(l) * len(r)); err != nil {
			return nil, err
		}
		return boolColl(equivColl(l, r)), nil
	case opNotEquiv:
		if len(l) == 0 && len(r) == 0 {
			return collFalse, nil
		}
		if err := c.tick(len(l) * len(r)); err != nil {
			return nil, err
		}
		return boolColl(!equivColl(l, r)), nil
	case opLt, opLe, opGt, opGe:
		return n.compare(l, r)
	case opUnion:
		return unionOf(c, l, r)
	case opIn:
		return n.membership(c, l, r)
	case opContains:
		return n.membership(c, r, l)
	case opConcat:
		return n.concat(c, l, r)
	}
	return n.arith(c, l, r)
}

func notTri(t Tri) Tri {
	switch t {
	case True:
		return False
	case False:
		return True
	}
	return Empty
}

func (n *binNode) logic(c *ctx) (Collection, error) {
	lc, err := n.l.eval(c)
	if err != nil {
		return nil, err
	}
	l, err := toTri(lc, n.pos)
	if err != nil {
		return nil, err
	}
	// Short-circuit where the left side decides the result.
	switch {
	case n.op == opAnd && l == False:
		return collFalse, nil
	case n.op == opOr && l == True:
		return collTrue, nil
	case n.op == opImplies && l == False:
		return collTrue, nil
	}
	rc, err := n.r.eval(c)
	if err != nil {
		return nil, err
	}
	r, err := toTri(rc, n.pos)
	if err != nil {
		return nil, err
	}
	switch n.op {
	case opAnd:
		switch {
		case r == False:
			return collFalse, nil
		case l == True && r == True:
			return collTrue, nil
		}
	case opOr:
		switch {
		case r == True:
			return collTrue, nil
		case l == False && r == False:
			return collFalse, nil
		}
	case opImplies:
		switch {
		case r == True:
			return collTrue, nil
		case l == True:
			return triColl(r), nil
		}
	case opXor:
		if l != Empty && r != Empty {
			return boolColl(l != r), nil
		}
	}
	return nil, nil
}

// single enforces singleton evaluation for an operand.
func (n *binNode) single(c Collection) (Item, bool, error) {
	switch len(c) {
	case 0:
		return nil, false, nil
	case 1:
		return c[0], true, nil
	}
	return nil, false, errAt(n.pos, "operator '%s' needs single items, got a collection of %d", n.text, len(c))
}

func (n *binNode) compare(l, r Collection) (Collection, error) {
	a, okA, err := n.single(l)
	if err != nil {
		return nil, err
	}
	b, okB, err := n.single(r)
	if err != nil || !okA || !okB {
		return nil, err
	}
	cmp, known, err := cmpItems(a, b, n.pos, n.text)
	if err != nil || !known {
		return nil, err
	}
	switch n.op {
	case opLt:
		return boolColl(cmp < 0), nil
	case opLe:
		return boolColl(cmp <= 0), nil
	case opGt:
		return boolColl(cmp > 0), nil
	}
	return boolColl(cmp >= 0), nil
}

// membership is 'x in coll' (and 'coll contains x').
func (n *binNode) membership(c *ctx, x, coll Collection) (Collection, error) {
	if len(x) == 0 {
		return nil, nil
	}
	if len(x) > 1 {
		return nil, errAt(n.pos, "operator '%s' needs a single item, got a collection of %d", n.text, len(x))
	}
	if err := c.tick(len(coll)); err != nil {
		return nil, err
	}
	for _, it := range coll {
		if eq, known := eqItem(x[0], it); known && eq {
			return collTrue, nil
		}
	}
	return collFalse, nil
}

func (n *binNode) concat(c *ctx, l, r Collection) (Collection, error) {
	var a, b string
	for i, side := range [2]Collection{l, r} {
		it, ok, err := n.single(side)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		s, ok := stringOf(it)
		if !ok {
			return nil, errAt(n.pos, "operator '&' needs strings, got %s", typeLabel(it))
		}
		if i == 0 {
			a = s
		} else {
			b = s
		}
	}
	if err := c.tick(len(a) + len(b)); err != nil {
		return nil, err
	}
	return Collection{String(a + b)}, nil
}

func (n *binNode) arith(c *ctx, l, r Collection) (Collection, error) {
	a, okA, err := n.single(l)
	if err != nil {
		return nil, err
	}
	b, okB, err := n.single(r)
	if err != nil || !okA || !okB {
		return nil, err
	}
	na, oka := normalize(a)
	nb, okb := normalize(b)
	if !oka || !okb {
		return nil, nil
	}
	res, ok, err := arith(c, n.op, na, nb, n.pos, n.text)
	if err != nil || !ok {
		return nil, err
	}
	return Collection{res}, nil
}

// arith computes a op b; ok false means an empty result (division by zero).
func arith(c *ctx, op opCode, a, b Item, pos int, text string) (Item, bool, error) {
	bad := func() (Item, bool, error) {
		return nil, false, errAt(pos, "operator '%s' cannot be applied to %s and %s", text, typeLabel(a), typeLabel(b))
	}
	switch x := a.(type) {
	case Integer:
		if y, ok := b.(Integer); ok {
			return intArith(op, int64(x), int64(y), pos, text)
		}
		if y, ok := b.(Decimal); ok {
			return decArith(op, DecimalFromInt(int64(x)), y, pos)
		}
		if y, ok := b.(Quantity); ok && op == opMul {
			return quantityScale(y, DecimalFromInt(int64(x)), false)
		}
	case Decimal:
		if y, ok := numberOf(b); ok {
			return decArith(op, x, y, pos)
		}
		if y, ok := b.(Quantity); ok && op == opMul {
			return quantityScale(y, x, false)
		}
	case String:
		if y, ok := b.(String); ok && op == opAdd {
			if err := c.tick(len(x) + len(y)); err != nil {
				return nil, false, err
			}
			return x + y, true, nil
		}
	case Quantity:
		switch y := b.(type) {
		case Quantity:
			return quantityArith(op, x, y, pos, text)
		case Integer, Decimal:
			d, _ := numberOf(y)
			switch op {
			case opMul:
				return quantityScale(x, d, false)
			case opDiv:
				return quantityScale(x, d, true)
			}
		}
	case Date, DateTime, Time:
		if y, ok := b.(Quantity); ok && (op == opAdd || op == opSub) {
			t, _ := temporalOf(x)
			nq := y.Value.truncInt()
			if !nq.IsInt64() {
				return nil, false, errAt(pos, "duration out of range")
			}
			n := nq.Int64()
			if op == opSub {
				n = -n
			}
			unit := y.Unit
			r, ok := t.addDuration(n, unit)
			if !ok {
				return nil, false, errAt(pos, "cannot add a quantity in this unit to a %s", typeLabel(a))
			}
			switch x.(type) {
			case Date:
				return Date{r}, true, nil
			case DateTime:
				return DateTime{r}, true, nil
			}
			return Time{r}, true, nil
		}
	}
	return bad()
}

func intArith(op opCode, x, y int64, pos int, text string) (Item, bool, error) {
	overflow := func() (Item, bool, error) {
		return nil, false, errAt(pos, "integer overflow in '%s'", text)
	}
	switch op {
	case opAdd:
		r := x + y
		if (r > x) != (y > 0) {
			return overflow()
		}
		return Integer(r), true, nil
	case opSub:
		r := x - y
		if (r < x) != (y > 0) {
			return overflow()
		}
		return Integer(r), true, nil
	case opMul:
		if x != 0 && y != 0 {
			r := x * y
			if r/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
				return overflow()
			}
			return Integer(r), true, nil
		}
		return Integer(0), true, nil
	case opDiv:
		d, ok := DecimalFromInt(x).Quo(DecimalFromInt(y))
		return d, ok, nil
	case opIntDiv:
		if y == 0 {
			return nil, false, nil
		}
		if x == math.MinInt64 && y == -1 {
			return overflow()
		}
		return Integer(x / y), true, nil
	case opMod:
		if y == 0 {
			return nil, false, nil
		}
		if y == -1 {
			return Integer(0), true, nil
		}
		return Integer(x % y), true, nil
	}
	return nil, false, errAt(pos, "operator '%s' cannot be applied to integers", text)
}

func decArith(op opCode, x, y Decimal, pos int) (Item, bool, error) {
	r, ok, err := decArith1(op, x, y, pos)
	if d, isDec := r.(Decimal); isDec && ok && err == nil && !d.inRange() {
		return nil, false, errAt(pos, "decimal out of range")
	}
	return r, ok, err
}

func decArith1(op opCode, x, y Decimal, pos int) (Item, bool, error) {
	switch op {
	case opAdd:
		return x.Add(y), true, nil
	case opSub:
		return x.Sub(y), true, nil
	case opMul:
		d, ok := x.Mul(y)
		if !ok {
			return nil, false, errAt(pos, "decimal precision out of range")
		}
		return d, true, nil
	case opDiv:
		d, ok := x.Quo(y)
		return d, ok, nil
	case opIntDiv, opMod:
		if y.Sign() == 0 {
			return nil, false, nil
		}
		s := max(x.scale, y.scale)
		q := new(big.Int).Quo(x.rescale(s), y.rescale(s))
		if op == opIntDiv {
			if !q.IsInt64() {
				return nil, false, errAt(pos, "integer overflow in 'div'")
			}
			return Integer(q.Int64()), true, nil
		}
		prod := new(big.Int).Mul(q, y.rescale(s))
		return Decimal{u: new(big.Int).Sub(x.rescale(s), prod), scale: s}, true, nil
	}
	return nil, false, errAt(pos, "operator cannot be applied to decimals")
}

func quantityScale(q Quantity, d Decimal, divide bool) (Item, bool, error) {
	var v Decimal
	var ok bool
	if divide {
		v, ok = q.Value.Quo(d)
	} else {
		v, ok = q.Value.Mul(d)
	}
	if !ok || !v.inRange() {
		return nil, false, nil
	}
	return Quantity{Value: v, Unit: q.Unit, Calendar: q.Calendar}, true, nil
}

func quantityArith(op opCode, x, y Quantity, pos int, text string) (Item, bool, error) {
	switch op {
	case opAdd, opSub:
		yc, ok := convertQuantity(y, x.Unit, x.Calendar)
		if !ok {
			return nil, false, nil
		}
		v := x.Value.Add(yc.Value)
		if op == opSub {
			v = x.Value.Sub(yc.Value)
		}
		if !v.inRange() {
			return nil, false, errAt(pos, "decimal out of range")
		}
		return Quantity{Value: v, Unit: x.Unit, Calendar: x.Calendar}, true, nil
	case opMul, opDiv:
		ux, _ := x.ucumCode()
		uy, _ := y.ucumCode()
		var v Decimal
		var ok bool
		var unit string
		if op == opMul {
			v, ok = x.Value.Mul(y.Value)
			unit = joinUnits(ux, uy, ".")
		} else {
			v, ok = x.Value.Quo(y.Value)
			if ux == uy {
				unit = "1"
			} else {
				unit = joinUnits(ux, uy, "/")
			}
		}
		if !ok || !v.inRange() {
			return nil, false, nil
		}
		return Quantity{Value: v, Unit: unit}, true, nil
	}
	return nil, false, errAt(pos, "operator '%s' cannot be applied to quantities", text)
}

func joinUnits(a, b, sep string) string {
	if b == "1" {
		return a
	}
	if a == "1" && sep == "." {
		return b
	}
	wrap := func(u string) string {
		if strings.ContainsAny(u, "./") {
			return "(" + u + ")"
		}
		return u
	}
	return wrap(a) + sep + wrap(b)
}
