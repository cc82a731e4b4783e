package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/sandkasse/sandkasse/validator/issue"
)

// textRenderer is for a person at a terminal. Each finding starts with
// path:line:col so that editors and IDE terminals make it a link.
type textRenderer struct{}

func (textRenderer) Result(w io.Writer, r Result) error {
	b := bufio.NewWriter(w)
	b.WriteString(title(r))
	b.WriteString(": ")
	if r.ResourceType != "" {
		b.WriteString(r.ResourceType)
	} else {
		b.WriteString("(resource type unknown)")
	}
	if r.Valid() {
		b.WriteString(": valid")
	} else {
		b.WriteString(": INVALID")
	}
	if counts := countText(r.Issues); counts != "" {
		b.WriteString(" (" + counts + ")")
	}
	b.WriteByte('\n')
	for _, i := range r.Issues {
		fmt.Fprintf(b, "  %-11s ", i.Severity)
		if loc := location(r, i); loc != "" {
			b.WriteString(loc)
			b.WriteByte(' ')
		}
		if i.Expression != "" {
			b.WriteString(i.Expression)
			b.WriteByte(' ')
		}
		b.WriteString("[" + i.Code + "]\n")
		b.WriteString("              " + oneLine(i.Message) + "\n")
		if fix := Fix(i); fix != "" {
			b.WriteString("              fix: " + oneLine(fix) + "\n")
		}
	}
	return b.Flush()
}

func (textRenderer) Summary(w io.Writer, s Summary) error {
	_, err := fmt.Fprintf(w, "\n%s: %d valid, %d invalid; %d fatal, %s, %s, %d information\n",
		plural(s.Resources, "resource"), s.Resources-s.Invalid, s.Invalid, s.BySeverity[issue.Fatal],
		plural(s.BySeverity[issue.Error], "error"), plural(s.BySeverity[issue.Warning], "warning"),
		s.BySeverity[issue.Information])
	return err
}

func title(r Result) string {
	src := r.Source
	if src == "" {
		src = "(request)"
	} else if src == "-" {
		src = "(stdin)"
	}
	if r.NDJSON {
		return fmt.Sprintf("%s line %d", src, r.Index+1)
	}
	return src
}

// location is path:line:col, or as much of it as is known.
func location(r Result, i issue.Issue) string {
	if i.Line <= 0 {
		return ""
	}
	pos := fmt.Sprintf("%d:%d", i.Line, i.Column)
	if r.Source == "" || r.Source == "-" {
		return pos
	}
	return r.Source + ":" + pos
}

func countText(l issue.List) string {
	var parts []string
	for s := issue.Fatal; ; s-- {
		n := 0
		for _, i := range l {
			if i.Severity == s {
				n++
			}
		}
		if n > 0 {
			name := s.String()
			if s == issue.Error || s == issue.Warning {
				name = plural(n, name)
			} else {
				name = fmt.Sprintf("%d %s", n, name)
			}
			parts = append(parts, name)
		}
		if s == issue.Information {
			break
		}
	}
	return strings.Join(parts, ", ")
}

// oneLine keeps a message from breaking the layout (or forging extra
// finding lines) when it carries a newline.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

func plural(n int, word string) string {
	if n != 1 {
		word += "s"
	}
	return fmt.Sprintf("%d %s", n, word)
}
