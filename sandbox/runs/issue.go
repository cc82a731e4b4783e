package runs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// issueProblems checks, when the run is created, what the certificate will
// say about the app and the vendor, with the certificate's own rules (text,
// digest form, organisation number by mod-11), so that a request that could
// never get a certificate is refused before the vendor waits for the run.
// It returns "" when all is well.
func issueProblems(req Request, org string) string {
	// The fields only the run can fill get placeholders that pass.
	placeholder := "sha256:" + strings.Repeat("0", 64)
	now := time.Now().UTC().Truncate(time.Second)
	p := cert.Payload{ID: "x", Issuer: cert.DefaultIssuer, KeyID: "x",
		App:     cert.App{Name: req.App, Version: req.Version, ArtifactDigest: req.ArtifactDigest},
		Vendor:  cert.Vendor{OrgNumber: org},
		Suite:   cert.Suite{ID: "x", Version: "1.0.0"},
		RuleSet: cert.RuleSet{ID: "x", Version: "1.0.0", Digest: placeholder}, ReportDigest: placeholder,
		Issued: now, Expires: now.Add(time.Hour)}
	err := p.Validate()
	var ve *cert.ValidationError
	if err == nil || !errors.As(err, &ve) {
		if err != nil {
			return err.Error()
		}
		return ""
	}
	var msgs []string
	for _, pr := range ve.Problems {
		switch {
		case pr.Field == "vendor.orgNumber":
			// The value is the tenant's, not the request's: say so.
			msgs = append(msgs, fmt.Sprintf("the tenant's vendor organisation number %s", pr.Message))
		case strings.HasPrefix(pr.Field, "app."):
			name := map[string]string{"app.name": "app", "app.version": "version", "app.artifactDigest": "artifactDigest"}[pr.Field]
			if name == "" {
				name = pr.Field
			}
			msgs = append(msgs, name+" "+pr.Message)
		default:
			msgs = append(msgs, pr.String())
		}
	}
	return strings.Join(msgs, "; ")
}

// CertificateID is the id of the certificate a run issues. It is derived
// from the run id (a UUID of version 8, RFC 9562, over its SHA-256) rather
// than random, so the registry, which refuses an id it holds, refuses a
// second certificate for the same run whatever happened to the run's row;
// and a registry entry can be traced to its run.
func CertificateID(runID string) string {
	h := sha256.Sum256([]byte("sandkasse run certificate\x00" + runID))
	b := h[:16]
	b[6] = b[6]&0x0f | 0x80
	b[8] = b[8]&0x3f | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// issue signs and stores the certificate of a run that asked for one, when
// every required test passed, and returns the run's final state: with the
// certificate id, or, when issuing failed, as an error of the tool (the app
// passed; the platform could not certify it).
func (s *Service) issue(ctx context.Context, r, out store.Run, rec *suite.Recording) store.Run {
	if out.Status != store.RunPassed {
		return out
	}
	if out.Outcome != suite.Pass.String() {
		// Passed by the roll-up (every test omitted) but nothing was
		// shown to work: no certificate.
		out.Message += fmt.Sprintf(" (no certificate: the outcome is %s; a certificate needs every required test to pass)", out.Outcome)
		return out
	}
	fail := func(msg string) store.Run {
		out.Status, out.Outcome = store.RunError, suite.Error.String()
		out.Message = "error: every required test passed, but the certificate could not be issued: " + msg + "; start the run again"
		return out
	}
	if !s.CanIssue() {
		return fail("this instance has no signing key")
	}
	cs, ok := s.o.Catalog[r.Suite]
	if !ok || rec == nil {
		return fail("the run's suite or recording is missing")
	}
	// The run must still be this instance's: one that was reaped as stale
	// must not issue (its finish would be refused anyway).
	if err := s.o.Store.RunProgress(ctx, r.ID, s.o.Owner, "issuing the certificate", s.o.Now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return out // no longer ours: FinishRun is refused, nothing is issued
		}
		return fail("the run's state could not be written")
	}
	sum := sha256.Sum256(out.Report)
	p := cert.Payload{
		ID:           CertificateID(r.ID),
		App:          cert.App{Name: r.App, Version: r.Version, ArtifactDigest: r.ArtifactDigest},
		Vendor:       cert.Vendor{OrgNumber: r.VendorOrg},
		Suite:        cert.Suite{ID: cs.Suite.ID, Version: cs.Suite.Version},
		RuleSet:      cert.RuleSet{ID: cs.RuleSet.Manifest.ID, Version: cs.RuleSet.Manifest.Version, Digest: cs.RuleSet.Digest},
		ReportDigest: "sha256:" + hex.EncodeToString(sum[:]),
	}
	token, signed, err := s.o.Signer.Sign(p)
	if err != nil {
		return fail(err.Error())
	}
	if _, err := s.o.Registry.Put(token, out.Report, rec); err != nil {
		s.o.Logger.Error("runs: storing a certificate failed", slog.String("run", r.ID), slog.String("error", err.Error()))
		if errors.Is(err, certstore.ErrExists) {
			return fail("the registry already holds certificate " + signed.ID + " for this run")
		}
		return fail("the certificate registry could not store it")
	}
	out.CertificateID = signed.ID
	out.Message += " (certificate " + signed.ID + " issued)"
	return out
}

// withdraw revokes a certificate that was stored but whose run could not
// record it: a valid certificate no run names must not stay in the
// registry as if it had been issued. If the run did record it (the write
// went through although the answer was an error), nothing is done.
func (s *Service) withdraw(ctx context.Context, r store.Run, id string) {
	if got, err := s.o.Store.Run(ctx, r.Tenant, r.ID); err == nil && got.CertificateID == id {
		return
	}
	_, err := s.o.Registry.Revoke(s.o.Signer, id, "issued by run "+r.ID+", which ended without recording it", s.o.Now())
	if err != nil {
		s.o.Logger.Error("runs: a certificate no run records could not be revoked; revoke it by hand",
			slog.String("run", r.ID), slog.String("certificate", id), slog.String("error", err.Error()))
		return
	}
	s.o.Logger.Warn("runs: revoked a certificate its run could not record", slog.String("run", r.ID), slog.String("certificate", id))
}

// Certificate returns the compact certificate a run issued, from the
// registry.
func (s *Service) Certificate(r store.Run) (string, error) {
	if r.CertificateID == "" {
		return "", fmt.Errorf("run %s has no certificate", r.ID)
	}
	if s.o.Registry == nil {
		return "", ErrNoRegistry
	}
	keys, err := s.o.Registry.Keys()
	if err != nil {
		return "", err
	}
	e, err := s.o.Registry.Get(r.CertificateID, cert.NewVerifier(keys))
	if err != nil {
		return "", err
	}
	return e.Token, nil
}
