package structure

import "testing"

var dateValues = []string{
	"2020", "2020-01", "2020-01-31", "2020-12-31T23:59:60Z", "2020-01-01T00:00:00+14:00", "2020-01-01T00:00:00-13:59",
	"2020-01-01T00:00:00.123456789+01:00", "0001-01-01", "0000", "2020-13", "2020-00", "2020-01-32", "2020-01-00",
	"2020-01-01T24:00:00Z", "2020-01-01T10:60:00Z", "2020-01-01T10:00:61Z", "2020-01-01T10:00:00+14:01",
	"2020-01-01T10:00:00", "2020-01-01T10:00Z", "2020-01-01T10:00:00.Z", "2020-01T10:00:00Z", "20200101",
	"2020-1-01", "2020-01-01T10:00:00+1:00", "2020-01-01T10:00:00z", "10:00:00", "23:59:60.5", "24:00:00",
	"1:00:00", "10:00", "", "2020-01-01T10:00:00Z ", " 2020", "9999-12-31T23:59:59.9999-00:00",
	"a b", "a  b", " a", "a ", "a\tb", "final", "in-progress", "A.b-9", "æøå", "a\u00a0b", "x\fy",
	"0123456789012345678901234567890123456789012345678901234567890123", "01234567890123456789012345678901234567890123456789012345678901234",
}

// The hand-written checks must accept exactly what the R4 regular
// expressions accept, on every prefix of every sample.
func TestDateTimeChecksAgreeWithRegexps(t *testing.T) {
	for _, v := range dateValues {
		for i := 0; i <= len(v); i++ {
			s := v[:i]
			for _, c := range []struct {
				name string
				fast func(string) bool
				re   func(string) bool
			}{
				{"date", isDate, reDate.MatchString},
				{"dateTime", isDateTime, reDateTime.MatchString},
				{"instant", isInstant, reInstant.MatchString},
				{"time", isTime, reTime.MatchString},
				{"code", isCode, reCode.MatchString},
				{"id", isID, reID.MatchString},
			} {
				if c.fast(s) != c.re(s) {
					t.Errorf("%s(%q): hand-written %v, regexp %v", c.name, s, c.fast(s), c.re(s))
				}
			}
		}
	}
}

func FuzzDateTimeChecks(f *testing.F) {
	for _, v := range dateValues {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isDate(s) != reDate.MatchString(s) || isDateTime(s) != reDateTime.MatchString(s) ||
			isInstant(s) != reInstant.MatchString(s) || isTime(s) != reTime.MatchString(s) ||
			isCode(s) != reCode.MatchString(s) || isID(s) != reID.MatchString(s) {
			t.Fatalf("hand-written checks and regexps disagree on %q", s)
		}
	})
}
