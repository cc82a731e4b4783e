package fhirpath

import (
	"strconv"
	"strings"
	"time"
)

// prec is how much of a date/time value was given. FHIRPath compares
// partial values component by component and answers "unknown" where one side
// stops earlier, so the precision is part of the value.
type prec uint8

const (
	precNone prec = iota
	precYear
	precMonth
	precDay
	precHour
	precMinute
	precSecond
	precMilli
)

// temporal holds the fields shared by Date, DateTime and Time.
type temporal struct {
	year                        int
	month, day                  int
	hour, minute, second, milli int
	prec                        prec
	tz                          bool // an offset was given
	tzZ                         bool // the offset was written as Z
	tzMin                       int  // offset from UTC in minutes
	timeOnly                    bool
}

// Date is System.Date (year, month or day precision).
type Date struct{ t temporal }

// DateTime is System.DateTime (year to millisecond precision, optional offset).
type DateTime struct{ t temporal }

// Time is System.Time (hour to millisecond precision).
type Time struct{ t temporal }

func (d Date) String() string     { return d.t.format() }
func (d DateTime) String() string { return d.t.format() }
func (d Time) String() string     { return d.t.format() }

// ParseDate reads YYYY, YYYY-MM or YYYY-MM-DD.
func ParseDate(s string) (Date, bool) {
	t, rest, ok := parseDatePart(s)
	if !ok || rest != "" {
		return Date{}, false
	}
	return Date{t}, true
}

// ParseDateTime reads a FHIR dateTime/instant or a FHIRPath DateTime literal
// body (which may end in a bare "T" and may stop at any time component).
func ParseDateTime(s string) (DateTime, bool) {
	t, rest, ok := parseDatePart(s)
	if !ok {
		return DateTime{}, false
	}
	if rest == "" {
		return DateTime{t}, true
	}
	if rest[0] != 'T' {
		return DateTime{}, false
	}
	rest = rest[1:]
	if rest == "" {
		return DateTime{t}, true
	}
	if t.prec != precDay {
		return DateTime{}, false
	}
	tt, rest, ok := parseTimePart(rest)
	if !ok {
		return DateTime{}, false
	}
	t.hour, t.minute, t.second, t.milli, t.prec = tt.hour, tt.minute, tt.second, tt.milli, tt.prec
	if rest != "" {
		if !parseTZ(rest, &t) {
			return DateTime{}, false
		}
	}
	return DateTime{t}, true
}

// ParseTime reads hh[:mm[:ss[.fff]]].
func ParseTime(s string) (Time, bool) {
	t, rest, ok := parseTimePart(s)
	if !ok || rest != "" {
		return Time{}, false
	}
	return Time{t}, true
}

func digitsN(s string, n int) (int, bool) {
	if len(s) < n {
		return 0, false
	}
	v := 0
	for i := 0; i < n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(year, month int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func parseDatePart(s string) (temporal, string, bool) {
	var t temporal
	y, ok := digitsN(s, 4)
	if !ok || (len(s) > 4 && s[4] >= '0' && s[4] <= '9') {
		return t, s, false
	}
	t.year, t.prec, s = y, precYear, s[4:]
	if len(s) >= 3 && s[0] == '-' {
		m, ok := digitsN(s[1:], 2)
		if !ok || m < 1 || m > 12 {
			return t, s, false
		}
		t.month, t.prec, s = m, precMonth, s[3:]
		if len(s) >= 3 && s[0] == '-' {
			d, ok := digitsN(s[1:], 2)
			if !ok || d < 1 || d > daysIn(y, m) {
				return t, s, false
			}
			t.day, t.prec, s = d, precDay, s[3:]
		}
	}
	if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
		return t, s, false
	}
	return t, s, true
}

func parseTimePart(s string) (temporal, string, bool) {
	t := temporal{timeOnly: true}
	h, ok := digitsN(s, 2)
	if !ok || h > 23 {
		return t, s, false
	}
	t.hour, t.prec, s = h, precHour, s[2:]
	if len(s) >= 3 && s[0] == ':' {
		m, ok := digitsN(s[1:], 2)
		if !ok || m > 59 {
			return t, s, false
		}
		t.minute, t.prec, s = m, precMinute, s[3:]
		if len(s) >= 3 && s[0] == ':' {
			sec, ok := digitsN(s[1:], 2)
			if !ok || sec > 59 {
				return t, s, false
			}
			t.second, t.prec, s = sec, precSecond, s[3:]
			if len(s) >= 2 && s[0] == '.' && s[1] >= '0' && s[1] <= '9' {
				i := 1
				ms, scale := 0, 0
				for i < len(s) && s[i] >= '0' && s[i] <= '9' {
					if scale < 3 {
						ms = ms*10 + int(s[i]-'0')
						scale++
					}
					i++
				}
				for ; scale < 3; scale++ {
					ms *= 10
				}
				t.milli, t.prec, s = ms, precMilli, s[i:]
			}
		}
	}
	if len(s) > 0 && s[0] >= '0' && s[0] <= '9' {
		return t, s, false
	}
	return t, s, true
}

func parseTZ(s string, t *temporal) bool {
	if s == "Z" {
		t.tz, t.tzZ, t.tzMin = true, true, 0
		return true
	}
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
		return false
	}
	h, ok1 := digitsN(s[1:], 2)
	m, ok2 := digitsN(s[4:], 2)
	if !ok1 || !ok2 || h > 14 || m > 59 {
		return false
	}
	t.tz, t.tzMin = true, h*60+m
	if s[0] == '-' {
		t.tzMin = -t.tzMin
	}
	return true
}

func pad(b *strings.Builder, v, n int) {
	s := strconv.Itoa(v)
	for i := len(s); i < n; i++ {
		b.WriteByte('0')
	}
	b.WriteString(s)
}

func (t temporal) format() string {
	var b strings.Builder
	if !t.timeOnly {
		pad(&b, t.year, 4)
		if t.prec >= precMonth {
			b.WriteByte('-')
			pad(&b, t.month, 2)
		}
		if t.prec >= precDay {
			b.WriteByte('-')
			pad(&b, t.day, 2)
		}
		if t.prec <= precDay {
			return b.String()
		}
		b.WriteByte('T')
	}
	pad(&b, t.hour, 2)
	if t.prec >= precMinute {
		b.WriteByte(':')
		pad(&b, t.minute, 2)
	}
	if t.prec >= precSecond {
		b.WriteByte(':')
		pad(&b, t.second, 2)
	}
	if t.prec >= precMilli {
		b.WriteByte('.')
		pad(&b, t.milli, 3)
	}
	if t.tz && !t.timeOnly {
		b.WriteString(tzString(t.tzMin, t.tzZ))
	}
	return b.String()
}

func tzString(min int, z bool) string {
	if z && min == 0 {
		return "Z"
	}
	var b strings.Builder
	if min < 0 {
		b.WriteByte('-')
		min = -min
	} else {
		b.WriteByte('+')
	}
	pad(&b, min/60, 2)
	b.WriteByte(':')
	pad(&b, min%60, 2)
	return b.String()
}

// goTime places the value on the time line in UTC terms of its own fields
// (the offset is not applied).
func (t temporal) goTime() time.Time {
	mo, d := t.month, t.day
	if mo == 0 {
		mo = 1
	}
	if d == 0 {
		d = 1
	}
	y := t.year
	if t.timeOnly {
		y, mo, d = 2000, 1, 1
	}
	return time.Date(y, time.Month(mo), d, t.hour, t.minute, t.second, t.milli*1e6, time.UTC)
}

func (t *temporal) setFrom(g time.Time) {
	if !t.timeOnly {
		t.year, t.month, t.day = g.Year(), int(g.Month()), g.Day()
	}
	t.hour, t.minute, t.second, t.milli = g.Hour(), g.Minute(), g.Second(), g.Nanosecond()/1e6
}

// toUTC shifts a value with an offset to UTC so that values written in
// different zones compare correctly.
func (t temporal) toUTC() temporal {
	if !t.tz || t.tzMin == 0 || t.prec < precHour {
		return t
	}
	g := t.goTime().Add(-time.Duration(t.tzMin) * time.Minute)
	u := t
	u.setFrom(g)
	u.tzMin, u.tzZ = 0, true
	return u
}

// cmpTemporal orders two values; ok is false when the answer depends on
// components only one side has (different precision) or on an unknown
// offset.
func cmpTemporal(a, b temporal) (int, bool) {
	if a.timeOnly != b.timeOnly {
		return 0, false
	}
	if !a.timeOnly && a.prec > precDay && b.prec > precDay {
		if a.tz != b.tz {
			return 0, false
		}
		if a.tz {
			a, b = a.toUTC(), b.toUTC()
		}
	}
	first := precYear
	if a.timeOnly {
		first = precHour
	}
	for l := first; l <= precSecond; l++ {
		ah, bh := a.prec >= l, b.prec >= l
		if !ah && !bh {
			return 0, true
		}
		if ah != bh {
			return 0, false
		}
		var x, y int
		switch l {
		case precYear:
			x, y = a.year, b.year
		case precMonth:
			x, y = a.month, b.month
		case precDay:
			x, y = a.day, b.day
		case precHour:
			x, y = a.hour, b.hour
		case precMinute:
			x, y = a.minute, b.minute
		case precSecond:
			x, y = a.second*1000+a.milli, b.second*1000+b.milli
		}
		if x != y {
			if x < y {
				return -1, true
			}
			return 1, true
		}
	}
	return 0, true
}

// calUnit maps a duration unit to the precision it adds at; UCUM 'a' and
// 'mo' are not calendar units (their length is an average), so date
// arithmetic rejects them, as the reference implementation does.
func calUnit(unit string) (prec, bool) {
	switch unit {
	case "year", "years":
		return precYear, true
	case "month", "months":
		return precMonth, true
	case "week", "weeks", "wk":
		return precNone, true // handled as 7 days
	case "day", "days", "d":
		return precDay, true
	case "hour", "hours", "h":
		return precHour, true
	case "minute", "minutes", "min":
		return precMinute, true
	case "second", "seconds", "s":
		return precSecond, true
	case "millisecond", "milliseconds", "ms":
		return precMilli, true
	}
	return 0, false
}

var unitMillis = map[prec]int64{
	precDay: 86400000, precHour: 3600000, precMinute: 60000, precSecond: 1000, precMilli: 1,
}

// addDuration adds n units (the quantity's decimal part already dropped:
// FHIRPath ignores it) to a date/time value.
func (t temporal) addDuration(n int64, unit string) (temporal, bool) {
	u, ok := calUnit(unit)
	if !ok {
		return t, false
	}
	if u == precNone {
		u, n = precDay, n*7
	}
	if t.timeOnly && u < precHour {
		return t, false
	}
	// Bound the amount before any unit conversion can overflow: nothing
	// beyond the 10 000-year range of FHIRPath dates is meaningful.
	limit := int64(1) << 40
	if u >= precDay {
		limit = 400_000_000_000_000 / unitMillis[u]
	}
	if n > limit || n < -limit {
		return t, false
	}
	// A unit finer than the value's precision is converted to the value's
	// precision and truncated (@2014 + 24 months is @2016; @2014-01-01 + 25
	// hours adds one day).
	if u > t.prec && t.prec >= precDay {
		n = n * unitMillis[u] / unitMillis[t.prec]
		u = t.prec
	} else if u > t.prec {
		days := n
		if u > precDay {
			days = n * unitMillis[u] / unitMillis[precDay]
		}
		if u == precMonth {
			u, n = precYear, n/12
		} else if t.prec == precMonth {
			u, n = precMonth, days/30
		} else {
			u, n = precYear, days/365
		}
	}
	r := t
	switch u {
	case precYear, precMonth:
		months := int64(t.year)*12 + int64(max(t.month, 1)-1)
		if u == precYear {
			months += n * 12
		} else {
			months += n
		}
		r.year = int(months / 12)
		if months < 0 {
			return t, false
		}
		if t.prec >= precMonth {
			r.month = int(months%12) + 1
		}
		if t.prec >= precDay {
			r.day = min(t.day, daysIn(r.year, r.month))
		}
	default:
		g := t.goTime().Add(time.Duration(n * unitMillis[u] * 1e6))
		r.setFrom(g)
	}
	if !r.timeOnly && (r.year < 1 || r.year > 9999) {
		return t, false
	}
	return r, true
}

// boundary fills the missing components with their least (low) or greatest
// value and cuts the result at digits of precision (4 year, 6 month, 8 day,
// 10 hour, 12 minute, 14 second, 17 millisecond; for times 2..9). A value
// without an offset is given the widest one (+14:00 low, -12:00 high).
func (t temporal) boundary(digits int, low bool) (temporal, bool) {
	var p prec
	if t.timeOnly {
		switch digits {
		case 2:
			p = precHour
		case 4:
			p = precMinute
		case 6:
			p = precSecond
		case 9:
			p = precMilli
		default:
			return t, false
		}
	} else {
		switch digits {
		case 4:
			p = precYear
		case 6:
			p = precMonth
		case 8:
			p = precDay
		case 10:
			p = precHour
		case 12:
			p = precMinute
		case 14:
			p = precSecond
		case 17:
			p = precMilli
		default:
			return t, false
		}
	}
	r := t
	for l := t.prec + 1; l <= p; l++ {
		switch l {
		case precMonth:
			r.month = pick(low, 1, 12)
		case precDay:
			r.day = pick(low, 1, daysIn(r.year, r.month))
		case precHour:
			r.hour = pick(low, 0, 23)
		case precMinute:
			r.minute = pick(low, 0, 59)
		case precSecond:
			r.second = pick(low, 0, 59)
		case precMilli:
			r.milli = pick(low, 0, 999)
		}
	}
	r.prec = p
	if !r.timeOnly {
		if p > precDay && !r.tz {
			r.tz = true
			r.tzMin = pick(low, 14*60, -12*60)
		}
		if p <= precDay {
			r.tz, r.tzZ, r.tzMin = false, false, 0
		}
	}
	return r, true
}

func pick(low bool, a, b int) int {
	if low {
		return a
	}
	return b
}

// precisionDigits is what precision() reports for a date/time value.
func (t temporal) precisionDigits() int {
	if t.timeOnly {
		return [...]int{0, 0, 0, 0, 2, 4, 6, 9}[t.prec]
	}
	return [...]int{0, 4, 6, 8, 10, 12, 14, 17}[t.prec]
}

func fromGoTime(g time.Time, p prec) temporal {
	_, off := g.Zone()
	t := temporal{prec: p, tz: p > precDay, tzMin: off / 60}
	t.setFrom(g)
	return t
}
