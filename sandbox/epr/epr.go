// Package epr is the mock EPR (the municipality's record system, EPJ) of a
// sandbox tenant: a FHIR R4 REST server over store.Store. It is framework
// free: sandbox/api maps HTTP routes to Server methods, which take a
// Request and return a Response (an OperationOutcome whenever something is
// refused).
//
// What it serves: metadata (a CapabilityStatement generated from what is
// implemented here), read, vread, create (with If-None-Exist), update
// (with If-Match; update as create), delete, search (GET and POST _search)
// over the parameters in params.go with _sort, _count, paging links,
// _include and _summary=count, and batch and transaction Bundles
// (transactions are atomic). Every write is validated with the conformance
// engine first; a resource with errors is refused with 422.
//
// Scopes are checked per resource type and interaction through
// Request.Allow, which the caller sets from the authenticated principal;
// what only SMART patient/ scopes grant is confined to the launch patient's
// compartment through Request.Compartment (compartment.go).
package epr

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/report"
)

// Limits of search paging.
const (
	DefaultCount = 20
	MaxCount     = 500
	// MaxOffset keeps _offset+_count far from overflowing, which would
	// turn a next link into page one and send a client round for ever.
	MaxOffset = 1 << 30
	// MaxPageBytes bounds the bodies of the matches of one page (MaxCount
	// resources of up to a 16 MiB body each would be 8 GiB): the store
	// stops reading at it, so a page holds at most MaxPageBytes plus one
	// body, and its next link starts after the last resource it holds.
	MaxPageBytes = 16 << 20
)

// Stable codes of the errors the mock EPR reports (OperationOutcome
// details.coding.code).
const (
	CodeNotFound        = "resource-not-found"
	CodeGone            = "resource-deleted"
	CodeUnknownType     = "unknown-resource-type"
	CodeInvalidJSON     = "invalid-json"
	CodeTypeMismatch    = "resource-type-mismatch"
	CodeIDMismatch      = "resource-id-mismatch"
	CodeInvalidResource = "invalid-resource"
	CodeUnknownParam    = "unknown-search-parameter"
	CodeBadParam        = "invalid-search-parameter"
	CodeVersionConflict = "version-conflict"
	CodePrecondition    = "precondition-failed"
	CodeMultipleMatches = "multiple-matches"
	CodeForbidden       = "scope-insufficient"
	CodeBadBundle       = "invalid-bundle"
	CodeNotSupported    = "not-supported"
	CodeFormat          = "unsupported-format"
	CodeInternal        = "internal-error"
)

// Access is what an interaction does to a resource type.
type Access uint8

const (
	Read Access = iota
	Search
	Create
	Update
	Delete
)

// Request is one FHIR interaction.
type Request struct {
	Tenant string
	// Base is the absolute URL of the tenant's FHIR base, for fullUrl,
	// Location and paging links (e.g. http://host/t/abc/fhir).
	Base   string
	Query  url.Values
	Header http.Header
	Body   []byte
	// Allow says whether the caller may do access on a resource type; nil
	// allows everything.
	Allow func(typ string, a Access) bool
	// Compartment says for which accesses the caller's grant is confined
	// to the Patient compartment of Patient (SMART patient/ scopes); nil
	// confines nothing. See compartment.go.
	Compartment func(typ string, a Access) bool
	// Patient is the launch patient of the caller's token ("" none).
	Patient string
}

func (r *Request) allowed(typ string, a Access) bool { return r.Allow == nil || r.Allow(typ, a) }

// Response is what to send back.
type Response struct {
	Status int
	Header http.Header
	Body   []byte // FHIR JSON
}

// Options configure a Server.
type Options struct {
	Store     store.Store
	Validator *validator.Validator
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Limits bound the work of one request; zero fields take the
	// defaults.
	Limits Limits
}

// Limits bound what one request can make the server read and hold.
type Limits struct {
	MaxIncluded            int // resources included on one page (MaxIncluded)
	MaxIncludedBytes       int // bytes of them (MaxIncludedBytes)
	MaxIncludeReads        int // references one page follows (MaxIncludeReads)
	MaxBundleResponseBytes int // bytes the GET entries of one Bundle read (MaxBundleResponseBytes)
	MaxBundleGets          int // GET entries in one Bundle (MaxBundleGets)
	MaxPageBytes           int // bytes of the matches of one search page (MaxPageBytes)
}

func (l Limits) withDefaults() Limits {
	if l.MaxIncluded <= 0 {
		l.MaxIncluded = MaxIncluded
	}
	if l.MaxIncludedBytes <= 0 {
		l.MaxIncludedBytes = MaxIncludedBytes
	}
	if l.MaxIncludeReads <= 0 {
		l.MaxIncludeReads = MaxIncludeReads
	}
	if l.MaxBundleResponseBytes <= 0 {
		l.MaxBundleResponseBytes = MaxBundleResponseBytes
	}
	if l.MaxPageBytes <= 0 {
		l.MaxPageBytes = MaxPageBytes
	}
	if l.MaxBundleGets <= 0 {
		l.MaxBundleGets = MaxBundleGets
	}
	return l
}

// Server is the mock EPR of every tenant; the tenant is in each Request.
type Server struct {
	st    store.Store
	v     *validator.Validator
	now   func() time.Time
	types map[string]bool
	meta  []byte
	lim   Limits
}

// New returns the mock EPR.
func New(o Options) *Server {
	s := &Server{st: o.Store, v: o.Validator, now: o.Now, types: map[string]bool{}, lim: o.Limits.withDefaults()}
	if s.now == nil {
		s.now = time.Now
	}
	for _, t := range o.Validator.Registry().ResourceTypes() {
		s.types[t] = true
	}
	s.meta = s.capabilityStatement()
	return s
}

// fhirError is a refusal: a status and the issues that explain it.
type fhirError struct {
	status int
	issues issue.List
}

func (e *fhirError) Error() string { return e.issues[0].Message }

func refuse(status int, typ, code, msg string) *fhirError {
	return &fhirError{status: status, issues: issue.List{{Severity: issue.Error, Type: typ, Code: code, Message: msg}}}
}

// Outcome renders issues as an OperationOutcome body.
func Outcome(issues issue.List) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(report.Outcome(report.Result{Issues: issues}))
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// Fail is the Response of a refusal.
func Fail(status int, typ, code, msg string) Response {
	return errResponse(refuse(status, typ, code, msg))
}

func errResponse(err error) Response {
	var fe *fhirError
	if !errors.As(err, &fe) {
		fe = internal(err)
	}
	return Response{Status: fe.status, Header: http.Header{}, Body: Outcome(fe.issues)}
}

// internal wraps an unexpected error. Its text is not shown: it may quote
// SQL or data.
func internal(err error) *fhirError {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return refuse(http.StatusServiceUnavailable, "timeout", CodeInternal, "the request was cancelled or timed out")
	case errors.Is(err, store.ErrConflict):
		return refuse(http.StatusConflict, "conflict", CodeVersionConflict,
			"the resource was changed by another request at the same time; read it again and retry")
	}
	return refuse(http.StatusInternalServerError, "exception", CodeInternal, "internal error; nothing was changed")
}

func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validID is the FHIR id syntax.
func validID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// KnownType reports whether typ is an R4 resource type the server serves.
func (s *Server) KnownType(typ string) bool { return s.types[typ] }

func (s *Server) checkType(typ string) *fhirError {
	if !s.types[typ] {
		return refuse(http.StatusNotFound, "not-supported", CodeUnknownType, "this is not a FHIR R4 resource type")
	}
	return nil
}

// parsed is a resource body that has been parsed and validated.
type parsed struct {
	body []byte
	root *fhirjson.Node
	typ  string
}

// parse reads a resource body of the expected type.
func (s *Server) parse(body []byte, want string) (*parsed, *fhirError) {
	doc, err := fhirjson.Parse(body, fhirjson.Limits{})
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "structure", CodeInvalidJSON, "the body is not valid JSON: "+syntaxOnly(err))
	}
	if doc.Root.Kind != fhirjson.Object {
		return nil, refuse(http.StatusBadRequest, "structure", CodeInvalidJSON, "the body is not a JSON object")
	}
	typ := str(doc.Root, "resourceType")
	if typ == "" {
		return nil, refuse(http.StatusBadRequest, "structure", CodeInvalidResource, "the body has no resourceType")
	}
	if want != "" && typ != want {
		return nil, refuse(http.StatusBadRequest, "invalid", CodeTypeMismatch, "the resourceType of the body is not the type named in the URL")
	}
	if !s.types[typ] {
		return nil, refuse(http.StatusBadRequest, "not-supported", CodeUnknownType, "the resourceType of the body is not a FHIR R4 resource type")
	}
	return &parsed{body: body, root: doc.Root, typ: typ}, nil
}

// syntaxOnly keeps the position of a syntax error, not the text around it.
func syntaxOnly(err error) string {
	var se *fhirjson.SyntaxError
	if errors.As(err, &se) {
		return se.Error()
	}
	return "unreadable"
}

// validate runs the engine; errors refuse the resource with 422.
func (s *Server) validate(ctx context.Context, p *parsed) *fhirError {
	res := s.v.Validate(ctx, p.body)
	if res.Valid() {
		return nil
	}
	var errs issue.List
	for _, i := range res.Issues {
		if i.Severity == issue.Error || i.Severity == issue.Fatal {
			errs = append(errs, i)
		}
	}
	return &fhirError{status: http.StatusUnprocessableEntity, issues: errs}
}

// prefer reads one token of the Prefer header (e.g. "return", "handling").
func prefer(h http.Header, name string) string {
	for _, v := range h.Values("Prefer") {
		for _, part := range strings.Split(v, ";") {
			for _, kv := range strings.Split(part, ",") {
				k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
				if ok && strings.EqualFold(k, name) {
					return strings.Trim(strings.TrimSpace(val), `"`)
				}
			}
		}
	}
	return ""
}

func etag(v int64) string { return `W/"` + itoa(v) + `"` }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// parseETag reads W/"3", "3" or 3.
func parseETag(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	s = strings.Trim(s, `"`)
	var v int64
	if s == "" {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
		if v > 1<<53 {
			return 0, false
		}
	}
	return v, true
}

func resourceHeaders(base string, r store.Resource) http.Header {
	h := http.Header{}
	h.Set("ETag", etag(r.Version))
	h.Set("Last-Modified", r.Updated.UTC().Format(http.TimeFormat))
	h.Set("Content-Location", base+"/"+r.Type+"/"+r.ID+"/_history/"+itoa(r.Version))
	return h
}
