package profile

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec"
)

// slicing assigns the instance items of a sliced element to its slices,
// checks slice cardinality and the slicing rules, and validates each item
// against its slice (or the sliced element when it matches none).
func (w *walker) slicing(parent *element.Element, n *spec.ElementNode, items []*element.Element, c *ctx) {
	w.cardinality(parent, n, len(items), c)
	if len(items) == 0 && len(n.Slices) == 0 {
		return
	}
	w.assign(parent, n, n.Def.Slicing, items, c)
}

// assign does the work of slicing for the slices of n (an element or, for
// reslicing, a slice).
func (w *walker) assign(parent *element.Element, n *spec.ElementNode, sl *spec.Slicing, items []*element.Element, c *ctx) {
	if sl == nil {
		sl = &spec.Slicing{Rules: "open"}
	}
	slices := n.Slices
	which := make([]int, len(items)) // slice index per item, -1 none
	counts := make([]int, len(slices))
	lastMatched, firstUnmatched := -1, -1
	for i, it := range items {
		which[i] = -1
		for j, s := range slices {
			if w.inSlice(it, s, sl, c) {
				which[i] = j
				break
			}
		}
		j := which[i]
		if j < 0 {
			if firstUnmatched < 0 {
				firstUnmatched = i
			}
			switch {
			case sl.Rules == "closed":
				w.add(it, issue.Error, "profile-slice-closed", "structure",
					fmt.Sprintf("the element does not match any slice of %s, and the slicing is closed%s", n.Def.Path, c.from()),
					"make the element match one of the slices, or remove it", c.url)
			case !isExtension(n) && len(slices) > 0:
				w.add(it, issue.Information, "profile-slice-unmatched", "informational",
					fmt.Sprintf("the element does not match any known slice of %s (this may not be a problem, but check that it is not intended to match a slice)%s", n.Def.Path, c.from()),
					"", c.url)
			}
			continue
		}
		counts[j]++
		if sl.Rules == "openAtEnd" && firstUnmatched >= 0 {
			w.add(it, issue.Error, "profile-slice-open-at-end", "structure",
				fmt.Sprintf("the element matches the slice %s after an element that matches no slice, but the slicing of %s is openAtEnd%s",
					slices[j].Def.SliceName, n.Def.Path, c.from()),
				"move elements that match no slice to the end", c.url)
		}
		if sl.Ordered && j < lastMatched {
			w.add(it, issue.Error, "profile-slice-order", "structure",
				fmt.Sprintf("the element matches the slice %s, which comes before the slice of an earlier element; the slicing of %s is ordered%s",
					slices[j].Def.SliceName, n.Def.Path, c.from()),
				"put the elements in the order of the profile's slices", c.url)
		}
		if j > lastMatched {
			lastMatched = j
		}
	}
	for j, s := range slices {
		min, max := minOf(s.Def), maxOf(s.Def.Max)
		if counts[j] < min {
			w.add(parent, issue.Error, "profile-slice-min", "structure",
				fmt.Sprintf("Slice '%s': a matching slice is required, but not found%s (minimum %d, found %d)", s.Def.ID, c.from(), min, counts[j]),
				"add an element that matches the slice "+s.Def.SliceName, c.url)
		}
		if max >= 0 && counts[j] > max {
			w.add(parent, issue.Error, "profile-slice-max", "structure",
				fmt.Sprintf("%s: max allowed = %d, but found %d%s", s.Def.ID, max, counts[j], c.from()),
				"remove the extra elements of the slice "+s.Def.SliceName, c.url)
		}
		if counts[j] == 0 {
			w.mustSupportGap(parent, s, c)
		}
	}
	for j, s := range slices {
		var mine []*element.Element
		for i, it := range items {
			if which[i] == j {
				mine = append(mine, it)
			}
		}
		if len(s.Slices) > 0 {
			rs := s.Def.Slicing
			if rs == nil {
				rs = sl
			}
			w.assign(parent, s, rs, mine, c)
			continue
		}
		for _, it := range mine {
			w.validate(it, s, c)
		}
	}
	for i, it := range items {
		if which[i] < 0 {
			w.validateUnsliced(it, n, c)
		}
	}
}

// conformsTo validates e against a definition node quietly and reports
// whether it had no errors.
func (w *walker) conformsTo(e *element.Element, n *spec.ElementNode, c *ctx) bool {
	if w.depth >= w.v.opts.MaxDepth {
		return false
	}
	saved := w.out
	w.out = nil
	w.depth++
	w.quiet++
	w.validate(e, n, c)
	w.quiet--
	w.depth--
	ok := !w.out.HasErrors()
	w.out = saved
	return ok
}

// validateUnsliced validates an item that matched no slice against the
// sliced element without its slices.
func (w *walker) validateUnsliced(it *element.Element, n *spec.ElementNode, c *ctx) {
	if n.SliceOf != nil {
		w.validate(it, n, c)
		return
	}
	w.validate(it, n, c)
}

func isExtension(n *spec.ElementNode) bool {
	return n.Name == "extension" || n.Name == "modifierExtension"
}

// inSlice reports whether an item belongs to slice s by the discriminators.
func (w *walker) inSlice(it *element.Element, s *spec.ElementNode, sl *spec.Slicing, c *ctx) bool {
	if len(sl.Discriminator) == 0 {
		// No discriminator: the item belongs to the slice if it conforms.
		return w.conformsTo(it, s, c)
	}
	informed := 0
	for _, d := range sl.Discriminator {
		switch w.discriminates(it, s, d, c) {
		case noMatch:
			return false
		case matched:
			informed++
		}
	}
	if informed == 0 {
		// The slice says nothing at any discriminator path.
		w.badDiscriminator(it, s, sl.Discriminator[0], c)
		return false
	}
	return true
}

// verdict is what one discriminator says about an item and a slice;
// uninformed when the slice constrains nothing at the discriminator path
// (a slice may leave one of several discriminators open, as the reference
// validator accepts).
type verdict int8

const (
	noMatch verdict = iota
	matched
	uninformed
)

func verdictOf(b bool) verdict {
	if b {
		return matched
	}
	return noMatch
}

// target is what a slice says at a discriminator path: the element
// definition found there and any fixed/pattern value that covers it (from
// the element itself or from an ancestor's complex value).
type target struct {
	node  *spec.ElementNode
	value any
	exact bool
	// resolved is set when the path ends in resolve(): the node is the
	// Reference element.
	resolved bool
	// extURL is the url an extension slice stands for (from its profile).
	extURL string
}

func (w *walker) discriminates(it *element.Element, s *spec.ElementNode, d spec.Discriminator, c *ctx) verdict {
	ts := w.targetAt(s, d.Path)
	if len(ts) == 0 {
		return uninformed
	}
	values, ok := w.evalPath(it, d.Path)
	if !ok {
		return noMatch
	}
	return w.judge(ts, values, d, c)
}

func (w *walker) judge(ts []target, values []*element.Element, d spec.Discriminator, c *ctx) verdict {
	switch d.Type {
	case "value", "pattern":
		informed := false
		for _, t := range ts {
			switch {
			case t.value != nil:
				informed = true
				for _, v := range values {
					if matches(v, t.value, t.exact && d.Type == "value") {
						return matched
					}
				}
			case t.extURL != "":
				informed = true
				for _, v := range values {
					if v.HasValue && v.Value == t.extURL {
						return matched
					}
				}
			case t.node != nil && t.node.Def.Binding != nil && t.node.Def.Binding.Strength == "required":
				informed = true
				if w.inValueSet(values, t.node.Def.Binding.ValueSet) {
					return matched
				}
			}
		}
		if informed {
			return noMatch
		}
		// No value at the path, but constraints below it: the value matches
		// if it conforms to them.
		if t := ts[0]; t.node != nil && (len(t.node.Children) > 0 || len(t.node.Slices) > 0) {
			for _, v := range values {
				if w.conformsTo(v, t.node, c) {
					return matched
				}
			}
			return noMatch
		}
		return uninformed
	}
	t := ts[0]
	switch d.Type {
	case "exists":
		if t.node == nil {
			return noMatch
		}
		if t.node.Def.Max == "0" {
			return verdictOf(len(values) == 0)
		}
		if minOf(t.node.Def) > 0 {
			return verdictOf(len(values) > 0)
		}
		return uninformed
	case "type":
		if t.node == nil || len(values) == 0 {
			return noMatch
		}
		var codes []string
		if t.resolved {
			for _, tr := range t.node.Def.Type {
				for _, p := range tr.TargetProfile {
					if ti, ok := w.v.reg.TypeInfo(stripVersion(p)); ok {
						codes = append(codes, ti.Type)
					}
				}
			}
		} else {
			for _, tr := range t.node.Def.Type {
				codes = append(codes, tr.FHIRType())
			}
		}
		for _, v := range values {
			for _, code := range codes {
				if v.Type == code || w.v.reg.IsSubtype(v.Type, code) {
					return matched
				}
			}
		}
		return noMatch
	case "profile":
		if t.node == nil || len(values) == 0 {
			return noMatch
		}
		var profiles []string
		for _, tr := range t.node.Def.Type {
			if t.resolved {
				profiles = append(profiles, tr.TargetProfile...)
			} else {
				profiles = append(profiles, tr.Profile...)
			}
		}
		if len(profiles) == 0 {
			return noMatch
		}
		for _, v := range values {
			for _, p := range profiles {
				if isCoreTypeURL(p, v.Type) || w.conforms(v, p) {
					return matched
				}
			}
		}
		return noMatch
	}
	return noMatch
}

func (w *walker) inValueSet(values []*element.Element, vs string) bool {
	for _, v := range values {
		switch v.Type {
		case "code":
			if r := w.v.term.ValidateBareCode(vs, v.Value); r.Checked && r.Valid {
				return true
			}
		case "Coding":
			if matchesCodingIn(w, v, vs) {
				return true
			}
		case "CodeableConcept":
			for _, cd := range v.Child("coding") {
				if matchesCodingIn(w, cd, vs) {
					return true
				}
			}
		}
	}
	return false
}

func matchesCodingIn(w *walker, cd *element.Element, vs string) bool {
	sys, code := "", ""
	if x := cd.First("system"); x != nil {
		sys = x.Value
	}
	if x := cd.First("code"); x != nil {
		code = x.Value
	}
	r := w.v.term.ValidateCode(vs, sys, code, "")
	return r.Checked && r.Valid
}

// evalPath evaluates a discriminator path on an item; only elements count.
func (w *walker) evalPath(it *element.Element, path string) ([]*element.Element, bool) {
	path = strings.TrimSpace(path)
	if path == "$this" || path == "" {
		return []*element.Element{it}, true
	}
	if !strings.ContainsAny(path, "().$") {
		var out []*element.Element
		for _, ch := range it.Children {
			if ch.Name == path {
				out = append(out, ch)
			}
		}
		return out, true
	}
	cx := compileExpr(path)
	if cx.err != nil {
		return nil, false
	}
	r, err := cx.expr.Evaluate(&w.env, fhirpath.Collection{it})
	if err != nil {
		return nil, false
	}
	out := make([]*element.Element, 0, len(r))
	for _, x := range r {
		if e, ok := x.(*element.Element); ok {
			out = append(out, e)
		}
	}
	return out, true
}

// steps splits a discriminator path at the dots outside parentheses and
// quotes.
func steps(path string) []string {
	var out []string
	depth, quote, start := 0, false, 0
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '\'':
			quote = !quote
		case quote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '.' && depth == 0:
			out = append(out, path[start:i])
			start = i + 1
		}
	}
	return append(out, path[start:])
}

// targetAt walks a slice's definitions along a discriminator path. Where
// the path runs through an element that is itself sliced (bp's
// component slicing on code.coding.code, with the code fixed in a coding
// slice), each slice is followed as well, so several targets may come back.
func (w *walker) targetAt(s *spec.ElementNode, path string) []target {
	key := targetKey{s, path}
	if v, ok := w.v.targets.Load(key); ok {
		return v.([]target)
	}
	ts := w.findTargets(s, path)
	w.v.targets.Store(key, ts)
	return ts
}

type targetKey struct {
	n    *spec.ElementNode
	path string
}

func (w *walker) findTargets(s *spec.ElementNode, path string) []target {
	t := target{node: s}
	t.value, t.exact = nodeValue(s)
	t.extURL = extensionURL(s)
	cur := []target{t}
	for _, st := range steps(strings.TrimSpace(path)) {
		var next []target
		for _, t := range cur {
			next = append(next, w.step(t, st)...)
		}
		if len(next) == 0 {
			return nil
		}
		if len(next) > 16 {
			next = next[:16]
		}
		cur = next
	}
	return cur
}

// step follows one discriminator path step from a target.
func (w *walker) step(t target, st string) []target {
	switch {
	case st == "$this" || st == "":
		return []target{t}
	case st == "resolve()":
		t.resolved = true
		return []target{t}
	case strings.HasPrefix(st, "ofType(") || strings.HasPrefix(st, "as("):
		return []target{t}
	case strings.HasPrefix(st, "extension(") || strings.HasPrefix(st, "modifierExtension("):
		name := st[:strings.IndexByte(st, '(')]
		url := strings.Trim(st[len(name)+1:len(st)-1], "'\" ")
		next := w.childOf(t.node, name)
		if next == nil {
			return nil
		}
		for _, sl := range next.Slices {
			if extensionURL(sl) == url {
				v, exact := nodeValue(sl)
				return []target{{node: sl, value: v, exact: exact, extURL: url}}
			}
		}
		return nil
	}
	// A plain element name.
	var sub any
	if m, ok := t.value.(map[string]any); ok {
		sub = m[st]
		if arr, ok := sub.([]any); ok && len(arr) == 1 {
			sub = arr[0]
		}
	}
	var next *spec.ElementNode
	if t.node != nil {
		next = w.childOf(t.node, st)
	}
	if st == "url" && t.extURL != "" && (next == nil || !hasValue(next)) {
		return []target{{node: next, extURL: t.extURL}}
	}
	if next != nil {
		if v, exact := nodeValue(next); v != nil {
			return []target{{node: next, value: v, exact: exact}}
		}
	}
	if next == nil && sub == nil {
		return nil
	}
	out := []target{{node: next, value: sub, exact: t.exact}}
	if next != nil && sub == nil {
		for _, sl := range next.Slices {
			v, exact := nodeValue(sl)
			out = append(out, target{node: sl, value: v, exact: exact, extURL: extensionURL(sl)})
		}
	}
	return out
}

func hasValue(n *spec.ElementNode) bool {
	v, _ := nodeValue(n)
	return v != nil
}

// childOf finds the child called name of a definition node, looking into
// the type profile of the node when its children are not listed.
func (w *walker) childOf(n *spec.ElementNode, name string) *spec.ElementNode {
	if n == nil {
		return nil
	}
	if len(n.Children) > 0 {
		c, _ := n.Child(name)
		if c == nil {
			c, _ = n.Child(name + "[x]")
		}
		if c == nil {
			for _, ch := range n.Children {
				if ch.Name == name+"[x]" {
					c = ch
				}
			}
		}
		return c
	}
	for _, t := range n.Def.Type {
		for _, p := range t.Profile {
			cp := w.v.compile(stripVersion(p))
			if cp.err == nil {
				return w.childOf(cp.x.Root, name)
			}
		}
	}
	return nil
}

// nodeValue is the fixed or pattern value of a definition, decoded.
func nodeValue(n *spec.ElementNode) (any, bool) {
	if n == nil || len(n.Def.Values) == 0 {
		return nil, false
	}
	if _, raw, ok := n.Def.Value("fixed"); ok {
		return decodeValue(raw), true
	}
	if _, raw, ok := n.Def.Value("pattern"); ok {
		return decodeValue(raw), false
	}
	return nil, false
}

// extensionURL is the url an extension slice stands for: its fixed url, or
// the profile of its type.
func extensionURL(n *spec.ElementNode) string {
	if n == nil {
		return ""
	}
	for _, c := range n.Children {
		if c.Name == "url" {
			if _, raw, ok := c.Def.Value("fixed"); ok {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					return s
				}
			}
		}
	}
	for _, t := range n.Def.Type {
		if t.Code == "Extension" && len(t.Profile) > 0 {
			return stripVersion(t.Profile[0])
		}
	}
	return ""
}

// badDiscriminator reports, once per slice, a slice that no element can
// match because the profile gives nothing to match at the discriminator
// path: a defect of the profile, not of the instance.
func (w *walker) badDiscriminator(it *element.Element, s *spec.ElementNode, d spec.Discriminator, c *ctx) {
	key := c.url + "|" + s.Def.ID + "|" + d.Type + ":" + d.Path
	if w.reported == nil {
		w.reported = map[string]bool{}
	}
	if w.reported[key] || w.quiet > 0 {
		return
	}
	w.reported[key] = true
	w.add(it, issue.Warning, "profile-slice-discriminator", "processing",
		fmt.Sprintf("the slice %s can match nothing: the profile sets no fixed value, pattern, binding or type at its %s discriminator path '%s'%s",
			s.Def.ID, d.Type, d.Path, c.from()),
		"correct the profile: constrain the element at the discriminator path in each slice", c.url)
}
