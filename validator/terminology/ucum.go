package terminology

import "fmt"

// checkUCUM checks the syntax of a UCUM expression (UCUM §2.1 grammar:
// terms of components joined by "." and "/", components being a unit
// symbol with an optional exponent, a number, an {annotation} or a
// parenthesised term). It does not know UCUM's atom and prefix tables, so
// "kilofoo" passes; it catches spaces, unbalanced brackets, empty
// components and operator misuse.
func checkUCUM(code string) error {
	if code == "" {
		return fmt.Errorf("is empty, not a UCUM unit")
	}
	p := ucumParser{s: code}
	if p.peek() == '/' {
		p.i++
	}
	if err := p.term(); err != nil {
		return fmt.Errorf("is not a UCUM unit: %v", err)
	}
	if p.i < len(p.s) {
		return fmt.Errorf("is not a UCUM unit: unexpected %q at position %d", p.s[p.i], p.i+1)
	}
	return nil
}

type ucumParser struct {
	s     string
	i     int
	depth int
}

func (p *ucumParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *ucumParser) term() error {
	for {
		if err := p.component(); err != nil {
			return err
		}
		if c := p.peek(); c == '.' || c == '/' {
			p.i++
			continue
		}
		return nil
	}
}

func (p *ucumParser) component() error {
	switch c := p.peek(); {
	case c == 0:
		return fmt.Errorf("a unit is missing at the end")
	case c == '(':
		p.depth++
		if p.depth > 32 {
			return fmt.Errorf("parentheses nest too deep")
		}
		p.i++
		if err := p.term(); err != nil {
			return err
		}
		if p.peek() != ')' {
			return fmt.Errorf("missing ')' at position %d", p.i+1)
		}
		p.i++
		p.depth--
		return nil
	case c == '{':
		return p.annotation()
	case c == '.' || c == '/' || c == ')' || c == '}':
		return fmt.Errorf("a unit is missing before %q at position %d", c, p.i+1)
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '[' {
			end := p.i + 1
			for end < len(p.s) && p.s[end] != ']' {
				if p.s[end] <= ' ' || p.s[end] > '~' || p.s[end] == '[' {
					return fmt.Errorf("bad character in bracketed symbol at position %d", end+1)
				}
				end++
			}
			if end == len(p.s) {
				return fmt.Errorf("unclosed '[' at position %d", p.i+1)
			}
			p.i = end + 1
			continue
		}
		if c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || c == '}' {
			break
		}
		if c <= ' ' || c > '~' || c == ']' || c == '"' {
			return fmt.Errorf("character %q at position %d is not allowed", c, p.i+1)
		}
		p.i++
	}
	sym := p.s[start:p.i]
	// Split a trailing exponent ("m2", "s-1", "10*3") off the symbol.
	j := len(sym)
	for j > 0 && sym[j-1] >= '0' && sym[j-1] <= '9' {
		j--
	}
	allDigits := j == 0
	if !allDigits && j < len(sym) && (sym[j-1] == '+' || sym[j-1] == '-') {
		j--
	}
	if !allDigits && j == 0 {
		return fmt.Errorf("exponent without a unit at position %d", start+1)
	}
	if p.peek() == '{' {
		return p.annotation()
	}
	return nil
}

func (p *ucumParser) annotation() error {
	start := p.i
	p.i++
	for p.i < len(p.s) && p.s[p.i] != '}' {
		if c := p.s[p.i]; c < ' ' || c > '~' || c == '{' {
			return fmt.Errorf("character %q in annotation at position %d is not allowed", c, p.i+1)
		}
		p.i++
	}
	if p.i == len(p.s) {
		return fmt.Errorf("unclosed '{' at position %d", start+1)
	}
	p.i++
	return nil
}
