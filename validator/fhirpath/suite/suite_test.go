package suite

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
)

const mini = `<tests name="mini">
 <group name="g">
  <test name="ok"><expression>1 + 1</expression><output type="integer">2</output></test>
  <test name="wrong"><expression>1 + 1</expression><output type="integer">3</output></test>
  <test name="syntax"><expression invalid="syntax">1 +</expression></test>
  <test name="exec"><expression invalid="execution">(1 | 2).single()</expression></test>
  <test name="notInvalid"><expression invalid="execution">1</expression></test>
  <test name="untyped"><expression>1.587.lowBoundary(2)</expression><output>1.58</output></test>
  <test name="date"><expression>@2014-01-01 + 1 day</expression><output type="date">@2014-01-02</output></test>
  <test name="input" inputfile="p.xml"><expression>Patient.active</expression><output type="boolean">true</output></test>
  <test name="predicate" inputfile="p.xml" predicate="true"><expression>active</expression><output type="boolean">true</output></test>
 </group>
</tests>`

func TestRunner(t *testing.T) {
	f, err := Parse(strings.NewReader(mini))
	if err != nil {
		t.Fatal(err)
	}
	var loaded []string
	loader := func(path string) (*element.Element, error) {
		loaded = append(loaded, path)
		root := &element.Element{Name: "Patient", Type: "Patient", IsResource: true, Index: -1}
		root.Children = []*element.Element{{Name: "active", Type: "boolean", Value: "true", HasValue: true, Parent: root, Index: -1}}
		return root, nil
	}
	rep := Run(f, Options{InputDir: "in", Loader: loader})
	want := map[string]bool{"ok": true, "wrong": false, "syntax": true, "exec": true, "notInvalid": false,
		"untyped": true, "date": true, "input": true, "predicate": true}
	for _, r := range rep.Results {
		if r.Passed != want[r.Name] {
			t.Errorf("%s: passed=%v, want %v (%v / %v / %s)", r.Name, r.Passed, want[r.Name], r.Expected, r.Actual, r.Err)
		}
	}
	if len(loaded) != 1 || loaded[0] != "in/p.json" {
		t.Errorf("inputs loaded: %v (want in/p.json once)", loaded)
	}
	var buf bytes.Buffer
	rep.WriteText(&buf, true, false)
	if !strings.Contains(buf.String(), "7/9 tests passed") || !strings.Contains(buf.String(), "FAIL g/wrong") {
		t.Errorf("report:\n%s", buf.String())
	}
}
