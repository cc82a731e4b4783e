package policy

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// rule renders one finding rule with its METADATA.
func rule(id, head, body string) string {
	return fmt.Sprintf(`
# METADATA
# title: %s
# custom:
#   id: %s
#   severity: error
#   requirement: R
#   source: sandkasse
#   fix: {nb: x, en: y}
%s contains {"msg": "%s"} if {
%s
}
`, id, id, head, id, body)
}

func kept(e *Engine, k inputKind) []string {
	var out []string
	for _, i := range e.byKind[k].rules {
		out = append(out, e.rules[i].ID)
	}
	return out
}

// TestPruneKeepsWhatCanFire: each rule below can fire on a resource although
// it reads input.exchange (or looks as if it could only fire on exchanges),
// so it must be kept for resources; each rule in the pruned list cannot.
func TestPruneKeepsWhatCanFire(t *testing.T) {
	src := "package sandkasse.test.prune\n\nx := input.exchange\n\nempty contains s if { s := x.path }\n\nconst := 1 if input.exchange.path\nconst := 2 if input.exchange.method\n\nf(a) := a if x.path\n" +
		// kept for resources: each fires on one
		rule("T-NEGATED", "deny_negated", "\tnot input.exchange.path") +
		rule("T-OBJECT-GET", "deny_object_get", "\tobject.get(input, [\"exchange\", \"path\"], \"\") == \"\"") +
		rule("T-EMPTY-SET", "deny_empty_set", "\tcount(empty) == 0") +
		rule("T-WITH", "deny_with", "\tx.path with input as {\"exchange\": {\"path\": \"/p\"}}") +
		rule("T-COMPREHENSION", "deny_comprehension", "\t[p | p := x.path] == []") +
		rule("T-PRINT", "deny_print", "\tprint(x.path)\n\tinput.resource") +
		// pruned for resources: none can fire on one
		rule("T-DIRECT", "deny_direct", "\tinput.exchange.path") +
		rule("T-VIA-RULE", "deny_via_rule", "\tx.method == \"GET\"") +
		rule("T-VIA-SET", "deny_via_set", "\tsome p in empty\n\tp != \"\"") +
		rule("T-VIA-FUNCTION", "deny_via_function", "\tf(1) == 1") +
		rule("T-CONST", "deny_const", "\tconst == 1")
	e := mustCompile(t, src)
	want := []string{"T-NEGATED", "T-OBJECT-GET", "T-EMPTY-SET", "T-WITH", "T-COMPREHENSION", "T-PRINT"}
	if got := kept(e, kindResource); !reflect.DeepEqual(got, want) {
		t.Errorf("kept for resources %v, want %v", got, want)
	}
	v, err := resource(`{"resourceType":"Observation"}`).Value()
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.EvalValue(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	var fired []string
	for _, is := range got {
		fired = append(fired, is.RuleID)
	}
	sort.Strings(fired)
	sort.Strings(want)
	if !reflect.DeepEqual(fired, want) {
		t.Errorf("fired on a resource %v, want %v", fired, want)
	}
	// On an exchange, only the rule that needs input.resource goes.
	if got := kept(e, kindExchange); len(got) != len(e.rules)-1 || slices.Contains(got, "T-PRINT") {
		t.Errorf("kept for exchanges %v, want all but T-PRINT", got)
	}
}

// TestPruneNeverHidesAnError: a rule that reaches a complete rule that may
// conflict before the expression that fails is kept, so the conflict is
// reported on the pruned query as on the full one.
func TestPruneNeverHidesAnError(t *testing.T) {
	src := "package sandkasse.test.prune\n\nx := input.exchange\n\nconflict := 1 if input.resource\nconflict := 2 if input.resource\n" +
		rule("T-CONFLICT", "deny_conflict", "\tconflict == 1\n\tx.path")
	e := mustCompile(t, src)
	if got := kept(e, kindResource); len(got) != 1 {
		t.Fatalf("kept for resources %v, want the rule", got)
	}
	v, err := resource(`{"resourceType":"Observation"}`).Value()
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.EvalValue(context.Background(), v)
	if err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Errorf("err = %v, want the conflict", err)
	}
}

// TestPruneMatchesFullEvaluation evaluates every input the shipped rule
// sets' Rego tests use (`with input as {...}`) under the pruned and the
// full query: findings and errors must be the same.
func TestPruneMatchesFullEvaluation(t *testing.T) {
	ctx := context.Background()
	for _, id := range []string{"dho-vkp", "epr-smart-app"} {
		mods := shippedModules(t, id)
		pruned, err := Compile(ctx, mods)
		if err != nil {
			t.Fatal(err)
		}
		base := testInputs(t, mods)
		inputs := withEveryType(base, namedTypes(pruned))
		if len(inputs) == len(base) {
			t.Fatalf("%s: none of the %d test inputs holds a resource", id, len(base))
		}
		full, err := Compile(ctx, mods, withoutPruning())
		if err != nil {
			t.Fatal(err)
		}
		if len(inputs) < 20 {
			t.Fatalf("%s: only %d test inputs found", id, len(inputs))
		}
		findings := 0
		for _, v := range inputs {
			a, errA := pruned.EvalValue(ctx, v)
			b, errB := full.EvalValue(ctx, v)
			if !reflect.DeepEqual(a, b) || fmt.Sprint(errA) != fmt.Sprint(errB) {
				t.Errorf("%s: input %v:\npruned %v / %v\nfull   %v / %v", id, v, a, errA, b, errB)
			}
			findings += len(b)
		}
		if findings == 0 {
			t.Errorf("%s: the corpus raises no finding at all", id)
		}
		t.Logf("%s: %d inputs, %d findings; rules kept for resources %d, for exchanges %d of %d",
			id, len(inputs), findings, len(pruned.byKind[kindResource].rules), len(pruned.byKind[kindExchange].rules), len(pruned.rules))
		t.Logf("%s: %d inputs from the Rego tests", id, len(base))
		for _, typ := range namedTypes(pruned) {
			t.Logf("%s: rules kept for a %s: %v", id, typ, keptFor(pruned, typ))
		}
		if pruned.otherType != nil {
			t.Logf("%s: rules kept for other resource types: %d", id, len(pruned.otherType.rules))
		}
	}
}

// otherTypes stand for the resource types no policy names (they share one
// query), plus the cases that take the per-kind query: an empty type, a
// type that is not a string, and none.
var otherTypes = []any{"Patient", "Composition", "bundle", "", 1, nil}

// withEveryType returns the inputs followed by every resource input once
// more for each resource type the policies name and each of otherTypes,
// with its resourceType (and nothing else) replaced, or removed for nil.
func withEveryType(inputs []ast.Value, named []string) []ast.Value {
	types := slices.Clone(otherTypes)
	for _, s := range named {
		types = append(types, s)
	}
	out := slices.Clone(inputs)
	key := ast.StringTerm("resourceType")
	for _, in := range inputs {
		obj := in.(ast.Object)
		res := obj.Get(ast.StringTerm("resource"))
		if res == nil {
			continue
		}
		r, ok := res.Value.(ast.Object)
		if !ok {
			continue
		}
		for _, typ := range types {
			nr := ast.NewObject()
			r.Foreach(func(k, v *ast.Term) {
				if !k.Equal(key) {
					nr.Insert(k, v)
				}
			})
			if typ != nil {
				nr.Insert(key, ast.NewTerm(ast.MustInterfaceToValue(typ)))
			}
			no := ast.NewObject()
			obj.Foreach(func(k, v *ast.Term) {
				if k.Equal(ast.StringTerm("resource")) {
					v = ast.NewTerm(nr)
				}
				no.Insert(k, v)
			})
			out = append(out, no)
		}
	}
	return out
}

// namedTypes lists the resource types with a query of their own.
func namedTypes(e *Engine) []string { return slices.Sorted(maps.Keys(e.byType)) }

func keptFor(e *Engine, typ string) []string {
	q := e.otherType
	if tq, ok := e.byType[typ]; ok {
		q = tq
	}
	var out []string
	for _, i := range q.rules {
		out = append(out, e.rules[i].ID)
	}
	return out
}

// TestPruneByResourceType: a rule that compares input.resource.resourceType
// with another type than the resource's, directly or through a helper, is
// left out of that type's query; one that could still fire, or could raise
// an error before the comparison, is kept.
func TestPruneByResourceType(t *testing.T) {
	src := "package sandkasse.test.prune\n\nbundle := input.resource if input.resource.resourceType == \"Bundle\"\n" +
		"obs := input.resource if \"Observation\" = input.resource.resourceType\n" +
		"entries contains e if { some e in bundle.entry }\n" +
		"conflict := 1 if input.resource\nconflict := 2 if input.resource\n" +
		rule("T-BUNDLE", "deny_bundle", "\tbundle.type != \"document\"") +
		rule("T-ENTRIES", "deny_entries", "\tsome e in entries\n\tnot e.resource") +
		rule("T-OBS", "deny_obs", "\tobs.status != \"final\"") +
		rule("T-NOT-PATIENT", "deny_not_patient", "\tinput.resource.resourceType != \"Patient\"\n\tinput.resource.id == \"x\"") +
		rule("T-VIA-VAR", "deny_via_var", "\tt := input.resource.resourceType\n\tt == \"Bundle\"\n\tinput.resource.id == \"x\"") +
		// kept everywhere: each fires on some resource of any type
		rule("T-NEGATED", "deny_negated", "\tnot input.resource.resourceType == \"Bundle\"\n\tinput.resource.id == \"x\"") +
		rule("T-VIA-GET", "deny_via_get", "\tobject.get(input.resource, \"resourceType\", \"\") == \"Bundle\"\n\tinput.resource.id == \"x\"") +
		rule("T-NO-BUNDLE", "deny_no_bundle", "\tnot bundle\n\tinput.resource.id == \"x\"") +
		rule("T-CONFLICT", "deny_conflict", "\tconflict == 1\n\tinput.resource.resourceType == \"Bundle\"")
	e := mustCompile(t, src)
	always := []string{"T-NEGATED", "T-VIA-GET", "T-NO-BUNDLE", "T-CONFLICT"}
	for _, c := range []struct {
		typ  string
		want []string
	}{
		{"Bundle", []string{"T-BUNDLE", "T-ENTRIES", "T-NOT-PATIENT", "T-VIA-VAR"}},
		{"Observation", []string{"T-OBS", "T-NOT-PATIENT"}},
		{"Patient", nil},
		{"Condition", []string{"T-NOT-PATIENT"}},
	} {
		want := append(slices.Clone(c.want), always...)
		got := keptFor(e, c.typ)
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("kept for a %s %v, want %v", c.typ, got, want)
		}
	}
	if got := namedTypes(e); !reflect.DeepEqual(got, []string{"Bundle", "Observation", "Patient"}) {
		t.Errorf("type constants %v", got)
	}
	// The pruned queries agree with the full one on resources of each type
	// with and without the fields the rules read.
	full := mustCompile(t, src, withoutPruning())
	base := []ast.Value{
		ast.MustParseTerm(`{"resource": {"resourceType": "X", "id": "x", "type": "collection", "entry": [{}]}}`).Value,
		ast.MustParseTerm(`{"resource": {"resourceType": "X", "id": "y", "code": {}}}`).Value,
	}
	ctx := context.Background()
	for _, v := range withEveryType(base, []string{"Bundle", "Observation", "Patient"}) {
		a, errA := e.EvalValue(ctx, v)
		b, errB := full.EvalValue(ctx, v)
		if !reflect.DeepEqual(a, b) || fmt.Sprint(errA) != fmt.Sprint(errB) {
			t.Errorf("input %v:\npruned %v / %v\nfull   %v / %v", v, a, errA, b, errB)
		}
	}
}

// TestPruneByResourceTypeBound: policies naming more resource types than
// maxTypeQueries get no per-type queries (the per-kind one serves).
func TestPruneByResourceTypeBound(t *testing.T) {
	var b strings.Builder
	b.WriteString("package sandkasse.test.prune\n")
	for i := range maxTypeQueries + 1 {
		b.WriteString(rule(fmt.Sprintf("T-%d", i), fmt.Sprintf("deny_%d", i), fmt.Sprintf("\tinput.resource.resourceType == \"T%d\"", i)))
	}
	e := mustCompile(t, b.String())
	if e.byType != nil || e.otherType != nil {
		t.Fatalf("%d types got per-type queries", len(e.byType))
	}
	v := ast.MustParseTerm(`{"resource": {"resourceType": "T3"}}`).Value
	got, err := e.EvalValue(context.Background(), v)
	if err != nil || len(got) != 1 || got[0].RuleID != "T-3" {
		t.Errorf("findings %v, err %v; want T-3", got, err)
	}
	// One fewer type: every type gets its own query with its one rule.
	b.Reset()
	b.WriteString("package sandkasse.test.prune\n")
	for i := range maxTypeQueries {
		b.WriteString(rule(fmt.Sprintf("T-%d", i), fmt.Sprintf("deny_%d", i), fmt.Sprintf("\tinput.resource.resourceType == \"T%d\"", i)))
	}
	e = mustCompile(t, b.String())
	if len(e.byType) != maxTypeQueries || !reflect.DeepEqual(keptFor(e, "T3"), []string{"T-3"}) || len(keptFor(e, "Other")) != 0 {
		t.Errorf("%d typed queries, kept for T3 %v, for Other %v", len(e.byType), keptFor(e, "T3"), keptFor(e, "Other"))
	}
}

// inputTracer records every distinct input document the Rego tests
// evaluate with.
type inputTracer struct {
	mu     sync.Mutex // the tester may run tests concurrently
	seen   map[string]bool
	inputs []ast.Value
}

func (*inputTracer) Enabled() bool               { return true }
func (*inputTracer) Config() topdown.TraceConfig { return topdown.TraceConfig{} }
func (tr *inputTracer) TraceEvent(evt topdown.Event) {
	in := evt.Input()
	if in == nil {
		return
	}
	if _, ok := in.Value.(ast.Object); !ok {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if k := in.String(); !tr.seen[k] {
		tr.seen[k] = true
		tr.inputs = append(tr.inputs, in.Value)
	}
}

// testInputs runs the rule set's Rego tests and returns the inputs they use.
func testInputs(t *testing.T, mods []Module) []ast.Value {
	parsed, _, errs := parseAndCheck(mods)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var custom []*tester.Builtin
	decls := customBuiltinDecls()
	for i, opt := range customBuiltinOptions() {
		custom = append(custom, &tester.Builtin{Decl: decls[i], Func: opt})
	}
	tr := &inputTracer{seen: map[string]bool{}}
	ch, err := tester.NewRunner().SetCompiler(newCompiler()).AddCustomBuiltins(custom).
		RaiseBuiltinErrors(false).SetCoverageQueryTracer(tr).SetModules(parsed).RunTests(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for r := range ch {
		if r.Fail || r.Error != nil {
			t.Errorf("Rego test %s.%s failed", r.Package, r.Name)
		}
	}
	return tr.inputs
}

// shippedModules reads the policies and Rego tests of a shipped rule set.
func shippedModules(t *testing.T, id string) []Module {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "rules", id, "policies", "*.rego"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no policies (%v)", id, err)
	}
	var mods []Module
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		mods = append(mods, Module{Name: filepath.Base(f), Source: src})
	}
	return mods
}
