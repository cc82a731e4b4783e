package fhirpath

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
)

// itemSet removes duplicates by FHIRPath equality in linear time for the
// common items (primitives, compared through a canonical key) and falls back
// to pairwise comparison for complex elements and quantities, whose
// equality (deep, or through unit conversion) has no cheap key. The
// fallback work is charged to the evaluation budget.
type itemSet struct {
	keys   map[string]struct{}
	ptrs   map[*element.Element]struct{}
	others Collection
}

// itemKey is a key such that two items with equal keys are '=' and two
// items that are '=' have equal keys; ok is false where no such key exists.
func itemKey(it Item) (string, bool) {
	v, ok := normalize(it)
	if !ok {
		return "", false
	}
	switch x := v.(type) {
	case String:
		return "s" + string(x), true
	case Boolean:
		if x {
			return "b1", true
		}
		return "b0", true
	case Integer:
		return "n" + strconv.FormatInt(int64(x), 10), true
	case Decimal:
		return "n" + x.trim(0).String(), true
	case Date:
		return temporalKey(x.t), true
	case DateTime:
		return temporalKey(x.t), true
	case Time:
		return temporalKey(x.t), true
	case TypeInfo:
		return "y" + x.Namespace + "." + x.Name, true
	case Quantity:
		return quantityKey(x), true
	}
	return "", false
}

// quantityKey mirrors quantityRats: quantities in convertible units are
// keyed by their value in base units, others by unit text and value; the
// calendar year and month never equal 'a' and 'mo'.
func quantityKey(q Quantity) string {
	code, uncertain := q.ucumCode()
	prefix := "q"
	if uncertain {
		prefix = "Q"
	}
	if v, ok, _ := parseUnit(code); ok {
		return fmt.Sprintf("%s%v:%s", prefix, v.d, new(big.Rat).Mul(q.Value.Rat(), v.f).RatString())
	}
	return prefix + "u" + code + ":" + q.Value.trim(0).String()
}

// temporalKey mirrors cmpTemporal: seconds and milliseconds are one
// precision, values with an offset are compared in UTC, and values with and
// without an offset are never equal beyond day precision.
func temporalKey(t temporal) string {
	if t.prec > precDay || t.timeOnly {
		t = t.toUTC()
	}
	var b strings.Builder
	if t.timeOnly {
		b.WriteByte('T')
	} else {
		b.WriteByte('D')
	}
	p := t.prec
	if p == precMilli {
		p = precSecond
	}
	b.WriteByte(byte('0' + p))
	if t.tz && t.prec > precDay && !t.timeOnly {
		b.WriteByte('z')
	}
	for _, v := range [...]int{t.year, t.month, t.day, t.hour, t.minute, t.second*1000 + t.milli} {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(v))
	}
	return b.String()
}

// add inserts it and reports whether it was new.
func (s *itemSet) add(c *ctx, it Item) (bool, error) {
	if e, ok := it.(*element.Element); ok && !e.IsPrimitive() {
		if _, seen := s.ptrs[e]; seen {
			return false, nil
		}
		if s.ptrs == nil {
			s.ptrs = map[*element.Element]struct{}{}
		}
		s.ptrs[e] = struct{}{}
	}
	if k, ok := itemKey(it); ok {
		if _, seen := s.keys[k]; seen {
			return false, nil
		}
		if s.keys == nil {
			s.keys = map[string]struct{}{}
		}
		s.keys[k] = struct{}{}
		return true, nil
	}
	if err := c.tick(len(s.others) * compareCost(it)); err != nil {
		return false, err
	}
	for _, o := range s.others {
		if sameItem(it, o) {
			return false, nil
		}
	}
	s.others = append(s.others, it)
	return true, nil
}

// has reports whether an item equal to it was added.
func (s *itemSet) has(c *ctx, it Item) (bool, error) {
	if e, ok := it.(*element.Element); ok && !e.IsPrimitive() {
		if _, seen := s.ptrs[e]; seen {
			return true, nil
		}
	}
	if k, ok := itemKey(it); ok {
		_, seen := s.keys[k]
		return seen, nil
	}
	if err := c.tick(len(s.others) * compareCost(it)); err != nil {
		return false, err
	}
	for _, o := range s.others {
		if sameItem(it, o) {
			return true, nil
		}
	}
	return false, nil
}

// newSet builds a set from a collection.
func newSet(c *ctx, coll Collection) (*itemSet, error) {
	s := &itemSet{}
	for _, it := range coll {
		if _, err := s.add(c, it); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// unionOf is the '|' operator and union(): items of both, without
// duplicates, in order of first appearance.
func unionOf(c *ctx, l, r Collection) (Collection, error) {
	if err := c.tick(len(l) + len(r)); err != nil {
		return nil, err
	}
	if len(l)+len(r) <= 1 {
		if len(l) == 0 {
			return r, nil
		}
		return l, nil
	}
	out := make(Collection, 0, len(l)+len(r))
	if len(l)+len(r) <= 8 {
		// pairwise is cheaper than building a set for a handful of items
		for _, side := range [2]Collection{l, r} {
		next:
			for _, it := range side {
				for _, o := range out {
					if sameItem(it, o) {
						continue next
					}
				}
				out = append(out, it)
			}
		}
		return out, nil
	}
	s := &itemSet{}
	for _, side := range [2]Collection{l, r} {
		for _, it := range side {
			isNew, err := s.add(c, it)
			if err != nil {
				return nil, err
			}
			if isNew {
				out = append(out, it)
			}
		}
	}
	return out, nil
}

// compareCost estimates the work of one deep comparison with it: its node
// count, down to a few levels (deeper trees are rare in collections that
// get deduplicated).
func compareCost(it Item) int {
	e, ok := it.(*element.Element)
	if !ok {
		return 1
	}
	n := 1
	for _, ch := range e.Children {
		n++
		for _, gc := range ch.Children {
			n += 1 + len(gc.Children)
		}
	}
	return n
}
