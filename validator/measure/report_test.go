package measure

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/internal/testtree"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

const measureURL = "http://example.org/Measure/m"

// tree builds an inline resource's tree, failing the test on any structural error.
var tree = testtree.Build

func pop(code string) string {
	return `{"code":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/measure-population","code":"` + code + `"}]}`
}

// measureJSON has two groups (g1 with two populations and a stratifier,
// g2 with one population) and the given scoring.
func measureJSON(scoring string) string {
	return `{"resourceType":"Measure","url":"` + measureURL + `","status":"active",
	"scoring":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/measure-scoring","code":"` + scoring + `"}]},
	"group":[
	  {"code":{"coding":[{"system":"http://example.org/g","code":"g1"}]},
	   "population":[` + pop("numerator") + `},` + pop("denominator") + `},` + pop("measure-observation") + `}],
	   "stratifier":[{"id":"s1","code":{"text":"age"}}]},
	  {"code":{"coding":[{"system":"http://example.org/g","code":"g2"}]},"population":[` + pop("initial-population") + `}]}]}`
}

func run(t *testing.T, scoring, rtype, groups string) []string {
	t.Helper()
	reg := r4.NewRegistry()
	reg.AddResource("Measure", measureURL, []byte(measureJSON(scoring)))
	mr := tree(t, reg, `{"resourceType":"MeasureReport","status":"complete","type":"`+rtype+`","measure":"`+measureURL+`",
	"period":{"start":"2020-01-01"},"group":`+groups+`}`)
	out := []string{}
	for _, is := range CheckReport(mr, reg, func(*element.Element) (int, int) { return 1, 1 }) {
		out = append(out, is.Severity.String()+" "+is.Code+" "+is.Expression)
	}
	sort.Strings(out)
	return out
}

var g1ok = `{"code":{"coding":[{"system":"http://example.org/g","code":"g1"}]},
  "population":[` + pop("numerator") + `,"count":1},` + pop("denominator") + `,"count":2}],
  "stratifier":[{"code":[{"text":"age"}]}]`
var g2ok = `{"code":{"coding":[{"system":"http://example.org/g","code":"g2"}]},"population":[` + pop("initial-population") + `,"count":3}]`

func TestMeasureReportMatchesItsMeasure(t *testing.T) {
	cases := []struct {
		name, scoring, rtype, groups string
		want                         []string
	}{
		{"complete proportion", "proportion", "summary", `[` + g1ok + `,"measureScore":{"value":0.5}},` + g2ok + `,"measureScore":{"value":1}}]`, []string{}},
		{"cohort has no score", "cohort", "summary", `[` + g1ok + `,"measureScore":{"value":5}},` + g2ok + `}]`,
			[]string{"error measurereport-score MeasureReport.group[0].measureScore"}},
		{"proportion needs a score in 0..1 without a unit", "proportion", "summary",
			`[` + g1ok + `,"measureScore":{"value":1.5,"unit":"%"}},` + g2ok + `}]`,
			[]string{"error measurereport-score MeasureReport.group[0].measureScore.unit", "error measurereport-score MeasureReport.group[0].measureScore.value", "error measurereport-score MeasureReport.group[1]"}},
		{"data-collection may leave groups out", "cohort", "data-collection", `[` + g2ok + `}]`, []string{}},
		{"missing and unknown groups", "cohort", "summary", `[` + strings.Replace(g2ok, `"g2"`, `"g9"`, 1) + `}]`,
			[]string{"error measurereport-group-missing MeasureReport", "error measurereport-group-missing MeasureReport", "error measurereport-group-unknown MeasureReport.group[0]"}},
		{"group twice", "cohort", "summary", `[` + g1ok + `},` + g1ok + `},` + g2ok + `}]`,
			[]string{"error measurereport-group-duplicate MeasureReport.group[1]"}},
		{"populations: missing, unknown, no count", "cohort", "summary",
			`[{"code":{"coding":[{"system":"http://example.org/g","code":"g1"}]},"population":[` + pop("numerator") + `},` + pop("numerator-exclusion") + `,"count":1}],"stratifier":[{"code":[{"text":"age"}]}]},` + g2ok + `}]`,
			[]string{"error measurereport-population-missing MeasureReport.group[0]", "error measurereport-population-unknown MeasureReport.group[0].population[1]", "warning measurereport-population-count MeasureReport.group[0].population[0]"}},
		{"stratifier without code, and so missing", "cohort", "summary",
			`[` + strings.Replace(g1ok, `{"code":[{"text":"age"}]}`, `{"stratum":[{"value":{"text":"x"}}]}`, 1) + `},` + g2ok + `}]`,
			[]string{"error measurereport-stratifier-code MeasureReport.group[0].stratifier[0]", "error measurereport-stratifier-missing MeasureReport.group[0]"}},
	}
	for _, c := range cases {
		if got := run(t, c.scoring, c.rtype, c.groups); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestSingleGroupsMayBeAnonymous(t *testing.T) {
	reg := r4.NewRegistry()
	mr := tree(t, reg, `{"resourceType":"MeasureReport","status":"complete","type":"summary","measure":"#m",
	"contained":[{"resourceType":"Measure","id":"m","status":"active",
	  "scoring":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/measure-scoring","code":"cohort"}]},
	  "group":[{"code":{"coding":[{"system":"http://example.org/g","code":"g1"}]},"population":[`+pop("initial-population")+`,"criteria":{"language":"text/plain","expression":"x"}}]}]}],
	"period":{"start":"2020-01-01"},"group":[{"population":[`+pop("initial-population")+`,"count":1}],"measureScore":{"value":1}}]}`)
	got := []string{}
	for _, is := range CheckReport(mr, reg, nil) {
		got = append(got, is.Code+" "+is.Expression)
	}
	if want := []string{"measurereport-score MeasureReport.group[0].measureScore"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Without the Measure nothing is checked.
	if l := CheckReport(tree(t, reg, `{"resourceType":"MeasureReport","status":"complete","type":"summary","measure":"http://example.org/none",
	"period":{"start":"2020-01-01"},"group":[{"measureScore":{"value":1}}]}`), reg, nil); len(l) != 0 {
		t.Fatalf("an unknown Measure gave %v", l)
	}
}
