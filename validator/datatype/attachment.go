// Package datatype holds checks of a data type's values against each other
// that no invariant states, such as an Attachment's size and hash against
// its data.
package datatype

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/validator/element"
	"github.com/sandkasse/sandkasse/validator/issue"
)

// Locate gives the line and column of an element.
type Locate func(*element.Element) (line, col int)

// Check runs the checks for e's type, if there are any.
func Check(e *element.Element, at Locate) issue.List {
	if e.Type == "Attachment" {
		return attachment(e, at)
	}
	return nil
}

func value(e *element.Element, name string) (string, bool) {
	if x := e.First(name); x != nil && x.HasValue {
		return x.Value, true
	}
	return "", false
}

func attachment(e *element.Element, at Locate) issue.List {
	data, ok := value(e, "data")
	size, hasSize := value(e, "size")
	hash, hasHash := value(e, "hash")
	if !ok || (!hasSize && !hasHash) {
		return nil // nothing to compare the data with: do not decode it
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, data))
	if err != nil {
		return nil // the base64Binary format check reports it
	}
	var out issue.List
	add := func(code, msg, fix string) {
		l, c := at(e)
		out = append(out, issue.Issue{Severity: issue.Error, Code: code, Type: "structure", Expression: e.Path(),
			Line: l, Column: c, Message: msg, Fix: fix})
	}
	if hasSize {
		if n, err := strconv.Atoi(size); err == nil && n != len(raw) {
			add("attachment-size", fmt.Sprintf("stated attachment size %d does not match the actual size of the data, %d bytes", n, len(raw)),
				"set size to the number of bytes of the decoded data")
		}
	}
	if hasHash {
		sum := sha1.Sum(raw)
		if want, err := base64.StdEncoding.DecodeString(hash); err == nil && !bytes.Equal(want, sum[:]) {
			add("attachment-hash", "the attachment hash is not the SHA-1 of the data", "set hash to the base64 SHA-1 of the decoded data")
		}
	}
	return out
}
