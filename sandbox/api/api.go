// Package api is the HTTP edge of the sandbox: gin routes around the
// validator. It is the only package besides cmd/ that imports gin. Every
// answer that is not a health check is a FHIR OperationOutcome, errors
// included, so that a FHIR client library reads them all the same way.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sandkasse/sandkasse/validator"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/report"
)

// DefaultMaxBodyBytes bounds a request body when Config leaves it zero.
const DefaultMaxBodyBytes = 16 << 20

// Stable codes of the errors this edge reports itself (the engine's codes
// describe the resource; these describe the request).
const (
	CodeRouteNotFound    = "route-not-found"
	CodeMethodNotAllowed = "method-not-allowed"
	CodeBodyTooLarge     = "body-too-large"
	CodeBodyUnreadable   = "body-unreadable"
	CodeMediaType        = "unsupported-media-type"
	CodeTypeMismatch     = "resource-type-mismatch"
	CodeNotSupported     = "parameter-not-supported"
	CodeParameterInvalid = "parameter-invalid"
	// CodeProfileNotFound and CodeProfileInvalid are the engine's codes
	// for a profile it cannot use; here they refuse the request.
	CodeProfileNotFound = "profile-not-found"
	CodeProfileInvalid  = "profile-invalid"
	CodeInternal        = "internal-error"
)

// Config wires the handler.
type Config struct {
	Validator    *validator.Validator
	MaxBodyBytes int64
	// Logger receives the access log and internal errors; nil discards.
	// Entries carry method, route template, status and duration only:
	// never a URL (search parameters hold identifiers) or a body.
	Logger *slog.Logger
	// Sandbox, when set, serves the tenants' mock endpoints and the admin
	// API (sandbox.go).
	Sandbox *Sandbox
}

type server struct {
	v        *validator.Validator
	max      int64
	log      *slog.Logger
	profiles *profileCache // validators for $validate's profile parameter
}

// New returns the HTTP handler of the sandbox.
func New(cfg Config) http.Handler {
	// Release mode is process-wide in gin; debug mode would print every
	// route at start-up and warn on stderr.
	gin.SetMode(gin.ReleaseMode)
	s := &server{v: cfg.Validator, max: cfg.MaxBodyBytes, log: cfg.Logger,
		profiles: newProfileCache(cfg.Validator, MaxProfileValidators)}
	if s.max <= 0 {
		s.max = DefaultMaxBodyBytes
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	// A redirect would make a client re-send a POST body to a path it did
	// not choose; an explicit 404 is clearer.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.Use(s.accessLog, s.recover)

	r.GET("/healthz", health)
	r.HEAD("/healthz", health)
	r.POST("/fhir/$validate", s.validate)
	r.POST("/fhir/:type/$validate", s.validate)
	if cfg.Sandbox != nil {
		s.mountSandbox(r, cfg.Sandbox)
	}
	r.NoRoute(func(c *gin.Context) {
		fail(c, http.StatusNotFound, "not-found", CodeRouteNotFound, "no such endpoint; the sandbox serves POST /fhir/$validate and POST /fhir/{type}/$validate")
	})
	r.NoMethod(func(c *gin.Context) {
		fail(c, http.StatusMethodNotAllowed, "not-supported", CodeMethodNotAllowed, "method not allowed here; see the Allow header")
	})
	return r
}

func health(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "(unmatched)"
	}
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", c.Writer.Status()),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	// The tenant id is an opaque random id, not patient data.
	if t := c.Param("tenant"); t != "" {
		attrs = append(attrs, slog.String("tenant", t))
	}
	s.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "request", attrs...)
}

// recover turns a panic into a 500 OperationOutcome. The panic value is not
// logged: it may quote the resource being validated.
func (s *server) recover(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic while handling a request", slog.String("route", c.FullPath()),
				slog.String("stack", string(debug.Stack())))
			if !c.Writer.Written() {
				fail(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error; the request was not validated")
			}
			c.Abort()
		}
	}()
	c.Next()
}

// mediaTypes are the request bodies accepted: the FHIR type, plain JSON,
// and the DSTU2 spelling some older clients still send.
var mediaTypes = map[string]bool{
	"application/fhir+json": true,
	"application/json":      true,
	"application/json+fhir": true,
}

func (s *server) validate(c *gin.Context) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || !mediaTypes[mt] {
		fail(c, http.StatusUnsupportedMediaType, "not-supported", CodeMediaType,
			"send the resource as application/fhir+json (or application/json)")
		return
	}
	if c.Request.ContentLength > s.max {
		s.tooLarge(c)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.tooLarge(c)
			return
		}
		fail(c, http.StatusBadRequest, "exception", CodeBodyUnreadable, "the request body could not be read")
		return
	}
	status, res := s.check(c.Request.Context(), body, c.Param("type"), c.Request.URL.Query())
	respond(c, status, report.Outcome(report.Result{ResourceType: res.ResourceType, Issues: res.Issues}))
}

func (s *server) tooLarge(c *gin.Context) {
	fail(c, http.StatusRequestEntityTooLarge, "too-long", CodeBodyTooLarge,
		"the request body is larger than the sandbox accepts; validate large inputs with the sandkasse CLI")
}

// check validates a request body and picks the status: 200 whenever the
// resource could be validated, valid or not (the verdict is in the
// outcome); 400 when the body is not a resource or not the one the URL
// names, when a parameter is wrong, unsupported or names a profile the
// server cannot validate against, and when a limit stopped the validation
// (the spec's $validate: a 4xx means the validation could not be
// performed, so the resource's validity is unknown).
func (s *server) check(ctx context.Context, body []byte, urlType string, query url.Values) (int, validator.Result) {
	lim := s.v.ParseLimits()
	lim.MaxBytes = min(lim.MaxBytes, int(s.max))
	doc, err := fhirjson.Parse(body, lim)
	if err != nil {
		// The engine words the syntax error the same way the CLI does.
		return http.StatusBadRequest, s.v.Validate(ctx, body)
	}
	target, typ := body, resourceType(doc.Root)
	line, col := 1, 1
	op := operation{profiles: query["profile"], modes: query["mode"]}
	if typ == "Parameters" {
		in, bad := parametersInput(doc.Root)
		if bad != "" {
			return http.StatusBadRequest, failure("invalid", CodeParameterInvalid, bad)
		}
		if in.resource != nil {
			start := int(in.resource.Off)
			target, typ = body[start:fhirjson.ValueEnd(body, start)], resourceType(in.resource)
			line, col = doc.Position(in.resource.Off)
			op.profiles = append(op.profiles, in.profiles...)
			op.modes = append(op.modes, in.modes...)
		} else if len(in.profiles)+len(in.modes) > 0 {
			// Without a resource part the Parameters would be validated
			// as the resource itself, and its profile or mode ignored.
			// (mode delete has no resource, and is refused as such.)
			if _, status, res := (operation{modes: append(op.modes, in.modes...)}).resolve(); status != 0 {
				return status, res
			}
			return http.StatusBadRequest, failure("required", CodeParameterInvalid,
				"the Parameters has a profile or mode parameter but no parameter named resource holding the resource to validate")
		}
	}
	if urlType != "" && typ != urlType {
		return http.StatusBadRequest, failure("invalid", CodeTypeMismatch,
			"the resource's resourceType is not the type named in the URL")
	}
	profile, status, res := op.resolve()
	if status != 0 {
		return status, res
	}
	v := s.v
	if profile != "" {
		if status, res := s.knownProfile(profile); status != 0 {
			return status, res
		}
		v = s.profiles.get(profile)
	}
	res = v.Validate(ctx, target)
	if line != 1 || col != 1 {
		shift(res.Issues, line, col)
	}
	for _, i := range res.Issues {
		if i.Severity == issue.Fatal && i.Type == "too-costly" {
			return http.StatusBadRequest, res
		}
	}
	return http.StatusOK, res
}

// operation holds the $validate parameters of one request, from the URL
// and from a Parameters body.
type operation struct {
	resource        *fhirjson.Node
	profiles, modes []string
}

// resolve checks the mode and profile parameters and returns the one
// profile asked for ("" for none), or a status and the refusal.
func (op operation) resolve() (string, int, validator.Result) {
	mode := ""
	for _, m := range op.modes {
		if mode != "" && m != mode {
			return "", http.StatusBadRequest, failure("invalid", CodeParameterInvalid, "the mode parameter is given twice with different values")
		}
		mode = m
	}
	switch mode {
	case "", "create", "profile":
		// create: the content is checked; this validator stores nothing,
		// so no uniqueness rule of a store applies.
	case "update", "delete":
		return "", http.StatusBadRequest, failure("not-supported", CodeNotSupported,
			"mode "+mode+" checks a change to a stored resource and is only defined at the instance level ([base]/{type}/{id}/$validate); this validator stores no resources: use mode create or profile, or none")
	default:
		return "", http.StatusBadRequest, failure("invalid", CodeParameterInvalid,
			"the mode parameter must be one of create | update | delete | profile")
	}
	profile := ""
	for _, p := range op.profiles {
		switch {
		case p == "":
			return "", http.StatusBadRequest, failure("invalid", CodeParameterInvalid, "the profile parameter is empty; give the profile's canonical URL")
		case profile != "" && p != profile:
			return "", http.StatusBadRequest, failure("invalid", CodeParameterInvalid,
				"$validate takes one profile parameter (0..1); validate once per profile")
		}
		profile = p
	}
	if mode == "profile" && profile == "" {
		return "", http.StatusBadRequest, failure("required", CodeParameterInvalid, "mode profile needs a profile parameter naming the profile")
	}
	return profile, 0, validator.Result{}
}

// knownProfile answers whether the server can validate against a profile
// (canonical URL, optionally |version): the spec's $validate says that a
// server that cannot SHALL return an error, not a verdict without it.
func (s *server) knownProfile(profile string) (int, validator.Result) {
	canonical, version, _ := strings.Cut(profile, "|")
	shown := clip(profile)
	sd := s.v.Registry().StructureDefinition(canonical)
	switch {
	case sd == nil:
		return http.StatusBadRequest, failure("not-found", CodeProfileNotFound,
			"the profile "+shown+" is not known to this server; it validates against the FHIR R4 core and what it was started with (serve --load)")
	case version != "" && sd.Version != version:
		have := sd.Version
		if have == "" {
			have = "no version"
		}
		return http.StatusBadRequest, failure("not-found", CodeProfileNotFound,
			"the profile "+shown+" is not known to this server in that version (it has "+clip(have)+")")
	case sd.Kind != "resource":
		return http.StatusBadRequest, failure("invalid", CodeParameterInvalid,
			"the profile "+shown+" defines a "+sd.Kind+" ("+clip(sd.Type)+"), not a resource")
	}
	if _, err := s.v.Registry().Snapshot(sd); err != nil {
		return http.StatusBadRequest, failure("invalid", CodeProfileInvalid,
			"the profile "+shown+" cannot be used: "+err.Error())
	}
	return 0, validator.Result{}
}

// clip bounds a value from the request that an error message repeats.
func clip(s string) string {
	const max = 200
	if r := []rune(s); len(r) > max {
		return string(r[:max]) + "…"
	}
	return s
}

func failure(typ, code, msg string) validator.Result {
	return validator.Result{Issues: issue.List{{Severity: issue.Error, Code: code, Type: typ, Message: msg}}}
}

func resourceType(n *fhirjson.Node) string {
	if rt := n.Get("resourceType"); rt != nil && rt.Kind == fhirjson.String {
		return rt.Str
	}
	return ""
}

// parametersInput reads the $validate parameters of a Parameters body:
// the resource part, and the profile and mode values. bad says what is
// wrong with a parameter that is there but malformed.
func parametersInput(root *fhirjson.Node) (in operation, bad string) {
	params := root.Get("parameter")
	if params == nil || params.Kind != fhirjson.Array {
		return in, ""
	}
	for _, p := range params.Items {
		name := p.Get("name")
		if name == nil || name.Kind != fhirjson.String {
			continue
		}
		switch name.Str {
		case "resource":
			if r := p.Get("resource"); r != nil && r.Kind == fhirjson.Object && in.resource == nil {
				in.resource = r
			}
		case "profile":
			// uri in R4, canonical from R5; clients send either.
			v := stringValue(p, "valueUri", "valueCanonical")
			if v == nil {
				return in, "the profile parameter must have a valueUri or valueCanonical"
			}
			in.profiles = append(in.profiles, *v)
		case "mode":
			v := stringValue(p, "valueCode")
			if v == nil {
				return in, "the mode parameter must have a valueCode"
			}
			in.modes = append(in.modes, *v)
		}
	}
	return in, ""
}

func stringValue(p *fhirjson.Node, names ...string) *string {
	for _, n := range names {
		if v := p.Get(n); v != nil && v.Kind == fhirjson.String {
			return &v.Str
		}
	}
	return nil
}

// shift moves positions counted from a nested resource's first byte to
// positions in the whole request body, so they match what the client sent.
func shift(l issue.List, line, col int) {
	for i := range l {
		if l[i].Line <= 0 {
			continue
		}
		if l[i].Line == 1 {
			l[i].Column += col - 1
		}
		l[i].Line += line - 1
	}
}

func fail(c *gin.Context, status int, typ, code, msg string) {
	respond(c, status, report.Outcome(report.Result{Issues: failure(typ, code, msg).Issues}))
}

func respond(c *gin.Context, status int, oo report.OperationOutcome) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(oo); err != nil {
		c.Status(http.StatusInternalServerError)
		return
	}
	c.Data(status, "application/fhir+json; charset=utf-8", buf.Bytes())
}
