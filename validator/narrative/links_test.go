package narrative

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
	"github.com/sandkasse/sandkasse/validator/structure"
)

// check builds the typed tree of a resource and checks the links of every
// resource in it, as the validator does.
func check(t *testing.T, js string) []string {
	t.Helper()
	doc, err := fhirjson.Parse([]byte(js), fhirjson.Limits{})
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, js)
	}
	st := structure.Build(doc, r4.NewRegistry(), structure.Limits{})
	if st.Issues.HasErrors() {
		t.Fatalf("test input is not structurally valid:\n%v\n%s", st.Issues, js)
	}
	out := []string{}
	nl := Links{Root: st.Root}
	for _, r := range st.Resources {
		for _, is := range nl.Check(r, func(*element.Element) (int, int) { return 1, 1 }) {
			out = append(out, is.Code+" "+is.Expression+" "+is.Message[:strings.Index(is.Message, ")")+1])
		}
	}
	return out
}

func patient(div string, extra string) string {
	b, _ := json.Marshal(`<div xmlns="http://www.w3.org/1999/xhtml">` + div + `</div>`)
	return `{"resourceType":"Patient","id":"p1","text":{"status":"generated","div":` + string(b) + `}` + extra + `}`
}

func TestInternalLinks(t *testing.T) {
	cases := []struct {
		name, js string
		want     []string
	}{
		{"no links", patient(`<p>Nothing # here</p>`, ""), []string{}},
		{"spaces around =", patient(`<a href = '#zz'>x</a>`, ""),
			[]string{"narrative-link-unresolved Patient.text.div internal hyperlink 1 of the narrative (at div/a)"}},
		{"css colour and plain href", patient(`<p style="color: #eeeeee"><a href="x">#</a></p>`, ""), []string{}},
		{"external and bare links are not checked", patient(`<a href="http://x/#y">a</a><a href="#">b</a><a href="y.html#z">c</a>`, ""), []string{}},
		{"anchor by name", patient(`<a name="top"> </a><p><a href="#top">up</a></p>`, ""), []string{}},
		{"anchor by id", patient(`<table><tr id="r1"><td><a href='#r1'>x</a></td></tr></table>`, ""), []string{}},
		{"resource id", patient(`<a href="#p1">me</a>`, ""), []string{}},
		{"element id", patient(`<a href="#n1">name</a>`, `,"name":[{"id":"n1","family":"x"}]`), []string{}},
		{"contained resource id", patient(`<a href="#o1">org</a>`, `,"contained":[{"resourceType":"Organization","id":"o1","name":"x"}]`), []string{}},
		{"dangling", patient(`<table><tr><td><a href="#nowhere">x</a></td></tr></table><br/><a href="#top">y</a><a name="top"/>`, ""),
			[]string{"narrative-link-unresolved Patient.text.div internal hyperlink 1 of the narrative (at div/table/tr/td/a)"}},
		{"path ends after closed tags", patient(`<p><b>x</b><br/><a href="#a/b">y</a></p><!-- <a href="#c"> -->`, ""),
			[]string{"narrative-link-unresolved Patient.text.div internal hyperlink 1 of the narrative (at div/p/a)"}},
		{"contained narrative", patient(`<p>x</p>`, `,"contained":[{"resourceType":"Organization","id":"o1","name":"x",
			"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"#gone\">x</a></div>"}}]`),
			[]string{"narrative-link-unresolved Patient.contained[0].text.div internal hyperlink 1 of the narrative (at div/a)"}},
	}
	for _, c := range cases {
		if got := check(t, c.js); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestBundleEntriesLinkToEachOther(t *testing.T) {
	js := `{"resourceType":"Bundle","type":"collection","entry":[
	  {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a","resource":{"resourceType":"Patient","id":"a",
	    "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><a href=\"#b\">b</a><a href=\"#c\">c</a><a href=\"#d\">d</a></div>"}}},
	  {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0b","resource":{"resourceType":"Patient","id":"b"}},
	  {"fullUrl":"urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0c","resource":{"resourceType":"Patient","id":"x",
	    "text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>c <span id=\"d\">d</span></p></div>"}}}]}`
	want := []string{"narrative-link-unresolved Bundle.entry[0].resource.text.div internal hyperlink 2 of the narrative (at div/a)"}
	if got := check(t, js); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestMayLinkInside(t *testing.T) {
	for s, want := range map[string]bool{
		`<a href="#x">`: true, `<a href='#x'>`: true, `<a href =  "#x">`: true, `<a href="x#y">`: false,
		`<p style="color:#fff">`: false, `href`: false, `href="`: false, `<a href="#">`: true, `x href="y" href="#z"`: true,
		"<a href\n=\t'#x'>": true, `<a href=="#x">`: false, `#`: false, `"#`: false, `="#`: false,
	} {
		if got := mayLinkInside(s); got != want {
			t.Errorf("mayLinkInside(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzScanXHTML: any text, well-formed or not, is scanned without a panic
// or a hang, and what it reports comes from the text.
func FuzzScanXHTML(f *testing.F) {
	for _, s := range []string{`<div><a href="#x">y</a></div>`, `<a href='#`, `<!--`, `<a b c=>`, `</></>`, `<a/><b id="q"/>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scanXHTML(s, func(l link) {
			if !strings.Contains(s, "#"+l.target) {
				t.Fatalf("link target %q not in the text", l.target)
			}
			// The gate must never hide a link the scan would find.
			if !mayLinkInside(s) {
				t.Fatalf("mayLinkInside is false but the scan found a link to %q", l.target)
			}
		}, func(v string) {
			if !strings.Contains(s, v) {
				t.Fatalf("anchor %q not in the text", v)
			}
		})
	})
}
