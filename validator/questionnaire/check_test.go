package questionnaire

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/internal/testtree"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

const testURL = "http://example.com/Questionnaire/t"

// tree builds an inline resource's tree, failing the test on any structural error.
var tree = testtree.Build

// run checks a response whose items are qrItems (JSON array) against a
// questionnaire whose items are qItems, and returns "severity code
// expression" for every issue, sorted.
func run(t *testing.T, qItems, qrItems, qrExtra string) []string {
	t.Helper()
	reg := r4.NewRegistry()
	q := tree(t, reg, `{"resourceType":"Questionnaire","url":"`+testURL+`","status":"active","item":`+qItems+`}`)
	if qrExtra == "" {
		qrExtra = `"status":"completed"`
	}
	items := ""
	if qrItems != "[]" {
		items = `,"item":` + qrItems
	}
	qr := tree(t, reg, `{"resourceType":"QuestionnaireResponse","questionnaire":"`+testURL+`",`+qrExtra+items+`}`)
	res := &mapResolver{qs: map[string]*element.Element{testURL: q}, reg: reg}
	return describe(CheckWith(qr, Options{Resolver: res, Registry: reg}))
}

func describe(l issue.List) []string {
	out := []string{}
	for _, is := range l {
		out = append(out, fmt.Sprintf("%s %s %s", is.Severity, is.Code, is.Expression))
	}
	sort.Strings(out)
	return out
}

type ruleCase struct {
	name    string
	q, qr   string
	qrExtra string // replaces "status":"completed"
	want    []string
}

func runCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.q, tc.qr, tc.qrExtra)
			want := append([]string{}, tc.want...)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

const qr0 = "QuestionnaireResponse"
const item0 = qr0 + ".item[0]"

func TestLinkIDsAndNesting(t *testing.T) {
	runCases(t, []ruleCase{
		{name: "known linkId", q: `[{"linkId":"q1","type":"string"}]`, qr: `[{"linkId":"q1","answer":[{"valueString":"x"}]}]`},
		{name: "unknown linkId", q: `[{"linkId":"q1","type":"string"}]`, qr: `[{"linkId":"q2","answer":[{"valueString":"x"}]}]`,
			want: []string{"error qr-linkid-unknown " + qr0}},
		{name: "misplaced item", q: `[{"linkId":"g","type":"group","item":[{"linkId":"q1","type":"string"}]}]`,
			qr:   `[{"linkId":"q1","answer":[{"valueString":"x"}]}]`,
			want: []string{"error qr-item-misplaced " + qr0}},
		{name: "out of order", q: `[{"linkId":"a","type":"string"},{"linkId":"b","type":"string"}]`,
			qr:   `[{"linkId":"b","answer":[{"valueString":"x"}]},{"linkId":"a","answer":[{"valueString":"y"}]}]`,
			want: []string{"error qr-item-order " + qr0}},
		{name: "group items nested under item", q: `[{"linkId":"g","type":"group","item":[{"linkId":"q1","type":"string","required":true}]}]`,
			qr: `[{"linkId":"g","item":[{"linkId":"q1","answer":[{"valueString":"x"}]}]}]`},
		{name: "group with answers", q: `[{"linkId":"g","type":"group","item":[{"linkId":"q1","type":"string","required":true}]}]`,
			qr:   `[{"linkId":"g","answer":[{"item":[{"linkId":"q1","answer":[{"valueString":"x"}]}]}]}]`,
			want: []string{"error qr-group-answer " + item0, "error qr-required-missing " + item0}},
		{name: "question children under answer", q: `[{"linkId":"q","type":"boolean","item":[{"linkId":"q1","type":"string"}]}]`,
			qr: `[{"linkId":"q","answer":[{"valueBoolean":true,"item":[{"linkId":"q1","answer":[{"valueString":"x"}]}]}]}]`},
		{name: "question children under item", q: `[{"linkId":"q","type":"boolean","item":[{"linkId":"q1","type":"string"}]}]`,
			qr:   `[{"linkId":"q","answer":[{"valueBoolean":true}],"item":[{"linkId":"q1","answer":[{"valueString":"x"}]}]}]`,
			want: []string{"error qr-question-items " + item0}},
		{name: "display with answer", q: `[{"linkId":"d","type":"display"}]`, qr: `[{"linkId":"d","answer":[{"valueString":"x"}]}]`,
			want: []string{"error qr-display-answer " + item0}},
		{name: "text matches", q: `[{"linkId":"q1","type":"string","text":"Name"}]`, qr: `[{"linkId":"q1","text":"Name","answer":[{"valueString":"x"}]}]`},
		{name: "text differs", q: `[{"linkId":"q1","type":"string","text":"Name"}]`, qr: `[{"linkId":"q1","text":"Other","answer":[{"valueString":"x"}]}]`,
			want: []string{"error qr-item-text " + item0}},
	})
}

func TestRequiredAndRepeats(t *testing.T) {
	req := `[{"linkId":"q1","type":"string","required":true}]`
	runCases(t, []ruleCase{
		{name: "required answered", q: req, qr: `[{"linkId":"q1","answer":[{"valueString":"x"}]}]`},
		{name: "required absent completed", q: req + ``, qr: `[]`, want: []string{"error qr-required-missing " + qr0}},
		{name: "required absent in progress", q: req, qr: `[]`, qrExtra: `"status":"in-progress"`,
			want: []string{"warning qr-required-missing " + qr0}},
		{name: "required without answer", q: req, qr: `[{"linkId":"q1"}]`, want: []string{"error qr-required-missing " + item0}},
		{name: "two answers, not repeating", q: req, qr: `[{"linkId":"q1","answer":[{"valueString":"x"},{"valueString":"y"}]}]`,
			want: []string{"error qr-answer-repeats " + item0}},
		{name: "two answers in progress still an error", q: req, qrExtra: `"status":"in-progress"`,
			qr:   `[{"linkId":"q1","answer":[{"valueString":"x"},{"valueString":"y"}]}]`,
			want: []string{"error qr-answer-repeats " + item0}},
		{name: "two answers, repeating", q: `[{"linkId":"q1","type":"string","repeats":true}]`,
			qr: `[{"linkId":"q1","answer":[{"valueString":"x"},{"valueString":"y"}]}]`},
		{name: "two items, not repeating", q: `[{"linkId":"g","type":"group","item":[{"linkId":"q1","type":"string"}]}]`,
			qr:   `[{"linkId":"g","item":[{"linkId":"q1","answer":[{"valueString":"x"}]}]},{"linkId":"g","item":[{"linkId":"q1","answer":[{"valueString":"y"}]}]}]`,
			want: []string{"error qr-item-repeats " + qr0}},
		{name: "minOccurs unmet", q: `[{"linkId":"q1","type":"string","repeats":true,"extension":[{"url":"` + extMinOccurs + `","valueInteger":2}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueString":"x"}]}]`, want: []string{"error qr-min-occurs " + item0}},
		{name: "minOccurs met", q: `[{"linkId":"q1","type":"string","repeats":true,"extension":[{"url":"` + extMinOccurs + `","valueInteger":2}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueString":"x"},{"valueString":"y"}]}]`},
		{name: "maxOccurs exceeded", q: `[{"linkId":"q1","type":"string","repeats":true,"extension":[{"url":"` + extMaxOccurs + `","valueInteger":1}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueString":"x"},{"valueString":"y"}]}]`, want: []string{"error qr-max-occurs " + item0}},
	})
}

func TestEnableWhen(t *testing.T) {
	q := `[{"linkId":"a","type":"boolean"},
	       {"linkId":"b","type":"string","required":true,"enableWhen":[{"question":"a","operator":"=","answerBoolean":true}]}]`
	all := `[{"linkId":"n0","type":"integer"},{"linkId":"n1","type":"integer"},
	       {"linkId":"n2","type":"integer","required":true,"enableBehavior":"all","enableWhen":[
	         {"question":"n0","operator":"=","answerInteger":1},{"question":"n1","operator":">","answerInteger":1}]}]`
	runCases(t, []ruleCase{
		{name: "enabled and answered", q: q, qr: `[{"linkId":"a","answer":[{"valueBoolean":true}]},{"linkId":"b","answer":[{"valueString":"x"}]}]`},
		{name: "enabled and missing", q: q, qr: `[{"linkId":"a","answer":[{"valueBoolean":true}]}]`,
			want: []string{"error qr-required-missing " + qr0}},
		{name: "disabled and missing", q: q, qr: `[{"linkId":"a","answer":[{"valueBoolean":false}]}]`},
		{name: "disabled but answered", q: q, qr: `[{"linkId":"a","answer":[{"valueBoolean":false}]},{"linkId":"b","answer":[{"valueString":"x"}]}]`,
			want: []string{"error qr-item-not-enabled " + qr0 + ".item[1]"}},
		{name: "all: one condition false", q: all, qr: `[{"linkId":"n0","answer":[{"valueInteger":1}]},{"linkId":"n1","answer":[{"valueInteger":0}]}]`},
		{name: "all: both true", q: all, qr: `[{"linkId":"n0","answer":[{"valueInteger":1}]},{"linkId":"n1","answer":[{"valueInteger":2}]}]`,
			want: []string{"error qr-required-missing " + qr0}},
		{name: "exists", q: `[{"linkId":"a","type":"string"},{"linkId":"b","type":"string","required":true,"enableWhen":[{"question":"a","operator":"exists","answerBoolean":true}]}]`,
			qr: `[]`},
	})
}

func TestAnswerTypes(t *testing.T) {
	coding := `{"valueCoding":{"system":"http://example.org","code":"1"}}`
	for typ, good := range map[string]string{
		"boolean": `{"valueBoolean":true}`, "decimal": `{"valueDecimal":1.5}`, "integer": `{"valueInteger":1}`,
		"date": `{"valueDate":"2020-01-01"}`, "dateTime": `{"valueDateTime":"2020-01-01T10:00:00Z"}`, "time": `{"valueTime":"10:00:00"}`,
		"string": `{"valueString":"x"}`, "text": `{"valueString":"x\ny"}`, "url": `{"valueUri":"http://x.org"}`,
		"attachment": `{"valueAttachment":{"contentType":"text/plain"}}`, "reference": `{"valueReference":{"reference":"Patient/1"}}`,
		"quantity": `{"valueQuantity":{"value":1}}`,
	} {
		q := `[{"linkId":"q1","type":"` + typ + `"}]`
		runCases(t, []ruleCase{
			{name: typ + " right type", q: q, qr: `[{"linkId":"q1","answer":[` + good + `]}]`},
			{name: typ + " wrong type", q: q, qr: `[{"linkId":"q1","answer":[` + coding + `]}]`,
				want: []string{"error qr-answer-type " + item0 + ".answer[0].value.ofType(Coding)"}},
		})
	}
	runCases(t, []ruleCase{
		{name: "choice takes string", q: `[{"linkId":"q1","type":"choice"}]`, qr: `[{"linkId":"q1","answer":[{"valueString":"x"}]}]`,
			want: []string{"information qr-no-options " + item0 + ".answer[0]"}},
		{name: "choice rejects boolean", q: `[{"linkId":"q1","type":"choice"}]`, qr: `[{"linkId":"q1","answer":[{"valueBoolean":true}]}]`,
			want: []string{"error qr-answer-type " + item0 + ".answer[0].value.ofType(boolean)"}},
		{name: "newline in string warns", q: `[{"linkId":"q1","type":"string"}]`, qr: `[{"linkId":"q1","answer":[{"valueString":"a\nb"}]}]`,
			want: []string{"warning qr-string-newline " + item0 + ".answer[0].value.ofType(string)"}},
	})
}

func TestAnswerOptions(t *testing.T) {
	codings := `[{"linkId":"q1","type":"choice","repeats":true,"answerOption":[
	  {"valueCoding":{"system":"http://example.org","code":"c1"}},
	  {"valueCoding":{"system":"http://example.org","code":"c2"},"extension":[{"url":"` + extOptionExclusive + `","valueBoolean":true}]}]}]`
	runCases(t, []ruleCase{
		{name: "coding in options", q: codings, qr: `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://example.org","code":"c1"}}]}]`},
		{name: "coding not in options", q: codings, qr: `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://example.org","code":"c9"}}]}]`,
			want: []string{"error qr-answer-option " + item0 + ".answer[0]"}},
		{name: "exclusive alone", q: codings, qr: `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://example.org","code":"c2"}}]}]`},
		{name: "exclusive with another", q: codings,
			qr:   `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://example.org","code":"c1"}},{"valueCoding":{"system":"http://example.org","code":"c2"}}]}]`,
			want: []string{"error qr-option-exclusive " + item0 + ".answer[1]"}},
		{name: "string option", q: `[{"linkId":"q1","type":"string","answerOption":[{"valueString":"a"}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueString":"a"}]}]`},
		{name: "string not an option", q: `[{"linkId":"q1","type":"string","answerOption":[{"valueString":"a"}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueString":"b"}]}]`, want: []string{"error qr-answer-option " + item0 + ".answer[0].value.ofType(string)"}},
		{name: "integer not an option", q: `[{"linkId":"q1","type":"integer","answerOption":[{"valueInteger":1}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueInteger":2}]}]`, want: []string{"error qr-answer-option " + item0 + ".answer[0].value.ofType(integer)"}},
		{name: "date option", q: `[{"linkId":"q1","type":"date","answerOption":[{"valueDate":"2022-01-01"}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueDate":"2022-01-01"}]}]`},
		{name: "open-choice free text", q: `[{"linkId":"q1","type":"open-choice","answerOption":[{"valueCoding":{"system":"http://example.org","code":"B","display":"Blood"}}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueString":"Urine"}]}]`},
		{name: "open-choice free text spelling an option", q: `[{"linkId":"q1","type":"open-choice","answerOption":[{"valueCoding":{"system":"http://example.org","code":"B","display":"Blood"}}]}]`,
			qr: `[{"linkId":"q1","answer":[{"valueString":"Blood"}]}]`, want: []string{"warning qr-string-matches-coding " + item0 + ".answer[0]"}},
		{name: "choice without options", q: `[{"linkId":"q1","type":"choice"}]`,
			qr: `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://example.org","code":"x"}}]}]`, want: []string{"information qr-no-options " + item0 + ".answer[0]"}},
	})
}

func TestAnswerValueSet(t *testing.T) {
	// item-type is a complete code system of the R4 core, so membership and
	// display are decided locally.
	q := `[{"linkId":"q1","type":"choice","repeats":true,"answerValueSet":"http://hl7.org/fhir/ValueSet/item-type"}]`
	contained := `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"#q",
	  "contained":[{"resourceType":"Questionnaire","id":"q","status":"active","item":[{"linkId":"q1","type":"choice","answerValueSet":"#vs"}]},
	    {"resourceType":"ValueSet","id":"vs","status":"active","compose":{"include":[{"system":"http://example.org/cs","concept":[{"code":"a"},{"code":"b"}]}]}}],
	  "item":[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://example.org/cs","code":"%s"}}]}]}`
	runCases(t, []ruleCase{
		{name: "code in value set", q: q, qr: `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://hl7.org/fhir/item-type","code":"string","display":"String"}}]}]`},
		{name: "code not in value set", q: q, qr: `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://hl7.org/fhir/item-type","code":"nonsense"}}]}]`,
			want: []string{"error qr-answer-valueset " + item0 + ".answer[0]"}},
		{name: "wrong display", q: q, qr: `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://hl7.org/fhir/item-type","code":"string","display":"Other"}}]}]`,
			want: []string{"error qr-answer-valueset " + item0 + ".answer[0]"}},
		{name: "coding without system", q: q, qr: `[{"linkId":"q1","answer":[{"valueCoding":{"code":"string"}}]}]`,
			want: []string{"warning qr-coding-no-system " + item0 + ".answer[0]"}},
		{name: "unknown value set", q: `[{"linkId":"q1","type":"choice","answerValueSet":"http://example.org/vs/none"}]`,
			qr: `[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://example.org","code":"x"}}]}]`, want: []string{"warning qr-valueset-not-found " + item0 + ".answer[0]"}},
		{name: "string item against value set", q: `[{"linkId":"q1","type":"string","repeats":true,"answerValueSet":"http://hl7.org/fhir/ValueSet/item-type"}]`,
			qr:   `[{"linkId":"q1","answer":[{"valueString":"boolean"},{"valueString":"nonsense"}]}]`,
			want: []string{"error qr-answer-valueset " + item0 + ".answer[1].value.ofType(string)"}},
	})
	reg := r4.NewRegistry()
	for code, want := range map[string]string{"a": "", "z": "error qr-answer-valueset " + item0 + ".answer[0]"} {
		got := strings.Join(describe(CheckWith(tree(t, reg, fmt.Sprintf(contained, code)), Options{Registry: reg})), "\n")
		if got != want {
			t.Errorf("contained questionnaire and value set, code %s: got %q, want %q", code, got, want)
		}
	}
}

// fakeTerm decides everything, so the service's verdict is seen to win.
type fakeTerm struct{ ok bool }

func (f fakeTerm) ValidateCoding(vs, system, code, display string) (bool, bool, string) {
	return f.ok, true, "the code is not in the value set"
}

func TestTerminologyService(t *testing.T) {
	reg := r4.NewRegistry()
	q := tree(t, reg, `{"resourceType":"Questionnaire","url":"`+testURL+`","status":"active","item":[{"linkId":"q1","type":"choice","answerValueSet":"http://example.org/vs"}]}`)
	qr := tree(t, reg, `{"resourceType":"QuestionnaireResponse","questionnaire":"`+testURL+`","status":"completed","item":[{"linkId":"q1","answer":[{"valueCoding":{"system":"http://example.org","code":"x"}}]}]}`)
	res := &mapResolver{qs: map[string]*element.Element{testURL: q}, reg: reg}
	if got := Check(qr, res, fakeTerm{ok: true}, nil); len(got) != 0 {
		t.Errorf("accepted by the service: got %v", got)
	}
	if got := describe(Check(qr, res, fakeTerm{ok: false}, nil)); strings.Join(got, "") != "error qr-answer-valueset "+item0+".answer[0]" {
		t.Errorf("rejected by the service: got %v", got)
	}
}

func TestLimits(t *testing.T) {
	ext := func(url, v string) string { return `{"url":"` + url + `",` + v + `}` }
	dates := `[{"linkId":"q1","type":"date","repeats":true,"extension":[` + ext(extMinValue, `"valueDate":"2020"`) + `,` + ext(extMaxValue, `"valueDate":"2022"`) + `]}]`
	ints := `[{"linkId":"q1","type":"integer","extension":[` + ext(extMinValue, `"valueInteger":1`) + `,` + ext(extMaxValue, `"valueInteger":10`) + `]}]`
	length := `[{"linkId":"q1","type":"string","maxLength":3,"extension":[` + ext(extMinLength, `"valueInteger":2`) + `]}]`
	runCases(t, []ruleCase{
		{name: "dates within", q: dates, qr: `[{"linkId":"q1","answer":[{"valueDate":"2020"},{"valueDate":"2021-05-01"},{"valueDate":"2022"}]}]`},
		{name: "dates outside", q: dates, qr: `[{"linkId":"q1","answer":[{"valueDate":"1998"},{"valueDate":"2023-01"}]}]`,
			want: []string{"error qr-min-value " + item0 + ".answer[0].value.ofType(date)", "error qr-max-value " + item0 + ".answer[1].value.ofType(date)"}},
		{name: "integer within", q: ints, qr: `[{"linkId":"q1","answer":[{"valueInteger":10}]}]`},
		{name: "integer below", q: ints, qr: `[{"linkId":"q1","answer":[{"valueInteger":0}]}]`, want: []string{"error qr-min-value " + item0 + ".answer[0].value.ofType(integer)"}},
		{name: "length within", q: length, qr: `[{"linkId":"q1","answer":[{"valueString":"abc"}]}]`},
		{name: "too short", q: length, qr: `[{"linkId":"q1","answer":[{"valueString":"a"}]}]`, want: []string{"error qr-min-length " + item0 + ".answer[0].value.ofType(string)"}},
		{name: "too long", q: length, qr: `[{"linkId":"q1","answer":[{"valueString":"abcd"}]}]`, want: []string{"error qr-max-length " + item0 + ".answer[0].value.ofType(string)"}},
	})
}

func TestQuantity(t *testing.T) {
	ucum := func(v, code string) string {
		return `{"value":` + v + `,"system":"http://unitsofmeasure.org","code":"` + code + `"}`
	}
	limits := func(min, max string) string {
		return `[{"linkId":"q1","type":"quantity","extension":[{"url":"` + extMinQuantity + `","valueQuantity":` + min + `},{"url":"` + extMaxQuantity + `","valueQuantity":` + max + `}]}]`
	}
	ans := func(q string) string { return `[{"linkId":"q1","answer":[{"valueQuantity":` + q + `}]}]` }
	v := item0 + ".answer[0].value.ofType(Quantity)"
	runCases(t, []ruleCase{
		{name: "same unit within", q: limits(ucum("1", "kg"), ucum("10", "kg")), qr: ans(ucum("5", "kg"))},
		{name: "same unit above", q: limits(ucum("1", "kg"), ucum("10", "kg")), qr: ans(ucum("11", "kg")), want: []string{"error qr-quantity-max " + v}},
		{name: "converted within", q: limits(ucum("1", "km"), ucum("5", "km")), qr: ans(ucum("2500", "m"))},
		{name: "converted below", q: limits(ucum("1", "km"), ucum("5", "km")), qr: ans(ucum("500", "m")), want: []string{"error qr-quantity-min " + v}},
		{name: "incompatible units", q: limits(ucum("1", "km"), ucum("5", "km")), qr: ans(ucum("3", "kg")),
			want: []string{"error qr-quantity-incomparable " + v, "error qr-quantity-incomparable " + v}},
		{name: "no formal units", q: limits(`{"value":1,"unit":"kg"}`, `{"value":10,"unit":"kg"}`), qr: ans(`{"value":5,"unit":"kg"}`),
			want: []string{"error qr-quantity-incomparable " + v, "error qr-quantity-incomparable " + v}},
		{name: "unknown unit left undecided", q: limits(ucum("1", "km"), ucum("5", "km")), qr: ans(ucum("3", "[nmi_i]"))},
		{name: "unit option", q: `[{"linkId":"q1","type":"quantity","extension":[{"url":"` + extUnitOption + `","valueCoding":{"system":"http://unitsofmeasure.org","code":"km"}}]}]`,
			qr: ans(ucum("3", "km"))},
		{name: "unit not an option", q: `[{"linkId":"q1","type":"quantity","extension":[{"url":"` + extUnitOption + `","valueCoding":{"system":"http://unitsofmeasure.org","code":"km"}}]}]`,
			qr: ans(ucum("3", "kg")), want: []string{"error qr-quantity-unit " + v}},
	})
}

func TestAttachmentAndReference(t *testing.T) {
	att := func(exts string) string {
		return `[{"linkId":"q1","type":"attachment","extension":[` + exts + `]}]`
	}
	// "aGVsbG8=" is five bytes.
	ans := func(a string) string { return `[{"linkId":"q1","answer":[{"valueAttachment":` + a + `}]}]` }
	mime := `{"url":"` + extMimeType + `","valueCode":"image/*"}`
	size := `{"url":"` + extMaxSize + `","valueDecimal":4}`
	ref := func(types ...string) string {
		var exts []string
		for _, t := range types {
			exts = append(exts, `{"url":"`+extReferenceResource+`","valueCode":"`+t+`"}`)
		}
		if len(exts) == 0 {
			return `[{"linkId":"q1","type":"reference"}]`
		}
		return `[{"linkId":"q1","type":"reference","extension":[` + strings.Join(exts, ",") + `]}]`
	}
	rans := func(r string) string {
		return `[{"linkId":"q1","answer":[{"valueReference":{"reference":"` + r + `"}}]}]`
	}
	v := item0 + ".answer[0].value.ofType(Reference)"
	runCases(t, []ruleCase{
		{name: "mime allowed", q: att(mime), qr: ans(`{"contentType":"image/png"}`)},
		{name: "mime not allowed", q: att(mime), qr: ans(`{"contentType":"application/pdf"}`), want: []string{"error qr-attachment-type " + item0 + ".answer[0]"}},
		{name: "small enough", q: att(size), qr: ans(`{"contentType":"text/plain","data":"aGVsbA=="}`)},
		{name: "too large", q: att(size), qr: ans(`{"contentType":"text/plain","data":"aGVsbG8="}`), want: []string{"error qr-attachment-size " + item0 + ".answer[0]"}},
		// A wrong stated size and a reference to no resource type are the
		// datatype and reference passes' findings; reporting them here too
		// would list them twice.
		{name: "stated size wrong is not reported here", q: att(mime), qr: ans(`{"contentType":"image/png","data":"aGVsbG8=","size":6}`)},
		{name: "reference type allowed", q: ref("Patient", "Practitioner"), qr: rans("https://example.org/fhir/Practitioner/1/_history/2")},
		{name: "reference type not allowed", q: ref("Patient"), qr: rans("Organization/1"), want: []string{"error qr-reference-type " + v}},
		{name: "reference not a resource type is not reported here", q: ref(), qr: rans("Chicken/1")},
	})
}

func TestResolution(t *testing.T) {
	reg := r4.NewRegistry()
	res := &mapResolver{qs: map[string]*element.Element{}, reg: reg}
	for canonical, want := range map[string]string{
		"http://example.com/none": "warning qr-questionnaire-not-found " + qr0,
		"http://example.org/none": "information qr-questionnaire-not-found " + qr0,
		"#missing":                "warning qr-questionnaire-not-found " + qr0,
		"http://hl7.org/fhir/ValueSet/administrative-gender": "error qr-questionnaire-wrong-type " + qr0 + ".questionnaire\nwarning qr-questionnaire-not-found " + qr0,
	} {
		qr := tree(t, reg, `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"`+canonical+`"}`)
		if got := strings.Join(describe(CheckWith(qr, Options{Resolver: res, Registry: reg})), "\n"); got != want {
			t.Errorf("%s: got %q, want %q", canonical, got, want)
		}
	}
	if got := Check(tree(t, reg, `{"resourceType":"Patient"}`), res, nil, nil); got != nil {
		t.Errorf("a Patient is not checked: %v", got)
	}
	period := tree(t, reg, `{"resourceType":"Questionnaire","url":"`+testURL+`","status":"active","effectivePeriod":{"start":"2021","end":"2021-12-11"}}`)
	res.qs[testURL] = period
	for authored, want := range map[string]string{
		"2021-06-01":           "",
		"2021-12-11T23:00:00Z": "",
		"2020-12-31":           "warning qr-authored-before-period " + qr0 + ".authored",
		"2021-12-12":           "warning qr-authored-after-period " + qr0 + ".authored",
	} {
		qr := tree(t, reg, `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"`+testURL+`","authored":"`+authored+`"}`)
		if got := strings.Join(describe(CheckWith(qr, Options{Resolver: res, Registry: reg})), "\n"); got != want {
			t.Errorf("authored %s: got %q, want %q", authored, got, want)
		}
	}
}

// TestMessagesDoNotEchoAnswers guards the rule that patient data (answers)
// never reaches a message.
func TestMessagesDoNotEchoAnswers(t *testing.T) {
	const secret = "SECRET-ANSWER-7731"
	reg := r4.NewRegistry()
	q := tree(t, reg, `{"resourceType":"Questionnaire","url":"`+testURL+`","status":"active","item":[
	  {"linkId":"s","type":"string","maxLength":2,"answerOption":[{"valueString":"a"}],"answerValueSet":"http://hl7.org/fhir/ValueSet/item-type"},
	  {"linkId":"c","type":"open-choice","answerOption":[{"valueCoding":{"system":"http://example.org","code":"x","display":"`+secret+`"}}]},
	  {"linkId":"r","type":"reference","extension":[{"url":"`+extReferenceResource+`","valueCode":"Patient"}]}]}`)
	qr := tree(t, reg, `{"resourceType":"QuestionnaireResponse","questionnaire":"`+testURL+`","status":"completed","item":[
	  {"linkId":"s","answer":[{"valueString":"`+secret+`"}]},
	  {"linkId":"c","answer":[{"valueString":"`+secret+`"}]},
	  {"linkId":"r","answer":[{"valueReference":{"reference":"Secret `+secret+`/1"}}]}]}`)
	res := &mapResolver{qs: map[string]*element.Element{testURL: q}, reg: reg}
	got := CheckWith(qr, Options{Resolver: res, Registry: reg})
	if len(got) < 4 {
		t.Fatalf("expected several findings, got %v", got)
	}
	for _, is := range got {
		if strings.Contains(is.Message, secret) || strings.Contains(is.Message, "Secret") {
			t.Errorf("message echoes the answer: %s", is)
		}
	}
}

func TestCheckQuestionnaire(t *testing.T) {
	reg := r4.NewRegistry()
	for name, tc := range map[string]struct{ items, want string }{
		"earlier target": {`[{"linkId":"a","type":"boolean"},{"linkId":"b","type":"string","enableWhen":[{"question":"a","operator":"exists","answerBoolean":true}]}]`, ""},
		"parent target":  {`[{"linkId":"g","type":"boolean","item":[{"linkId":"b","type":"string","enableWhen":[{"question":"g","operator":"exists","answerBoolean":true}]}]}]`, ""},
		"later target": {`[{"linkId":"b","type":"string","enableWhen":[{"question":"a","operator":"exists","answerBoolean":true}]},{"linkId":"a","type":"boolean"}]`,
			"warning q-enablewhen-after Questionnaire.item[0]"},
		"missing target": {`[{"linkId":"b","type":"string","enableWhen":[{"question":"zz","operator":"exists","answerBoolean":true}]}]`,
			"error q-enablewhen-no-target Questionnaire.item[0]"},
		"self": {`[{"linkId":"b","type":"string","enableWhen":[{"question":"b","operator":"exists","answerBoolean":true}]}]`,
			"error q-enablewhen-self Questionnaire.item[0]"},
		"que-12": {`[{"linkId":"a","type":"boolean"},{"linkId":"b","type":"boolean"},{"linkId":"c","type":"string","enableWhen":[{"question":"a","operator":"exists","answerBoolean":true},{"question":"b","operator":"exists","answerBoolean":true}]}]`,
			"error que-12 Questionnaire.item[2]"},
		"que-12 with behavior": {`[{"linkId":"a","type":"boolean"},{"linkId":"b","type":"boolean"},{"linkId":"c","type":"string","enableBehavior":"any","enableWhen":[{"question":"a","operator":"exists","answerBoolean":true},{"question":"b","operator":"exists","answerBoolean":true}]}]`, ""},
		"inner": {`[{"linkId":"g","type":"group","enableWhen":[{"question":"c","operator":"exists","answerBoolean":true}],"item":[{"linkId":"c","type":"string"}]}]`,
			"error q-enablewhen-inner Questionnaire.item[0]"},
	} {
		q := tree(t, reg, `{"resourceType":"Questionnaire","status":"active","item":`+tc.items+`}`)
		if got := strings.Join(describe(CheckQuestionnaire(q, nil)), "\n"); got != tc.want {
			t.Errorf("%s: got %q, want %q", name, got, tc.want)
		}
	}
}
