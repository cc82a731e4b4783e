package policy

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

var jsonSeeds = []string{
	`{"resourceType":"Observation","valueQuantity":{"value":72.50,"code":"/min"},"x":[1,-0,1e5,2E-3,true,false,null,{}],"y":[]}`,
	`{"a":1,"a":2}`, // duplicate key: last wins
	`{"name":"Bjørn","t":"a\"b\\c\u00e6\ud83d\ude00"}`, // escapes, non-ASCII
	`{"bad":"\ud800"}`,   // lone surrogate
	"{\"inv\":\"\xff\"}", // invalid UTF-8
	`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{`, `"`, ``, `  `,
	`{"a":1} trailing`, `{"a":1}{"b":2}`, `nul`, `[[[[[]]]]]`, "\t{\"a\" :\n[ 1 , 2 ]\r}\n",
	`123`, `"s"`, `{"ctl":"a` + "\x01" + `"}`,
	`1E70000`, `{"v":[1e-40000]}`, `{"v":1e400}`, `{"v":-0.5E-7}`, // exponents the evaluator refuses, or not
}

func sameValue(t *testing.T, in []byte) {
	t.Helper()
	fast, errF := jsonValue(in)
	slow, errS := slowJSONValue(in)
	if (errF == nil) != (errS == nil) || (errF != nil && errF.Error() != errS.Error()) {
		t.Fatalf("%q: errors differ: fast %v, slow %v", in, errF, errS)
	}
	if errF == nil && fast.Compare(slow) != 0 {
		t.Fatalf("%q: fast %v, slow %v", in, fast, slow)
	}
}

// TestJSONValueMatchesDecoder holds the direct conversion to the decoder
// path on the seeds and on every JSON file of the rule sets and suites'
// test data.
func TestJSONValueMatchesDecoder(t *testing.T) {
	for _, s := range jsonSeeds {
		sameValue(t, []byte(s))
	}
	files, _ := filepath.Glob("../suite/testdata/offline/*.json")
	more, _ := filepath.Glob("../../cmd/sandkasse/testdata/verify/*/*.json")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no JSON files found")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameValue(t, b)
	}
}

func FuzzJSONValue(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameValue(t, b) })
}

// TestExchangeValueMatchesRoundTrip: the direct exchange conversion gives
// what ast.InterfaceToValue's JSON round trip gives, including empty and
// nil fields, forms, numbers and text json.Marshal would repair.
func TestExchangeValueMatchesRoundTrip(t *testing.T) {
	var body any
	if err := json.Unmarshal([]byte(`{"resourceType":"Observation","value":[1.50,{"a":null}],"b":true}`), &body); err != nil {
		t.Fatal(err)
	}
	num := map[string]any{"n": json.Number("1.50"), "bad": json.Number("x")}
	cases := []*Exchange{
		{},
		{Method: "GET", URL: "https://e.test/fhir/Patient?x=1", Path: "/fhir/Patient", Status: 200,
			Query: map[string][]string{"x": {"1", "2"}, "empty": {}, "nil": nil}, Headers: map[string][]string{"authorization": {"Bearer <t>&"}}},
		{Method: "POST", Path: "/token", Body: map[string][]string{"grant_type": {"authorization_code"}}, Status: -1},
		{Method: "POST", Path: "/x", Body: body, ResponseBody: "text\x01", ResponseHeaders: map[string][]string{"A": {"b"}}},
		{Method: "POST", Path: "/x", Body: map[string]any{"n": json.Number("1.50")}},
		{Method: "POST", Path: "/x", Body: num},
		{Method: "POST", Path: "/x", Body: map[string]any{"n": json.Number("1E70000")}},
		{Method: "GET", Path: "/\xff"},
		{Method: "POST", Path: "/x", Body: 1.5},
		{Method: "POST", Path: "/x", Body: []string{"a"}},
		{Method: "POST", Path: "/x", Body: map[string]any{"\xff": 1}},
		{Query: map[string][]string{}, Headers: map[string][]string{}},
	}
	for _, x := range cases {
		fast, errF := exchangeValue(x)
		slow, errS := ast.InterfaceToValue(x)
		if (errF == nil) != (errS == nil) {
			t.Errorf("%+v: errors differ: fast %v, slow %v", x, errF, errS)
			continue
		}
		if errF == nil && fast.Compare(slow) != 0 {
			t.Errorf("%+v:\nfast %v\nslow %v", x, fast, slow)
		}
	}
}
