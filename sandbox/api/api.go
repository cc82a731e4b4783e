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
	"runtime/debug"
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
	CodeInternal         = "internal-error"
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
	v   *validator.Validator
	max int64
	log *slog.Logger
}

// New returns the HTTP handler of the sandbox.
func New(cfg Config) http.Handler {
	// Release mode is process-wide in gin; debug mode would print every
	// route at start-up and warn on stderr.
	gin.SetMode(gin.ReleaseMode)
	s := &server{v: cfg.Validator, max: cfg.MaxBodyBytes, log: cfg.Logger}
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
	status, res := s.check(c.Request.Context(), body, c.Param("type"))
	respond(c, status, report.Outcome(report.Result{ResourceType: res.ResourceType, Issues: res.Issues}))
}

func (s *server) tooLarge(c *gin.Context) {
	fail(c, http.StatusRequestEntityTooLarge, "too-long", CodeBodyTooLarge,
		"the request body is larger than the sandbox accepts; validate large inputs with the sandkasse CLI")
}

// check validates a request body and picks the status: 200 whenever the
// resource could be validated, valid or not (the verdict is in the
// outcome), 400 when the body is not a resource or not the one the URL
// names.
func (s *server) check(ctx context.Context, body []byte, urlType string) (int, validator.Result) {
	doc, err := fhirjson.Parse(body, fhirjson.Limits{MaxBytes: int(s.max)})
	if err != nil {
		// The engine words the syntax error the same way the CLI does.
		return http.StatusBadRequest, s.v.Validate(ctx, body)
	}
	target, typ := body, resourceType(doc.Root)
	line, col := 1, 1
	if typ == "Parameters" {
		res, profile := parametersInput(doc.Root)
		if profile {
			return http.StatusBadRequest, failure("not-supported", CodeNotSupported,
				"the profile parameter is not supported yet; start the server with --profile instead")
		}
		if res != nil {
			start := int(res.Off)
			target, typ = body[start:fhirjson.ValueEnd(body, start)], resourceType(res)
			line, col = doc.Position(res.Off)
		}
	}
	if urlType != "" && typ != urlType {
		return http.StatusBadRequest, failure("invalid", CodeTypeMismatch,
			"the resource's resourceType is not the type named in the URL")
	}
	res := s.v.Validate(ctx, target)
	if line != 1 || col != 1 {
		shift(res.Issues, line, col)
	}
	return http.StatusOK, res
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

// parametersInput finds the resource of a $validate Parameters input, and
// whether a profile parameter was given.
func parametersInput(root *fhirjson.Node) (res *fhirjson.Node, profile bool) {
	params := root.Get("parameter")
	if params == nil || params.Kind != fhirjson.Array {
		return nil, false
	}
	for _, p := range params.Items {
		name := p.Get("name")
		if name == nil || name.Kind != fhirjson.String {
			continue
		}
		switch name.Str {
		case "resource":
			if r := p.Get("resource"); r != nil && r.Kind == fhirjson.Object && res == nil {
				res = r
			}
		case "profile":
			profile = true
		}
	}
	return res, profile
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
