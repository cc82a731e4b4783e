package policy

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// An input holds a resource or an exchange, never both, and most finding
// rules read one of the two: a rule about exchanges starts from
// input.exchange, and on a resource it can only come out empty. OPA does not
// know that and evaluates every such rule to the end on every input, which
// was about a quarter of the time per resource. So Compile proves, for each
// finding rule and each input kind, whether the rule must be empty when the
// other kind's key is absent, and prepares one query per kind without the
// rules that must be empty.
//
// The proof is deliberately narrow, so that "pruned" always means "would
// have produced nothing and raised nothing":
//
//   - a reference to input.<absent> is undefined, and so is a reference to a
//     rule every definition of which is proven to fail (and that has no
//     default);
//   - a body fails when one of its expressions, evaluated in order, is a
//     plain (not negated, no `with`) reference or call with such an undefined
//     operand: Rego leaves an expression with an undefined operand undefined;
//   - nothing under `not`, `with`, `every`, `some` declarations or inside
//     comprehensions (an empty comprehension is defined) counts, and neither
//     do print calls (print accepts undefined operands);
//   - an expression before the failing one that could raise an error (it
//     reaches a complete rule or function with more than one definition,
//     which may conflict) stops the proof, so pruning never hides an error.
//
// Anything the proof does not understand (rules with general reference
// heads, references through variables, unknown builtins) keeps the rule.
// TestPruneMatchesFullEvaluation holds the pruned queries to the full one.

// inputKind is what an input carries: its key under input and the key that
// is then absent.
type inputKind int

const (
	kindResource inputKind = iota
	kindExchange
	numKinds
)

func (k inputKind) absentKey() string {
	if k == kindResource {
		return "exchange"
	}
	return "resource"
}

type pruner struct {
	c      *ast.Compiler
	absent ast.Value // the input key known to be absent
	// typed: input.resource.resourceType is known to be the string typ, or,
	// when other is set, a string none of the policies compares it with.
	typed, other bool
	typ          string
	// compared collects the types the proof compared the resource's with:
	// the "other" proof holds for every type outside it.
	compared map[string]bool
	undef    map[string]bool
	busy     map[string]bool
	mayErr   map[string]bool
}

func newPruner(c *ast.Compiler, k inputKind) *pruner {
	return &pruner{c: c, absent: ast.String(k.absentKey()),
		undef: map[string]bool{}, busy: map[string]bool{}, mayErr: map[string]bool{}}
}

// newTypePruner proves rules empty on a resource whose resourceType is typ
// (other: a type no policy names; typ is then ignored).
func newTypePruner(c *ast.Compiler, typ string, other bool) *pruner {
	p := newPruner(c, kindResource)
	p.typed, p.other, p.typ = true, other, typ
	p.compared = map[string]bool{}
	return p
}

// emptyRule reports whether the finding rule at path is proven empty.
func (p *pruner) emptyRule(path ast.Ref) bool {
	rules, n, ok := p.rulesAt(path)
	return ok && len(path) == n && p.allFail(path.String(), rules)
}

// rulesAt finds the rules that define the document at a prefix of ref, when
// they are simple: every rule at that node is named exactly by the prefix
// (a complete rule or function) or by the prefix and one variable (a
// partial set or object), and no rule lives deeper.
func (p *pruner) rulesAt(ref ast.Ref) ([]*ast.Rule, int, bool) {
	node := p.c.RuleTree
	for i := 0; i < len(ref); i++ {
		node = node.Child(ref[i].Value)
		if node == nil {
			return nil, 0, false
		}
		if len(node.Values) == 0 {
			continue
		}
		if len(node.Children) > 0 {
			return nil, 0, false
		}
		for _, r := range node.Values {
			rr := r.Ref()
			switch {
			case len(rr) == i+1 && rr.IsGround():
			case len(rr) == i+2 && rr[:i+1].IsGround() && !rr[i+1].IsGround():
			default:
				return nil, 0, false
			}
		}
		return node.Values, i + 1, true
	}
	return nil, 0, false
}

// allFail reports whether every definition of a document (rules and their
// else branches) fails or has an undefined value, and none is a default.
func (p *pruner) allFail(key string, rules []*ast.Rule) bool {
	if v, ok := p.undef[key]; ok {
		return v
	}
	if p.busy[key] {
		return false // Rego forbids recursion; be safe anyway
	}
	p.busy[key] = true
	res := true
	for _, r := range rules {
		if r.Default {
			res = false
			break
		}
		for link := r; link != nil && res; link = link.Else {
			if !p.bodyFails(link.Body) && !p.undefTerm(link.Head.Value) {
				res = false
			}
		}
		if !res {
			break
		}
	}
	delete(p.busy, key)
	p.undef[key] = res
	return res
}

// bodyFails reports whether the body is proven to fail before anything in it
// could raise an error.
func (p *pruner) bodyFails(body ast.Body) bool {
	var typeVars map[ast.Var]bool
	for _, x := range body {
		if p.exprFails(x, typeVars) {
			return true
		}
		if p.exprMayErr(x) {
			return false
		}
		if v, ok := typeAssign(x); ok {
			if typeVars == nil {
				typeVars = map[ast.Var]bool{}
			}
			typeVars[v] = true
		}
	}
	return false
}

// typeAssign recognises `v = input.resource.resourceType` (either way
// round; the compiler writes `v := …` and the left side of `!=` so): once it
// has succeeded, v holds the type for the rest of the body.
func typeAssign(x *ast.Expr) (ast.Var, bool) {
	t, ok := x.Terms.([]*ast.Term)
	if x.Negated || len(x.With) > 0 || !ok || len(t) != 3 || t[0].String() != "eq" {
		return "", false
	}
	a, b := t[1], t[2]
	if _, isVar := a.Value.(ast.Var); !isVar {
		a, b = b, a
	}
	v, isVar := a.Value.(ast.Var)
	ref, isRef := b.Value.(ast.Ref)
	if !isVar || !isRef || !ref.Equal(resourceTypeRef) {
		return "", false
	}
	return v, true
}

func (p *pruner) exprFails(x *ast.Expr, typeVars map[ast.Var]bool) bool {
	if x.Negated || len(x.With) > 0 {
		return false
	}
	switch t := x.Terms.(type) {
	case *ast.Term:
		return p.undefTerm(t)
	case []*ast.Term:
		if len(t) == 0 {
			return false
		}
		op := t[0].String()
		if op == "print" || op == "internal.print" {
			return false
		}
		if c, equal, ok := typeTest(t, typeVars); ok && p.typed {
			p.compared[c] = true
			same := !p.other && c == p.typ
			return same != equal
		}
		for _, o := range t[1:] {
			if p.undefTerm(o) {
				return true
			}
		}
		// A call of a user function none of whose definitions can succeed.
		if ref, ok := t[0].Value.(ast.Ref); ok && ref.HasPrefix(ast.DefaultRootRef) {
			if rules, n, ok := p.rulesAt(ref); ok && len(ref) == n && isFunction(rules) {
				return p.allFail(ref.String(), rules)
			}
		}
	}
	return false
}

// resourceTypeRef is input.resource.resourceType.
var resourceTypeRef = ast.MustParseRef("input.resource.resourceType")

// typeTest recognises an expression comparing input.resource.resourceType,
// or a variable of the body known to hold it, with a string constant, either
// way round: `==` and `=` (equal true) or `!=` (equal false). Only this form
// counts; a type read through a look-up or a function proves nothing.
func typeTest(t []*ast.Term, typeVars map[ast.Var]bool) (c string, equal, ok bool) {
	if len(t) != 3 {
		return "", false, false
	}
	switch t[0].String() {
	case "equal", "eq":
		equal = true
	case "neq":
	default:
		return "", false, false
	}
	a, b := t[1], t[2]
	if _, isStr := a.Value.(ast.String); isStr {
		a, b = b, a
	}
	s, isStr := b.Value.(ast.String)
	if !isStr {
		return "", false, false
	}
	switch v := a.Value.(type) {
	case ast.Ref:
		if v.Equal(resourceTypeRef) {
			return string(s), equal, true
		}
	case ast.Var:
		if typeVars[v] {
			return string(s), equal, true
		}
	}
	return "", false, false
}

func isFunction(rules []*ast.Rule) bool { return len(rules[0].Head.Args) > 0 }

// isCollection tells a partial set or object (defined and empty when no
// definition succeeds) from a complete rule (then undefined).
func isCollection(rules []*ast.Rule, n int) bool {
	r := rules[0]
	return len(r.Ref()) > n || (r.Head.Key != nil && r.Head.Value == nil)
}

// undefTerm reports whether a term is a reference proven undefined. Only
// references count: composites and comprehensions are left alone.
func (p *pruner) undefTerm(t *ast.Term) bool {
	if t == nil {
		return false
	}
	ref, ok := t.Value.(ast.Ref)
	if !ok || len(ref) == 0 {
		return false
	}
	switch {
	case ref.HasPrefix(ast.InputRootRef):
		return len(ref) >= 2 && ref[1].Value.Compare(p.absent) == 0
	case ref.HasPrefix(ast.DefaultRootRef):
		rules, n, ok := p.rulesAt(ref)
		if !ok || isFunction(rules) {
			return false
		}
		// An empty partial set is the empty set, not undefined: only a
		// look-up into it is undefined.
		if isCollection(rules, n) && len(ref) == n {
			return false
		}
		return p.allFail(ref[:n].String(), rules)
	}
	return false
}

// exprMayErr reports whether evaluating x could raise an error rather than
// fail. With StrictBuiltinErrors off, builtin errors make an expression
// undefined; what remains is a conflict: a complete rule, function or
// partial object producing two values. x may raise one if it reaches such a
// rule that has more than one definition or a body that can succeed more
// than once, directly or through the bodies of the rules it reaches.
func (p *pruner) exprMayErr(x *ast.Expr) bool {
	found := false
	ast.WalkRefs(x, func(ref ast.Ref) bool {
		if found || !ref.HasPrefix(ast.DefaultRootRef) {
			return found
		}
		rules, _, ok := p.rulesAt(ref)
		// Not a simple rule (a package, a base document, a general
		// reference head): assume the worst.
		found = !ok || p.docMayErr(rules)
		return found
	})
	return found
}

func (p *pruner) docMayErr(rules []*ast.Rule) bool {
	key := rules[0].Path().String()
	if v, ok := p.mayErr[key]; ok {
		return v
	}
	p.mayErr[key] = true // cycles cannot happen in Rego; assume the worst
	partialSet := rules[0].Head.Key != nil && rules[0].Head.Value == nil
	res := false
	if !partialSet {
		// Two values can only meet when the definitions do not all give the
		// same constant (`p if ...`, `f(x) if ...` give true).
		var same *ast.Term
		allSame, chains := true, 0
		for _, r := range rules {
			if !r.Default {
				chains++
			}
			for link := r; link != nil; link = link.Else {
				v := link.Head.Value
				switch {
				case v == nil || !v.IsGround():
					allSame = false
				case same == nil:
					same = v
				case !v.Equal(same):
					allSame = false
				}
			}
		}
		res = len(rules[0].Ref()) > len(rules[0].Path()) || (chains > 1 && !allSame)
	}
	for _, r := range rules {
		for link := r; link != nil && !res; link = link.Else {
			if !partialSet && !(link.Head.Value != nil && link.Head.Value.IsGround()) && mayIterate(link.Body) {
				res = true
				break
			}
			for _, x := range link.Body {
				if p.exprMayErr(x) {
					res = true
					break
				}
			}
			if !res && link.Head.Value != nil {
				ast.WalkRefs(link.Head.Value, func(ref ast.Ref) bool {
					if !res && ref.HasPrefix(ast.DefaultRootRef) {
						rs, _, ok := p.rulesAt(ref)
						res = !ok || p.docMayErr(rs)
					}
					return res
				})
			}
		}
	}
	p.mayErr[key] = res
	return res
}

// mayIterate reports whether a body could succeed more than once: outside
// comprehensions, it looks something up by a variable (iteration over a
// collection or a partial document), tests membership, calls a relation
// (walk) or declares variables.
func mayIterate(body ast.Body) bool {
	it := false
	vis := ast.NewGenericVisitor(func(x any) bool {
		if it {
			return true
		}
		switch v := x.(type) {
		case *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension, *ast.Every:
			return true
		case *ast.SomeDecl:
			it = true
		case *ast.Expr:
			if v.Negated {
				return true
			}
			if v.IsCall() {
				name := v.Operator().String()
				if b, ok := ast.BuiltinMap[name]; ok && b.Relation {
					it = true
				}
				if name == "internal.member_2" || name == "internal.member_3" {
					it = true
				}
			}
		case ast.Ref:
			for _, t := range v[1:] {
				if _, isVar := t.Value.(ast.Var); isVar {
					it = true
				}
			}
		}
		return it
	})
	vis.Walk(body)
	return it
}
