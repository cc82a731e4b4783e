package fhirpath

import (
	"regexp"
	"strconv"
)

// MaxNesting bounds how deeply expressions may nest (parentheses, operator
// chains, function arguments); deeper input is a syntax error rather than a
// stack overflow.
const MaxNesting = 200

type parser struct {
	toks  []token
	i     int
	depth int
}

// typeSpec is a type name in is/as/ofType: namespace may be "" (unqualified),
// "FHIR" or "System".
type typeSpec struct {
	ns, name string
}

func (t typeSpec) String() string {
	if t.ns == "" {
		return t.name
	}
	return t.ns + "." + t.name
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(s string) bool {
	t := p.toks[p.i]
	return t.kind == tOp && t.text == s
}

func (p *parser) expectOp(s string) error {
	if !p.isOp(s) {
		t := p.peek()
		if t.kind == tEOF {
			return &SyntaxError{Pos: t.pos, Msg: "expected '" + s + "' but the expression ended"}
		}
		return &SyntaxError{Pos: t.pos, Msg: "expected '" + s + "'"}
	}
	p.i++
	return nil
}

func (p *parser) enter(pos int) error {
	p.depth++
	if p.depth > MaxNesting {
		return &SyntaxError{Pos: pos, Msg: "expression nested too deeply"}
	}
	return nil
}

func binPrec(t token) int {
	switch t.kind {
	case tOp:
		switch t.text {
		case "*", "/":
			return 10
		case "+", "-", "&":
			return 9
		case "|":
			return 7
		case "<", ">", "<=", ">=":
			return 6
		case "=", "~", "!=", "!~":
			return 5
		}
	case tIdent:
		switch t.text {
		case "div", "mod":
			return 10
		case "is", "as":
			return 8
		case "in", "contains":
			return 4
		case "and":
			return 3
		case "or", "xor":
			return 2
		case "implies":
			return 1
		}
	}
	return 0
}

func (p *parser) expr(minPrec int) (node, error) {
	if err := p.enter(p.peek().pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	left, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec := binPrec(t)
		if prec == 0 || prec < minPrec {
			return left, nil
		}
		p.advance()
		if t.kind == tIdent && (t.text == "is" || t.text == "as") {
			ts, err := p.typeSpecifier()
			if err != nil {
				return nil, err
			}
			left = &typeOpNode{op: t.text, x: left, typ: ts, pos: t.pos}
			// "(x as Quantity).value" is usually written without the
			// parentheses; accept invocations on the result.
			if left, err = p.postfix(left); err != nil {
				return nil, err
			}
			continue
		}
		right, err := p.expr(prec + 1)
		if err != nil {
			return nil, err
		}
		left, err = newBinary(t.text, left, right, t.pos)
		if err != nil {
			return nil, err
		}
	}
}

func (p *parser) typeSpecifier() (typeSpec, error) {
	t := p.advance()
	if t.kind != tIdent && t.kind != tDelimIdent {
		return typeSpec{}, &SyntaxError{Pos: t.pos, Msg: "type name expected"}
	}
	ts := typeSpec{name: t.text}
	if t.kind == tIdent && (t.text == "FHIR" || t.text == "System") && p.isOp(".") {
		n := p.toks[p.i+1]
		if n.kind == tIdent || n.kind == tDelimIdent {
			p.i += 2
			ts = typeSpec{ns: t.text, name: n.text}
		}
	}
	return ts, nil
}

func (p *parser) unary() (node, error) {
	t := p.peek()
	if t.kind == tOp && (t.text == "+" || t.text == "-") {
		p.advance()
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		if lit, ok := x.(*litNode); ok && len(lit.val) == 1 {
			switch v := lit.val[0].(type) {
			case Integer:
				return &litNode{val: Collection{-v}}, nil
			case Decimal:
				return &litNode{val: Collection{v.Neg()}}, nil
			case Quantity:
				v.Value = v.Value.Neg()
				return &litNode{val: Collection{v}}, nil
			}
		}
		return &negNode{x: x, pos: t.pos}, nil
	}
	x, err := p.term()
	if err != nil {
		return nil, err
	}
	return p.postfix(x)
}

func (p *parser) postfix(x node) (node, error) {
	for {
		switch {
		case p.isOp("."):
			p.advance()
			t := p.advance()
			if t.kind != tIdent && t.kind != tDelimIdent {
				return nil, &SyntaxError{Pos: t.pos, Msg: "identifier or function expected after '.'"}
			}
			if t.kind == tIdent && p.isOp("(") {
				c, err := p.call(x, t)
				if err != nil {
					return nil, err
				}
				x = c
				continue
			}
			x = &memberNode{target: x, name: t.text, pos: t.pos}
		case p.isOp("["):
			t := p.advance()
			idx, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			x = &indexerNode{target: x, index: idx, pos: t.pos}
		default:
			return x, nil
		}
	}
}

var calendarKeywords = map[string]bool{
	"year": true, "years": true, "month": true, "months": true, "week": true, "weeks": true,
	"day": true, "days": true, "hour": true, "hours": true, "minute": true, "minutes": true,
	"second": true, "seconds": true, "millisecond": true, "milliseconds": true,
}

func (p *parser) term() (node, error) {
	t := p.advance()
	switch t.kind {
	case tEOF:
		return nil, &SyntaxError{Pos: t.pos, Msg: "expression expected but the input ended"}
	case tNumber:
		var v Item
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			v = Integer(i)
		} else if d, ok := ParseDecimal(t.text); ok {
			v = d
		} else {
			return nil, &SyntaxError{Pos: t.pos, Msg: "invalid number"}
		}
		// quantity literal: a number followed by a unit
		n := p.peek()
		if n.kind == tString || (n.kind == tIdent && calendarKeywords[n.text]) {
			p.advance()
			d, ok := v.(Decimal)
			if !ok {
				d = DecimalFromInt(int64(v.(Integer)))
			}
			return &litNode{val: Collection{Quantity{Value: d, Unit: n.text, Calendar: n.kind == tIdent}}}, nil
		}
		return &litNode{val: Collection{v}}, nil
	case tString:
		return &litNode{val: Collection{String(t.text)}}, nil
	case tDate:
		d, _ := ParseDate(t.text)
		return &litNode{val: Collection{d}}, nil
	case tDateTime:
		d, _ := ParseDateTime(t.text)
		return &litNode{val: Collection{d}}, nil
	case tTime:
		d, _ := ParseTime(t.text)
		return &litNode{val: Collection{d}}, nil
	case tExtVar:
		return newVarNode(t.text, t.pos), nil
	case tSpecial:
		switch t.text {
		case "this":
			return &thisNode{}, nil
		case "index":
			return &indexNode{pos: t.pos}, nil
		default:
			return &totalNode{pos: t.pos}, nil
		}
	case tDelimIdent:
		return &identNode{name: t.text, pos: t.pos}, nil
	case tIdent:
		switch t.text {
		case "true", "false":
			return &litNode{val: Collection{Boolean(t.text == "true")}}, nil
		case "and", "or", "xor", "implies", "div", "mod":
			return nil, &SyntaxError{Pos: t.pos, Msg: "operator '" + t.text + "' where an expression was expected"}
		}
		if p.isOp("(") {
			return p.call(nil, t)
		}
		return &identNode{name: t.text, pos: t.pos}, nil
	case tOp:
		switch t.text {
		case "(":
			x, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return x, nil
		case "{":
			if err := p.expectOp("}"); err != nil {
				return nil, err
			}
			return &litNode{}, nil
		}
	}
	return nil, &SyntaxError{Pos: t.pos, Msg: "unexpected '" + tokenText(t) + "'"}
}

// tokenText names a token for an error message; literal values are not
// repeated because expressions may embed data.
func tokenText(t token) string {
	switch t.kind {
	case tOp, tIdent:
		if len(t.text) > 40 {
			return t.text[:40]
		}
		return t.text
	case tString:
		return "string literal"
	case tNumber:
		return "number"
	}
	return "token"
}

func (p *parser) call(target node, name token) (node, error) {
	open := p.advance() // (
	if err := p.enter(open.pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	var args []node
	if !p.isOp(")") {
		for {
			a, err := p.expr(0)
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.isOp(",") {
				p.advance()
				continue
			}
			break
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	fn, ok := functions[name.text]
	if !ok {
		return nil, &SyntaxError{Pos: name.pos, Msg: "unknown function " + tokenText(name) + "()"}
	}
	if len(args) < fn.min || (fn.max >= 0 && len(args) > fn.max) {
		return nil, &SyntaxError{Pos: name.pos, Msg: "wrong number of arguments to " + name.text + "()"}
	}
	if name.text == "count" {
		if ch, ok := target.(*callNode); ok && ch.name == "children" && len(ch.args) == 0 {
			return &countChildrenNode{target: ch.target}, nil
		}
	}
	c := &callNode{target: target, fn: fn, name: name.text, args: args, pos: name.pos}
	if fn.typeArg {
		ts, ok := typeSpecOf(args[0])
		if !ok {
			return nil, &SyntaxError{Pos: name.pos, Msg: name.text + "() needs a type name"}
		}
		c.typ = ts
	}
	if name.text == "sort" {
		// a leading minus on a sort key means descending order
		c.desc = make([]bool, len(args))
		for i, a := range args {
			if n, ok := a.(*negNode); ok {
				c.desc[i] = true
				c.args[i] = n.x
			}
		}
	}
	if fn.regexArg >= 0 && len(args) > fn.regexArg {
		if l, ok := args[fn.regexArg].(*litNode); ok && len(l.val) == 1 {
			if s, ok := l.val[0].(String); ok {
				re, err := compileRegex(string(s), name.text == "matchesFull")
				if err != nil {
					return nil, &SyntaxError{Pos: name.pos, Msg: "invalid regular expression in " + name.text + "()"}
				}
				c.re = re
			}
		}
	}
	return c, nil
}

func typeSpecOf(n node) (typeSpec, bool) {
	switch x := n.(type) {
	case *identNode:
		return typeSpec{name: x.name}, true
	case *memberNode:
		if id, ok := x.target.(*identNode); ok && (id.name == "FHIR" || id.name == "System") {
			return typeSpec{ns: id.name, name: x.name}, true
		}
	}
	return typeSpec{}, false
}

func compileRegex(pattern string, full bool) (*regexp.Regexp, error) {
	// FHIRPath regexes run in single-line mode: '.' matches newlines.
	if full {
		pattern = "^(?:" + pattern + ")$"
	}
	return regexp.Compile("(?s)" + pattern)
}
