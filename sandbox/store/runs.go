package store

import (
	"context"
	"errors"
	"time"
)

// RunStatus is where a verification run is in its life.
type RunStatus string

// A run is queued when created, running once an instance claimed it, and
// ends passed (every required test passed), failed (a required test failed
// or had nothing to examine) or error (the tool could not finish it: a
// crash, a suite that did not load, a cancelled process).
const (
	RunQueued  RunStatus = "queued"
	RunRunning RunStatus = "running"
	RunPassed  RunStatus = "passed"
	RunFailed  RunStatus = "failed"
	RunError   RunStatus = "error"
)

// Done reports whether the status is final.
func (s RunStatus) Done() bool { return s == RunPassed || s == RunFailed || s == RunError }

// Run is one verification run: a job in the store that any instance may
// claim, with its report once done.
type Run struct {
	ID     string
	Tenant string
	Suite  string // suite id, e.g. dho-journal
	// What is verified, for the report and a certificate.
	App, Version, ArtifactDigest string
	// After is the traffic sequence number the run examines exchanges
	// after (0: everything the tenant has recorded).
	After int64
	// Wait bounds how long the run waits for the app's traffic.
	Wait time.Duration
	// Issue asks for a certificate when the run passes, naming VendorOrg
	// (the tenant's organisation number when the run was created).
	// CertificateID is the id (jti) of the certificate the run issued, set
	// by the FinishRun that records the pass: one run, at most one.
	Issue         bool
	VendorOrg     string
	CertificateID string
	// FHIRBase is the tenant's FHIR base URL as the app sees it (the aud a
	// SMART app must send).
	FHIRBase string

	Status   RunStatus
	Progress string // one line for a person watching
	Message  string // why it ended the way it did
	Outcome  string // the suite outcome (pass, fail, skip, error, omit) when done
	Report   []byte // the JSON report when done

	Owner     string    // the instance that claimed it
	Created   time.Time // milliseconds
	Started   time.Time
	Finished  time.Time
	Heartbeat time.Time // last sign of life from the owner

	// CancelRequested: the vendor asked to cancel the run. A queued run
	// ends at once; a running one's owner learns it from RunProgress
	// (ErrCancelled) and ends it as error, "cancelled by the vendor".
	CancelRequested bool
}

// MaxRunPage bounds one page of ListRuns.
const MaxRunPage = 100

// RunQuery selects a page of a tenant's runs, newest first (by created,
// then id). Before* is the last run of the previous page (zero: the first
// page); Status, when set, keeps runs in that status only.
type RunQuery struct {
	Tenant        string
	Status        RunStatus
	BeforeCreated time.Time
	BeforeID      string
	Limit         int // 1..MaxRunPage
}

// ErrCancelled is RunProgress's answer to an owner whose run the vendor
// cancelled: the heartbeat was recorded, and the owner should stop.
var ErrCancelled = errors.New("store: run cancelled")

// Runs is the run queue. Claiming is atomic across processes sharing one
// database: of several instances calling ClaimRun at once, exactly one gets
// a given queued run. Every change after the claim names the owner and is
// refused (ErrConflict) when the run is no longer that owner's running run
// (it was reaped as stale), so a slow instance cannot overwrite a verdict.
type Runs interface {
	// CreateRun adds a queued run (ErrExists when the id is taken).
	CreateRun(ctx context.Context, r Run) error
	// Run returns one run of a tenant (ErrNotFound, also for another
	// tenant's run).
	Run(ctx context.Context, tenant, id string) (Run, error)
	// ClaimRun moves the oldest queued run to running under owner and
	// returns it; ErrNotFound when none is queued. An instance that cannot
	// sign certificates passes canIssue false and never gets a run that
	// asks for one.
	ClaimRun(ctx context.Context, owner string, now time.Time, canIssue bool) (Run, error)
	// ListRuns returns a page of a tenant's runs, newest first, without
	// their reports (a limit outside 1..MaxRunPage is an error).
	ListRuns(ctx context.Context, q RunQuery) ([]Run, error)
	// CancelRun cancels a tenant's run: a queued run ends at once (error,
	// with message), a running one is marked CancelRequested for its
	// owner. It returns the run as it stands after; ErrNotFound for no
	// such run of the tenant, ErrConflict for a run that had already
	// ended (the returned run says how).
	CancelRun(ctx context.Context, tenant, id, message string, now time.Time) (Run, error)
	// RunProgress records progress and a heartbeat (ErrConflict: not the
	// owner's running run; ErrCancelled: recorded, but the vendor
	// cancelled the run).
	RunProgress(ctx context.Context, id, owner, progress string, now time.Time) error
	// FinishRun records the final status, message, outcome, report and,
	// for a run that issued one, the certificate id (ErrConflict: not the
	// owner's running run; a certificate id on a run that did not ask for
	// one is an error; ErrCancelled for any status but error once the
	// vendor cancelled the run, so a cancelled run never records a pass
	// or a certificate).
	FinishRun(ctx context.Context, r Run, now time.Time) error
	// FailStaleRuns ends as error, with message, every running run whose
	// heartbeat is older than before; it returns how many.
	FailStaleRuns(ctx context.Context, before time.Time, message string, now time.Time) (int, error)
}
