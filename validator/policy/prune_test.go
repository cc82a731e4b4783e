package policy

import (
	"context"
	"fmt"
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
		inputs := testInputs(t, mods)
		pruned, err := Compile(ctx, mods)
		if err != nil {
			t.Fatal(err)
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
