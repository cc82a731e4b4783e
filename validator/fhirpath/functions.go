package fhirpath

import (
	"math"
	"math/big"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sandkasse/sandkasse/validator/element"
)

type fnImpl func(c *ctx, in Collection, n *callNode) (Collection, error)

type funcDef struct {
	min, max int // max -1: any number
	typeArg  bool
	regexArg int // index of a regular-expression argument, or -1
	impl     fnImpl
}

var functions map[string]*funcDef

func def(min, max int, impl fnImpl) *funcDef {
	return &funcDef{min: min, max: max, regexArg: -1, impl: impl}
}

func init() {
	functions = map[string]*funcDef{
		// existence
		"empty":      def(0, 0, fnEmpty),
		"exists":     def(0, 1, fnExists),
		"all":        def(1, 1, fnAll),
		"allTrue":    def(0, 0, boolAgg(true, true)),
		"anyTrue":    def(0, 0, boolAgg(false, true)),
		"allFalse":   def(0, 0, boolAgg(true, false)),
		"anyFalse":   def(0, 0, boolAgg(false, false)),
		"subsetOf":   def(1, 1, fnSubsetOf),
		"supersetOf": def(1, 1, fnSupersetOf),
		"count":      def(0, 0, fnCount),
		"distinct":   def(0, 0, fnDistinct),
		"isDistinct": def(0, 0, fnIsDistinct),
		// filtering and projection
		"where":  def(1, 1, fnWhere),
		"select": def(1, 1, fnSelect),
		"repeat": def(1, 1, fnRepeat),
		"ofType": {min: 1, max: 1, typeArg: true, regexArg: -1, impl: fnOfType},
		// subsetting
		"single":    def(0, 0, fnSingle),
		"first":     def(0, 0, fnFirst),
		"last":      def(0, 0, fnLast),
		"tail":      def(0, 0, fnTail),
		"skip":      def(1, 1, fnSkip),
		"take":      def(1, 1, fnTake),
		"intersect": def(1, 1, fnIntersect),
		"exclude":   def(1, 1, fnExclude),
		// combining
		"union":   def(1, 1, fnUnion),
		"combine": def(1, 1, fnCombine),
		// conversion
		"iif":                def(2, 3, fnIif),
		"toBoolean":          convFn(toBoolean, false),
		"convertsToBoolean":  convFn(toBoolean, true),
		"toInteger":          convFn(toInteger, false),
		"convertsToInteger":  convFn(toInteger, true),
		"toDecimal":          convFn(toDecimal, false),
		"convertsToDecimal":  convFn(toDecimal, true),
		"toString":           convFn(toStringItem, false),
		"convertsToString":   convFn(toStringItem, true),
		"toDate":             convFn(toDate, false),
		"convertsToDate":     convFn(toDate, true),
		"toDateTime":         convFn(toDateTime, false),
		"convertsToDateTime": convFn(toDateTime, true),
		"toTime":             convFn(toTime, false),
		"convertsToTime":     convFn(toTime, true),
		"toQuantity":         def(0, 1, fnToQuantity(false)),
		"convertsToQuantity": def(0, 1, fnToQuantity(true)),
		// strings
		"indexOf":        def(1, 1, fnIndexOf),
		"substring":      def(1, 2, fnSubstring),
		"startsWith":     def(1, 1, strPred(strings.HasPrefix)),
		"endsWith":       def(1, 1, strPred(strings.HasSuffix)),
		"contains":       def(1, 1, strPred(strings.Contains)),
		"upper":          def(0, 0, strMap(strings.ToUpper)),
		"lower":          def(0, 0, strMap(strings.ToLower)),
		"trim":           def(0, 0, strMap(strings.TrimSpace)),
		"replace":        def(2, 2, fnReplace),
		"matches":        {min: 1, max: 1, regexArg: 0, impl: fnMatches(false)},
		"matchesFull":    {min: 1, max: 1, regexArg: 0, impl: fnMatches(true)},
		"replaceMatches": {min: 2, max: 2, regexArg: 0, impl: fnReplaceMatches},
		"length":         def(0, 0, fnLength),
		"toChars":        def(0, 0, fnToChars),
		"split":          def(1, 1, fnSplit),
		"join":           def(0, 1, fnJoin),
		"encode":         def(1, 1, fnEncode),
		"decode":         def(1, 1, fnDecode),
		"escape":         def(1, 1, fnEscape),
		"unescape":       def(1, 1, fnUnescape),
		// math
		"abs":      def(0, 0, fnAbs),
		"ceiling":  def(0, 0, roundFn('c')),
		"floor":    def(0, 0, roundFn('f')),
		"truncate": def(0, 0, roundFn('t')),
		"round":    def(0, 1, fnRound),
		"exp":      def(0, 0, floatFn(math.Exp)),
		"ln":       def(0, 0, floatFn(math.Log)),
		"sqrt":     def(0, 0, floatFn(math.Sqrt)),
		"log":      def(1, 1, fnLog),
		"power":    def(1, 1, fnPower),
		// tree
		"children":    def(0, 0, fnChildren),
		"descendants": def(0, 0, fnDescendants),
		// utility
		"trace":     def(1, 2, fnTrace),
		"now":       def(0, 0, fnNow),
		"today":     def(0, 0, fnToday),
		"timeOfDay": def(0, 0, fnTimeOfDay),
		"not":       def(0, 0, fnNot),
		"aggregate": def(1, 2, fnAggregate),
		"sort":      def(0, -1, fnSort),
		// types
		"is":   {min: 1, max: 1, typeArg: true, regexArg: -1, impl: fnIs},
		"as":   {min: 1, max: 1, typeArg: true, regexArg: -1, impl: fnAs},
		"type": def(0, 0, fnType),
		// FHIR additions
		"extension":    def(1, 1, fnExtension),
		"hasValue":     def(0, 0, fnHasValue),
		"getValue":     def(0, 0, fnGetValue),
		"resolve":      def(0, 0, fnResolve),
		"memberOf":     def(1, 1, fnMemberOf),
		"conformsTo":   def(1, 1, fnConformsTo),
		"htmlChecks":   def(0, 0, fnHTMLChecks),
		"htmlchecks":   def(0, 0, fnHTMLChecks),
		"lowBoundary":  def(0, 1, boundaryFn(true)),
		"highBoundary": def(0, 1, boundaryFn(false)),
		"precision":    def(0, 0, fnPrecision),
		"comparable":   def(1, 1, fnComparable),
	}
}

// ---- helpers

// singleIn enforces singleton input; ok is false for empty input.
func singleIn(in Collection, n *callNode) (Item, bool, error) {
	switch len(in) {
	case 0:
		return nil, false, nil
	case 1:
		return in[0], true, nil
	}
	return nil, false, errAt(n.pos, "%s() needs a single input item, got %d", n.name, len(in))
}

func strIn(in Collection, n *callNode) (string, bool, error) {
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return "", false, err
	}
	s, ok := stringOf(it)
	if !ok {
		return "", false, errAt(n.pos, "%s() needs a string input, got %s", n.name, typeLabel(it))
	}
	return s, true, nil
}

func strArg(c *ctx, n *callNode, i int) (string, bool, error) {
	a, err := n.arg(c, i)
	if err != nil || len(a) == 0 {
		return "", false, err
	}
	if len(a) > 1 {
		return "", false, errAt(n.pos, "argument %d of %s() must be a single string", i+1, n.name)
	}
	s, ok := stringOf(a[0])
	if !ok {
		return "", false, errAt(n.pos, "argument %d of %s() must be a string, got %s", i+1, n.name, typeLabel(a[0]))
	}
	return s, true, nil
}

func intArg(c *ctx, n *callNode, i int) (int64, bool, error) {
	a, err := n.arg(c, i)
	if err != nil || len(a) == 0 {
		return 0, false, err
	}
	v, ok := singleInteger(a)
	if !ok {
		return 0, false, errAt(n.pos, "argument %d of %s() must be a single integer", i+1, n.name)
	}
	return v, true, nil
}

// ---- existence

func fnEmpty(c *ctx, in Collection, n *callNode) (Collection, error) {
	return boolColl(len(in) == 0), nil
}

func fnExists(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(n.args) == 0 {
		return boolColl(len(in) > 0), nil
	}
	found := false
	err := c.iterate(in, n.args[0], func(_ int, r Collection) (bool, error) {
		t, err := toTri(r, n.pos)
		found = t == True
		return found, err
	})
	return boolColl(found), err
}

func fnAll(c *ctx, in Collection, n *callNode) (Collection, error) {
	all := true
	err := c.iterate(in, n.args[0], func(_ int, r Collection) (bool, error) {
		t, err := toTri(r, n.pos)
		if t != True {
			all = false
		}
		return !all, err
	})
	return boolColl(all), err
}

// boolAgg builds allTrue (every, true), anyTrue, allFalse, anyFalse.
func boolAgg(every, want bool) fnImpl {
	return func(c *ctx, in Collection, n *callNode) (Collection, error) {
		for _, it := range in {
			b, ok := asBoolean(it)
			if !ok {
				return nil, errAt(n.pos, "%s() needs booleans, got %s", n.name, typeLabel(it))
			}
			if every && b != want {
				return collFalse, nil
			}
			if !every && b == want {
				return collTrue, nil
			}
		}
		return boolColl(every), nil
	}
}

// allIn reports whether every item of sub has an equal in super.
func allIn(c *ctx, sub, super Collection) (Collection, error) {
	set, err := newSet(c, super)
	if err != nil {
		return nil, err
	}
	for _, it := range sub {
		ok, err := set.has(c, it)
		if err != nil || !ok {
			return collFalse, err
		}
	}
	return collTrue, nil
}

func fnSubsetOf(c *ctx, in Collection, n *callNode) (Collection, error) {
	other, err := n.arg(c, 0)
	if err != nil {
		return nil, err
	}
	return allIn(c, in, other)
}

func fnSupersetOf(c *ctx, in Collection, n *callNode) (Collection, error) {
	other, err := n.arg(c, 0)
	if err != nil {
		return nil, err
	}
	return allIn(c, other, in)
}

func fnCount(c *ctx, in Collection, n *callNode) (Collection, error) {
	return intColl(len(in)), nil
}

// smallInts are shared results for counts and indexes, which are computed
// on every element by ele-1 and friends.
var smallInts = func() []Collection {
	out := make([]Collection, 256)
	for i := range out {
		out[i] = Collection{Integer(i)}
	}
	return out
}()

func intColl(i int) Collection {
	if i >= 0 && i < len(smallInts) {
		return smallInts[i]
	}
	return Collection{Integer(i)}
}

// countChildrenNode is children().count() without building the children
// collection (ele-1 runs it on every element).
type countChildrenNode struct {
	target node // nil: $this
}

func (n *countChildrenNode) eval(c *ctx) (Collection, error) {
	if err := c.tick(1); err != nil {
		return nil, err
	}
	in := c.this
	if n.target != nil {
		var err error
		if in, err = n.target.eval(c); err != nil {
			return nil, err
		}
	}
	k := 0
	for _, it := range in {
		if e, ok := it.(*element.Element); ok {
			k += len(e.Children)
		}
	}
	return intColl(k), nil
}

func distinct(c *ctx, in Collection) (Collection, error) {
	if len(in) < 2 {
		return in, nil
	}
	return unionOf(c, in, nil)
}

func fnDistinct(c *ctx, in Collection, n *callNode) (Collection, error) {
	return distinct(c, in)
}

func fnIsDistinct(c *ctx, in Collection, n *callNode) (Collection, error) {
	d, err := distinct(c, in)
	return boolColl(len(d) == len(in)), err
}

// ---- filtering

func fnWhere(c *ctx, in Collection, n *callNode) (Collection, error) {
	var out Collection
	err := c.iterate(in, n.args[0], func(i int, r Collection) (bool, error) {
		t, err := toTri(r, n.pos)
		if t == True {
			out = append(out, in[i])
		}
		return false, err
	})
	return out, err
}

func fnSelect(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) == 1 {
		// the common case: no copy of the projection's result
		var out Collection
		err := c.iterate(in, n.args[0], func(_ int, r Collection) (bool, error) {
			out = r
			return false, nil
		})
		return out, err
	}
	var out Collection
	err := c.iterate(in, n.args[0], func(_ int, r Collection) (bool, error) {
		out = append(out, r...)
		return false, c.tick(len(r))
	})
	return out, err
}

func fnRepeat(c *ctx, in Collection, n *callNode) (Collection, error) {
	// Elements are told apart by identity (the same node reached twice is
	// not new; two equal-looking nodes are distinct parts of the tree), other
	// items by equality, so that repeat('x') ends.
	var out Collection
	seenElem := map[*element.Element]bool{}
	seen := &itemSet{}
	queue := in
	for len(queue) > 0 {
		var next Collection
		err := c.iterate(queue, n.args[0], func(_ int, r Collection) (bool, error) {
			for _, it := range r {
				if e, ok := it.(*element.Element); ok {
					if seenElem[e] {
						continue
					}
					seenElem[e] = true
				} else if isNew, err := seen.add(c, it); err != nil || !isNew {
					if err != nil {
						return true, err
					}
					continue
				}
				out = append(out, it)
				next = append(next, it)
			}
			return false, c.tick(len(r) + 1)
		})
		if err != nil {
			return nil, err
		}
		queue = next
	}
	return out, nil
}

func fnOfType(c *ctx, in Collection, n *callNode) (Collection, error) {
	return ofType(c, in, n.typ, n.pos)
}

func ofType(c *ctx, in Collection, typ typeSpec, pos int) (Collection, error) {
	var out Collection
	for _, it := range in {
		ok, err := c.isType(it, typ, true, pos)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, it)
		}
	}
	return out, nil
}

// ---- subsetting

func fnSingle(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) > 1 {
		return nil, errAt(n.pos, "single() found %d items", len(in))
	}
	return in, nil
}

func fnFirst(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[:1:1], nil
}

func fnLast(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) == 0 {
		return nil, nil
	}
	return in[len(in)-1:], nil
}

func fnTail(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) <= 1 {
		return nil, nil
	}
	return in[1:], nil
}

func fnSkip(c *ctx, in Collection, n *callNode) (Collection, error) {
	k, ok, err := intArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	if k <= 0 {
		return in, nil
	}
	if k >= int64(len(in)) {
		return nil, nil
	}
	return in[k:], nil
}

func fnTake(c *ctx, in Collection, n *callNode) (Collection, error) {
	k, ok, err := intArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	if k <= 0 {
		return nil, nil
	}
	if k >= int64(len(in)) {
		return in, nil
	}
	return in[:k:k], nil
}

func fnIntersect(c *ctx, in Collection, n *callNode) (Collection, error) {
	other, err := n.arg(c, 0)
	if err != nil {
		return nil, err
	}
	set, err := newSet(c, other)
	if err != nil {
		return nil, err
	}
	var out Collection
	done := &itemSet{}
	for _, it := range in {
		ok, err := set.has(c, it)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if isNew, err := done.add(c, it); err != nil || !isNew {
			if err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

func fnExclude(c *ctx, in Collection, n *callNode) (Collection, error) {
	other, err := n.arg(c, 0)
	if err != nil {
		return nil, err
	}
	set, err := newSet(c, other)
	if err != nil {
		return nil, err
	}
	var out Collection
	for _, it := range in {
		ok, err := set.has(c, it)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, it)
		}
	}
	return out, c.tick(len(in))
}

func fnUnion(c *ctx, in Collection, n *callNode) (Collection, error) {
	other, err := n.arg(c, 0)
	if err != nil {
		return nil, err
	}
	return unionOf(c, in, other)
}

func fnCombine(c *ctx, in Collection, n *callNode) (Collection, error) {
	other, err := n.arg(c, 0)
	if err != nil {
		return nil, err
	}
	if err := c.tick(len(in) + len(other)); err != nil {
		return nil, err
	}
	out := make(Collection, 0, len(in)+len(other))
	return append(append(out, in...), other...), nil
}

// ---- conversion

// fnIif evaluates its arguments with $this set to its input, so that
// ('x').iif($this = 'x', …) works; the criterion must be a Boolean.
func fnIif(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) > 1 {
		return nil, errAt(n.pos, "iif() needs at most one input item, got %d", len(in))
	}
	saved := c.this
	c.this = in
	defer func() { c.this = saved }()
	cond, err := n.arg(c, 0)
	if err != nil {
		return nil, err
	}
	choose := false
	switch len(cond) {
	case 0:
	case 1:
		b, ok := asBoolean(cond[0])
		if !ok {
			return nil, errAt(n.pos, "iif() criterion must be a boolean, got %s", typeLabel(cond[0]))
		}
		choose = b
	default:
		return nil, errAt(n.pos, "iif() criterion must be a single boolean, got %d items", len(cond))
	}
	if choose {
		return n.arg(c, 1)
	}
	return n.arg(c, 2)
}

type convFunc func(it Item) (Item, bool)

// convFn builds toX (test false) and convertsToX (test true).
func convFn(conv convFunc, test bool) *funcDef {
	return def(0, 0, func(c *ctx, in Collection, n *callNode) (Collection, error) {
		it, ok, err := singleIn(in, n)
		if err != nil || !ok {
			return nil, err
		}
		v, ok := normalize(it)
		if ok {
			v, ok = conv(v)
		}
		if test {
			return boolColl(ok), nil
		}
		if !ok {
			return nil, nil
		}
		return Collection{v}, nil
	})
}

func toBoolean(it Item) (Item, bool) {
	switch v := it.(type) {
	case Boolean:
		return v, true
	case Integer:
		switch v {
		case 0:
			return Boolean(false), true
		case 1:
			return Boolean(true), true
		}
	case Decimal:
		if v.Cmp(DecimalFromInt(0)) == 0 {
			return Boolean(false), true
		}
		if v.Cmp(DecimalFromInt(1)) == 0 {
			return Boolean(true), true
		}
	case String:
		switch strings.ToLower(string(v)) {
		case "true", "t", "yes", "y", "1", "1.0":
			return Boolean(true), true
		case "false", "f", "no", "n", "0", "0.0":
			return Boolean(false), true
		}
	}
	return nil, false
}

func isIntegerText(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	return allDigits(s)
}

func toInteger(it Item) (Item, bool) {
	switch v := it.(type) {
	case Integer:
		return v, true
	case Boolean:
		if v {
			return Integer(1), true
		}
		return Integer(0), true
	case String:
		if !isIntegerText(string(v)) {
			return nil, false
		}
		d, ok := ParseDecimal(string(v))
		if !ok {
			return nil, false
		}
		i, ok := d.Int64()
		if !ok || i > math.MaxInt32 || i < math.MinInt32 {
			return nil, false
		}
		return Integer(i), true
	}
	return nil, false
}

func toDecimal(it Item) (Item, bool) {
	switch v := it.(type) {
	case Integer:
		return DecimalFromInt(int64(v)), true
	case Decimal:
		return v, true
	case Boolean:
		if v {
			return DecimalFromInt(1), true
		}
		return DecimalFromInt(0), true
	case String:
		s := string(v)
		if strings.ContainsAny(s, "eE") {
			return nil, false
		}
		d, ok := ParseDecimal(s)
		if !ok {
			return nil, false
		}
		return d, true
	}
	return nil, false
}

func toStringItem(it Item) (Item, bool) {
	s, ok := ItemString(it)
	if !ok {
		return nil, false
	}
	return String(s), true
}

func toDate(it Item) (Item, bool) {
	switch v := it.(type) {
	case Date:
		return v, true
	case DateTime:
		t := v.t
		if t.prec > precDay {
			t.prec = precDay
		}
		t.tz, t.tzZ, t.tzMin = false, false, 0
		t.hour, t.minute, t.second, t.milli = 0, 0, 0, 0
		return Date{t}, true
	case String:
		if d, ok := ParseDate(string(v)); ok {
			return d, true
		}
		if dt, ok := ParseDateTime(string(v)); ok {
			return toDate(dt)
		}
	}
	return nil, false
}

func toDateTime(it Item) (Item, bool) {
	switch v := it.(type) {
	case DateTime:
		return v, true
	case Date:
		return DateTime{v.t}, true
	case String:
		if d, ok := ParseDateTime(string(v)); ok {
			return d, true
		}
	}
	return nil, false
}

func toTime(it Item) (Item, bool) {
	switch v := it.(type) {
	case Time:
		return v, true
	case String:
		s := string(v)
		if strings.HasPrefix(s, "T") {
			s = s[1:]
		}
		if t, ok := ParseTime(s); ok {
			return t, true
		}
	}
	return nil, false
}

// parseQuantityText reads "1.5 'mg'", "1 day", "4" — a quoted UCUM unit, a
// calendar keyword, or no unit.
func parseQuantityText(s string) (Quantity, bool) {
	s = strings.TrimSpace(s)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
		i++
	}
	num, rest := s[:i], strings.TrimSpace(s[i:])
	d, ok := ParseDecimal(num)
	if !ok || strings.ContainsAny(num, "eE") {
		return Quantity{}, false
	}
	switch {
	case rest == "":
		return Quantity{Value: d, Unit: "1"}, true
	case len(rest) >= 2 && rest[0] == '\'' && rest[len(rest)-1] == '\'':
		u := rest[1 : len(rest)-1]
		if u == "" || strings.ContainsRune(u, '\'') {
			return Quantity{}, false
		}
		return Quantity{Value: d, Unit: u}, true
	case calendarKeywords[rest]:
		return Quantity{Value: d, Unit: rest, Calendar: true}, true
	}
	return Quantity{}, false
}

func fnToQuantity(test bool) fnImpl {
	return func(c *ctx, in Collection, n *callNode) (Collection, error) {
		it, ok, err := singleIn(in, n)
		if err != nil || !ok {
			return nil, err
		}
		v, ok := normalize(it)
		var q Quantity
		if ok {
			switch x := v.(type) {
			case Integer:
				q = Quantity{Value: DecimalFromInt(int64(x)), Unit: "1"}
			case Decimal:
				q = Quantity{Value: x, Unit: "1"}
			case Quantity:
				q = x
			case Boolean:
				q = Quantity{Value: DecimalFromInt(0), Unit: "1"}
				if x {
					q.Value = DecimalFromInt(1)
				}
			case String:
				q, ok = parseQuantityText(string(x))
			default:
				ok = false
			}
		}
		if ok && len(n.args) > 0 {
			unit, has, err := strArg(c, n, 0)
			if err != nil {
				return nil, err
			}
			if has {
				cal := calendarKeywords[unit]
				q, ok = convertQuantity(q, unit, cal)
			}
		}
		if test {
			return boolColl(ok), nil
		}
		if !ok {
			return nil, nil
		}
		return Collection{q}, nil
	}
}

// ---- strings (positions count characters, not bytes)

func runeIndex(s string, byteIdx int) int { return utf8.RuneCountInString(s[:byteIdx]) }

func fnIndexOf(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	sub, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	i := strings.Index(s, sub)
	if i < 0 {
		return Collection{Integer(-1)}, nil
	}
	return Collection{Integer(runeIndex(s, i))}, nil
}

func fnSubstring(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	start, ok, err := intArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	r := []rune(s)
	if start < 0 || start >= int64(len(r)) {
		return nil, nil
	}
	end := int64(len(r))
	if len(n.args) > 1 {
		l, ok, err := intArg(c, n, 1)
		if err != nil {
			return nil, err
		}
		if ok {
			if l < 0 {
				l = 0
			}
			if start+l < end {
				end = start + l
			}
		}
	}
	return Collection{String(r[start:end])}, nil
}

func strPred(f func(s, sub string) bool) fnImpl {
	return func(c *ctx, in Collection, n *callNode) (Collection, error) {
		s, ok, err := strIn(in, n)
		if err != nil || !ok {
			return nil, err
		}
		sub, ok, err := strArg(c, n, 0)
		if err != nil || !ok {
			return nil, err
		}
		return boolColl(f(s, sub)), nil
	}
}

func strMap(f func(string) string) fnImpl {
	return func(c *ctx, in Collection, n *callNode) (Collection, error) {
		s, ok, err := strIn(in, n)
		if err != nil || !ok {
			return nil, err
		}
		return Collection{String(f(s))}, nil
	}
}

func fnReplace(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	pat, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	rep, ok, err := strArg(c, n, 1)
	if err != nil || !ok {
		return nil, err
	}
	// bound the result before building it
	cnt := strings.Count(s, pat)
	if err := c.tick(len(s) + cnt*len(rep)); err != nil {
		return nil, err
	}
	return Collection{String(strings.ReplaceAll(s, pat, rep))}, nil
}

func (n *callNode) regex(c *ctx, full bool) (*regexpT, bool, error) {
	if n.re != nil {
		return n.re, true, nil
	}
	pat, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, false, err
	}
	re, err := cachedRegex(pat, full)
	if err != nil {
		return nil, false, errAt(n.pos, "invalid regular expression in %s()", n.name)
	}
	return re, true, nil
}

func fnMatches(full bool) fnImpl {
	return func(c *ctx, in Collection, n *callNode) (Collection, error) {
		s, ok, err := strIn(in, n)
		if err != nil || !ok {
			return nil, err
		}
		re, ok, err := n.regex(c, full)
		if err != nil || !ok {
			return nil, err
		}
		if err := c.tick(len(s)); err != nil {
			return nil, err
		}
		return boolColl(re.MatchString(s)), nil
	}
}

func fnReplaceMatches(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	re, ok, err := n.regex(c, false)
	if err != nil || !ok {
		return nil, err
	}
	rep, ok, err := strArg(c, n, 1)
	if err != nil || !ok {
		return nil, err
	}
	if err := c.tick(len(s) * (len(rep) + 1)); err != nil {
		return nil, err
	}
	return Collection{String(re.ReplaceAllString(s, rep))}, nil
}

func fnLength(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	return Collection{Integer(utf8.RuneCountInString(s))}, nil
}

func fnToChars(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	if err := c.tick(len(s)); err != nil {
		return nil, err
	}
	out := make(Collection, 0, len(s))
	for _, r := range s {
		out = append(out, String(string(r)))
	}
	return out, nil
}

func fnSplit(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	sep, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	if err := c.tick(len(s) + 1); err != nil {
		return nil, err
	}
	parts := strings.Split(s, sep)
	out := make(Collection, len(parts))
	for i, p := range parts {
		out[i] = String(p)
	}
	return out, nil
}

func fnJoin(c *ctx, in Collection, n *callNode) (Collection, error) {
	sep := ""
	if len(n.args) > 0 {
		s, _, err := strArg(c, n, 0)
		if err != nil {
			return nil, err
		}
		sep = s
	}
	parts := make([]string, 0, len(in))
	total := 0
	for _, it := range in {
		s, ok := stringOf(it)
		if !ok {
			return nil, errAt(n.pos, "join() needs strings, got %s", typeLabel(it))
		}
		parts = append(parts, s)
		total += len(s) + len(sep)
	}
	if err := c.tick(total); err != nil {
		return nil, err
	}
	return Collection{String(strings.Join(parts, sep))}, nil
}

// ---- math

func fnAbs(c *ctx, in Collection, n *callNode) (Collection, error) {
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	v, _ := normalize(it)
	switch x := v.(type) {
	case Integer:
		if x < 0 {
			x = -x
		}
		return Collection{x}, nil
	case Decimal:
		return Collection{x.Abs()}, nil
	case Quantity:
		x.Value = x.Value.Abs()
		return Collection{x}, nil
	}
	return nil, errAt(n.pos, "abs() needs a number or quantity, got %s", typeLabel(it))
}

func numIn(in Collection, n *callNode) (Item, bool, error) {
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return nil, false, err
	}
	v, ok := normalize(it)
	if !ok {
		return nil, false, nil
	}
	switch v.(type) {
	case Integer, Decimal:
		return v, true, nil
	}
	return nil, false, errAt(n.pos, "%s() needs a number, got %s", n.name, typeLabel(it))
}

func roundFn(mode byte) fnImpl {
	return func(c *ctx, in Collection, n *callNode) (Collection, error) {
		v, ok, err := numIn(in, n)
		if err != nil || !ok {
			return nil, err
		}
		if i, ok := v.(Integer); ok {
			return Collection{i}, nil
		}
		r := v.(Decimal).setScale(0, mode)
		if !r.unscaled().IsInt64() {
			return Collection{r}, nil
		}
		return Collection{Integer(r.unscaled().Int64())}, nil
	}
}

func fnRound(c *ctx, in Collection, n *callNode) (Collection, error) {
	v, ok, err := numIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	p := int64(0)
	if len(n.args) > 0 {
		var has bool
		if p, has, err = intArg(c, n, 0); err != nil || !has {
			return nil, err
		}
		if p < 0 || p > maxDecimalScale {
			return nil, errAt(n.pos, "round() precision out of range")
		}
	}
	d, _ := numberOf(v)
	return Collection{d.setScale(int32(p), 'h')}, nil
}

func floatFn(f func(float64) float64) fnImpl {
	return func(c *ctx, in Collection, n *callNode) (Collection, error) {
		v, ok, err := numIn(in, n)
		if err != nil || !ok {
			return nil, err
		}
		d, _ := numberOf(v)
		r, ok := decimalFromFloat(f(d.Float64()))
		if !ok {
			return nil, nil
		}
		return Collection{r}, nil
	}
}

func numArg(c *ctx, n *callNode, i int) (Decimal, bool, error) {
	a, err := n.arg(c, i)
	if err != nil || len(a) == 0 {
		return Decimal{}, false, err
	}
	if len(a) == 1 {
		if v, ok := normalize(a[0]); ok {
			if d, ok := numberOf(v); ok {
				return d, true, nil
			}
		}
	}
	return Decimal{}, false, errAt(n.pos, "argument %d of %s() must be a single number", i+1, n.name)
}

func fnLog(c *ctx, in Collection, n *callNode) (Collection, error) {
	v, ok, err := numIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	base, ok, err := numArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	d, _ := numberOf(v)
	r, ok := decimalFromFloat(math.Log(d.Float64()) / math.Log(base.Float64()))
	if !ok {
		return nil, nil
	}
	return Collection{r}, nil
}

func fnPower(c *ctx, in Collection, n *callNode) (Collection, error) {
	v, ok, err := numIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	a, err := n.arg(c, 0)
	if err != nil || len(a) == 0 {
		return nil, err
	}
	ev, _ := normalize(a[0])
	if bi, ok := v.(Integer); ok {
		if ei, ok := ev.(Integer); ok && ei >= 0 && len(a) == 1 {
			if ei > 4096 {
				return nil, errAt(n.pos, "power() exponent too large")
			}
			r := new(big.Int).Exp(big.NewInt(int64(bi)), big.NewInt(int64(ei)), nil)
			if !r.IsInt64() {
				return nil, errAt(n.pos, "integer overflow in power()")
			}
			return Collection{Integer(r.Int64())}, nil
		}
	}
	e, ok, err := numArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	d, _ := numberOf(v)
	r, ok := decimalFromFloat(math.Pow(d.Float64(), e.Float64()))
	if !ok {
		return nil, nil
	}
	return Collection{r}, nil
}

// ---- tree navigation

func fnChildren(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) == 1 {
		if e, ok := in[0].(*element.Element); ok {
			out := make(Collection, len(e.Children))
			for i, ch := range e.Children {
				out[i] = ch
			}
			return out, c.tick(len(out))
		}
	}
	var out Collection
	for _, it := range in {
		if e, ok := it.(*element.Element); ok {
			for _, ch := range e.Children {
				out = append(out, ch)
			}
		}
	}
	return out, c.tick(len(out))
}

func fnDescendants(c *ctx, in Collection, n *callNode) (Collection, error) {
	var out Collection
	var walk func(e *element.Element, depth int) error
	walk = func(e *element.Element, depth int) error {
		if depth > 10000 {
			return errAt(n.pos, "descendants(): tree too deep")
		}
		if err := c.tick(len(e.Children)); err != nil {
			return err
		}
		for _, ch := range e.Children {
			out = append(out, ch)
			if err := walk(ch, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, it := range in {
		if e, ok := it.(*element.Element); ok {
			if err := walk(e, 0); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ---- utility

func fnTrace(c *ctx, in Collection, n *callNode) (Collection, error) {
	name, _, err := strArg(c, n, 0)
	if err != nil {
		return nil, err
	}
	if c.env.Trace == nil {
		return in, nil
	}
	shown := in
	if len(n.args) > 1 {
		var proj Collection
		err := c.iterate(in, n.args[1], func(_ int, r Collection) (bool, error) {
			proj = append(proj, r...)
			return false, nil
		})
		if err != nil {
			return nil, err
		}
		shown = proj
	}
	c.env.Trace(name, shown)
	return in, nil
}

func fnNow(c *ctx, in Collection, n *callNode) (Collection, error) {
	return Collection{DateTime{fromGoTime(c.clock(), precMilli)}}, nil
}

func fnToday(c *ctx, in Collection, n *callNode) (Collection, error) {
	return Collection{Date{fromGoTime(c.clock(), precDay)}}, nil
}

func fnTimeOfDay(c *ctx, in Collection, n *callNode) (Collection, error) {
	t := fromGoTime(c.clock(), precMilli)
	t.timeOnly, t.tz, t.year, t.month, t.day = true, false, 0, 0, 0
	return Collection{Time{t}}, nil
}

func fnNot(c *ctx, in Collection, n *callNode) (Collection, error) {
	t, err := toTri(in, n.pos)
	if err != nil {
		return nil, err
	}
	return triColl(notTri(t)), nil
}

func fnAggregate(c *ctx, in Collection, n *callNode) (Collection, error) {
	total, err := n.arg(c, 1)
	if err != nil {
		return nil, err
	}
	savedTotal, savedHas := c.total, c.hasTotal
	defer func() { c.total, c.hasTotal = savedTotal, savedHas }()
	c.hasTotal = true
	c.total = total
	err = c.iterate(in, n.args[0], func(_ int, r Collection) (bool, error) {
		c.total = r
		return false, c.tick(len(r))
	})
	return c.total, err
}

func fnSort(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) < 2 {
		return in, nil
	}
	if err := c.tick(len(in) * 8); err != nil {
		return nil, err
	}
	nk := len(n.args)
	if nk == 0 {
		nk = 1
	}
	keys := make([][]Item, len(in))
	for i := range keys {
		keys[i] = make([]Item, nk)
	}
	if len(n.args) == 0 {
		for i, it := range in {
			keys[i][0] = it
		}
	} else {
		for k, arg := range n.args {
			err := c.iterate(in, arg, func(i int, r Collection) (bool, error) {
				switch len(r) {
				case 0:
				case 1:
					keys[i][k] = r[0]
				default:
					return true, errAt(n.pos, "sort() key must be a single item, got %d", len(r))
				}
				return false, nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	idx := make([]int, len(in))
	for i := range idx {
		idx[i] = i
	}
	var sortErr error
	sort.SliceStable(idx, func(a, b int) bool {
		for k := 0; k < nk; k++ {
			x, y := keys[idx[a]][k], keys[idx[b]][k]
			desc := k < len(n.desc) && n.desc[k]
			// Items without a key come first in either direction, as in
			// the reference implementation.
			var cmp int
			switch {
			case x == nil && y == nil:
				continue
			case x == nil:
				return true
			case y == nil:
				return false
			default:
				r, _, err := cmpItems(x, y, n.pos, "sort")
				if err != nil && sortErr == nil {
					sortErr = err
				}
				cmp = r
			}
			if cmp == 0 {
				continue
			}
			if desc {
				return cmp > 0
			}
			return cmp < 0
		}
		return false
	})
	if sortErr != nil {
		return nil, sortErr
	}
	out := make(Collection, len(in))
	for i, j := range idx {
		out[i] = in[j]
	}
	return out, nil
}

// ---- types

func fnIs(c *ctx, in Collection, n *callNode) (Collection, error) {
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	b, err := c.isType(it, n.typ, false, n.pos)
	if err != nil {
		return nil, err
	}
	return boolColl(b), nil
}

func fnAs(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) > 1 && !c.env.StrictAs {
		return ofType(c, in, n.typ, n.pos)
	}
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	b, err := c.isType(it, n.typ, true, n.pos)
	if err != nil || !b {
		return nil, err
	}
	return in, nil
}

func fnType(c *ctx, in Collection, n *callNode) (Collection, error) {
	out := make(Collection, len(in))
	for i, it := range in {
		out[i] = TypeName(it)
	}
	return out, nil
}

// ---- FHIR additions

func fnExtension(c *ctx, in Collection, n *callNode) (Collection, error) {
	url, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	var out Collection
	for _, it := range in {
		e, ok := it.(*element.Element)
		if !ok {
			continue
		}
		for _, ch := range e.Children {
			if ch.Name != "extension" {
				continue
			}
			if u := ch.First("url"); u != nil && u.Value == url {
				out = append(out, ch)
			}
		}
	}
	return out, c.tick(len(out))
}

func fnHasValue(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) != 1 {
		return collFalse, nil
	}
	switch v := in[0].(type) {
	case *element.Element:
		return boolColl(v.HasValue && v.IsPrimitive()), nil
	case Boolean, Integer, Decimal, String, Date, DateTime, Time, Quantity:
		return collTrue, nil
	}
	return collFalse, nil
}

func fnGetValue(c *ctx, in Collection, n *callNode) (Collection, error) {
	if len(in) != 1 {
		return nil, nil
	}
	switch v := in[0].(type) {
	case *element.Element:
		if v.IsPrimitive() {
			if sv, ok := systemValue(v); ok {
				return Collection{sv}, nil
			}
		}
		return nil, nil
	case TypeInfo:
		return nil, nil
	}
	return in, nil
}

func fnResolve(c *ctx, in Collection, n *callNode) (Collection, error) {
	var out Collection
	for _, it := range in {
		var ref string
		var from *element.Element
		switch v := it.(type) {
		case *element.Element:
			from = v
			if v.IsPrimitive() {
				ref = v.Value
			} else if r := v.First("reference"); r != nil && r.HasValue {
				ref = r.Value
			}
		case String:
			ref = string(v)
			if len(c.input) > 0 {
				from, _ = c.input[0].(*element.Element)
			}
		}
		if ref == "" {
			continue
		}
		var target *element.Element
		if c.env.Resolve != nil {
			target = c.env.Resolve(ref, from)
		} else if from != nil {
			target = resolveInDocument(ref, from)
		}
		if target != nil {
			out = append(out, target)
		}
	}
	return out, c.tick(len(in))
}

// resolveInDocument finds "#id" among the container's contained resources
// and other references among the entries of an enclosing Bundle.
func resolveInDocument(ref string, from *element.Element) *element.Element {
	if strings.HasPrefix(ref, "#") {
		r := from.Resource()
		if r != nil && r.Name == "contained" && r.Parent != nil {
			r = r.Parent.Resource()
		}
		if r == nil {
			return nil
		}
		if ref == "#" {
			return r
		}
		for _, ch := range r.Children {
			if ch.Name == "contained" {
				if id := ch.First("id"); id != nil && id.Value == ref[1:] {
					return ch
				}
			}
		}
		return nil
	}
	for x := from; x != nil; x = x.Parent {
		if !x.IsResource || normType(x.Type) != "Bundle" {
			continue
		}
		for _, entry := range x.Children {
			if entry.Name != "entry" {
				continue
			}
			res := entry.First("resource")
			if res == nil {
				continue
			}
			if fu := entry.First("fullUrl"); fu != nil && fu.Value == ref {
				return res
			}
			if id := res.First("id"); id != nil {
				typed := normType(res.Type) + "/" + id.Value
				if ref == typed || strings.HasSuffix(ref, "/"+typed) {
					return res
				}
			}
		}
	}
	return nil
}

func fnMemberOf(c *ctx, in Collection, n *callNode) (Collection, error) {
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	url, ok, err := strArg(c, n, 0)
	if err != nil || !ok || c.env.MemberOf == nil {
		return nil, err
	}
	member, known := c.env.MemberOf(it, url)
	if !known {
		return nil, nil
	}
	return boolColl(member), nil
}

func fnConformsTo(c *ctx, in Collection, n *callNode) (Collection, error) {
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	url, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	e, isElem := it.(*element.Element)
	if !isElem {
		return collFalse, nil
	}
	if c.env.ConformsTo != nil {
		conforms, known := c.env.ConformsTo(e, url)
		if known {
			return boolColl(conforms), nil
		}
	} else if name, ok := strings.CutPrefix(url, "http://hl7.org/fhir/StructureDefinition/"); ok && name != "" {
		// A core type's definition: conformance is the type relation.
		if tc, ok := c.model.(TypeChecker); !ok || tc.KnownType(name) {
			return boolColl(c.elementIsType(e, name)), nil
		}
	}
	return nil, errAt(n.pos, "conformsTo(): profile not known")
}

// fnHTMLChecks accepts all narrative: the XHTML rules are checked by the
// validator itself, not through FHIRPath.
func fnHTMLChecks(c *ctx, in Collection, n *callNode) (Collection, error) {
	return collTrue, nil
}

func boundaryFn(low bool) fnImpl {
	return func(c *ctx, in Collection, n *callNode) (Collection, error) {
		it, ok, err := singleIn(in, n)
		if err != nil || !ok {
			return nil, err
		}
		v, ok := normalize(it)
		if !ok {
			return nil, nil
		}
		p, hasP, err := intArg(c, n, 0)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) {
		case Integer, Decimal:
			d, _ := numberOf(x)
			if !hasP {
				p = 8
			}
			r, ok := decimalBoundary(d, p, low)
			if !ok {
				return nil, nil
			}
			return Collection{r}, nil
		case Quantity:
			if !hasP {
				p = 8
			}
			r, ok := decimalBoundary(x.Value, p, low)
			if !ok {
				return nil, nil
			}
			x.Value = r
			return Collection{x}, nil
		case Date, DateTime, Time:
			t, _ := temporalOf(x)
			if !hasP {
				switch x.(type) {
				case Date:
					p = 8
				case DateTime:
					p = 17
				default:
					p = 9
				}
			}
			r, ok := t.boundary(int(p), low)
			if !ok {
				return nil, nil
			}
			switch x.(type) {
			case Date:
				if r.prec > precDay {
					return Collection{DateTime{r}}, nil
				}
				return Collection{Date{r}}, nil
			case DateTime:
				return Collection{DateTime{r}}, nil
			}
			return Collection{Time{r}}, nil
		}
		return nil, errAt(n.pos, "%s() cannot be applied to %s", n.name, typeLabel(it))
	}
}

// decimalBoundary widens d by half a unit in its last written digit and
// cuts at p digits. Where digits are dropped, the value is rounded outward
// only when that moves it away from zero and truncated otherwise — what the
// official suite expects (1.587.lowBoundary(2) is 1.58, (-1.587) gives -1.59).
func decimalBoundary(d Decimal, p int64, low bool) (Decimal, bool) {
	if p < 0 || p > 28 {
		return Decimal{}, false
	}
	half := Decimal{u: big.NewInt(5), scale: d.scale + 1}
	var v Decimal
	if low {
		v = d.Sub(half)
	} else {
		v = d.Add(half)
	}
	ps := int32(p)
	if ps >= v.scale {
		return v.setScale(ps, 't'), true
	}
	neg := v.Sign() < 0
	if low == neg {
		return v.setScale(ps, 'h'), true
	}
	return v.setScale(ps, 't'), true
}

func fnPrecision(c *ctx, in Collection, n *callNode) (Collection, error) {
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	v, ok := normalize(it)
	if !ok {
		return nil, nil
	}
	switch x := v.(type) {
	case Integer:
		return Collection{Integer(0)}, nil
	case Decimal:
		return Collection{Integer(x.scale)}, nil
	case Quantity:
		return Collection{Integer(x.Value.scale)}, nil
	case Date, DateTime, Time:
		t, _ := temporalOf(x)
		return Collection{Integer(t.precisionDigits())}, nil
	case String:
		return Collection{Integer(utf8.RuneCountInString(string(x)))}, nil
	}
	return nil, errAt(n.pos, "precision() cannot be applied to %s", typeLabel(it))
}

func fnComparable(c *ctx, in Collection, n *callNode) (Collection, error) {
	it, ok, err := singleIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	a, err := n.arg(c, 0)
	if err != nil || len(a) == 0 {
		return nil, err
	}
	x, _ := normalize(it)
	y, _ := normalize(a[0])
	qx, ok1 := x.(Quantity)
	qy, ok2 := y.(Quantity)
	if !ok1 || !ok2 {
		return nil, errAt(n.pos, "comparable() needs quantities")
	}
	return boolColl(unitsComparable(qx, qy)), nil
}
