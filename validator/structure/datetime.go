package structure

// Hand-written checks of the R4 date and time formats. They accept exactly
// what the regular expressions in primitive.go accept (a test compares them
// on every prefix of many values) and are an order of magnitude faster;
// dates are the most common primitive after strings.

func digits(s string, i, n int) bool {
	if i+n > len(s) {
		return false
	}
	for k := i; k < i+n; k++ {
		if s[k] < '0' || s[k] > '9' {
			return false
		}
	}
	return true
}

func num2(s string, i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }

// datePart checks YYYY, YYYY-MM or YYYY-MM-DD at the start of s and returns
// its length and how many parts it had (1 to 3), or 0 if it is malformed.
func datePart(s string) (n, parts int) {
	if !digits(s, 0, 4) || s[:4] == "0000" {
		return 0, 0
	}
	if len(s) == 4 || s[4] != '-' {
		return 4, 1
	}
	if !digits(s, 5, 2) {
		return 0, 0
	}
	if m := num2(s, 5); m < 1 || m > 12 {
		return 0, 0
	}
	if len(s) == 7 || s[7] != '-' {
		return 7, 2
	}
	if !digits(s, 8, 2) {
		return 0, 0
	}
	if d := num2(s, 8); d < 1 || d > 31 {
		return 0, 0
	}
	return 10, 3
}

// timePart checks hh:mm:ss(.f+)? at s[i:] and returns the index after it.
func timePart(s string, i int) (int, bool) {
	if !digits(s, i, 2) || i+8 > len(s) || s[i+2] != ':' || !digits(s, i+3, 2) || s[i+5] != ':' || !digits(s, i+6, 2) {
		return 0, false
	}
	if num2(s, i) > 23 || num2(s, i+3) > 59 || num2(s, i+6) > 60 {
		return 0, false
	}
	j := i + 8
	if j < len(s) && s[j] == '.' {
		k := j + 1
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k == j+1 {
			return 0, false
		}
		j = k
	}
	return j, true
}

// zone checks Z or ±hh:mm (hh 00-13 with any minutes, or 14:00) filling s[i:].
func zone(s string, i int) bool {
	if i < len(s) && s[i] == 'Z' {
		return i+1 == len(s)
	}
	if i+6 != len(s) || (s[i] != '+' && s[i] != '-') || !digits(s, i+1, 2) || s[i+3] != ':' || !digits(s, i+4, 2) {
		return false
	}
	h, m := num2(s, i+1), num2(s, i+4)
	return (h <= 13 && m <= 59) || (h == 14 && m == 0)
}

func isDate(s string) bool {
	n, _ := datePart(s)
	return n > 0 && n == len(s)
}

func isDateTime(s string) bool {
	n, parts := datePart(s)
	if n == 0 {
		return false
	}
	if n == len(s) {
		return true
	}
	if parts != 3 || s[n] != 'T' {
		return false
	}
	j, ok := timePart(s, n+1)
	return ok && zone(s, j)
}

func isInstant(s string) bool {
	n, parts := datePart(s)
	if parts != 3 || n >= len(s) || s[n] != 'T' {
		return false
	}
	j, ok := timePart(s, n+1)
	return ok && zone(s, j)
}

func isTime(s string) bool {
	j, ok := timePart(s, 0)
	return ok && j == len(s)
}

func isREWhite(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// isCode is ^[^\s]+( [^\s]+)*$: tokens separated by single spaces.
func isCode(s string) bool {
	if s == "" || isREWhite(s[0]) || isREWhite(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; isREWhite(c) && (c != ' ' || isREWhite(s[i+1])) {
			return false
		}
	}
	return true
}

// isID is ^[A-Za-z0-9\-\.]{1,64}$.
func isID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || (c >= '0' && c <= '9') || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
