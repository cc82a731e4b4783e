package api

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/sandbox/traffic"
)

// Recording of the tenant endpoints' traffic, for the verification suites.
// Credentials are taken out with sandbox/traffic's one redaction
// (traffic.RedactParams): traffic.OAuth on the authorisation and token
// endpoints, traffic.Elsewhere on the FHIR API. Only tenants that exist are
// recorded (tenant.Service.Known), and unauthenticated exchanges go through
// the recorder's per-tenant bounds (traffic.Recorder.RecordAnonymous).

// teeWriter keeps a copy of what a handler writes, up to the record limit.
type teeWriter struct {
	gin.ResponseWriter
	buf       bytes.Buffer
	truncated bool
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.keep(b)
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) WriteString(s string) (int, error) {
	w.keep([]byte(s))
	return w.ResponseWriter.WriteString(s)
}

func (w *teeWriter) keep(b []byte) {
	room := traffic.MaxBody - w.buf.Len()
	if len(b) > room {
		b, w.truncated = b[:max(room, 0)], true
	}
	w.buf.Write(b)
}

// known reports whether the request's tenant exists; a store error counts
// as no (the exchange is not recorded) and is logged without the id.
func (h *sandboxRoutes) known(c *gin.Context) bool {
	ok, err := h.sb.Tenants.Known(c.Request.Context(), c.Param("tenant"))
	if err != nil {
		h.log.Error("tenant look-up for recording failed", slog.String("error", "store error"))
	}
	return ok
}

// save hands a finished exchange to the recorder: as authenticated when
// the request was (a principal of the tenant, or an OAuth endpoint that
// issued a credential), else within the unauthenticated bounds.
func (h *sandboxRoutes) save(c *gin.Context, x store.Exchange, issued bool) {
	if _, authenticated := c.Get(principalKey); authenticated || issued {
		h.sb.Traffic.Record(x)
		return
	}
	h.sb.Traffic.RecordAnonymous(x)
}

// record stores the FHIR exchange in the tenant's traffic once it is
// answered. It runs before authentication: a refused request (a token in
// the URL, none at all) is what a suite most needs to see.
func (h *sandboxRoutes) record(c *gin.Context) {
	if h.sb.Traffic == nil {
		c.Next()
		return
	}
	start := time.Now()
	tw := &teeWriter{ResponseWriter: c.Writer}
	c.Writer = tw
	c.Next()
	if otherTenant(c) || !h.known(c) {
		return
	}
	var reqBody []byte
	if v, ok := c.Get(bodyKey); ok {
		reqBody = v.([]byte)
	}
	if isForm(c.Request.Header) {
		// POST _search: the form is the query, and may carry an
		// access_token (RFC 6750 allows it in a form body).
		reqBody = traffic.RedactForm(reqBody, traffic.Elsewhere)
	}
	rb, trunc := traffic.Body(reqBody)
	h.save(c, store.Exchange{
		Tenant:         c.Param("tenant"),
		At:             start.UTC(),
		Duration:       time.Since(start),
		Method:         c.Request.Method,
		Path:           c.Request.URL.Path,
		Query:          traffic.RedactParams(c.Request.URL.RawQuery, traffic.Elsewhere),
		Route:          c.FullPath(),
		Status:         tw.Status(),
		RequestHeader:  traffic.Redact(c.Request.Header),
		RequestBody:    rb,
		ResponseHeader: traffic.Redact(tw.Header()),
		ResponseBody:   tw.buf.Bytes(),
		Truncated:      trunc || tw.truncated,
	}, false)
}

func isForm(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded"
}

// recordOAuth records the SMART authorisation and token exchanges, which
// the smart-app suite examines (PKCE, state, aud, scopes, the code
// exchange), with every credential out of the record: the code in the
// redirect, the client assertion, and the tokens in the response. The
// code_verifier is masked with its shape kept (traffic.OAuth), because
// rule SMART-TOKEN-01 checks its form: by the time it is recorded the code
// it proves is spent. It runs after knownTenant or authenticate, so the
// tenant exists.
func (h *sandboxRoutes) recordOAuth(c *gin.Context) {
	if h.sb.Traffic == nil {
		c.Next()
		return
	}
	start := time.Now()
	// The handler wraps the body (MaxBytesReader) and replaces
	// c.Request.Body: the capture is kept here, below whatever it read
	// through.
	var cb *captureBody
	if c.Request.Body != nil && c.Request.Method == http.MethodPost {
		cb = &captureBody{ReadCloser: c.Request.Body}
		c.Request.Body = cb
	}
	tw := &teeWriter{ResponseWriter: c.Writer}
	c.Writer = tw
	c.Next()
	var reqBody []byte
	if cb != nil {
		reqBody = redactOAuthBody(cb.buf.Bytes(), c.Request.Header)
	}
	rb, trunc := traffic.Body(reqBody)
	respHeader := traffic.Redact(tw.Header())
	respBody := redactJSONKeys(tw.buf.Bytes(), []string{"access_token", "refresh_token", "id_token"})
	if loc := respHeader.Get("Location"); loc != "" {
		respHeader.Set("Location", traffic.RedactURL(loc, traffic.OAuth))
		// http.Redirect repeats the Location in an HTML body.
		if pu, err := url.Parse(loc); err == nil {
			for _, k := range []string{"code", "access_token", "id_token"} {
				if v := pu.Query().Get(k); len(v) >= 8 {
					respBody = bytes.ReplaceAll(respBody, []byte(v), []byte(traffic.Redacted))
					respBody = bytes.ReplaceAll(respBody, []byte(url.QueryEscape(v)), []byte(traffic.Redacted))
				}
			}
		}
	}
	// A token answered with 200 was issued to a client that proved itself.
	issued := c.Request.Method == http.MethodPost && tw.Status() == http.StatusOK && c.FullPath() == "/t/:tenant/smart/token"
	h.save(c, store.Exchange{
		Tenant: c.Param("tenant"), At: start.UTC(), Duration: time.Since(start),
		Method: c.Request.Method, Path: c.Request.URL.Path, Query: traffic.RedactParams(c.Request.URL.RawQuery, traffic.OAuth), Route: c.FullPath(),
		Status: tw.Status(), RequestHeader: traffic.Redact(c.Request.Header), RequestBody: rb,
		ResponseHeader: respHeader, ResponseBody: respBody, Truncated: trunc || tw.truncated,
	}, issued)
}

// redactOAuthBody takes the credentials out of a request body to an OAuth
// endpoint: a form through traffic.OAuth, a JSON object (client
// registration, launch set-up) by its top-level OAuth parameter names.
// Anything else is not kept: it cannot be searched for credentials.
func redactOAuthBody(b []byte, h http.Header) []byte {
	if len(b) == 0 {
		return b
	}
	if isForm(h) {
		return traffic.RedactForm(b, traffic.OAuth)
	}
	if out, ok := redactJSON(b, traffic.OAuthParams); ok {
		return out
	}
	return []byte("[body redacted: neither a form nor a JSON object]")
}

// otherTenant reports whether authentication refused the request because
// its credential belongs to another tenant: such a request is not this
// tenant's app, and is not recorded as its evidence.
func otherTenant(c *gin.Context) bool {
	_, authenticated := c.Get(principalKey)
	return !authenticated && c.Writer.Status() == http.StatusForbidden
}

// captureBody keeps what a handler reads of a request body, up to the
// record limit.
type captureBody struct {
	io.ReadCloser
	buf bytes.Buffer
}

func (b *captureBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := traffic.MaxBody - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(n, room)])
	}
	return n, err
}

// redactJSONKeys replaces the named top-level members of a JSON object (a
// token response); anything that is not one is returned as it is.
func redactJSONKeys(b []byte, names []string) []byte {
	if out, ok := redactJSON(b, names); ok {
		return out
	}
	return b
}

// redactJSON replaces the named top-level members of a JSON object; ok is
// false when b is not one.
func redactJSON(b []byte, names []string) ([]byte, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil || m == nil {
		return nil, false
	}
	changed := false
	for _, k := range names {
		if _, ok := m[k]; ok {
			m[k] = json.RawMessage(`"` + traffic.Redacted + `"`)
			changed = true
		}
	}
	if !changed {
		return b, true
	}
	out, err := json.Marshal(m)
	if err != nil {
		return []byte(`"` + traffic.Redacted + `"`), true
	}
	return out, true
}
