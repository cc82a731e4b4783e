package questionnaire

import (
	"strings"
	"time"
)

// compareTemporal compares two FHIR date, dateTime or time values. Values of
// different precision are compared on what both state: 2020-05 is neither
// before nor after 2020, so they compare equal, which keeps a limit of "2020"
// from rejecting an answer within that year. ok is false when the two cannot
// be compared (a time against a date).
func compareTemporal(a, b string) (int, bool) {
	ta, tb := isTime(a), isTime(b)
	if ta != tb {
		return 0, false
	}
	if ta {
		return strings.Compare(a, b), true
	}
	if x, err := time.Parse(time.RFC3339Nano, a); err == nil {
		if y, err := time.Parse(time.RFC3339Nano, b); err == nil {
			return x.Compare(y), true
		}
	}
	da, db := datePart(a), datePart(b)
	n := min(len(da), len(db))
	if n < 4 {
		return 0, false
	}
	return strings.Compare(da[:n], db[:n]), true
}

func isTime(s string) bool { return len(s) >= 3 && s[2] == ':' }

func datePart(s string) string {
	if i := strings.IndexByte(s, 'T'); i >= 0 {
		return s[:i]
	}
	return s
}
