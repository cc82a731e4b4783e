package fhirpath

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// SyntaxError is a compile-time error; Pos is the byte offset in the source.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("fhirpath: %s at offset %d", e.Msg, e.Pos)
}

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tDelimIdent // `backticked`
	tString
	tNumber
	tDate
	tDateTime
	tTime
	tExtVar  // %name
	tSpecial // $this, $index, $total
	tOp
)

type token struct {
	kind tokKind
	text string // identifier, decoded string, number text, literal body, operator
	pos  int
}

type lexer struct {
	src  string
	pos  int
	toks []token
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src}
	for {
		t, err := l.next()
		if err != nil {
			return nil, err
		}
		l.toks = append(l.toks, t)
		if t.kind == tEOF {
			return l.toks, nil
		}
	}
}

func (l *lexer) errf(pos int, format string, a ...any) error {
	return &SyntaxError{Pos: pos, Msg: fmt.Sprintf(format, a...)}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) skipSpace() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f':
			l.pos++
		case c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '/':
			for l.pos < len(l.src) && l.src[l.pos] != '\n' {
				l.pos++
			}
		case c == '/' && l.pos+1 < len(l.src) && l.src[l.pos+1] == '*':
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errf(l.pos, "unterminated comment")
			}
			l.pos += end + 4
		default:
			return nil
		}
	}
	return nil
}

func (l *lexer) next() (token, error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tEOF, pos: start}, nil
	}
	c := l.src[l.pos]
	switch {
	case isIdentStart(c):
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		return token{kind: tIdent, text: l.src[start:l.pos], pos: start}, nil
	case c == '`':
		s, err := l.quoted('`')
		if err == nil && s == "" {
			err = l.errf(start, "empty identifier")
		}
		return token{kind: tDelimIdent, text: s, pos: start}, err
	case c == '\'':
		s, err := l.quoted('\'')
		return token{kind: tString, text: s, pos: start}, err
	case isDigit(c):
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
		if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
		return token{kind: tNumber, text: l.src[start:l.pos], pos: start}, nil
	case c == '@':
		return l.dateLiteral()
	case c == '%':
		l.pos++
		if l.pos < len(l.src) && (l.src[l.pos] == '`' || l.src[l.pos] == '\'') {
			s, err := l.quoted(l.src[l.pos])
			if err == nil && s == "" {
				err = l.errf(start, "empty variable name")
			}
			return token{kind: tExtVar, text: s, pos: start}, err
		}
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		if l.pos == start+1 {
			return token{}, l.errf(start, "variable name expected after %%")
		}
		return token{kind: tExtVar, text: l.src[start+1 : l.pos], pos: start}, nil
	case c == '$':
		l.pos++
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		name := l.src[start+1 : l.pos]
		if name != "this" && name != "index" && name != "total" {
			return token{}, l.errf(start, "unknown special variable")
		}
		return token{kind: tSpecial, text: name, pos: start}, nil
	}
	// operators, longest first
	for _, op := range [...]string{"<=", ">=", "!=", "!~", "=", "~", "<", ">", "+", "-", "*", "/",
		"&", "|", "(", ")", "[", "]", "{", "}", ".", ","} {
		if strings.HasPrefix(l.src[l.pos:], op) {
			l.pos += len(op)
			return token{kind: tOp, text: op, pos: start}, nil
		}
	}
	return token{}, l.errf(start, "unexpected character")
}

// quoted reads a '…' string or `…` identifier with FHIRPath escapes.
func (l *lexer) quoted(q byte) (string, error) {
	start := l.pos
	l.pos++
	var b strings.Builder
	for {
		if l.pos >= len(l.src) {
			return "", l.errf(start, "unterminated string or identifier")
		}
		c := l.src[l.pos]
		if c == q {
			l.pos++
			return b.String(), nil
		}
		if c != '\\' {
			b.WriteByte(c)
			l.pos++
			continue
		}
		if l.pos+1 >= len(l.src) {
			return "", l.errf(l.pos, "unterminated escape")
		}
		e := l.src[l.pos+1]
		l.pos += 2
		switch e {
		case '\'', '"', '`', '\\', '/':
			b.WriteByte(e)
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if l.pos+4 > len(l.src) {
				return "", l.errf(l.pos-2, "bad \\u escape")
			}
			n, err := strconv.ParseUint(l.src[l.pos:l.pos+4], 16, 32)
			if err != nil {
				return "", l.errf(l.pos-2, "bad \\u escape")
			}
			l.pos += 4
			r := rune(n)
			if !utf8.ValidRune(r) {
				r = utf8.RuneError
			}
			b.WriteRune(r)
		default:
			return "", l.errf(l.pos-2, "unknown escape sequence")
		}
	}
}

// dateLiteral reads @YYYY[-MM[-DD]][T[hh[:mm[:ss[.fff]]]][tz]] or @Thh….
func (l *lexer) dateLiteral() (token, error) {
	start := l.pos
	l.pos++
	body := l.pos
	if l.pos < len(l.src) && l.src[l.pos] == 'T' {
		l.pos++
		l.scanTime()
		txt := l.src[body+1 : l.pos]
		if _, ok := ParseTime(txt); !ok {
			return token{}, l.errf(start, "invalid time literal")
		}
		return token{kind: tTime, text: txt, pos: start}, nil
	}
	// date part
	n := 0
	for l.pos < len(l.src) && isDigit(l.src[l.pos]) && n < 4 {
		l.pos++
		n++
	}
	for i := 0; i < 2; i++ {
		if l.pos+2 < len(l.src) && l.src[l.pos] == '-' && isDigit(l.src[l.pos+1]) {
			l.pos++
			for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
				l.pos++
			}
		}
	}
	kind := tDate
	if l.pos < len(l.src) && l.src[l.pos] == 'T' {
		kind = tDateTime
		l.pos++
		l.scanTime()
		// time-zone offset
		if l.pos < len(l.src) && l.src[l.pos] == 'Z' {
			l.pos++
		} else if l.pos+6 <= len(l.src) && (l.src[l.pos] == '+' || l.src[l.pos] == '-') &&
			isDigit(l.src[l.pos+1]) && isDigit(l.src[l.pos+2]) &&
			l.src[l.pos+3] == ':' && isDigit(l.src[l.pos+4]) && isDigit(l.src[l.pos+5]) &&
			l.src[l.pos-1] != 'T' {
			l.pos += 6
		}
	}
	txt := l.src[body:l.pos]
	if kind == tDate {
		if _, ok := ParseDate(txt); !ok {
			return token{}, l.errf(start, "invalid date literal")
		}
	} else if _, ok := ParseDateTime(txt); !ok {
		return token{}, l.errf(start, "invalid dateTime literal")
	}
	return token{kind: kind, text: txt, pos: start}, nil
}

func (l *lexer) scanTime() {
	take2 := func() bool {
		if l.pos+2 <= len(l.src) && isDigit(l.src[l.pos]) && isDigit(l.src[l.pos+1]) {
			l.pos += 2
			return true
		}
		return false
	}
	if !take2() {
		return
	}
	for i := 0; i < 2; i++ {
		if l.pos+3 <= len(l.src) && l.src[l.pos] == ':' && isDigit(l.src[l.pos+1]) {
			l.pos++
			if !take2() {
				return
			}
		} else {
			return
		}
	}
	if l.pos+1 < len(l.src) && l.src[l.pos] == '.' && isDigit(l.src[l.pos+1]) {
		l.pos++
		for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
			l.pos++
		}
	}
}
