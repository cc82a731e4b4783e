package fhirpath

import (
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
)

// eqItem is FHIRPath '=' on two items; known is false where the answer is
// empty (values of different precision, a primitive without a value).
func eqItem(a, b Item) (eq, known bool) {
	if ea, ok := a.(*element.Element); ok {
		if eb, ok := b.(*element.Element); ok && ea == eb {
			return true, true
		}
	}
	na, oka := normalize(a)
	nb, okb := normalize(b)
	if !oka || !okb {
		return false, false
	}
	switch x := na.(type) {
	case *element.Element:
		y, ok := nb.(*element.Element)
		if !ok {
			return false, true
		}
		return deepEqual(x, y, false), true
	case Boolean:
		y, ok := nb.(Boolean)
		return ok && x == y, true
	case Integer:
		switch y := nb.(type) {
		case Integer:
			return x == y, true
		case Decimal:
			return DecimalFromInt(int64(x)).Cmp(y) == 0, true
		}
	case Decimal:
		switch y := nb.(type) {
		case Integer:
			return x.Cmp(DecimalFromInt(int64(y))) == 0, true
		case Decimal:
			return x.Cmp(y) == 0, true
		}
	case String:
		y, ok := nb.(String)
		return ok && x == y, true
	case Date, DateTime, Time:
		ta, _ := temporalOf(na)
		tb, ok := temporalOf(nb)
		if !ok {
			return false, true
		}
		c, ok := cmpTemporal(ta, tb)
		if !ok {
			if ta.timeOnly != tb.timeOnly {
				return false, true
			}
			return false, false
		}
		return c == 0, true
	case Quantity:
		y, ok := nb.(Quantity)
		if !ok {
			return false, true
		}
		ra, rb, ok := quantityRats(x, y, true)
		if !ok {
			return false, false
		}
		return ra.Cmp(rb) == 0, true
	case TypeInfo:
		y, ok := nb.(TypeInfo)
		return ok && x == y, true
	}
	return false, true
}

func temporalOf(it Item) (temporal, bool) {
	switch v := it.(type) {
	case Date:
		return v.t, true
	case DateTime:
		return v.t, true
	case Time:
		return v.t, true
	}
	return temporal{}, false
}

// deepEqual compares complex elements child by child; equiv selects '~'.
func deepEqual(a, b *element.Element, equiv bool) bool {
	if a == b {
		return true
	}
	if a.IsPrimitive() || b.IsPrimitive() {
		if equiv {
			return equivItem(a, b)
		}
		eq, known := eqItem(a, b)
		return eq && known
	}
	if len(a.Children) != len(b.Children) {
		return false
	}
	for i, ca := range a.Children {
		cb := b.Children[i]
		if ca.Name != cb.Name {
			return false
		}
		if ca.IsPrimitive() != cb.IsPrimitive() {
			return false
		}
		if ca.IsPrimitive() {
			if ca.HasValue != cb.HasValue {
				return false
			}
			if ca.HasValue {
				var ok bool
				if equiv {
					ok = equivItem(ca, cb)
				} else {
					eq, known := eqItem(ca, cb)
					ok = eq && known
				}
				if !ok {
					return false
				}
			}
			if len(ca.Children) > 0 || len(cb.Children) > 0 {
				if !deepChildren(ca, cb, equiv) {
					return false
				}
			}
			continue
		}
		if !deepEqual(ca, cb, equiv) {
			return false
		}
	}
	return true
}

func deepChildren(a, b *element.Element, equiv bool) bool {
	if len(a.Children) != len(b.Children) {
		return false
	}
	for i := range a.Children {
		if a.Children[i].Name != b.Children[i].Name || !deepEqual(a.Children[i], b.Children[i], equiv) {
			return false
		}
	}
	return true
}

// equivItem is FHIRPath '~' on two items.
func equivItem(a, b Item) bool {
	na, oka := normalize(a)
	nb, okb := normalize(b)
	if !oka || !okb {
		return oka == okb
	}
	switch x := na.(type) {
	case *element.Element:
		y, ok := nb.(*element.Element)
		return ok && deepEqual(x, y, true)
	case String:
		y, ok := nb.(String)
		return ok && normalizeSpace(string(x)) == normalizeSpace(string(y))
	case Integer, Decimal:
		dx, ok1 := numberOf(na)
		dy, ok2 := numberOf(nb)
		if !ok1 || !ok2 {
			return false
		}
		s := min(dx.scale, dy.scale)
		return dx.setScale(s, 'h').Cmp(dy.setScale(s, 'h')) == 0
	case Date, DateTime, Time:
		ta, _ := temporalOf(na)
		tb, ok := temporalOf(nb)
		if !ok {
			return false
		}
		c, ok := cmpTemporal(ta, tb)
		return ok && c == 0
	case Quantity:
		y, ok := nb.(Quantity)
		if !ok {
			return false
		}
		ra, rb, ok := quantityRats(x, y, false)
		if !ok {
			return false
		}
		if ra.Cmp(rb) == 0 {
			return true
		}
		s := min(x.Value.scale, y.Value.scale)
		da, db := ratToDecimal(ra, s+divScale).setScale(s, 'h'), ratToDecimal(rb, s+divScale).setScale(s, 'h')
		return da.Cmp(db) == 0
	}
	eq, known := eqItem(na, nb)
	return eq && known
}

func normalizeSpace(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(s), " "))
}

// numberOf reads an Integer or Decimal as a Decimal.
func numberOf(it Item) (Decimal, bool) {
	switch v := it.(type) {
	case Integer:
		return DecimalFromInt(int64(v)), true
	case Decimal:
		return v, true
	}
	return Decimal{}, false
}

// eqColl is '=' on collections.
func eqColl(a, b Collection) Tri {
	if len(a) == 0 || len(b) == 0 {
		return Empty
	}
	if len(a) != len(b) {
		return False
	}
	unknown := false
	for i := range a {
		eq, known := eqItem(a[i], b[i])
		if !known {
			unknown = true
			continue
		}
		if !eq {
			return False
		}
	}
	if unknown {
		return Empty
	}
	return True
}

// equivColl is '~' on collections: order does not matter.
func equivColl(a, b Collection) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 1 {
		return equivItem(a[0], b[0])
	}
	used := make([]bool, len(b))
outer:
	for _, x := range a {
		for j, y := range b {
			if !used[j] && equivItem(x, y) {
				used[j] = true
				continue outer
			}
		}
		return false
	}
	return true
}

// sameItem is the equality used to remove duplicates (union, distinct).
func sameItem(a, b Item) bool {
	eq, known := eqItem(a, b)
	if known {
		return eq
	}
	// Two values that cannot be compared for '=' (a date and a dateTime at
	// another precision) are distinct, unless they are the same element.
	ea, ok1 := a.(*element.Element)
	eb, ok2 := b.(*element.Element)
	return ok1 && ok2 && ea == eb
}

// cmpItems orders two items for < <= > >=; known is false where the answer
// is empty; an error for types that cannot be ordered.
func cmpItems(a, b Item, pos int, op string) (int, bool, error) {
	na, oka := normalize(a)
	nb, okb := normalize(b)
	if !oka || !okb {
		return 0, false, nil
	}
	switch x := na.(type) {
	case Integer:
		switch y := nb.(type) {
		case Integer:
			switch {
			case x < y:
				return -1, true, nil
			case x > y:
				return 1, true, nil
			}
			return 0, true, nil
		case Decimal:
			return DecimalFromInt(int64(x)).Cmp(y), true, nil
		}
	case Decimal:
		if y, ok := numberOf(nb); ok {
			return x.Cmp(y), true, nil
		}
	case String:
		if y, ok := nb.(String); ok {
			return strings.Compare(string(x), string(y)), true, nil
		}
	case Date, DateTime:
		switch nb.(type) {
		case Date, DateTime:
			ta, _ := temporalOf(na)
			tb, _ := temporalOf(nb)
			c, ok := cmpTemporal(ta, tb)
			return c, ok, nil
		}
	case Time:
		if y, ok := nb.(Time); ok {
			c, ok := cmpTemporal(x.t, y.t)
			return c, ok, nil
		}
	case Quantity:
		if y, ok := nb.(Quantity); ok {
			ra, rb, ok := quantityRats(x, y, true)
			if !ok {
				return 0, false, nil
			}
			return ra.Cmp(rb), true, nil
		}
	}
	return 0, false, errAt(pos, "'%s' cannot compare %s with %s", op, typeLabel(na), typeLabel(nb))
}
