package element

import (
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	pat := &Element{Name: "Patient", Type: "Patient", Index: -1, IsResource: true}
	id := &Element{Name: "identifier", Type: "Identifier", Index: 0, Parent: pat}
	val := &Element{Name: "value", Type: "string", Index: -1, Parent: id}
	obs := &Element{Name: "Observation", Type: "Observation", Index: -1, IsResource: true}
	q := &Element{Name: "value", Type: "Quantity", Index: -1, Choice: true, Parent: obs}
	bundle := &Element{Name: "Bundle", Type: "Bundle", Index: -1, IsResource: true}
	entry := &Element{Name: "entry", Type: "BackboneElement", Index: 12, Parent: bundle}
	res := &Element{Name: "resource", Type: "Observation", Index: -1, Parent: entry, IsResource: true}
	subj := &Element{Name: "subject", Type: "Reference", Index: -1, Parent: res}
	for _, c := range []struct {
		e    *Element
		want string
	}{
		{pat, "Patient"}, {val, "Patient.identifier[0].value"}, {q, "Observation.value.ofType(Quantity)"},
		{subj, "Bundle.entry[12].resource.subject"},
	} {
		if got := c.e.Path(); got != c.want {
			t.Errorf("Path() = %q, want %q", got, c.want)
		}
	}
	// Deeper than the stack buffer.
	x, want := pat, []string{"Patient"}
	for i := 0; i < 40; i++ {
		x = &Element{Name: "item", Type: "BackboneElement", Index: int32(i), Parent: x}
		want = append(want, "item["+itoa(i)+"]")
	}
	if got := x.Path(); got != strings.Join(want, ".") {
		t.Errorf("deep Path() = %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = subj.Path() }); n != 1 {
		t.Errorf("Path() allocates %v times, want 1", n)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
