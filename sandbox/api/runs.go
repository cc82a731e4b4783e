package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

// Codes of the run routes.
const (
	CodeRunNotFound = "run-not-found"
	CodeRunNotDone  = "run-not-done"
	CodeRunsOff     = "runs-disabled"
	// CodeNoCertificate: the run has no certificate (yet, or it did not
	// ask for one); CodeRunNotPassed: it never will, the run did not pass.
	CodeNoCertificate = "no-certificate"
	CodeRunNotPassed  = "run-not-passed"
)

// mountRuns serves verification runs of a tenant: POST /t/{tenant}/runs
// queues one (202), GET /t/{tenant}/runs/{id} shows its state and, when
// done, its report (?format=text|json|junit|sarif|html for the report
// alone). POST with "issue": true asks the platform for a certificate when
// the run passes; GET /t/{tenant}/runs/{id}/certificate serves it
// (application/jose). All take the tenant's developer token: a run is the
// vendor's act, not the app's.
func (h *sandboxRoutes) mountRuns(t *gin.RouterGroup) {
	t.POST("/runs", h.authenticate, h.developerOnly, h.createRun)
	t.GET("/runs/:id", h.authenticate, h.developerOnly, h.getRun)
	t.GET("/runs/:id/certificate", h.authenticate, h.developerOnly, h.getRunCertificate)
	t.GET("/runs", h.authenticate, h.developerOnly, h.listRuns)              // runs_list.go
	t.POST("/runs/:id/cancel", h.authenticate, h.developerOnly, h.cancelRun) // runs_list.go
}

// RunJSON is a run on the wire (the CLI reads the same).
type RunJSON struct {
	ID             string          `json:"id"`
	Suite          string          `json:"suite"`
	App            string          `json:"app,omitempty"`
	Version        string          `json:"version,omitempty"`
	ArtifactDigest string          `json:"artifactDigest,omitempty"`
	After          int64           `json:"after"`
	Wait           string          `json:"wait"`
	Status         store.RunStatus `json:"status"`
	Progress       string          `json:"progress,omitempty"`
	Message        string          `json:"message,omitempty"`
	Outcome        string          `json:"outcome,omitempty"`
	Created        time.Time       `json:"created"`
	Started        *time.Time      `json:"started,omitempty"`
	Finished       *time.Time      `json:"finished,omitempty"`
	Report         json.RawMessage `json:"report,omitempty"`
	// Issue: the run asked for a certificate; CertificateID is the one it
	// got (GET …/runs/{id}/certificate).
	Issue         bool   `json:"issue,omitempty"`
	CertificateID string `json:"certificateId,omitempty"`
	// CancelRequested: the vendor cancelled the run (it ends, or ended,
	// as error "cancelled by the vendor").
	CancelRequested bool `json:"cancelRequested,omitempty"`
}

func runJSON(r store.Run) RunJSON {
	out := RunJSON{ID: r.ID, Suite: r.Suite, App: r.App, Version: r.Version, ArtifactDigest: r.ArtifactDigest,
		After: r.After, Wait: r.Wait.String(), Status: r.Status, Progress: r.Progress, Message: r.Message,
		Outcome: r.Outcome, Created: r.Created, Issue: r.Issue, CertificateID: r.CertificateID, CancelRequested: r.CancelRequested}
	if !r.Started.IsZero() {
		out.Started = &r.Started
	}
	if !r.Finished.IsZero() {
		out.Finished = &r.Finished
	}
	if len(r.Report) > 0 {
		out.Report = r.Report
	}
	return out
}

func (h *sandboxRoutes) runsOn(c *gin.Context) bool {
	if h.sb.Runs == nil {
		h.refuse(c, http.StatusNotImplemented, "not-supported", CodeRunsOff, "this sandbox does not run verification suites")
		return false
	}
	return true
}

func (h *sandboxRoutes) createRun(c *gin.Context) {
	if !h.runsOn(c) {
		return
	}
	b, ok := h.body(c, map[string]bool{"application/json": true})
	if !ok {
		return
	}
	var req runs.Request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest,
			`send {"suite": ID, "app", "version", "artifactDigest", "after": SEQ, "wait": "30s", "issue": false}`)
		return
	}
	r, err := h.sb.Runs.Create(c.Request.Context(), c.Param("tenant"), h.base(c), req)
	if errors.Is(err, runs.ErrCannotIssue) {
		h.refuse(c, http.StatusNotImplemented, "not-supported", CodeSigningDisabled,
			"no certificate can be issued: this sandbox was started without a signing key (serve --registry with --signing-key); the run was not started")
		return
	}
	if errors.Is(err, runs.ErrInvalid) {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, err.Error())
		return
	}
	if err != nil {
		h.log.Error("creating a run failed", slog.String("error", "store error"))
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	c.Header("Location", strings.TrimSuffix(h.base(c), "/fhir")+"/runs/"+r.ID)
	c.JSON(http.StatusAccepted, runJSON(r))
}

// pathRun is the tenant's run the path names (/t/{tenant}/runs/{id}…);
// when there is none to serve it has refused the request and ok is false.
func (h *sandboxRoutes) pathRun(c *gin.Context) (r store.Run, ok bool) {
	if !h.runsOn(c) {
		return r, false
	}
	r, err := h.sb.Runs.Get(c.Request.Context(), c.Param("tenant"), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		h.refuse(c, http.StatusNotFound, "not-found", CodeRunNotFound, "no such run in this tenant")
		return r, false
	}
	if err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return r, false
	}
	return r, true
}

func (h *sandboxRoutes) getRun(c *gin.Context) {
	r, ok := h.pathRun(c)
	if !ok {
		return
	}
	format := c.Query("format")
	if format == "" {
		c.JSON(http.StatusOK, runJSON(r))
		return
	}
	if _, err := suitereport.Get(format); err != nil {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, err.Error())
		return
	}
	if len(r.Report) == 0 {
		h.refuse(c, http.StatusConflict, "conflict", CodeRunNotDone, "the run has no report yet (status "+string(r.Status)+")")
		return
	}
	var buf bytes.Buffer
	if err := h.sb.Runs.Render(&buf, r, format); err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "the stored report could not be rendered")
		return
	}
	ct := map[string]string{"text": "text/plain; charset=utf-8", "json": "application/json", "junit": "application/xml",
		"sarif": "application/sarif+json", "html": "text/html; charset=utf-8"}[format]
	c.Data(http.StatusOK, ct, buf.Bytes())
}

// getRunCertificate serves the certificate a run issued: 404 while there is
// none (the run is not done, or did not ask for one), 409 when there never
// will be (the run did not pass), the compact JWS when there is.
func (h *sandboxRoutes) getRunCertificate(c *gin.Context) {
	r, ok := h.pathRun(c)
	if !ok {
		return
	}
	switch {
	case !r.Issue:
		h.refuse(c, http.StatusNotFound, "not-found", CodeNoCertificate,
			`this run did not ask for a certificate; start one with "issue": true (and app, version, artifactDigest)`)
		return
	case !r.Status.Done():
		c.Header("Retry-After", "2")
		h.refuse(c, http.StatusNotFound, "not-found", CodeNoCertificate,
			"no certificate yet: the run is "+string(r.Status)+"; a certificate is issued when it passes")
		return
	case r.Status == store.RunFailed:
		h.refuse(c, http.StatusConflict, "business-rule", CodeRunNotPassed,
			"no certificate is issued for a failed run: "+r.Message)
		return
	case r.Status != store.RunPassed:
		h.refuse(c, http.StatusConflict, "business-rule", CodeRunNotPassed,
			"no certificate is issued for a run that ended in "+string(r.Status)+": "+r.Message)
		return
	case r.CertificateID == "":
		h.refuse(c, http.StatusConflict, "business-rule", CodeRunNotPassed, "no certificate was issued for this run: "+r.Message)
		return
	}
	token, err := h.sb.Runs.Certificate(r)
	if errors.Is(err, runs.ErrNoRegistry) {
		h.refuse(c, http.StatusNotImplemented, "not-supported", CodeSigningDisabled, err.Error())
		return
	}
	if err != nil {
		h.log.Error("reading a run's certificate failed", slog.String("run", r.ID), slog.String("error", err.Error()))
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "the certificate could not be read from the registry")
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/jose", []byte(token+"\n"))
}
