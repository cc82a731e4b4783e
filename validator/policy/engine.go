package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/sandkasse/sandkasse/validator/issue"
)

// Module is one Rego file. Name is the path shown in errors (relative to the
// rule set, e.g. policies/document.rego).
type Module struct {
	Name   string
	Source []byte
}

// IsTest reports whether the module holds Rego tests, which are compiled for
// `rules test` but never evaluated against an app.
func (m Module) IsTest() bool { return strings.HasSuffix(m.Name, "_test.rego") }

// DefaultTimeout bounds one evaluation. Policies over one resource or one
// exchange finish in microseconds; the limit is there for the policy that
// loops by mistake, so a run reports an error instead of hanging.
const DefaultTimeout = 2 * time.Second

type config struct {
	timeout time.Duration
	lang    string
	noPrune bool // tests: evaluate every rule on every input
}

// withoutPruning makes every query evaluate every rule (tests compare).
func withoutPruning() Option { return func(c *config) { c.noPrune = true } }

// Option configures an Engine.
type Option func(*config)

// WithTimeout sets the evaluation time limit per input (<= 0: DefaultTimeout).
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// WithLanguage picks the fix hint language: "nb" (Norwegian bokmål) or "en"
// (the default).
func WithLanguage(lang string) Option { return func(c *config) { c.lang = lang } }

// Engine holds compiled policies and a prepared query over all their finding
// rules. It is safe for concurrent use.
type Engine struct {
	cfg   config
	rules []Rule
	// full evaluates every finding rule; byKind[k] only those not proven
	// empty on inputs of kind k (see prune.go).
	full   query
	byKind [numKinds]query
	// byType[t] holds the query for a resource whose resourceType is the
	// string t, one the policies compare it with; otherType is the query for
	// a resource of any other type. Both nil when the policies name no type
	// or too many (see maxTypeQueries).
	byType    map[string]*query
	otherType *query
	compiler  *ast.Compiler
	// store is the empty data document the evaluator reads through a
	// transaction: the policies read no data beyond their own rules.
	store storage.Store
}

// maxTypeQueries bounds the resource types given a query of their own: each
// is one more prepared query in memory. Policies naming more types than this
// are evaluated with the per-kind queries (still correct, only slower).
const maxTypeQueries = 32

// query is a compiled query with one expression per finding rule it
// evaluates, `$fI = data.pkg.rule`; rules[i] is the index in Engine.rules
// of expression i, whose set the evaluator binds to vars[i].
type query struct {
	body  ast.Body
	vars  []ast.Var
	rules []int
}

// Compile parses, checks and compiles the modules (test modules are skipped)
// and prepares one query over every finding rule. The error, when not nil,
// is Errors: every problem, each with file and line.
func Compile(ctx context.Context, modules []Module, opts ...Option) (*Engine, error) {
	cfg := config{timeout: DefaultTimeout, lang: "en"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.lang != "en" && cfg.lang != "nb" {
		return nil, fmt.Errorf("policy: unknown language %q (nb or en)", cfg.lang)
	}
	var policies []Module
	for _, m := range modules {
		if !m.IsTest() {
			policies = append(policies, m)
		}
	}
	parsed, rules, errs := parseAndCheck(policies)
	if len(errs) > 0 {
		return nil, errs.orNil()
	}
	compiler, errs := compile(parsed)
	if len(errs) > 0 {
		return nil, errs.orNil()
	}
	if err := duplicateIDs(rules); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, rules: rules, compiler: compiler, store: inmem.New()}
	if len(rules) == 0 {
		return e, nil
	}
	var err error
	all := make([]int, len(rules))
	for i := range rules {
		all[i] = i
	}
	if e.full, err = prepare(ctx, compiler, rules, all); err != nil {
		return nil, err
	}
	for k := range numKinds {
		if cfg.noPrune {
			e.byKind[k] = e.full
			continue
		}
		p := newPruner(compiler, k)
		var keep []int
		for i, r := range rules {
			if !p.emptyRule(ast.MustParseRef(r.Package + "." + r.Name)) {
				keep = append(keep, i)
			}
		}
		if e.byKind[k], err = prepare(ctx, compiler, rules, keep); err != nil {
			return nil, err
		}
	}
	if !cfg.noPrune {
		if err := e.prepareTypes(ctx, compiler); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// prepareTypes prunes, for every resource type the policies compare
// input.resource.resourceType with and for all other types together, the
// rules proven empty on a resource of that type (prune.go), and prepares a
// query per distinct set of rules kept. Rules about Bundles then leave an
// Observation's query, and the other way round.
func (e *Engine) prepareTypes(ctx context.Context, compiler *ast.Compiler) error {
	kindQ := &e.byKind[kindResource]
	bySet := map[string]*query{fmt.Sprint(kindQ.rules): kindQ}
	keepFor := func(p *pruner) []int {
		var keep []int
		for _, i := range kindQ.rules {
			r := e.rules[i]
			if !p.emptyRule(ast.MustParseRef(r.Package + "." + r.Name)) {
				keep = append(keep, i)
			}
		}
		return keep
	}
	queryFor := func(keep []int) (*query, error) {
		key := fmt.Sprint(keep)
		if q, ok := bySet[key]; ok {
			return q, nil
		}
		q, err := prepare(ctx, compiler, e.rules, keep)
		if err != nil {
			return nil, err
		}
		bySet[key] = &q
		return &q, nil
	}
	// The proof for "a type the policies do not name" assumed only that the
	// type differs from those it compared with; each of these gets a proof
	// of its own.
	other := newTypePruner(compiler, "", true)
	otherKeep := keepFor(other)
	if len(other.compared) == 0 || len(other.compared) > maxTypeQueries {
		return nil
	}
	byType := make(map[string]*query, len(other.compared))
	for t := range other.compared {
		q, err := queryFor(keepFor(newTypePruner(compiler, t, false)))
		if err != nil {
			return err
		}
		byType[t] = q
	}
	q, err := queryFor(otherKeep)
	if err != nil {
		return err
	}
	e.byType, e.otherType = byType, q
	return nil
}

// prepare makes one query with one expression per finding rule: the
// evaluator shares the input and the rules' intermediate documents across
// all of them, and the variable each expression binds maps its set back to
// its rule without parsing anything.
//
// The query runs on OPA's evaluator (topdown) directly rather than through
// package rego, whose prepared queries cost a result set per evaluation,
// every set turned into Go values, a truthiness check appended per
// expression, and a memo key string per builtin call.
func prepare(_ context.Context, compiler *ast.Compiler, rules []Rule, idx []int) (query, error) {
	q := query{rules: idx}
	if len(idx) == 0 {
		return q, nil
	}
	var body ast.Body
	for j, i := range idx {
		ref := ast.MustParseRef(rules[i].Package + "." + rules[i].Name)
		// A wildcard-prefixed name cannot clash with a policy's variables,
		// and the query compiler leaves it as it is.
		v := ast.Var(fmt.Sprintf("%sf%d", ast.WildcardPrefix, j))
		q.vars = append(q.vars, v)
		body = append(body, ast.Equality.Expr(ast.NewTerm(v), ast.NewTerm(ref)))
	}
	compiled, err := compiler.QueryCompiler().WithStrict(false).Compile(body)
	if err != nil {
		return q, fmt.Errorf("policy: prepare query: %w", err)
	}
	q.body = compiled
	return q, nil
}

// Rules lists the finding rules in file and line order.
func (e *Engine) Rules() []Rule { return e.rules }

func parseAndCheck(modules []Module) (map[string]*ast.Module, []Rule, Errors) {
	parsed := make(map[string]*ast.Module, len(modules))
	var rules []Rule
	var errs Errors
	popts := ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1, Capabilities: Capabilities()}
	for _, m := range modules {
		mod, err := ast.ParseModuleWithOpts(m.Name, string(m.Source), popts)
		if err != nil {
			errs = append(errs, fromAST(m.Name, CodeParse, err)...)
			continue
		}
		if mod == nil {
			errs = append(errs, &Error{File: m.Name, Code: CodeParse, Message: "empty module"})
			continue
		}
		errs = append(errs, refusedCalls(m.Name, mod)...)
		if !m.IsTest() {
			rs, es := ruleMetadata(m.Name, mod)
			rules = append(rules, rs...)
			errs = append(errs, es...)
		}
		parsed[m.Name] = mod
	}
	return parsed, rules, errs
}

// refusedCalls names each call to a refused builtin. The compiler alone would
// say "undefined function http.send", which reads like a typo rather than a
// rule of the house.
func refusedCalls(file string, mod *ast.Module) Errors {
	var errs Errors
	ast.WalkTerms(mod, func(t *ast.Term) bool {
		call, ok := t.Value.(ast.Call)
		if !ok || len(call) == 0 {
			return false
		}
		name := call[0].String()
		if why, refused := refusal(name); refused {
			line, col := 0, 0
			if t.Location != nil {
				line, col = t.Location.Row, t.Location.Col
			}
			errs = append(errs, &Error{File: file, Line: line, Column: col, Code: CodeRefused,
				Message: fmt.Sprintf("%s is not allowed in rule-set policies (%s): published rules must be pure functions of their input", name, why)})
		}
		return false
	})
	// Calls written as expressions (`http.send(x, y)` whose result is
	// unified) appear as Expr terms rather than Call values.
	ast.WalkExprs(mod, func(x *ast.Expr) bool {
		if !x.IsCall() {
			return false
		}
		name := x.Operator().String()
		if why, refused := refusal(name); refused {
			errs = append(errs, &Error{File: file, Line: x.Location.Row, Column: x.Location.Col, Code: CodeRefused,
				Message: fmt.Sprintf("%s is not allowed in rule-set policies (%s): published rules must be pure functions of their input", name, why)})
		}
		return false
	})
	return errs
}

func newCompiler() *ast.Compiler {
	return ast.NewCompiler().
		WithCapabilities(Capabilities()).
		WithStrict(true).
		WithDefaultRegoVersion(ast.RegoV1)
}

func compile(parsed map[string]*ast.Module) (*ast.Compiler, Errors) {
	c := newCompiler()
	c.Compile(parsed)
	if c.Failed() {
		return nil, fromAST("", CodeCompile, c.Errors)
	}
	return c, nil
}

func fromAST(file, code string, err error) Errors {
	var aerrs ast.Errors
	if !errors.As(err, &aerrs) {
		return Errors{{File: file, Code: code, Message: err.Error()}}
	}
	out := make(Errors, 0, len(aerrs))
	for _, e := range aerrs {
		pe := &Error{File: file, Code: code, Message: e.Message}
		if e.Code == ast.ParseErr {
			pe.Code = CodeParse
		}
		if e.Location != nil {
			if e.Location.File != "" {
				pe.File = e.Location.File
			}
			pe.Line, pe.Column = e.Location.Row, e.Location.Col
		}
		out = append(out, pe)
	}
	return out
}

func duplicateIDs(rules []Rule) error {
	first := map[string]Rule{}
	var errs Errors
	for _, r := range rules {
		if f, dup := first[r.ID]; dup {
			errs = append(errs, &Error{File: r.File, Line: r.Line, Code: CodeMetadata,
				Message: fmt.Sprintf("rule id %s is already used by %s at %s:%d", r.ID, f.Name, f.File, f.Line)})
			continue
		}
		first[r.ID] = r
	}
	return errs.orNil()
}

// Eval runs every finding rule over one input and returns the findings
// sorted by rule id and location. An error means the policy could not be
// evaluated (time limit, a builtin error, a finding of the wrong shape): that
// is the tool's failure, never the app's.
func (e *Engine) Eval(ctx context.Context, in *Input) (issue.List, error) {
	if len(e.rules) == 0 {
		return nil, nil
	}
	v, err := in.value()
	if err != nil {
		return nil, err
	}
	return e.EvalValue(ctx, v)
}

// EvalValue is Eval over an input already converted with Input.Value, for
// callers that evaluate one input under several engines.
func (e *Engine) EvalValue(ctx context.Context, v ast.Value) (issue.List, error) {
	if len(e.rules) == 0 {
		return nil, nil
	}
	q := e.queryFor(v)
	if len(q.rules) == 0 {
		return nil, nil
	}
	// The time limit and the caller's cancellation stop the evaluator
	// through a cancel of our own: otherwise OPA starts a goroutine per
	// evaluation to watch the context. No metrics are kept either (OPA would
	// make a fresh set per evaluation).
	stop := topdown.NewCancel()
	var timedOut atomic.Bool
	timer := time.AfterFunc(e.cfg.timeout, func() { timedOut.Store(true); stop.Cancel() })
	defer timer.Stop()
	if ctx.Done() != nil { // a context that can never be cancelled needs no watch
		defer context.AfterFunc(ctx, stop.Cancel)()
	}
	vc := acquireVirtualCache()
	defer vc.release()
	txn, err := e.store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer e.store.Abort(ctx, txn)
	var out issue.List
	var errs []error
	results := 0
	err = topdown.NewQuery(q.body).
		WithCompiler(e.compiler).
		WithStore(e.store).
		WithTransaction(txn).
		WithInput(ast.NewTerm(v)).
		WithBuiltins(customBuiltins).
		// A builtin that fails on what an app sent (a token that is not a
		// JWT) makes that rule undefined, as OPA does by default, instead of
		// failing the run.
		WithStrictBuiltinErrors(false).
		WithCancel(stop).
		WithMetrics(noMetrics).
		WithVirtualCache(vc).
		Iter(ctx, func(qr topdown.QueryResult) error {
			results++
			for i, name := range q.vars {
				e.collect(&e.rules[q.rules[i]], qr[name], &out, &errs)
			}
			return nil
		})
	if err != nil {
		switch {
		case timedOut.Load():
			return nil, fmt.Errorf("policy: evaluation stopped after %v: %w", e.cfg.timeout, context.DeadlineExceeded)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("policy: evaluation stopped: %w", ctx.Err())
		}
		return nil, fmt.Errorf("policy: %w", err)
	}
	if results != 1 {
		return nil, fmt.Errorf("policy: query returned %d results, want 1", results)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Code != out[j].Code {
			return out[i].Code < out[j].Code
		}
		if out[i].Expression != out[j].Expression {
			return out[i].Expression < out[j].Expression
		}
		return out[i].Message < out[j].Message
	})
	return out, errors.Join(errs...)
}

// queryFor picks the query for an input: the one without the rules proven
// empty on its kind when it holds exactly one of resource and exchange, the
// full one otherwise.
func (e *Engine) queryFor(v ast.Value) query {
	obj, ok := v.(ast.Object)
	if !ok {
		return e.full
	}
	res, exch := obj.Get(resourceKey), obj.Get(exchangeKey) != nil
	switch {
	case res != nil && !exch:
		if e.otherType != nil {
			if r, ok := res.Value.(ast.Object); ok {
				if t := r.Get(resourceTypeKey); t != nil {
					if s, ok := t.Value.(ast.String); ok {
						if q, ok := e.byType[string(s)]; ok {
							return *q
						}
						return *e.otherType
					}
				}
			}
		}
		return e.byKind[kindResource]
	case exch && res == nil:
		return e.byKind[kindExchange]
	}
	return e.full
}

var noMetrics = metrics.NoOp()

var resourceTypeKey = ast.StringTerm("resourceType")

// collect adds the findings in the set a rule produced, or the error that
// says why it is not one. The set is read as the evaluator left it: turning
// it into Go values first (as package rego does) costs allocations for every
// rule, empty sets included, to read two strings.
func (e *Engine) collect(r *Rule, t *ast.Term, out *issue.List, errs *[]error) {
	if t == nil {
		*errs = append(*errs, fmt.Errorf("rule %s (%s:%d) produced nothing, want a set of findings", r.ID, r.File, r.Line))
		return
	}
	set, ok := t.Value.(ast.Set)
	if !ok {
		*errs = append(*errs, fmt.Errorf("rule %s (%s:%d) produced %s, want a set of findings", r.ID, r.File, r.Line, ast.ValueName(t.Value)))
		return
	}
	if set.Len() == 0 {
		return // most rules find nothing: no closure to allocate
	}
	set.Foreach(func(f *ast.Term) {
		is, err := e.finding(r, f)
		if err != nil {
			*errs = append(*errs, err)
			return
		}
		*out = append(*out, is)
	})
}

// finding turns one element of a finding rule's set into an Issue. An element
// is {"msg": string, "expression": string}; expression is optional, msg is
// not, and anything else is the policy's mistake.
func (e *Engine) finding(r *Rule, f *ast.Term) (issue.Issue, error) {
	is := issue.Issue{Severity: r.Severity, Code: r.ID, RuleID: r.ID, Type: "business-rule", Fix: r.Fix.EN}
	if e.cfg.lang == "nb" {
		is.Fix = r.Fix.NB
	}
	obj, ok := f.Value.(ast.Object)
	if !ok {
		return is, fmt.Errorf("rule %s (%s:%d): a finding must be an object {\"msg\": ..., \"expression\": ...}, got %s", r.ID, r.File, r.Line, ast.ValueName(f.Value))
	}
	err := obj.Iter(func(k, v *ast.Term) error {
		key, isStr := k.Value.(ast.String)
		if !isStr {
			return fmt.Errorf("rule %s (%s:%d): unknown finding field %v (msg, expression)", r.ID, r.File, r.Line, k)
		}
		s, isStr := v.Value.(ast.String)
		switch {
		case key == "msg" && isStr:
			is.Message = string(s)
		case key == "expression" && isStr:
			is.Expression = string(s)
		case key == "msg" || key == "expression":
			return fmt.Errorf("rule %s (%s:%d): finding field %q must be a string", r.ID, r.File, r.Line, string(key))
		default:
			return fmt.Errorf("rule %s (%s:%d): unknown finding field %q (msg, expression)", r.ID, r.File, r.Line, string(key))
		}
		return nil
	})
	if err != nil {
		return is, err
	}
	if is.Message == "" {
		return is, fmt.Errorf("rule %s (%s:%d): finding without msg", r.ID, r.File, r.Line)
	}
	return is, nil
}
