package structure

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

// The R4 primitive formats. They are fixed by the standard (the regex
// extensions on the *.value elements say the same), so they are compiled in
// rather than read from the definitions at run time.
var (
	reCode     = regexp.MustCompile(`^[^\s]+( [^\s]+)*$`)
	reID       = regexp.MustCompile(`^[A-Za-z0-9\-\.]{1,64}$`)
	reOID      = regexp.MustCompile(`^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$`)
	reDate     = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	reDateTime = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	reInstant  = regexp.MustCompile(`^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	reTime     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?$`)
	// dateTime with a time but no zone: R4 requires the zone, and the
	// reference validator says so in words of its own.
	reDateTimeNoZone = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?$`)
)

// maxStringBytes is the R4 limit on a string value (1 MB).
const maxStringBytes = 1 << 20

// jsonKindOf returns the JSON kind a primitive type is written as.
func jsonKindOf(typ string) fhirjson.Kind {
	switch typ {
	case "boolean":
		return fhirjson.Bool
	case "integer", "unsignedInt", "positiveInt", "decimal", "integer64":
		return fhirjson.Number
	}
	return fhirjson.String
}

// checkPrimitive returns a code and a message when the value does not fit
// the primitive type; both are empty when it does. Messages name the type and
// the rule, never the value.
// isUUID is reUUID (upper-case hex allowed when anyCase) without a
// regular expression: every Bundle fullUrl is one, and the match showed in
// profiles.
func isUUID(v string, anyCase bool) bool {
	const prefix = "urn:uuid:"
	if len(v) != len(prefix)+36 || v[:len(prefix)] != prefix {
		return false
	}
	for i, c := range []byte(v[len(prefix):]) {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', anyCase && 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

func checkPrimitive(typ, v string) (code, msg, fix string) {
	switch typ {
	case "boolean":
		if v != "true" && v != "false" {
			return "type-boolean", "a boolean must be true or false", ""
		}
	case "integer":
		if !isNumber(v, numInteger) {
			return "format-integer", "not a valid integer", "write a whole number without a decimal point or exponent"
		}
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return "format-integer-range", "integer outside the 32-bit range", ""
		}
	case "unsignedInt":
		if !isNumber(v, numUnsigned) {
			return "format-unsignedInt", "not a valid unsignedInt (0 or more)", ""
		}
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return "format-integer-range", "unsignedInt outside the 32-bit range", ""
		}
	case "positiveInt":
		if !isNumber(v, numPositive) {
			return "format-positiveInt", "not a valid positiveInt (1 or more)", ""
		}
		if _, err := strconv.ParseInt(strings.TrimPrefix(v, "+"), 10, 32); err != nil {
			return "format-integer-range", "positiveInt outside the 32-bit range", ""
		}
	case "decimal":
		if !isNumber(v, numDecimal) {
			return "format-decimal", "not a valid decimal", ""
		}
	case "string", "markdown":
		if len(v) > maxStringBytes {
			return "string-too-long", "a string may not exceed 1 MB", ""
		}
		if strings.TrimSpace(v) == "" && typ == "string" {
			return "string-blank", "a string value must contain a non-whitespace character", "remove the element, or give it a value"
		}
	case "code":
		if !isCode(v) {
			return "format-code", "not a valid code (no leading, trailing or double whitespace)", "remove the extra whitespace"
		}
	case "id":
		if !isID(v) {
			if len(v) > 64 {
				return "format-id-length", "an id may have at most 64 characters", ""
			}
			return "format-id", "not a valid id (A-Z, a-z, 0-9, '-' and '.', 1 to 64 characters)", ""
		}
	case "uri", "url", "canonical":
		if hasSpace(v) || v == "" {
			return "format-uri", "a " + typ + " may not contain whitespace", ""
		}
		// A canonical may carry |version, and the spec writes system|version
		// into uri values too; the OID is what precedes it.
		if strings.HasPrefix(v, "urn:oid:") && !reOID.MatchString(beforeBar(v)) {
			return "format-oid", "not a valid urn:oid", ""
		}
		// RFC 4122 allows upper-case hex in a URI; only the uuid type
		// insists on lower case.
		if strings.HasPrefix(v, "urn:uuid:") && !isUUID(v, true) {
			return "format-uuid", "not a valid urn:uuid (hex 8-4-4-4-12)", ""
		}
	case "oid":
		if !reOID.MatchString(v) {
			return "format-oid", "not a valid oid (urn:oid:…)", ""
		}
	case "uuid":
		if !isUUID(v, false) {
			return "format-uuid", "not a valid uuid (urn:uuid:, lower-case hex 8-4-4-4-12)", ""
		}
	case "base64Binary":
		if !validBase64(v) {
			return "format-base64", "not a valid base64 value", "encode the content with standard base64 (RFC 4648)"
		}
	case "date":
		if !isDate(v) || !validDayOfMonth(v) {
			return "format-date", "not a valid date (YYYY, YYYY-MM or YYYY-MM-DD)", ""
		}
	case "dateTime":
		if !isDateTime(v) || !validDayOfMonth(v) {
			if reDateTimeNoZone.MatchString(v) {
				return "format-dateTime-zone", "if a dateTime has a time, it must have a timezone", "add Z or an offset like +01:00"
			}
			return "format-dateTime", "not a valid dateTime (YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)", ""
		}
	case "instant":
		if !isInstant(v) || !validDayOfMonth(v) {
			return "format-instant", "not a valid instant (YYYY-MM-DDThh:mm:ss(.sss)+zz:zz)", ""
		}
	case "time":
		if !isTime(v) {
			return "format-time", "not a valid time (hh:mm:ss)", ""
		}
	}
	// No check for UTF-8 here: the parser refuses a document with invalid
	// UTF-8 in any string (json-utf8), so every value is valid.
	return "", "", ""
}

// The forms of FHIR's numeric primitives, as its regular expressions
// (decimal -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, integer
// -?(0|[1-9][0-9]*), unsignedInt 0|[1-9][0-9]*, positiveInt
// \+?[1-9][0-9]*) read them; a hand-written scan, since every number in
// a document passes here.
type numForm uint8

const (
	numDecimal numForm = iota
	numInteger
	numUnsigned
	numPositive
)

func isNumber(v string, form numForm) bool {
	i := 0
	switch {
	case form == numPositive:
		if i < len(v) && v[i] == '+' {
			i++
		}
		if i >= len(v) || v[i] < '1' || v[i] > '9' {
			return false
		}
		return digitRun(v, i) == len(v)
	case form != numUnsigned && i < len(v) && v[i] == '-':
		i++
	}
	switch {
	case i >= len(v):
		return false
	case v[i] == '0':
		i++
	case v[i] >= '1' && v[i] <= '9':
		i = digitRun(v, i)
	default:
		return false
	}
	if form != numDecimal {
		return i == len(v)
	}
	if i < len(v) && v[i] == '.' {
		j := digitRun(v, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(v) && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < len(v) && (v[i] == '+' || v[i] == '-') {
			i++
		}
		j := digitRun(v, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(v)
}

// digitRun returns the index after the run of ASCII digits from i.
func digitRun(v string, i int) int {
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	return i
}

// hasSpace reports whether v holds a space, tab, CR or LF.
func hasSpace(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' && (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			return true
		}
	}
	return false
}

func beforeBar(v string) string {
	if i := strings.IndexByte(v, '|'); i >= 0 {
		return v[:i]
	}
	return v
}

// validDayOfMonth rejects dates like 2021-02-30 that the regex lets through.
func validDayOfMonth(v string) bool {
	if len(v) < 10 {
		return true
	}
	y, err1 := strconv.Atoi(v[0:4])
	m, err2 := strconv.Atoi(v[5:7])
	d, err3 := strconv.Atoi(v[8:10])
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 && (y%4 == 0 && (y%100 != 0 || y%400 == 0)) {
		days = 29
	}
	return d <= days
}

// b64class sorts bytes for validBase64: 1 alphabet, 2 padding, 3 white
// space, 0 anything else.
var b64class = func() (t [256]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 1
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	t['+'], t['/'] = 1, 1
	t['='] = 2
	t[' '], t['\t'], t['\r'], t['\n'] = 3, 3, 3, 3
	return t
}()

// b64data is 1 for the 64 alphabet characters (class 1 of b64class).
var b64data = func() (t [256]uint8) {
	for c := range t {
		if b64class[c] == 1 {
			t[c] = 1
		}
	}
	return t
}()

// validBase64 checks standard base64 with padding, ignoring whitespace,
// without decoding or allocating: attachments can be megabytes.
func validBase64(v string) bool {
	n, pad := 0, 0
	for i := 0; i < len(v); i++ {
		// Eight alphabet characters at a time: the body of a line of
		// base64 (a Binary is megabytes of it).
		for pad == 0 && i+8 <= len(v) {
			w := v[i : i+8]
			if b64data[w[0]]&b64data[w[1]]&b64data[w[2]]&b64data[w[3]]&
				b64data[w[4]]&b64data[w[5]]&b64data[w[6]]&b64data[w[7]] == 0 {
				break
			}
			n += 8
			i += 8
		}
		if i >= len(v) {
			break
		}
		switch b64class[v[i]] {
		case 1:
			if pad > 0 {
				return false // data after padding
			}
			n++
		case 2:
			pad++
			n++
		case 3:
		default:
			return false
		}
	}
	return n > 0 && n%4 == 0 && pad <= 2
}
