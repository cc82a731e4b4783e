package invariant

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/fhirpath"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
	"github.com/sandkasse/sandkasse/validator/structure"
)

var dom3Cases = []string{
	`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"x"}]}`,
	`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"x"}],"managingOrganization":{"reference":"#o"}}`,
	`{"resourceType":"Patient","contained":[{"resourceType":"Organization","name":"x"}]}`,
	`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"o","name":"x","partOf":{"reference":"#"}}]}`,
	`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"a","name":"x"},{"resourceType":"Organization","id":"b","name":"y","partOf":{"reference":"#a"}}]}`,
	`{"resourceType":"Patient","contained":[{"resourceType":"Organization","id":"a","name":"x"},{"resourceType":"Organization","id":"b","name":"y","partOf":{"reference":"#a"}}],"managingOrganization":{"reference":"#b"}}`,
	`{"resourceType":"Questionnaire","status":"draft","contained":[{"resourceType":"ValueSet","id":"vs","status":"draft"}],"item":[{"linkId":"1","type":"choice","answerValueSet":"#vs"}]}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p"}],"extension":[{"url":"http://x","valueUri":"#p"}]}`,
}

// The Go dom-3 must answer as its FHIRPath does.
func TestNativeDom3AgreesWithFHIRPath(t *testing.T) {
	reg := r4.NewRegistry()
	expr := fhirpath.MustCompile(errata["dom-3"].use)
	inputs := append([][]byte(nil), toBytes(dom3Cases)...)
	if dir := os.Getenv("SANDKASSE_BENCH_CORPUS"); dir != "" {
		if f, err := os.Open(filepath.Join(dir, "examples.ndjson")); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				inputs = append(inputs, append([]byte(nil), sc.Bytes()...))
			}
			f.Close()
		}
	}
	fails := 0
	for i, in := range inputs {
		doc, err := fhirjson.Parse(in, fhirjson.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st := structure.Build(doc, reg, structure.Limits{})
		for _, r := range st.Resources {
			if r.Name == "contained" {
				continue
			}
			want, err := expr.EvalTri(&fhirpath.Env{Model: reg}, fhirpath.Collection{r})
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			got := containedReferenced(r)
			if got != (want != fhirpath.False) {
				t.Errorf("input %d %s: Go says %v, FHIRPath %v", i, r.Path(), got, want)
			}
			if !got {
				fails++
			}
		}
	}
	if fails == 0 {
		t.Error("no input fails dom-3: the comparison proves nothing")
	}
	t.Logf("%d inputs, %d dom-3 failures, Go and FHIRPath agree", len(inputs), fails)
}

func toBytes(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

var ref1Cases = []string{
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#p"}}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p"}],"subject":{"reference":"#p"}}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"#"}}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/1"}}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"display":"x"}}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p","generalPractitioner":[{"reference":"#o"}]},{"resourceType":"Organization","id":"o"}],"subject":{"reference":"#p"}}`,
	`{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p","generalPractitioner":[{"reference":"#zz"}]}],"subject":{"reference":"#p"}}`,
	`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:6b1c3e0e-1f8e-4c55-9a49-51d2a2a5c3a1","resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Patient","id":"p"}],"subject":{"reference":"#p"},"performer":[{"reference":"#q"}]}}]}`,
}

// The Go ref-1 must answer as its FHIRPath does, on every Reference.
func TestNativeRef1AgreesWithFHIRPath(t *testing.T) {
	reg := r4.NewRegistry()
	expr := fhirpath.MustCompile(nativeText["ref-1"])
	var m memo
	fails := 0
	for i, in := range ref1Cases {
		doc, err := fhirjson.Parse([]byte(in), fhirjson.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st := structure.Build(doc, reg, structure.Limits{})
		for _, s := range st.Sites {
			if s.Elem.Type != "Reference" {
				continue
			}
			want, err := expr.EvalTri(&fhirpath.Env{Model: reg}, fhirpath.Collection{s.Elem})
			if err != nil {
				t.Fatalf("input %d: %v", i, err)
			}
			got := localReferenceResolves(s.Elem, &m)
			if got != (want != fhirpath.False) {
				t.Errorf("input %d %s: Go says %v, FHIRPath %v", i, s.Elem.Path(), got, want)
			}
			if !got {
				fails++
			}
		}
	}
	if fails < 3 {
		t.Errorf("only %d failing references: the comparison proves little", fails)
	}
}

// The Go dom-6 and bdl-5 must answer as their FHIRPath does wherever they
// apply in the examples and in small cases that break them.
func TestNativeExistenceRulesAgreeWithFHIRPath(t *testing.T) {
	reg := r4.NewRegistry()
	inputs := toBytes([]string{
		`{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}`,
		`{"resourceType":"Patient","text":{"status":"generated","extension":[{"url":"http://x","valueString":"y"}]}}`,
		`{"resourceType":"Patient","active":true}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:6b1c3e0e-1f8e-4c55-9a49-51d2a2a5c3a1"},{"request":{"method":"GET","url":"Patient"}},{"response":{"status":"200"}},{"link":[{"relation":"self","url":"http://x"}]}]}`,
	})
	if dir := os.Getenv("SANDKASSE_BENCH_CORPUS"); dir != "" {
		if f, err := os.Open(filepath.Join(dir, "examples.ndjson")); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 64<<20)
			for sc.Scan() {
				inputs = append(inputs, append([]byte(nil), sc.Bytes()...))
			}
			f.Close()
		}
	}
	checked := map[string][2]int{}
	for i, in := range inputs {
		doc, err := fhirjson.Parse(in, fhirjson.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st := structure.Build(doc, reg, structure.Limits{})
		for _, s := range st.Sites {
			for _, key := range []string{"dom-6", "bdl-5"} {
				if (s.Def == nil || !s.Def.HasConstraint(key)) && (s.TypeRoot == nil || !s.TypeRoot.HasConstraint(key)) {
					continue
				}
				want, err := fhirpath.MustCompile(nativeText[key]).EvalTri(&fhirpath.Env{Model: reg}, fhirpath.Collection{s.Elem})
				if err != nil {
					t.Fatalf("input %d %s: %v", i, key, err)
				}
				got := nativeRules[key](s.Elem, &memo{})
				if got != (want != fhirpath.False) {
					t.Errorf("input %d %s %s: Go says %v, FHIRPath %v", i, key, s.Elem.Path(), got, want)
				}
				n := checked[key]
				if got {
					n[0]++
				} else {
					n[1]++
				}
				checked[key] = n
			}
		}
	}
	for _, key := range []string{"dom-6", "bdl-5"} {
		if n := checked[key]; n[0] == 0 || n[1] == 0 {
			t.Errorf("%s: %d passing and %d failing cases: the comparison proves little", key, n[0], n[1])
		}
	}
	t.Logf("checked (pass, fail): %v", checked)
}

// bdl-3 and bdl-4 in Go must answer as their FHIRPath does wherever Go
// decides, and leave the rest to it.
func TestNativeBundleEntryRulesAgreeWithFHIRPath(t *testing.T) {
	reg := r4.NewRegistry()
	var inputs []string
	for _, typ := range []string{`"type":"batch",`, `"type":"transaction",`, `"type":"history",`, `"type":"searchset",`,
		`"type":"batch-response",`, `"type":"transaction-response",`, `"type":"collection",`, ``,
		`"_type":{"extension":[{"url":"http://x","valueString":"y"}]},`, `"type":"batch","_type":{"id":"t"},`} {
		for _, entries := range []string{``, `,"entry":[{"request":{"method":"GET","url":"Patient"}}]`,
			`,"entry":[{"response":{"status":"200"}}]`, `,"entry":[{"fullUrl":"urn:uuid:6b1c3e0e-1f8e-4c55-9a49-51d2a2a5c3a1"}]`,
			`,"entry":[{"request":{"method":"GET","url":"Patient"},"response":{"status":"200"}},{"request":{"method":"GET","url":"Patient"}}]`,
			`,"entry":[{"request":{"method":"GET","url":"Patient"}},{"fullUrl":"urn:uuid:6b1c3e0e-1f8e-4c55-9a49-51d2a2a5c3a1"}]`} {
			inputs = append(inputs, `{"resourceType":"Bundle",`+typ+`"id":"b"`+entries+`}`)
		}
	}
	decided := map[bool]int{}
	for i, in := range inputs {
		doc, err := fhirjson.Parse([]byte(in), fhirjson.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		st := structure.Build(doc, reg, structure.Limits{})
		b := st.Root
		for _, key := range []string{"bdl-3", "bdl-4"} {
			want, err := fhirpath.MustCompile(nativeText[key]).EvalTri(&fhirpath.Env{Model: reg}, fhirpath.Collection{b})
			if err != nil {
				t.Fatalf("input %d %s: %v", i, key, err)
			}
			got, ok := nativeDeciding[key](b)
			if !ok {
				decided[false]++
				continue
			}
			decided[true]++
			if got != (want != fhirpath.False) {
				t.Errorf("input %d %s (%s): Go says %v, FHIRPath %v", i, key, in, got, want)
			}
		}
	}
	if decided[true] < 80 || decided[false] == 0 {
		t.Errorf("decided %d, left to FHIRPath %d: the cases do not cover both", decided[true], decided[false])
	}
}

// bdl-2 and bdl-7 in Go must answer as their FHIRPath does wherever Go
// decides, and leave the rest to it.
func TestNativeBundleSearchAndFullUrlRulesAgreeWithFHIRPath(t *testing.T) {
	reg := r4.NewRegistry()
	const u1, u2 = `"urn:uuid:6b1c3e0e-1f8e-4c55-9a49-51d2a2a5c3a1"`, `"urn:uuid:0d0c1f7e-1f8e-4c55-9a49-51d2a2a5c3a1"`
	entry := func(fullUrl, version string, search bool) string {
		var parts []string
		switch fullUrl {
		case "":
		case "ext":
			parts = append(parts, `"_fullUrl":{"extension":[{"url":"http://x","valueString":"y"}]}`)
		default:
			parts = append(parts, `"fullUrl":`+fullUrl)
		}
		switch version {
		case "":
			parts = append(parts, `"resource":{"resourceType":"Patient","id":"p"}`)
		case "ext":
			parts = append(parts, `"resource":{"resourceType":"Patient","meta":{"_versionId":{"extension":[{"url":"http://x","valueString":"y"}]}}}`)
		default:
			parts = append(parts, `"resource":{"resourceType":"Patient","meta":{"versionId":"`+version+`"}}`)
		}
		if search {
			parts = append(parts, `"search":{"mode":"match"}`)
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	var entrySets []string
	for _, a := range []string{u1, u2, "", "ext"} {
		for _, av := range []string{"", "1", "ext"} {
			for _, b := range []string{u1, "", "ext"} {
				for _, bv := range []string{"", "1", "2"} {
					for _, search := range []bool{false, true} {
						entrySets = append(entrySets, `,"entry":[`+entry(a, av, false)+`,`+entry(b, bv, search)+`]`)
					}
				}
			}
		}
	}
	entrySets = append(entrySets, ``, `,"entry":[{"fullUrl":`+u1+`},{"fullUrl":`+u1+`}]`,
		// fullUrl's "1" and versionId's "1" make the same string as a fullUrl ending in 1.
		`,"entry":[{"fullUrl":"urn:x:a1"},{"fullUrl":"urn:x:a","resource":{"resourceType":"Patient","meta":{"versionId":"1"}}}]`)
	var inputs []string
	for _, typ := range []string{`"type":"searchset",`, `"type":"history",`, `"type":"transaction",`, `"type":"collection",`, ``,
		`"_type":{"extension":[{"url":"http://x","valueString":"y"}]},`, `"type":"batch","_type":{"id":"t"},`} {
		for _, entries := range entrySets {
			inputs = append(inputs, `{"resourceType":"Bundle",`+typ+`"id":"b"`+entries+`}`)
		}
	}
	decided := map[string][3]int{} // decided and passing, decided and failing, left to FHIRPath
	for i, in := range inputs {
		doc, err := fhirjson.Parse([]byte(in), fhirjson.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		b := structure.Build(doc, reg, structure.Limits{}).Root
		for _, key := range []string{"bdl-2", "bdl-7"} {
			n := decided[key]
			want, err := fhirpath.MustCompile(nativeText[key]).EvalTri(&fhirpath.Env{Model: reg}, fhirpath.Collection{b})
			got, ok := nativeDeciding[key](b)
			switch {
			case !ok:
				n[2]++
			case err != nil:
				t.Errorf("input %d %s (%s): Go decides %v where FHIRPath fails: %v", i, key, in, got, err)
			case got != (want != fhirpath.False):
				t.Errorf("input %d %s (%s): Go says %v, FHIRPath %v", i, key, in, got, want)
			case got:
				n[0]++
			default:
				n[1]++
			}
			decided[key] = n
		}
	}
	for key, n := range decided {
		if n[0] < 20 || n[1] < 20 || n[2] == 0 {
			t.Errorf("%s: %d passing, %d failing, %d left to FHIRPath: the cases do not cover all three", key, n[0], n[1], n[2])
		}
	}
	t.Logf("decided (pass, fail, left): %v", decided)
}
