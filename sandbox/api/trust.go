package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/publish"
	"github.com/sandkasse/sandkasse/validator/report"
	"github.com/sandkasse/sandkasse/validator/ruleset"
)

// Trust serves the issuer's public side (the key set and the signed
// revocation list under /.well-known) and the staff-only routes that publish
// rule sets and revoke certificates. Staff is the admin token for now; a
// tenant's token is recognised and refused with 403.
type Trust struct {
	// Store is the certificate registry (its jwks.json, revocations.jws
	// and certificates). Required.
	Store *certstore.Store
	// Rules is where published rule sets go (normally the same directory).
	Rules *publish.Registry
	// KeySet, when set, is the JWKS to serve instead of Store's jwks.json
	// (read on each request, so a rotation shows without a restart).
	KeySet func() (*cert.KeySet, error)
	// Signer signs revocation lists, RecordKey publish records (the same
	// key file); without them the admin routes answer 503.
	Signer    *cert.Signer
	RecordKey *publish.Key
	// Packages is the search path for rule sets' FHIR packages.
	Packages []string
	// MaxArchiveBytes bounds an uploaded rule set once unpacked (default
	// DefaultMaxArchiveBytes); the request body is bounded by the server's
	// body limit first.
	MaxArchiveBytes int64
}

// Limits on an uploaded rule-set archive.
const (
	DefaultMaxArchiveBytes = 32 << 20
	MaxArchiveFiles        = 2000
)

// Codes of the trust routes.
const (
	CodeStaffOnly         = "staff-only"
	CodeNoRevocationList  = "no-revocation-list"
	CodeNoKeySet          = "no-key-set"
	CodeSigningDisabled   = "signing-disabled"
	CodeBadArchive        = "bad-archive"
	CodeRuleSetRefused    = "ruleset-refused"
	CodeDuplicate         = "already-published"
	CodeCertNotFound      = "certificate-not-found"
	CodeAlreadyRevoked    = "already-revoked"
	CodeRuleSetProblem    = "ruleset-problem"
	CodeRuleSetTestFailed = "ruleset-test-failed"
)

type trustRoutes struct {
	*sandboxRoutes
	t *Trust
}

func (h *sandboxRoutes) mountTrust(r *gin.Engine, t *Trust) {
	tr := &trustRoutes{sandboxRoutes: h, t: t}
	r.GET("/.well-known/jwks.json", tr.jwks)
	r.GET("/.well-known/revocations.jws", tr.revocations)
	// The /admin group's guard, so that staff routes tell a vendor's token
	// (403) from none (401) and a store failure (500) as the others do.
	r.POST("/admin/rulesets", tr.admin, tr.publish)
	r.POST("/admin/certificates/:id/revoke", tr.admin, tr.revoke)
	tr.mountCertificates(r)
}

func (h *trustRoutes) keySet() (*cert.KeySet, error) {
	if h.t.KeySet != nil {
		return h.t.KeySet()
	}
	return h.t.Store.Keys()
}

func (h *trustRoutes) jwks(c *gin.Context) {
	ks, err := h.keySet()
	if err != nil {
		h.log.Error("reading the key set failed", slog.String("error", err.Error()))
		h.refuse(c, http.StatusServiceUnavailable, "transient", CodeNoKeySet, "the key set is not available")
		return
	}
	b, err := ks.MarshalJSON()
	if err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	// Short caching: a verifier must see a new key soon after a rotation.
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "application/jwk-set+json", b)
}

func (h *trustRoutes) revocations(c *gin.Context) {
	ks, err := h.keySet()
	if err != nil {
		h.refuse(c, http.StatusServiceUnavailable, "transient", CodeNoKeySet, "the key set is not available")
		return
	}
	// Verified before it is served: a list this server's own keys do not
	// vouch for must not be handed out as if they did.
	l, token, err := h.t.Store.Revocations(cert.NewVerifier(ks))
	if err != nil {
		h.log.Error("the revocation list does not verify", slog.String("error", err.Error()))
		h.refuse(c, http.StatusServiceUnavailable, "transient", CodeNoRevocationList, "the revocation list is not available")
		return
	}
	if token == "" {
		h.refuse(c, http.StatusNotFound, "not-found", CodeNoRevocationList, "no revocation list has been published")
		return
	}
	// A list has a next update, after which verifiers refuse it: with a
	// key, the server re-signs it once half its validity has passed.
	// Without one (or if that fails) it serves the list it has, stale or
	// not; the verifier, not the server, decides whether it may be used.
	// (RefreshRevocations reads and checks the list again, under the
	// lock: only when this read says it is due.)
	if s := h.t.Signer; s != nil && (!l.Bounded() || time.Until(l.NextUpdate) < s.RevocationValidity()/2) {
		fresh, _, err := h.t.Store.RefreshRevocations(s, time.Now())
		if err != nil {
			h.log.Error("re-signing the revocation list failed", slog.String("error", err.Error()))
		} else if fresh != "" {
			token = fresh
		}
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/jose", []byte(token+"\n"))
}

// publish takes a rule set as a gzipped tar of its directory (the files at
// the archive's root), runs every check `rules test` runs, and publishes it.
// ?signer=NAME is recorded in the signed record.
func (h *trustRoutes) publish(c *gin.Context) {
	if h.t.RecordKey == nil || h.t.Rules == nil {
		h.refuse(c, http.StatusServiceUnavailable, "not-supported", CodeSigningDisabled, "publishing needs serve --signing-key and --registry")
		return
	}
	signer := strings.TrimSpace(c.Query("signer"))
	if signer == "" || len(signer) > 200 {
		h.refuse(c, http.StatusBadRequest, "required", CodeBadRequest, "name the publisher: ?signer=NAME (at most 200 bytes)")
		return
	}
	body, ok := h.body(c, map[string]bool{"application/gzip": true, "application/x-gzip": true, "application/x-tar+gzip": true})
	if !ok {
		return
	}
	dir, err := os.MkdirTemp("", "sandkasse-upload-")
	if err != nil {
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	defer os.RemoveAll(dir)
	max := h.t.MaxArchiveBytes
	if max <= 0 {
		max = DefaultMaxArchiveBytes
	}
	if err := untar(body, dir, max); err != nil {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadArchive, "the body is not a usable rule-set archive (a gzipped tar of the rule set's directory): "+err.Error())
		return
	}
	ctx := c.Request.Context()
	// "@" in the name: the temporary directory is not named by the id.
	rs, err := ruleset.Load(ctx, os.DirFS(dir), "upload@archive")
	var ps ruleset.Problems
	if errors.As(err, &ps) {
		h.refuseProblems(c, ps, nil)
		return
	}
	if err != nil {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeRuleSetRefused, err.Error())
		return
	}
	res, err := publish.Check(ctx, rs, h.t.Packages)
	if err != nil {
		h.log.Error("checking an uploaded rule set failed", slog.String("error", err.Error()))
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	if !res.OK() {
		h.refuseProblems(c, res.Problems, res)
		return
	}
	rec, err := h.t.Rules.Publish(rs, os.DirFS(dir), signer, h.t.RecordKey)
	if errors.Is(err, publish.ErrDuplicate) {
		h.refuse(c, http.StatusConflict, "duplicate", CodeDuplicate, err.Error())
		return
	}
	if err != nil {
		h.log.Error("publishing failed", slog.String("error", err.Error()))
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	c.JSON(http.StatusCreated, rec)
}

// refuseProblems answers 422 with one issue per problem and failing test.
func (h *trustRoutes) refuseProblems(c *gin.Context, ps []ruleset.Problem, res *publish.CheckResult) {
	var l issue.List
	for _, p := range ps {
		l = append(l, issue.Issue{Severity: issue.Error, Code: CodeRuleSetProblem, Type: "invalid", Message: p.String()})
	}
	if res != nil {
		for _, t := range res.Tests {
			if !t.Pass && !t.Skip {
				l = append(l, issue.Issue{Severity: issue.Error, Code: CodeRuleSetTestFailed, Type: "invalid", Message: t.String()})
			}
		}
	}
	respond(c, http.StatusUnprocessableEntity, report.Outcome(report.Result{Issues: l}))
	c.Abort()
}

func (h *trustRoutes) revoke(c *gin.Context) {
	if h.t.Signer == nil {
		h.refuse(c, http.StatusServiceUnavailable, "not-supported", CodeSigningDisabled, "revoking needs serve --signing-key")
		return
	}
	b, ok := h.body(c, map[string]bool{"application/json": true})
	if !ok {
		return
	}
	var in struct {
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || strings.TrimSpace(in.Reason) == "" {
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, `send {"reason": "..."}`)
		return
	}
	r, err := h.t.Store.Revoke(h.t.Signer, c.Param("id"), strings.TrimSpace(in.Reason), time.Now())
	switch {
	case errors.Is(err, certstore.ErrNotFound):
		h.refuse(c, http.StatusNotFound, "not-found", CodeCertNotFound, "no such certificate in the registry")
		return
	case errors.Is(err, cert.ErrAlreadyRevoked):
		h.refuse(c, http.StatusConflict, "duplicate", CodeAlreadyRevoked, "the certificate is already revoked")
		return
	case errors.Is(err, certstore.ErrBadReason):
		h.refuse(c, http.StatusBadRequest, "invalid", CodeBadRequest, err.Error())
		return
	case err != nil:
		h.log.Error("revoking failed", slog.String("error", err.Error()))
		h.refuse(c, http.StatusInternalServerError, "exception", CodeInternal, "internal error")
		return
	}
	c.JSON(http.StatusOK, gin.H{"jti": r.ID, "revokedAt": r.RevokedAt.UTC().Format(time.RFC3339), "reason": r.Reason})
}

// untar unpacks a gzipped tar into dir: regular files and directories only,
// relative paths that stay inside dir, at most MaxArchiveFiles entries and
// max bytes in all. Anything else refuses the whole archive.
func untar(body []byte, dir string, max int64) error {
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return errors.New("not gzip")
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var total int64
	seen := map[string]bool{}
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return errors.New("not a tar archive")
		}
		if n >= MaxArchiveFiles {
			return fmt.Errorf("more than %d entries", MaxArchiveFiles)
		}
		// Every entry's data counts, even one that is skipped or is not a
		// file: Next inflates and discards whatever a header declares.
		total += hdr.Size
		if hdr.Size < 0 || total > max {
			return fmt.Errorf("unpacks to more than %d bytes", max)
		}
		name := path.Clean(strings.TrimPrefix(hdr.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "\\") || !validPath(name) {
			return fmt.Errorf("entry %q leaves the rule set's directory or is not a clean path", clipName(hdr.Name))
		}
		if seen[name] {
			return fmt.Errorf("entry %q appears twice", clipName(name))
		}
		seen[name] = true
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return fmt.Errorf("entry %q cannot be written", clipName(name))
			}
			// The header's size is what tar reads; LimitReader holds it to
			// that even if the stream claims otherwise.
			_, err = io.Copy(f, io.LimitReader(tr, hdr.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("entry %q is truncated", clipName(name))
			}
		default:
			// Links and devices could point outside dir or block a reader.
			return fmt.Errorf("entry %q is not a regular file or directory", clipName(name))
		}
	}
	return nil
}

func validPath(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

func clipName(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
