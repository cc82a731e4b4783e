package suite

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/policy"
)

// Validator is the FHIR validator as the runner needs it.
type Validator interface {
	Validate(ctx context.Context, resource []byte) issue.List
}

// ValidatorFunc adapts a function to Validator.
type ValidatorFunc func(ctx context.Context, resource []byte) issue.List

// Validate calls f.
func (f ValidatorFunc) Validate(ctx context.Context, b []byte) issue.List { return f(ctx, b) }

// Runner runs suites over recorded inputs.
type Runner struct {
	// Engine holds the rule set's policies; nil fails every test with rules
	// as an error.
	Engine *policy.Engine
	// Validator checks resources for tests with validate: true; nil makes
	// those tests errors.
	Validator Validator
	// Omit lists test ids that do not apply to this app.
	Omit map[string]bool
	// Jobs bounds how many inputs are evaluated at once (policies and the
	// validator); 0 means GOMAXPROCS. Engine is safe for concurrent use and
	// so is validator.Validator; a Validator of another kind must be too,
	// or Jobs must be 1. The result does not depend on Jobs.
	Jobs int
}

// Finding is one problem a test found, with its evidence.
type Finding struct {
	RuleID   string         `json:"ruleId"`
	Severity issue.Severity `json:"severity"`
	Location string         `json:"location,omitempty"` // FHIRPath, or exchange.<field>
	Message  string         `json:"message"`
	Fix      string         `json:"fix,omitempty"`
	Evidence string         `json:"evidence"` // the input file and, for exchanges, the request
	File     string         `json:"file"`     // the input file alone
}

// TestResult is one test's outcome.
type TestResult struct {
	ID           string    `json:"id"`
	Title        string    `json:"title"`
	Optional     bool      `json:"optional,omitempty"`
	Requirements []string  `json:"requirements"`
	Outcome      Outcome   `json:"outcome"`
	Message      string    `json:"message,omitempty"`
	Inputs       int       `json:"inputs"`
	Findings     []Finding `json:"findings,omitempty"`
}

// GroupResult is one group's outcome.
type GroupResult struct {
	ID       string       `json:"id"`
	Title    string       `json:"title"`
	Optional bool         `json:"optional,omitempty"`
	Outcome  Outcome      `json:"outcome"`
	Tests    []TestResult `json:"tests"`
}

// Result is a suite run.
type Result struct {
	SuiteID      string        `json:"suite"`
	SuiteVersion string        `json:"suiteVersion"`
	Title        string        `json:"title"`
	RuleSet      string        `json:"ruleset"`
	Outcome      Outcome       `json:"outcome"`
	Groups       []GroupResult `json:"groups"`
}

// Tests returns every test result with its effective optionality (a test in
// an optional group is optional to the suite).
func (r *Result) Tests() []TestResult {
	var out []TestResult
	for _, g := range r.Groups {
		for _, t := range g.Tests {
			t.Optional = t.Optional || g.Optional
			out = append(out, t)
		}
	}
	return out
}

// Requirement rolls up the tests that claim a requirement.
func (r *Result) Requirement(id string) (Outcome, []string) {
	var cs []Child
	var ids []string
	for _, t := range r.Tests() {
		for _, q := range t.Requirements {
			if q == id {
				cs = append(cs, Child{Outcome: t.Outcome, Optional: t.Optional})
				ids = append(ids, t.ID)
			}
		}
	}
	return Rollup(cs), ids
}

// evalCache holds each input's policy findings and validation, by index in
// the recording, so that an input several tests examine is evaluated once.
// Run fills it up front, in parallel; runTest computes what is missing (after
// a cancellation) in order.
type evalCache struct {
	policy []issue.List
	perr   []error
	pdone  []bool
	valid  []issue.List
	vdone  []bool
}

func newEvalCache(n int) *evalCache {
	return &evalCache{policy: make([]issue.List, n), perr: make([]error, n), pdone: make([]bool, n),
		valid: make([]issue.List, n), vdone: make([]bool, n)}
}

// Run runs every test of s over rec. It never blocks on missing input: a
// test whose selectors match nothing is skip, and the context bounds
// evaluation.
func (r *Runner) Run(ctx context.Context, s *Suite, rec *Recording) *Result {
	if rec == nil {
		rec = &Recording{}
	}
	res := &Result{SuiteID: s.ID, SuiteVersion: s.Version, Title: s.Title, RuleSet: s.RuleSet}
	xc := newEvalCache(len(rec.Exchanges))
	rc := newEvalCache(len(rec.Resources))
	matches := make([][]match, len(s.Groups))
	for gi, g := range s.Groups {
		matches[gi] = make([]match, len(g.Tests))
		for ti := range g.Tests {
			m := &matches[gi][ti]
			m.xs, m.rs = g.Tests[ti].match(rec)
		}
	}
	r.prefetch(ctx, s, rec, matches, xc, rc)
	var gcs []Child
	for gi, g := range s.Groups {
		gr := GroupResult{ID: g.ID, Title: g.Title, Optional: g.Optional}
		var cs []Child
		for i := range g.Tests {
			t := &g.Tests[i]
			tr := r.runTest(ctx, t, rec, matches[gi][i], xc, rc)
			gr.Tests = append(gr.Tests, tr)
			cs = append(cs, Child{Outcome: tr.Outcome, Optional: t.Optional})
		}
		gr.Outcome = Rollup(cs)
		res.Groups = append(res.Groups, gr)
		gcs = append(gcs, Child{Outcome: gr.Outcome, Optional: g.Optional})
	}
	res.Outcome = Rollup(gcs)
	return res
}

// match is what one test examines: exchange and resource indexes.
type match struct{ xs, rs []int }

// prefetch evaluates, with at most Jobs at a time, every input some test
// will ask the engine or the validator about, each once. The order of the
// report does not depend on it: results are kept by input index and the
// tests read them in order.
func (r *Runner) prefetch(ctx context.Context, s *Suite, rec *Recording, matches [][]match, xc, rc *evalCache) {
	type job struct {
		kind int // 0 policy on exchange, 1 policy on resource, 2 validation
		i    int
	}
	var jobs []job
	seen := [3][]bool{make([]bool, len(rec.Exchanges)), make([]bool, len(rec.Resources)), make([]bool, len(rec.Resources))}
	add := func(kind, i int) {
		if !seen[kind][i] {
			seen[kind][i] = true
			jobs = append(jobs, job{kind, i})
		}
	}
	for gi, g := range s.Groups {
		for ti := range g.Tests {
			t, m := &g.Tests[ti], matches[gi][ti]
			if r.Omit[t.ID] || len(m.xs)+len(m.rs) == 0 {
				continue
			}
			if t.Validate && r.Validator == nil {
				continue // runTest reports the missing validator and evaluates nothing
			}
			if len(t.Rules) > 0 && r.Engine != nil {
				for _, i := range m.xs {
					add(0, i)
				}
				for _, i := range m.rs {
					add(1, i)
				}
			}
			if t.Validate && (len(t.Rules) == 0 || r.Engine != nil) {
				for _, i := range validateSet(t, rec, m.xs, m.rs) {
					add(2, i)
				}
			}
		}
	}
	workers := r.Jobs
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(jobs))
	if workers <= 1 {
		for _, j := range jobs {
			if ctx.Err() != nil {
				return
			}
			r.do(ctx, rec, xc, rc, j.kind, j.i)
		}
		return
	}
	// Workers take the next job by an atomic counter rather than from a
	// channel: on a busy machine every hand-over through a channel can wait
	// for a thread to be woken, which cost more than the parallelism gained.
	var next atomic.Int64
	work := func() {
		for {
			n := int(next.Add(1)) - 1
			if n >= len(jobs) || ctx.Err() != nil {
				return
			}
			r.do(ctx, rec, xc, rc, jobs[n].kind, jobs[n].i)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// do evaluates one input into its cache slot.
func (r *Runner) do(ctx context.Context, rec *Recording, xc, rc *evalCache, kind, i int) {
	switch kind {
	case 0:
		xc.eval(ctx, r.Engine, i, r.exchangeInput(rec, i))
	case 1:
		rc.eval(ctx, r.Engine, i, r.resourceInput(rec, i))
	case 2:
		rc.validate(ctx, r.Validator, i, rec.Resources[i].Data)
	}
}

func (r *Runner) exchangeInput(rec *Recording, i int) *policy.Input {
	return &policy.Input{Exchange: &rec.Exchanges[i].Exchange, Context: rec.Context}
}

func (r *Runner) resourceInput(rec *Recording, i int) *policy.Input {
	res := &rec.Resources[i]
	return &policy.Input{Resource: res.Data, Context: resourceContext(rec.Context, res)}
}

func (r *Runner) runTest(ctx context.Context, t *Test, rec *Recording, m match, xc, rc *evalCache) TestResult {
	tr := TestResult{ID: t.ID, Title: t.Title, Optional: t.Optional, Requirements: t.Requirements}
	if r.Omit[t.ID] {
		tr.Outcome, tr.Message = Omit, "omitted: does not apply to this app"
		return tr
	}
	xs, rs := m.xs, m.rs
	tr.Inputs = len(xs) + len(rs)
	if tr.Inputs == 0 {
		tr.Outcome = Skip
		tr.Message = "skip: the app never sent " + t.Inputs.Describe()
		return tr
	}
	if len(t.Rules) > 0 && r.Engine == nil {
		tr.Outcome, tr.Message = Error, "error: no policy engine to evaluate rules with"
		return tr
	}
	if t.Validate && r.Validator == nil {
		tr.Outcome, tr.Message = Error, "error: no FHIR validator configured"
		return tr
	}
	want := map[string]bool{}
	for _, id := range t.Rules {
		want[id] = true
	}
	var errs []string
	keep := func(l issue.List, evidence, file string, all bool) {
		for _, is := range l {
			if !all && !want[is.RuleID] {
				continue
			}
			if all && is.Severity < issue.Warning {
				continue
			}
			id := is.RuleID
			if id == "" {
				id = is.Code
			}
			tr.Findings = append(tr.Findings, Finding{RuleID: id, Severity: is.Severity, Location: is.Expression,
				Message: is.Message, Fix: is.Fix, Evidence: evidence, File: file})
		}
	}
	for _, i := range xs {
		x := &rec.Exchanges[i]
		if len(t.Rules) > 0 {
			l, err := xc.eval(ctx, r.Engine, i, r.exchangeInput(rec, i))
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", x.Label(), err))
			}
			keep(l, x.Label(), x.File, false)
		}
	}
	for _, i := range rs {
		res := &rec.Resources[i]
		if len(t.Rules) > 0 {
			l, err := rc.eval(ctx, r.Engine, i, r.resourceInput(rec, i))
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", res.Label(), err))
			}
			keep(l, res.Label(), res.File, false)
		}
	}
	for _, i := range validateSet(t, rec, xs, rs) {
		res := &rec.Resources[i]
		keep(rc.validate(ctx, r.Validator, i, res.Data), res.Label(), res.File, true)
	}
	sort.SliceStable(tr.Findings, func(a, b int) bool {
		fa, fb := tr.Findings[a], tr.Findings[b]
		if fa.Severity != fb.Severity {
			return fa.Severity > fb.Severity
		}
		if fa.Evidence != fb.Evidence {
			return fa.Evidence < fb.Evidence
		}
		return fa.RuleID < fb.RuleID
	})
	nerr := 0
	for _, f := range tr.Findings {
		if f.Severity >= issue.Error {
			nerr++
		}
	}
	switch {
	case ctx.Err() != nil:
		tr.Outcome, tr.Message = Error, "error: the run was stopped: "+ctx.Err().Error()
	case len(errs) > 0:
		tr.Outcome, tr.Message = Error, "error: the tool could not evaluate: "+strings.Join(errs, "; ")
	case nerr > 0:
		tr.Outcome = Fail
		tr.Message = fmt.Sprintf("fail: %d error(s) in %d input(s) examined", nerr, tr.Inputs)
	default:
		tr.Outcome = Pass
		tr.Message = fmt.Sprintf("pass: %d input(s) examined", tr.Inputs)
	}
	return tr
}

// resourceContext adds the VKP service of the request a resource came in.
func resourceContext(base map[string]any, res *RecordedResource) map[string]any {
	if res.Via == nil {
		return base
	}
	sc := res.Via.Exchange.Headers["servicecodes"]
	if len(sc) == 0 {
		return base
	}
	out := make(map[string]any, len(base)+1)
	for k, v := range base {
		out[k] = v
	}
	var codes []any
	for _, v := range sc {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				codes = append(codes, c)
			}
		}
	}
	out["serviceCodes"] = codes
	return out
}

func (c *evalCache) eval(ctx context.Context, e *policy.Engine, i int, in *policy.Input) (issue.List, error) {
	if c.pdone[i] {
		return c.policy[i], c.perr[i]
	}
	v, err := in.Value()
	var l issue.List
	if err == nil {
		l, err = e.EvalValue(ctx, v)
	}
	c.policy[i], c.perr[i], c.pdone[i] = l, err, true
	return l, err
}

func (c *evalCache) validate(ctx context.Context, v Validator, i int, data []byte) issue.List {
	if !c.vdone[i] {
		c.valid[i], c.vdone[i] = v.Validate(ctx, data), true
	}
	return c.valid[i]
}

// validateSet is the resources a validate: true test checks: those it
// selects and the bodies of the exchanges it selects.
func validateSet(t *Test, rec *Recording, xs, rs []int) []int {
	if !t.Validate {
		return nil
	}
	out := append([]int(nil), rs...)
	seen := map[int]bool{}
	for _, i := range rs {
		seen[i] = true
	}
	picked := map[*RecordedExchange]bool{}
	for _, i := range xs {
		picked[&rec.Exchanges[i]] = true
	}
	for i := range rec.Resources {
		if v := rec.Resources[i].Via; v != nil && picked[v] && !seen[i] {
			out = append(out, i)
		}
	}
	sort.Ints(out)
	return out
}

// match returns the indexes of the exchanges and resources the test examines.
func (t *Test) match(rec *Recording) (xs, rs []int) {
	for i := range rec.Exchanges {
		x := &rec.Exchanges[i].Exchange
		for _, m := range t.Inputs.Exchanges {
			if (m.Method == "" || m.Method == x.Method) && (m.re == nil || m.re.MatchString(x.Path)) {
				xs = append(xs, i)
				break
			}
		}
	}
	for i := range rec.Resources {
		for _, m := range t.Inputs.Resources {
			if m.Type == rec.Resources[i].Type {
				rs = append(rs, i)
				break
			}
		}
	}
	return xs, rs
}
