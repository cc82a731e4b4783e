package fhirjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKeepsPositionsAndNumbers(t *testing.T) {
	src := "{\n  \"resourceType\": \"Observation\",\n  \"valueDecimal\": 1.50,\n  \"naïve\": [true, null]\n}"
	doc, err := Parse([]byte(src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v := doc.Root.Get("valueDecimal")
	if v == nil || v.Kind != Number || v.Str != "1.50" {
		t.Fatalf("decimal kept as %+v, want literal 1.50", v)
	}
	if l, c := doc.Position(v.Off); l != 3 || c != 19 {
		t.Errorf("valueDecimal at %d:%d, want 3:19", l, c)
	}
	arr := doc.Root.Get("naïve")
	if arr == nil || len(arr.Items) != 2 || arr.Items[1].Kind != Null {
		t.Fatalf("array parsed as %+v", arr)
	}
	// Columns count characters: ï is two bytes but one column.
	if l, c := doc.Position(arr.Items[0].Off); l != 4 || c != 13 {
		t.Errorf("array item at %d:%d, want 4:13", l, c)
	}
}

func TestParseErrorsNameWhatAndWhere(t *testing.T) {
	cases := []struct {
		name, src, code, msg string
		line, col            int
	}{
		{"trailing comma in object", "{\"a\": 1,\n}", "json-syntax", "trailing comma", 2, 1},
		{"trailing comma in array", "[1,]", "json-syntax", "trailing comma", 1, 4},
		{"comment", "{\n // x\n\"a\":1}", "json-syntax", "comments are not allowed", 2, 2},
		{"unterminated string", "{\"a\": \"abc", "json-syntax", "unterminated string", 1, 7},
		{"bad literal", "{\"a\": tru}", "json-syntax", "expected true", 1, 7},
		{"leading zero", "[01]", "json-syntax", "leading zeros", 1, 2},
		{"control char", "[\"a\tb\"]", "json-syntax", "control character", 1, 4},
		{"invalid utf8", "[\"a\xffb\"]", "json-utf8", "invalid UTF-8", 1, 4},
		{"lone surrogate", `["\ud800"]`, "json-utf8", "surrogate", 1, 3},
		{"content after value", "{} {}", "json-syntax", "after the end", 1, 4},
		{"empty input", "", "json-syntax", "unexpected end", 1, 1},
		{"missing colon", `{"a" 1}`, "json-syntax", "expected ':'", 1, 6},
		{"bad escape", `["\q"]`, "json-syntax", "invalid escape", 1, 3},
		{"invalid utf8 after an escape", "[\"a\\\"b long enough for a word \xff\"]", "json-utf8", "invalid UTF-8", 1, 31},
		{"truncated character before the quote", "[\"abcdefghij\xc3\"]", "json-utf8", "invalid UTF-8", 1, 13},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.src), Limits{})
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SyntaxError", err)
			}
			if se.Code != c.code || !strings.Contains(se.Message, c.msg) || se.Line != c.line || se.Column != c.col {
				t.Errorf("got %s %d:%d %q, want %s %d:%d containing %q", se.Code, se.Line, se.Column, se.Message, c.code, c.line, c.col, c.msg)
			}
		})
	}
}

func TestParseErrorsNameTheElement(t *testing.T) {
	const pat = `{"resourceType":"Patient",`
	cases := []struct{ name, src, path string }{
		{"missing comma between members", pat + `"name":[{"family":"x" "given":["y"]}]}`, "Patient.name[0]"},
		{"unquoted item", pat + `"name":[{"given":[Sarah]}]}`, "Patient.name[0].given[0]"},
		{"second item", pat + `"name":[{"given":["a", Sarah]}]}`, "Patient.name[0].given[1]"},
		{"unquoted member value", pat + `"address":[{"city": Oslo}]}`, "Patient.address[0].city"},
		{"unquoted member name", pat + `"address":[{city: "Oslo"}]}`, "Patient.address[0]"},
		{"missing comma in an array", pat + `"name":[{"given":["a" "b"]}]}`, "Patient.name[0].given"},
		{"primitive extension", pat + `"_birthDate":{"extension":[}}`, "Patient.birthDate.extension[0]"},
		{"nested resource", `{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient","active":tru}}]}`,
			"Bundle.entry[0].resource.active"},
		{"at the root", pat + `"id":"a" "active":true}`, "Patient"},
		{"too deep", pat + `"a":[[[[1]]]]}`, "Patient.a[0][0][0]"},
		{"resourceType not read yet", `{"id":"a" "resourceType":"Patient"}`, "Patient"},
		{"comment before the root", "// c\n{\"resourceType\":\"Patient\"}", "Patient"},
		{"unquoted resourceType", "{\n resourceType : \"Patient\", \"id\":\"a\"}", "Patient"},
		{"resourceType after a comment and a nested one", "{\"contained\":[{\"resourceType\":\"Organization\"}] /* x */, \"resourceType\":\"Patient\"}", "Patient"},
		{"resourceType only nested", `{"a":x, "contained":[{"resourceType":"Organization"}]}`, ""},
		{"resourceType not letters", `{"a":x, "resourceType":"Pa tient"}`, ""},
		{"unterminated string before it", `{"a":"x, "resourceType":"Patient"}`, ""},
		{"resourceType not a string", `{"resourceType":1, "id":x}`, ""},
		{"root not an object", `[1 2]`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.src), Limits{MaxDepth: 4})
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a SyntaxError", err)
			}
			if se.Path != c.path {
				t.Errorf("path %q, want %q (%s %d:%d %s)", se.Path, c.path, se.Code, se.Line, se.Column, se.Message)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	_, err := Parse([]byte(deep), Limits{})
	var se *SyntaxError
	if !errors.As(err, &se) || se.Code != "json-depth" {
		t.Fatalf("100,000-deep nesting: got %v, want json-depth", err)
	}
	ok := strings.Repeat("[", 10) + strings.Repeat("]", 10)
	if _, err := Parse([]byte(ok), Limits{MaxDepth: 10}); err != nil {
		t.Errorf("depth 10 with limit 10 refused: %v", err)
	}
	if _, err := Parse([]byte("["+ok+"]"), Limits{MaxDepth: 10}); err == nil {
		t.Error("depth 11 with limit 10 accepted")
	}
	big := bytes.Repeat([]byte(" "), 101)
	big[0] = '1'
	if _, err := Parse(big, Limits{MaxBytes: 100}); !errors.As(err, &se) || se.Code != "json-size" {
		t.Errorf("oversized document: got %v, want json-size", err)
	}
}

func TestParseAllowComments(t *testing.T) {
	src := "{\n // a comment\n \"a\": /* inline */ 1 /* after */\n}"
	if _, err := Parse([]byte(src), Limits{}); err == nil {
		t.Fatal("comments accepted without AllowComments")
	}
	doc, err := Parse([]byte(src), Limits{AllowComments: true})
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.Root.Get("a"); v == nil || v.Str != "1" {
		t.Fatalf("a = %+v", v)
	}
	if _, err := Parse([]byte("{/* open"), Limits{AllowComments: true}); err == nil {
		t.Error("unterminated comment accepted")
	}
}

func TestParseDuplicates(t *testing.T) {
	doc, err := Parse([]byte(`{"a":1,"b":2,"a":3}`), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Duplicates) != 1 || doc.Duplicates[0].Name != "a" {
		t.Fatalf("duplicates = %+v, want one 'a'", doc.Duplicates)
	}
}

func TestParseAgreesWithEncodingJSON(t *testing.T) {
	inputs := []string{
		`{"s":"\u00e6\u00f8\u00e5 \ud83d\ude00 \" \\ \/ \b\f\n\r\t","n":[-0,1e10,-2.5E-3,0.0],"o":{"x":[{},[]]},"t":true,"f":false,"z":null}`,
		`"plain"`, `  12  `, `[]`,
		// Escaped strings are decoded in place, in the tree's copy of the
		// input: neighbours, keys and repeated escapes must come out whole.
		`{"k\"1":"a\"b","k2":"plain","\u00e6":"\u00e6x\ud83d\ude00z\\","n":1.50,"x":["\n","","\"\"\"","after"]}`,
	}
	for _, in := range inputs {
		doc, err := Parse([]byte(in), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var want any
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatal(err)
		}
		if got := toAny(doc.Root); !jsonEqual(got, want) {
			t.Errorf("%s: got %#v want %#v", in, got, want)
		}
	}
}

func toAny(n *Node) any {
	switch n.Kind {
	case Null:
		return nil
	case Bool:
		return n.Str == "true"
	case Number:
		var f float64
		_ = json.Unmarshal([]byte(n.Str), &f)
		return f
	case String:
		return n.Str
	case Array:
		out := []any{}
		for _, it := range n.Items {
			out = append(out, toAny(it))
		}
		return out
	default:
		out := map[string]any{}
		for _, f := range n.Fields {
			out[f.Name] = toAny(f.Value)
		}
		return out
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// FuzzParse: never panics, and agrees with encoding/json on what is JSON.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"resourceType":"Patient","name":[{"given":["a",null]}],"_birthDate":{"id":"x"}}`,
		`[1,2,{"a":"\u00e6"}]`, `{"a":1,}`, "[\"\xff\"]", `{"a":"\ud800"}`, `-0.5e+3`, `[[[[[]]]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := Parse(data, Limits{MaxDepth: 64})
		stdValid := json.Valid(data)
		if err == nil && !stdValid {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Line < 1 || se.Column < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			// encoding/json accepts lone surrogates (replacing them) and
			// has no depth limit of 64; everything else it accepts we must.
			if stdValid && se.Code == "json-syntax" {
				t.Fatalf("refused valid JSON %q: %v", data, err)
			}
			return
		}
		// Escaped strings are decoded in place in the tree's copy of the
		// input, so the whole tree must equal encoding/json's reading.
		var want any
		if json.Unmarshal(data, &want) == nil {
			if got := toAny(doc.Root); !jsonEqual(got, want) {
				t.Fatalf("%q: got %#v want %#v", data, got, want)
			}
		}
	})
}

// The tree must not share memory with the caller's buffer, which a
// scanner reuses for the next line.
func TestParseDoesNotAliasInput(t *testing.T) {
	in := []byte(`{"a":"plain","b":"esc\"aped","c":12.5}`)
	doc, err := Parse(in, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = 'x'
	}
	if a, b, c := doc.Root.Get("a").Str, doc.Root.Get("b").Str, doc.Root.Get("c").Str; a != "plain" || b != `esc"aped` || c != "12.5" {
		t.Fatalf("values changed with the caller's buffer: %q %q %q", a, b, c)
	}
}

// Positions must be the same however the offsets are asked for: in order,
// backwards or at random, on short and on very long (checkpointed) lines.
func TestPositionOrderIndependent(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"a":[`)
	for i := 0; i < 3000; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"æø` + strings.Repeat("x", i%7) + `"`)
	}
	b.WriteString("],\n\"b\": \"å\"}")
	data := []byte(b.String())
	doc, err := Parse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var offs []int32
	for _, it := range doc.Root.Get("a").Items {
		offs = append(offs, it.Off)
	}
	offs = append(offs, doc.Root.Get("b").Off)
	want := func(off int32) (int, int) {
		line, col := 1, 1
		for _, r := range string(data[:off]) {
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return line, col
	}
	check := func(order []int) {
		for _, i := range order {
			l, c := doc.Position(offs[i])
			wl, wc := want(offs[i])
			if l != wl || c != wc {
				t.Fatalf("offset %d: got %d:%d, want %d:%d", offs[i], l, c, wl, wc)
			}
		}
	}
	n := len(offs)
	fwd, back, mixed := make([]int, n), make([]int, n), make([]int, n)
	for i := range offs {
		fwd[i], back[i], mixed[i] = i, n-1-i, (i*7919)%n
	}
	check(fwd)
	check(back)
	check(mixed)
}

func TestValueEnd(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{`{"a":"}\"]"} tail`, 12},
		{`[1,[2],{"b":[]}],`, 16},
		{`{}`, 2},
		{`"x\"y",`, 6},
		{`-12.5e3]`, 7},
		{`true,`, 4},
	} {
		if got := ValueEnd([]byte(tc.in), 0); got != tc.want {
			t.Errorf("ValueEnd(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// plainRun must stop where a byte-by-byte scan stops, at every alignment.
func TestPlainRunAgreesWithByteScan(t *testing.T) {
	stops := []byte{'"', '\\', 0, 0x1f, '\n'}
	fill := []byte("abcdefghijklmnopqrstuvwxyz0123456789 ~\x7f")
	for n := 0; n < 40; n++ {
		for at := 0; at <= n; at++ {
			for _, stop := range stops {
				for _, hi := range []bool{false, true} {
					d := make([]byte, n)
					for k := range d {
						d[k] = fill[(k*7+n)%len(fill)]
					}
					if hi && n > 0 {
						d[(at+n-1)%n] = 0xc3
					}
					if at < n {
						d[at] = stop
					}
					for i := 0; i <= n; i++ {
						wantEnd, wantHigh := i, false
						for wantEnd < n && !stringStop[d[wantEnd]] {
							wantHigh = wantHigh || d[wantEnd] >= 0x80
							wantEnd++
						}
						if end, high := plainRun(d, i); end != wantEnd || high != wantHigh {
							t.Fatalf("plainRun(%q, %d) = %d %v, want %d %v", d, i, end, high, wantEnd, wantHigh)
						}
					}
				}
			}
		}
	}
}

// BenchmarkParseExamples parses the peers' 706 examples (one op is one
// pass), the parse share of the validator's BenchmarkValidateExamples.
func BenchmarkParseExamples(b *testing.B) {
	dir := os.Getenv("SANDKASSE_BENCH_CORPUS")
	if dir == "" {
		b.Skip("SANDKASSE_BENCH_CORPUS is not set (see validator/bench_test.go)")
	}
	data, err := os.ReadFile(filepath.Join(dir, "examples.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	docs := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var a Arena
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range docs {
			if _, err := ParseIn(d, Limits{}, &a); err != nil {
				b.Fatal(err)
			}
			a.Release()
		}
	}
}

// After Release the arena keeps no pointer into the documents it parsed:
// its stacks are zero however far they grew.
func TestArenaReleaseClearsStacks(t *testing.T) {
	var a Arena
	for _, in := range []string{`{"a":[1,2,3,{"b":{"c":[4,5]}}],"d":6,"e":{"f":7}}`, `[1]`, `{"x":[[[[1,2,3,4,5,6,7,8]]]]}`} {
		if _, err := ParseIn([]byte(in), Limits{}, &a); err != nil {
			t.Fatal(err)
		}
		a.Release()
		for _, f := range a.fieldStack[:cap(a.fieldStack)] {
			if f.Value != nil || f.Name != "" {
				t.Fatalf("after %s: field stack keeps %+v", in, f)
			}
		}
		for _, n := range a.itemStack[:cap(a.itemStack)] {
			if n != nil {
				t.Fatalf("after %s: item stack keeps %+v", in, n)
			}
		}
	}
}

// runeCount counts the bytes that start a character, eight at a time.
func TestRuneCount(t *testing.T) {
	src := []byte("aæø€😀\xff\x80bcdefghijklmnoæææææææææ" + strings.Repeat("x€", 20) + strings.Repeat("y", 40) + "€" + strings.Repeat("z", 33))
	for i := 0; i <= len(src); i++ {
		for j := i; j <= len(src); j++ {
			want := 0
			for _, c := range src[i:j] {
				if c&0xC0 != 0x80 {
					want++
				}
			}
			if got := runeCount(src[i:j]); got != want {
				t.Fatalf("runeCount(%q) = %d, want %d", src[i:j], got, want)
			}
		}
	}
}
