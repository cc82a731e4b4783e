package api

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
)

// The marketplace's public register of certificates: what each certifies,
// its status now, the compact certificate and the report it certifies, so a
// buyer can look an app up and check both without an account. Certificates
// and their reports hold no patient data: findings carry codes and FHIRPath
// locations, and a certificate is issued only for a run that passed.

// Limits of the listing: the registry is read whole on every request.
const (
	DefaultCertificateListLimit = 100
	MaxCertificateListLimit     = 1000
)

// CertificateJSON is a certificate on the public register.
type CertificateJSON struct {
	ID      string    `json:"id"`
	App     AppJSON   `json:"app"`
	Vendor  string    `json:"vendorOrgNumber"`
	Suite   string    `json:"suite"`   // id@version
	RuleSet string    `json:"ruleSet"` // id@version
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
	// Status is valid, expired, revoked or unknown-key (signed with a key
	// since retired), as cert verify would say now.
	Status    cert.Status `json:"status"`
	RevokedAt *time.Time  `json:"revokedAt,omitempty"`
	Reason    string      `json:"revocationReason,omitempty"`
	Token     string      `json:"certificate,omitempty"` // the compact JWS, on the single view
}

// AppJSON is the certified app version.
type AppJSON struct {
	Name           string `json:"name"`
	Version        string `json:"version"`
	ArtifactDigest string `json:"artifactDigest"`
}

func (h *trustRoutes) mountCertificates(r *gin.Engine) {
	r.GET("/certificates", h.listCertificates)
	r.GET("/certificates/:id", h.getCertificate)
	r.GET("/certificates/:id/report", h.getCertificateReport)
}

// verifier judges entries with the served key set and, when it verifies,
// the revocation list, at the time of the request.
func (h *trustRoutes) verifier(c *gin.Context) (*cert.Verifier, bool) {
	ks, err := h.keySet()
	if err != nil {
		h.log.Error("reading the key set failed", slog.String("error", err.Error()))
		h.refuse(c, http.StatusServiceUnavailable, "transient", CodeNoKeySet, "the key set is not available")
		return nil, false
	}
	l, _, err := h.t.Store.Revocations(cert.NewVerifier(ks))
	if err != nil {
		// A status that ignored revocations could call a revoked
		// certificate valid: better none.
		h.log.Error("the revocation list does not verify", slog.String("error", err.Error()))
		h.refuse(c, http.StatusServiceUnavailable, "transient", CodeNoRevocationList, "the revocation list is not available")
		return nil, false
	}
	if l == nil {
		return cert.NewVerifier(ks), true
	}
	return cert.NewVerifier(ks, cert.WithRevocations(l)), true
}

func certificateOf(e *certstore.Entry) CertificateJSON {
	out := CertificateJSON{ID: e.ID, Status: e.Result.Status}
	if p := e.Result.Payload; p != nil {
		out.App = AppJSON{Name: p.App.Name, Version: p.App.Version, ArtifactDigest: p.App.ArtifactDigest}
		out.Vendor = p.Vendor.OrgNumber
		out.Suite = p.Suite.ID + "@" + p.Suite.Version
		out.RuleSet = p.RuleSet.ID + "@" + p.RuleSet.Version
		out.Issued, out.Expires = p.Issued.UTC(), p.Expires.UTC()
	}
	if r := e.Result.Revocation; r != nil {
		at := r.RevokedAt.UTC()
		out.RevokedAt, out.Reason = &at, r.Reason
	}
	return out
}

// listCertificates lists the register newest first; ?vendor=ORGNR and
// ?app=NAME narrow it, ?limit=N (at most MaxCertificateListLimit) bounds it.
func (h *trustRoutes) listCertificates(c *gin.Context) {
	limit := DefaultCertificateListLimit
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxCertificateListLimit {
			h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, "limit must be a whole number from 1 to "+strconv.Itoa(MaxCertificateListLimit))
			return
		}
		limit = n
	}
	v, ok := h.verifier(c)
	if !ok {
		return
	}
	entries, err := h.t.Store.List(v)
	if err != nil {
		// Damaged entries are left out, and the log names them; the
		// good ones are still listed.
		var probs certstore.Problems
		if !errors.As(err, &probs) {
			h.log.Error("listing certificates failed", slog.String("error", err.Error()))
			h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
			return
		}
		h.log.Error("certificate registry has damaged entries", slog.Int("count", len(probs)))
	}
	vendor, app := c.Query("vendor"), c.Query("app")
	out := []CertificateJSON{}
	for _, e := range slices.Backward(entries) {
		j := certificateOf(&e)
		if (vendor != "" && j.Vendor != vendor) || (app != "" && j.App.Name != app) {
			continue
		}
		if len(out) == limit {
			c.JSON(http.StatusOK, gin.H{"certificates": out, "truncated": true})
			return
		}
		out = append(out, j)
	}
	c.JSON(http.StatusOK, gin.H{"certificates": out, "truncated": false})
}

func (h *trustRoutes) entry(c *gin.Context) (*certstore.Entry, bool) {
	v, ok := h.verifier(c)
	if !ok {
		return nil, false
	}
	e, err := h.t.Store.Get(c.Param("id"), v)
	if err != nil {
		if errors.Is(err, certstore.ErrNotFound) {
			h.refuse(c, http.StatusNotFound, "not-found", CodeCertNotFound, "no such certificate in the register")
			return nil, false
		}
		h.log.Error("reading a certificate failed", slog.String("certificate", c.Param("id")), slog.String("error", err.Error()))
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "the certificate could not be read from the registry")
		return nil, false
	}
	return e, true
}

func (h *trustRoutes) getCertificate(c *gin.Context) {
	e, ok := h.entry(c)
	if !ok {
		return
	}
	j := certificateOf(e)
	j.Token = e.Token
	c.JSON(http.StatusOK, j)
}

// getCertificateReport serves the JSON report the certificate certifies,
// after checking it against the certificate's reportDigest.
func (h *trustRoutes) getCertificateReport(c *gin.Context) {
	e, ok := h.entry(c)
	if !ok {
		return
	}
	b, err := h.t.Store.Report(e)
	if err != nil {
		h.log.Error("a certified report does not match its certificate", slog.String("certificate", e.ID), slog.String("error", err.Error()))
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "the report could not be read or does not match the certificate")
		return
	}
	c.Data(http.StatusOK, "application/json", b)
}
