package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/sandkasse/sandkasse/validator/spec"
)

// RenderOptions tune Render.
type RenderOptions struct {
	// Constrained prints only the elements the profile changes from the
	// definitions it derives from (and their ancestors), instead of the
	// whole snapshot.
	Constrained bool
}

// Render prints a profile's snapshot as an indented tree, one element per
// line: name (slices as name:slice), cardinality, types (with type and
// target profiles), must-support, fixed and pattern values, binding and
// slicing. sd must carry a snapshot (see Validator.Profile).
func Render(w io.Writer, sd *spec.StructureDefinition, opts RenderOptions) error {
	if sd == nil || sd.Snapshot == nil || len(sd.Snapshot.Element) == 0 {
		return fmt.Errorf("the profile has no snapshot to render")
	}
	x, err := spec.NewElementIndex(sd)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s (%s)\n", sd.Name, sd.URL)
	fmt.Fprintf(w, "type %s, %s of %s\n\n", sd.Type, orDash(sd.Derivation), orDash(sd.BaseDefinition))
	keep := map[*spec.ElementNode]bool{}
	if opts.Constrained {
		markConstrained(x.Root, keep, map[*spec.ElementNode]bool{})
		keep[x.Root] = true
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	open := map[*spec.ElementNode]bool{}
	var walk func(n *spec.ElementNode, depth int)
	walk = func(n *spec.ElementNode, depth int) {
		if opts.Constrained && !keep[n] {
			return
		}
		fmt.Fprintln(tw, line(n, depth))
		kids := children(n, open)
		leave := enter(n, open)
		for _, c := range kids {
			walk(c, depth+1)
		}
		leave()
		for _, s := range n.Slices {
			walk(s, depth)
		}
	}
	walk(x.Root, 0)
	return tw.Flush()
}

// children are the children shown under n. An element with a
// contentReference shares the referenced element's children; they are
// shown under it too, unless that element is already open on the way down
// (Composition.section.section), where the line's "see …" says enough and
// expanding would never end. open holds the elements above n and the
// elements their references name.
func children(n *spec.ElementNode, open map[*spec.ElementNode]bool) []*spec.ElementNode {
	if n.Ref != nil && open[n.Ref] {
		return nil
	}
	return n.Children
}

// enter marks n (and what it refers to) open and returns the undo.
func enter(n *spec.ElementNode, open map[*spec.ElementNode]bool) func() {
	added := []*spec.ElementNode{}
	for _, m := range []*spec.ElementNode{n, n.Ref} {
		if m != nil && !open[m] {
			open[m] = true
			added = append(added, m)
		}
	}
	return func() {
		for _, m := range added {
			delete(open, m)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// markConstrained marks the elements that say more than their base
// definition does, and their ancestors.
func markConstrained(n *spec.ElementNode, keep, open map[*spec.ElementNode]bool) bool {
	hit := constrained(n.Def)
	kids := children(n, open)
	leave := enter(n, open)
	for _, c := range kids {
		if markConstrained(c, keep, open) {
			hit = true
		}
	}
	leave()
	for _, s := range n.Slices {
		if markConstrained(s, keep, open) {
			hit = true
		}
	}
	if hit {
		keep[n] = true
	}
	return hit
}

func constrained(d *spec.ElementDefinition) bool {
	if d.SliceName != "" || d.MustSupport || d.Slicing != nil && !d.HasImplicitSlicing() {
		return true
	}
	if _, _, ok := d.Value("fixed"); ok {
		return true
	}
	if _, _, ok := d.Value("pattern"); ok {
		return true
	}
	if d.Base != nil {
		if minOf(d) != d.Base.Min || (d.Max != "" && d.Max != d.Base.Max) {
			return true
		}
	}
	for _, t := range d.Type {
		if len(t.Profile) > 0 {
			return true
		}
	}
	return false
}

func line(n *spec.ElementNode, depth int) string {
	d := n.Def
	name := n.Name
	if depth == 0 {
		name = d.Path
	}
	if d.SliceName != "" {
		name += ":" + d.SliceName
	}
	card := fmt.Sprintf("%d..%s", minOf(d), orDash(d.Max))
	var b strings.Builder
	b.WriteString(strings.Repeat("  ", depth))
	b.WriteString(name)
	b.WriteString("\t")
	b.WriteString(card)
	b.WriteString("\t")
	b.WriteString(types(d))
	b.WriteString("\t")
	var notes []string
	if d.MustSupport {
		notes = append(notes, "MS")
	}
	if d.ContentReference != "" {
		notes = append(notes, "see "+strings.TrimPrefix(d.ContentReference, "#"))
	}
	for _, k := range sortedValueKeys(d) {
		notes = append(notes, valueNote(k, d.Values[k]))
	}
	if d.Binding != nil && d.Binding.ValueSet != "" {
		notes = append(notes, fmt.Sprintf("binding %s %s", d.Binding.Strength, d.Binding.ValueSet))
	}
	if s := d.Slicing; s != nil {
		var ds []string
		for _, x := range s.Discriminator {
			ds = append(ds, x.Type+":"+x.Path)
		}
		sl := "sliced by " + strings.Join(ds, ", ") + " (" + orDash(s.Rules)
		if s.Ordered {
			sl += ", ordered"
		}
		notes = append(notes, sl+")")
	}
	if d.MaxLength != nil {
		notes = append(notes, fmt.Sprintf("maxLength %d", *d.MaxLength))
	}
	b.WriteString(strings.Join(notes, "; "))
	return strings.TrimRight(b.String(), "\t ")
}

func types(d *spec.ElementDefinition) string {
	var out []string
	for _, t := range d.Type {
		s := t.FHIRType()
		if len(t.Profile) > 0 {
			s += "(" + strings.Join(t.Profile, " | ") + ")"
		}
		if len(t.TargetProfile) > 0 {
			var ts []string
			for _, p := range t.TargetProfile {
				ts = append(ts, strings.TrimPrefix(p, spec.CoreBase))
			}
			s += "(" + strings.Join(ts, " | ") + ")"
		}
		out = append(out, s)
	}
	if len(out) > 8 {
		return fmt.Sprintf("%s | … (%d types)", strings.Join(out[:4], " | "), len(out))
	}
	return strings.Join(out, " | ")
}

func sortedValueKeys(d *spec.ElementDefinition) []string {
	var ks []string
	for k := range d.Values {
		if !strings.HasPrefix(k, "defaultValue") {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return ks
}

func valueNote(k string, raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		buf.Reset()
		buf.Write(raw)
	}
	v := buf.String()
	if len(v) > 80 {
		v = v[:79] + "…"
	}
	switch {
	case strings.HasPrefix(k, "fixed"):
		return "fixed " + v
	case strings.HasPrefix(k, "pattern"):
		return "pattern " + v
	case strings.HasPrefix(k, "minValue"):
		return "min " + v
	case strings.HasPrefix(k, "maxValue"):
		return "max " + v
	}
	return k + " " + v
}
