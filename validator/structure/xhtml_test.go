package structure

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var narratives = []string{
	`<div xmlns="http://www.w3.org/1999/xhtml">Hello <b>world</b> &amp; &#229;&#x4E2D;</div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()">a</p><script>x</script></div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml">   </div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml"><img src="a.png"/></div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml"><a href="javascript:alert(1)">x</a></div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml"><table border='1'><tr><td>1</td></tr></table></div>`,
	`<div>no namespace</div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml"><b>unclosed</div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml">&nbsp;x</div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml"><!-- c -->x</div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml" xml:lang="nb">x</div> trailing`,
	`<span xmlns="http://www.w3.org/1999/xhtml">x</span>`,
	`<div xmlns="http://www.w3.org/1999/xhtml"><p a="1" a="2">x</p></div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml">&#1;</div>`,
	`<div xmlns="http://www.w3.org/1999/xhtml"><x:b xmlns:x="urn:x">y</x:b></div>`,
	// Only whitespace, written as references or Unicode spaces: no content.
	`<div xmlns="http://www.w3.org/1999/xhtml">&#x9;&#10; &#32;</div>`,
	"<div xmlns=\"http://www.w3.org/1999/xhtml\">\u00a0\u3000</div>",
	"<div xmlns=\"http://www.w3.org/1999/xhtml\">\u00a0x\u00e6</div>",
}

// The fast path must agree with encoding/xml wherever it answers.
func TestQuickXHTMLAgreesWithEncodingXML(t *testing.T) {
	inputs := append([]string(nil), narratives...)
	inputs = append(inputs, exampleNarratives(t)...)
	answered := 0
	for _, s := range inputs {
		q, ok := quickXHTML(s)
		if !ok {
			continue
		}
		answered++
		if slow := slowXHTML(s); !reflect.DeepEqual(q, slow) {
			t.Errorf("fast %v, encoding/xml %v for %.200q", q, slow, s)
		}
	}
	if answered < len(narratives)/3 {
		t.Errorf("the fast path answered only %d of %d inputs", answered, len(inputs))
	}
	t.Logf("fast path answered %d of %d narratives", answered, len(inputs))
}

// exampleNarratives reads the narratives of the R4 examples when the
// benchmark corpus is at hand.
func exampleNarratives(t *testing.T) []string {
	dir := os.Getenv("SANDKASSE_BENCH_CORPUS")
	if dir == "" {
		return nil
	}
	f, err := os.Open(filepath.Join(dir, "examples.ndjson"))
	if err != nil {
		t.Logf("no examples: %v", err)
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r struct {
			Text struct{ Div string } `json:"text"`
		}
		if json.Unmarshal(sc.Bytes(), &r) == nil && r.Text.Div != "" {
			out = append(out, r.Text.Div)
		}
	}
	return out
}

func FuzzQuickXHTML(f *testing.F) {
	for _, s := range narratives {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, ok := quickXHTML(s)
		if !ok {
			return
		}
		if slow := slowXHTML(s); !reflect.DeepEqual(q, slow) {
			t.Fatalf("fast %v, encoding/xml %v", q, slow)
		}
	})
}

func TestValidBase64(t *testing.T) {
	for s, want := range map[string]bool{
		"aGVsbG8=": true, "aGVs bG8=\n": true, "aGVsbA==": true, "aGVsbG8": false, "aGV=bG8=": false,
		"a===": false, "": false, "aGVsbG8*": false, "////": true, "aGVsbG8=aGVs": false,
		// Long enough for the eight-at-a-time loop, at several offsets.
		"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=": true, "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ": false,
		"aGVsbG8gd29y bGQgaGVsbG8gd29ybGQ=": true, "aGVsbG8gd29ybGQgaGVs*G8gd29ybGQ=": false,
		"aGVsbG8gd29ybGQgaGVsbG8gd29ybA==": true, "aGVsbG8gd29ybGQgaGVsbG8gd29yb===": false,
		"aGVsbG8gd29ybA==aGVsbG8gd29ybGQ=": false, "aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=\n": true,
	} {
		if got := validBase64(s); got != want {
			t.Errorf("validBase64(%q) = %v, want %v", s, got, want)
		}
	}
}

// The fast path's switches must say what the tables say.
func TestAllowedSwitchesMatchTables(t *testing.T) {
	others := []string{"", "script", "style", "iframe", "DIV", "on", "onclick", "xml", "diva", "spa"}
	for name := range allowedXHTML {
		others = append(others, name, name+"x", name[:len(name)-1])
	}
	for name := range allowedAttr {
		others = append(others, name, name+"x", name[:len(name)-1])
	}
	for _, name := range others {
		if allowedElement(name) != allowedXHTML[name] {
			t.Errorf("element %q: switch %v, table %v", name, allowedElement(name), allowedXHTML[name])
		}
		if allowedAttribute(name) != allowedAttr[name] {
			t.Errorf("attribute %q: switch %v, table %v", name, allowedAttribute(name), allowedAttr[name])
		}
	}
}
