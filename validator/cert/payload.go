package cert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sandkasse/sandkasse/validator/nationalid"
)

// PayloadVersion is the only payload version this package reads and writes.
// A change to the payload's fields is a new version, so an old verifier
// refuses a certificate it cannot fully read instead of ignoring fields.
const PayloadVersion = 1

// Payload is what a certificate asserts. Its canonical JSON (see
// [Payload.Canonical]) is what gets signed.
type Payload struct {
	ID           string // unique certificate id, JWT "jti"
	Issuer       string // JWT "iss"
	KeyID        string // the signing key, repeated inside the signed bytes
	App          App
	Vendor       Vendor
	Suite        Suite
	RuleSet      RuleSet
	ReportDigest string    // digest of the verification report, e.g. "sha256:…"
	Issued       time.Time // valid from, whole seconds
	Expires      time.Time // valid until (exclusive), whole seconds
}

// App identifies the certified app version; the artifact digest is what binds
// the certificate to bytes rather than to a name a vendor could reuse.
type App struct {
	Name           string
	Version        string
	ArtifactDigest string
}

// Vendor is the organisation that owns the app.
type Vendor struct {
	OrgNumber string // organisasjonsnummer (Enhetsregisteret)
	Name      string // optional, for display
}

// Suite is the verification suite that was run.
type Suite struct {
	ID      string
	Version string
}

// RuleSet is the published rule set the suite ran under; the digest pins the
// exact release.
type RuleSet struct {
	ID      string
	Version string
	Digest  string
}

// The wire types fix the member order and names of the canonical form:
// encoding/json writes struct fields in declaration order.
type wirePayload struct {
	Ver          int         `json:"ver"`
	ID           string      `json:"jti"`
	Issuer       string      `json:"iss"`
	KeyID        string      `json:"kid"`
	App          wireApp     `json:"app"`
	Vendor       wireVendor  `json:"vendor"`
	Suite        wireSuite   `json:"suite"`
	RuleSet      wireRuleSet `json:"ruleSet"`
	ReportDigest string      `json:"reportDigest"`
	Issued       string      `json:"issued"`
	Expires      string      `json:"expires"`
}

type wireApp struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	ArtifactDigest string `json:"artifactDigest"`
}

type wireVendor struct {
	OrgNumber string `json:"orgNumber"`
	Name      string `json:"name,omitempty"`
}

type wireSuite struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

type wireRuleSet struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// timeFormat is RFC 3339 in UTC with whole seconds: one spelling per instant.
const timeFormat = "2006-01-02T15:04:05Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, bool) {
	t, err := time.Parse(timeFormat, s)
	if err != nil || t.Format(timeFormat) != s {
		return time.Time{}, false
	}
	return t, true
}

func (p *Payload) wire() wirePayload {
	return wirePayload{
		Ver:          PayloadVersion,
		ID:           p.ID,
		Issuer:       p.Issuer,
		KeyID:        p.KeyID,
		App:          wireApp{p.App.Name, p.App.Version, p.App.ArtifactDigest},
		Vendor:       wireVendor{p.Vendor.OrgNumber, p.Vendor.Name},
		Suite:        wireSuite{p.Suite.ID, p.Suite.Version},
		RuleSet:      wireRuleSet{p.RuleSet.ID, p.RuleSet.Version, p.RuleSet.Digest},
		ReportDigest: p.ReportDigest,
		Issued:       formatTime(p.Issued),
		Expires:      formatTime(p.Expires),
	}
}

// Canonical returns the payload's canonical JSON: members in a fixed order, no
// insignificant whitespace, strings as literal UTF-8 (only the escapes JSON
// requires), timestamps as RFC 3339 UTC seconds. It does not validate; call
// [Payload.Validate] first when the payload comes from outside.
func (p *Payload) Canonical() ([]byte, error) { return canonicalJSON(p.wire()) }

func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// HTML escaping would turn "<" into \u003c: valid, but a second spelling
	// of the same text that other canonicalisers do not produce.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeStrict decodes one JSON value into v, refusing unknown members and
// trailing data. Duplicate members are caught by the canonical comparison
// the callers make afterwards.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return nil
}

// parsePayload reads signed payload bytes. The bytes must be exactly the
// canonical form of what they decode to: this refuses duplicate members,
// reordered members, escapes and whitespace, so one certificate has one
// byte sequence and what a human reads is what was signed.
func parsePayload(data []byte) (*Payload, error) {
	var w wirePayload
	if err := decodeStrict(data, &w); err != nil {
		return nil, fmt.Errorf("payload is not a certificate payload: %v", err)
	}
	if w.Ver != PayloadVersion {
		return nil, fmt.Errorf("payload version %d is not supported (want %d)", w.Ver, PayloadVersion)
	}
	issued, ok1 := parseTime(w.Issued)
	expires, ok2 := parseTime(w.Expires)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("payload times must be RFC 3339 UTC seconds (YYYY-MM-DDThh:mm:ssZ)")
	}
	p := &Payload{
		ID:           w.ID,
		Issuer:       w.Issuer,
		KeyID:        w.KeyID,
		App:          App{w.App.Name, w.App.Version, w.App.ArtifactDigest},
		Vendor:       Vendor{w.Vendor.OrgNumber, w.Vendor.Name},
		Suite:        Suite{w.Suite.ID, w.Suite.Version},
		RuleSet:      RuleSet{w.RuleSet.ID, w.RuleSet.Version, w.RuleSet.Digest},
		ReportDigest: w.ReportDigest,
		Issued:       issued,
		Expires:      expires,
	}
	canon, err := p.Canonical()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, data) {
		return nil, fmt.Errorf("payload is not in canonical form")
	}
	return p, nil
}

// Problem is one reason a payload cannot be signed. Messages name the field
// and the rule, never the value.
type Problem struct {
	Field   string // wire name, e.g. "app.artifactDigest"
	Code    string // stable: "required", "digest", "org-number", "text", "id", "time", "order"
	Message string
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// ValidationError lists every problem found in a payload, not just the first.
type ValidationError struct{ Problems []Problem }

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return "invalid certificate payload: " + strings.Join(parts, "; ")
}

// validateRules carries what validation needs beyond the payload.
type validateRules struct {
	// testOrgNumbers are accepted although they fail mod-11 (VKP's samples
	// use 314159265).
	testOrgNumbers map[string]bool
	// skipOrgCheck: the verifier trusts the issuer's org-number decision
	// (it may have allowed a test number) and checks only the shape.
	skipOrgCheck bool
}

// Validate checks the payload strictly, as [Signer.Sign] does: every field
// required except the vendor name, digests as "sha256:<64 hex>" (or sha384,
// sha512), the organisation number by mod-11 unless it is in testOrgNumbers,
// text without control or invisible formatting characters, whole-second
// times with expiry after issue.
func (p *Payload) Validate(testOrgNumbers ...string) error {
	r := validateRules{testOrgNumbers: map[string]bool{}}
	for _, n := range testOrgNumbers {
		r.testOrgNumbers[n] = true
	}
	return p.validate(r)
}

func (p *Payload) validate(r validateRules) error {
	var probs []Problem
	add := func(field, code, msg string) { probs = append(probs, Problem{field, code, msg}) }

	checkID := func(field, v string, max int) {
		switch {
		case v == "":
			add(field, "required", "is required")
		case len(v) > max || !isIDString(v):
			add(field, "id", fmt.Sprintf("must be 1-%d characters of A-Z a-z 0-9 . _ : / -", max))
		}
	}
	checkText := func(field, v string, max int, required bool) {
		switch {
		case v == "" && required:
			add(field, "required", "is required")
		case v == "":
		case len(v) > max:
			add(field, "text", fmt.Sprintf("must be at most %d bytes", max))
		case !isCleanText(v):
			add(field, "text", "must be UTF-8 text without control, line-separator or invisible formatting characters, and without leading or trailing space")
		}
	}
	checkDigest := func(field, v string) {
		switch {
		case v == "":
			add(field, "required", "is required")
		case !isDigest(v):
			add(field, "digest", "must be sha256:, sha384: or sha512: followed by the lowercase hex digest of that length")
		}
	}

	checkID("jti", p.ID, 128)
	checkText("iss", p.Issuer, 256, true)
	checkID("kid", p.KeyID, 128)
	checkText("app.name", p.App.Name, 200, true)
	checkText("app.version", p.App.Version, 100, true)
	checkDigest("app.artifactDigest", p.App.ArtifactDigest)
	switch org := p.Vendor.OrgNumber; {
	case org == "":
		add("vendor.orgNumber", "required", "is required")
	case r.testOrgNumbers[org]:
	case r.skipOrgCheck:
		if len(org) != 9 || strings.Trim(org, "0123456789") != "" {
			add("vendor.orgNumber", "org-number", "must be 9 digits")
		}
	default:
		if reason := nationalid.CheckOrgNumber(org); reason != nationalid.OK {
			add("vendor.orgNumber", "org-number", "is not a valid organisasjonsnummer: "+reason.Message())
		}
	}
	checkText("vendor.name", p.Vendor.Name, 200, false)
	checkID("suite.id", p.Suite.ID, 100)
	checkText("suite.version", p.Suite.Version, 100, true)
	checkID("ruleSet.id", p.RuleSet.ID, 100)
	checkText("ruleSet.version", p.RuleSet.Version, 100, true)
	checkDigest("ruleSet.digest", p.RuleSet.Digest)
	checkDigest("reportDigest", p.ReportDigest)
	checkTime := func(field string, t time.Time) bool {
		switch {
		case t.IsZero():
			add(field, "required", "is required")
		case t.Year() < 1970 || t.Year() > 9999:
			add(field, "time", "must be between the years 1970 and 9999")
		case !t.Equal(t.Truncate(time.Second)):
			add(field, "time", "must be whole seconds (the canonical form has no fractions)")
		default:
			return true
		}
		return false
	}
	okI := checkTime("issued", p.Issued)
	okE := checkTime("expires", p.Expires)
	if okI && okE && !p.Expires.After(p.Issued) {
		add("expires", "order", "must be after issued")
	}
	if len(probs) > 0 {
		return &ValidationError{Problems: probs}
	}
	return nil
}

func isIDString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '/', c == '-':
		default:
			return false
		}
	}
	return true
}

// isCleanText refuses what could make a printed certificate say something
// other than its bytes: control characters, line and paragraph separators,
// and invisible formatting such as bidi overrides (U+202E) that reorder what
// a reader sees.
func isCleanText(s string) bool {
	if !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cf) {
			return false
		}
	}
	return true
}

var digestHexLen = map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}

func isDigest(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || digestHexLen[alg] != len(hex) {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
