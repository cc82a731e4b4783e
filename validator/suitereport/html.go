package suitereport

import (
	"html/template"
	"io"

	"github.com/sandkasse/sandkasse/validator/suite"
)

// The HTML report is one page with no external resources (styles inline, no
// scripts), written for a buyer who does not know FHIR: it says what was
// tested, against which rule-set release, the verdict, each requirement's
// result in plain words, and for every problem what was wrong, where, and
// how the vendor can fix it. It prints on A4.

var outcomeWords = map[suite.Outcome]string{
	suite.Pass:  "Passed",
	suite.Fail:  "Failed",
	suite.Skip:  "Not shown",
	suite.Omit:  "Not applicable",
	suite.Error: "Could not be checked",
}

var htmlTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"words": func(o suite.Outcome) string { return outcomeWords[o] },
	"app":   appLine,
	"date":  func(r *Report) string { return r.Generated.Format("2006-01-02 15:04 UTC") },
	"failed": func(t suite.TestResult) bool {
		return t.Outcome == suite.Fail || t.Outcome == suite.Error || len(t.Findings) > 0
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Verification report: {{app .}} — {{.Suite.Title}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Arial,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}h3{font-size:1.05rem;margin-bottom:.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top}th{background:#f1f1f1}
.verdict{font-size:1.3rem;font-weight:bold;padding:.8rem 1rem;border:3px solid;margin:1rem 0}
.o-pass{color:#0a5d1a;border-color:#0a5d1a}.o-fail,.o-error{color:#a00000;border-color:#a00000}.o-skip,.o-omit{color:#7a5200;border-color:#7a5200}
.badge{font-weight:bold;white-space:nowrap}
.problem{border-left:4px solid #a00000;padding:.2rem .8rem;margin:.5rem 0}.problem.warning{border-color:#7a5200}
.small{font-size:.9rem;color:#444}code{font-size:.9em;word-break:break-all}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:bold}dd{margin:0}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}.problem,tr{break-inside:avoid}a{color:inherit}}
</style>
</head>
<body>
<h1>Verification report</h1>
<p class="small">Produced by Sandkasse on {{date .}}.</p>
<dl>
<dt>App tested</dt><dd>{{app .}}</dd>
<dt>Test suite</dt><dd>{{.Suite.Title}} (<code>{{.Suite.ID}}</code>, version {{.Suite.Version}})</dd>
<dt>Rule set</dt><dd><code>{{.RuleSet.ID}}</code> version {{.RuleSet.Version}}{{with .RuleSet.Effective}}, in force from {{.}}{{end}}</dd>
{{with .RuleSet.Digest}}<dt>Rule-set fingerprint</dt><dd><code>{{.}}</code></dd>{{end}}
</dl>
<div class="verdict o-{{.Outcome}}" id="verdict">Verdict: {{.Verdict}}</div>
<p>The app's recorded traffic and the records it sent were checked automatically against the rules of the rule set named above.
{{with .Counts}}Of the tests, {{.Pass}} passed, {{.Fail}} failed, {{.Skip}} had nothing to check, {{.Omit}} did not apply and {{.Error}} could not be run.{{end}}
Only required tests decide the verdict; optional tests are reported for information.</p>

<h2>Requirements</h2>
<p>Each requirement is something the app must do. Its result combines the tests that check it.</p>
<table>
<thead><tr><th>Requirement</th><th>What it means</th><th>Result</th><th>Checked by</th></tr></thead>
<tbody>
{{range .Requirements}}<tr id="req-{{.ID}}"><td><code>{{.ID}}</code></td><td>{{.Title}}{{with .Source}}<div class="small">Source: {{.}}</div>{{end}}</td><td class="badge o-{{.Outcome}}">{{words .Outcome}}</td><td class="small">{{range $i, $t := .Tests}}{{if $i}}, {{end}}{{$t}}{{else}}no test{{end}}</td></tr>
{{end}}</tbody>
</table>

<h2>Tests</h2>
{{range .Groups}}<h3>{{.Title}}{{if .Optional}} (optional){{end}} — <span class="o-{{.Outcome}}">{{words .Outcome}}</span></h3>
<table>
<thead><tr><th>Test</th><th>Requirements</th><th>Result</th></tr></thead>
<tbody>
{{range .Tests}}<tr><td>{{.Title}}{{if .Optional}} <span class="small">(optional)</span>{{end}}<div class="small"><code>{{.ID}}</code></div></td><td>{{range $i, $q := .Requirements}}{{if $i}}, {{end}}<code>{{$q}}</code>{{end}}</td><td><span class="badge o-{{.Outcome}}">{{words .Outcome}}</span><div class="small">{{.Message}}</div></td></tr>
{{end}}</tbody>
</table>
{{end}}

<h2>What was wrong and how to fix it</h2>
{{$any := false}}{{range .Groups}}{{range .Tests}}{{if failed .}}{{$any = true}}
<h3>{{.Title}}</h3>
<p class="small">{{.Message}}</p>
{{range .Findings}}<div class="problem{{if lt .Severity 2}} warning{{end}}">
<p><strong>{{if lt .Severity 2}}Warning{{else}}Problem{{end}} ({{.RuleID}}):</strong> {{.Message}}</p>
<p class="small">Where: {{.Evidence}}{{with .Location}}, at <code>{{.}}</code>{{end}}</p>
{{with .Fix}}<p><strong>How to fix:</strong> {{.}}</p>{{end}}
</div>
{{end}}{{end}}{{end}}{{end}}{{if not $any}}<p>No problems were found.</p>{{end}}

<h2>How to read this report</h2>
<dl>
<dt>Passed</dt><dd>The app did what the rule requires in everything it sent.</dd>
<dt>Failed</dt><dd>The app broke the rule at least once; the problems above say where and how to fix them.</dd>
<dt>Not shown</dt><dd>The app never sent what the test examines, so the requirement was not demonstrated.</dd>
<dt>Not applicable</dt><dd>The test was left out because it does not apply to this app.</dd>
<dt>Could not be checked</dt><dd>The checking tool itself failed; this says nothing about the app.</dd>
</dl>
</body>
</html>
`))

func renderHTML(w io.Writer, r *Report) error { return htmlTemplate.Execute(w, r) }
