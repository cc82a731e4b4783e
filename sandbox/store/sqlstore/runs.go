package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
)

// RunsSchema returns the statements that create the run queue. The back
// ends append them to Schema.
func RunsSchema(t Types) []string {
	r := strings.NewReplacer("{T}", t.Text, "{B}", t.Blob)
	return []string{
		r.Replace(`CREATE TABLE IF NOT EXISTS runs (
			id {T} PRIMARY KEY, tenant {T} NOT NULL, suite {T} NOT NULL,
			app {T} NOT NULL, app_version {T} NOT NULL, artifact_digest {T} NOT NULL,
			after_seq BIGINT NOT NULL, wait_ms BIGINT NOT NULL, fhir_base {T} NOT NULL,
			status {T} NOT NULL, progress {T} NOT NULL, message {T} NOT NULL, outcome {T} NOT NULL,
			report {B} NOT NULL, owner {T} NOT NULL,
			created_ms BIGINT NOT NULL, started_ms BIGINT NOT NULL, finished_ms BIGINT NOT NULL,
			heartbeat_ms BIGINT NOT NULL)`),
		`CREATE INDEX IF NOT EXISTS runs_queue ON runs (status, created_ms, id)`,
		`CREATE INDEX IF NOT EXISTS runs_tenant ON runs (tenant, created_ms)`,
		// A run that asks for a certificate, and the one it issued. A table
		// of its own, not columns of runs: the store has no migrations, and
		// CREATE TABLE IF NOT EXISTS would leave an existing runs table
		// without new columns.
		r.Replace(`CREATE TABLE IF NOT EXISTS run_issues (
			run_id {T} PRIMARY KEY, vendor_org {T} NOT NULL, certificate_id {T} NOT NULL)`),
		// A vendor's request to cancel a running run, for its owner to see
		// in the heartbeat (a table of its own for the same reason).
		r.Replace(`CREATE TABLE IF NOT EXISTS run_cancels (run_id {T} PRIMARY KEY, requested_ms BIGINT NOT NULL)`),
	}
}

const runCols = `id, tenant, suite, app, app_version, artifact_digest, after_seq, wait_ms, fhir_base,
	status, progress, message, outcome, report, owner, created_ms, started_ms, finished_ms, heartbeat_ms`

// selectRun reads runCols and the run's issue request, if any.
const selectRun = `SELECT r.id, r.tenant, r.suite, r.app, r.app_version, r.artifact_digest, r.after_seq, r.wait_ms,
	r.fhir_base, r.status, r.progress, r.message, r.outcome, r.report, r.owner, r.created_ms, r.started_ms,
	r.finished_ms, r.heartbeat_ms, CASE WHEN i.run_id IS NULL THEN 0 ELSE 1 END,
	COALESCE(i.vendor_org, ''), COALESCE(i.certificate_id, ''), CASE WHEN c.run_id IS NULL THEN 0 ELSE 1 END
	FROM runs r LEFT JOIN run_issues i ON i.run_id = r.id LEFT JOIN run_cancels c ON c.run_id = r.id`

func scanRun(sc interface{ Scan(...any) error }) (store.Run, error) {
	var r store.Run
	var wait, created, started, finished, heartbeat, issue, cancel int64
	var status string
	if err := sc.Scan(&r.ID, &r.Tenant, &r.Suite, &r.App, &r.Version, &r.ArtifactDigest, &r.After, &wait, &r.FHIRBase,
		&status, &r.Progress, &r.Message, &r.Outcome, &r.Report, &r.Owner, &created, &started, &finished, &heartbeat,
		&issue, &r.VendorOrg, &r.CertificateID, &cancel); err != nil {
		return r, err
	}
	r.Issue, r.CancelRequested = issue == 1, cancel == 1
	r.Status, r.Wait = store.RunStatus(status), time.Duration(wait)*time.Millisecond
	r.Created, r.Started, r.Finished, r.Heartbeat = fromMS(created), fromMS(started), fromMS(finished), fromMS(heartbeat)
	if len(r.Report) == 0 {
		r.Report = nil
	}
	return r, nil
}

func (db *DB) CreateRun(ctx context.Context, r store.Run) error {
	if r.ID == "" || r.Tenant == "" || r.Suite == "" {
		return errors.New("sqlstore: a run needs an id, a tenant and a suite")
	}
	if r.Status == "" {
		r.Status = store.RunQueued
	}
	if r.Issue && r.VendorOrg == "" {
		return errors.New("sqlstore: a run that asks for a certificate needs the vendor's organisation number")
	}
	if !r.Issue && (r.VendorOrg != "" || r.CertificateID != "") {
		return errors.New("sqlstore: a vendor organisation or certificate id on a run that does not ask for a certificate")
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: create run: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, db.bind(`INSERT INTO runs (`+runCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`),
		r.ID, r.Tenant, r.Suite, r.App, r.Version, r.ArtifactDigest, r.After, r.Wait.Milliseconds(), r.FHIRBase,
		string(r.Status), r.Progress, r.Message, r.Outcome, nonNil(r.Report), r.Owner,
		ms(r.Created), ms(r.Started), ms(r.Finished), ms(r.Heartbeat))
	if err != nil {
		return fmt.Errorf("sqlstore: create run: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrExists
	}
	if r.Issue {
		if _, err := tx.ExecContext(ctx, db.bind(`INSERT INTO run_issues (run_id, vendor_org, certificate_id) VALUES (?, ?, ?)`),
			r.ID, r.VendorOrg, r.CertificateID); err != nil {
			return fmt.Errorf("sqlstore: create run: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: create run: %w", err)
	}
	return nil
}

func (db *DB) Run(ctx context.Context, tenant, id string) (store.Run, error) {
	r, err := scanRun(db.r.QueryRowContext(ctx, db.bind(selectRun+` WHERE r.tenant = ? AND r.id = ?`), tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.ErrNotFound
	}
	return r, err
}

// ClaimRun is one UPDATE whose WHERE re-checks status = 'queued': when two
// instances pick the same row, the second's update finds it no longer
// queued (PostgreSQL re-evaluates the condition on the row the first one
// committed) and claims nothing. PostgreSQL also skips rows another
// transaction holds (FOR UPDATE SKIP LOCKED) so that a second instance takes
// the next run instead of waiting; SQLite has one writer at a time anyway.
// Without canIssue, runs that ask for a certificate are left to an instance
// that can sign one.
func (db *DB) ClaimRun(ctx context.Context, owner string, now time.Time, canIssue bool) (store.Run, error) {
	pick := `SELECT id FROM runs WHERE status = 'queued'`
	if !canIssue {
		pick += ` AND NOT EXISTS (SELECT 1 FROM run_issues WHERE run_issues.run_id = runs.id)`
	}
	pick += ` ORDER BY created_ms, id LIMIT 1`
	if db.d.Dollar {
		pick += ` FOR UPDATE SKIP LOCKED`
	}
	var id, tenant string
	err := db.w.QueryRowContext(ctx, db.bind(`UPDATE runs SET status = 'running', owner = ?, started_ms = ?, heartbeat_ms = ?,
		progress = 'claimed'
		WHERE id = (`+pick+`) AND status = 'queued' RETURNING id, tenant`), owner, ms(now), ms(now)).Scan(&id, &tenant)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Run{}, store.ErrNotFound
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("sqlstore: claim run: %w", err)
	}
	r, err := scanRun(db.w.QueryRowContext(ctx, db.bind(selectRun+` WHERE r.id = ?`), id))
	if err != nil {
		return r, fmt.Errorf("sqlstore: claimed run: %w", err)
	}
	return r, nil
}

// listRun is selectRun without the report: a page of runs is read to be
// listed, and a report can be megabytes.
var listRun = strings.Replace(selectRun, "r.report,", "'',", 1)

func (db *DB) ListRuns(ctx context.Context, q store.RunQuery) ([]store.Run, error) {
	if q.Tenant == "" || q.Limit < 1 || q.Limit > store.MaxRunPage {
		return nil, fmt.Errorf("sqlstore: list runs needs a tenant and a limit of 1 to %d", store.MaxRunPage)
	}
	where, args := ` WHERE r.tenant = ?`, []any{q.Tenant}
	if q.Status != "" {
		where, args = where+` AND r.status = ?`, append(args, string(q.Status))
	}
	if !q.BeforeCreated.IsZero() {
		// Keyset paging (created, id), portable to both back ends.
		b := ms(q.BeforeCreated)
		where, args = where+` AND (r.created_ms < ? OR (r.created_ms = ? AND r.id < ?))`, append(args, b, b, q.BeforeID)
	}
	rows, err := db.r.QueryContext(ctx, db.bind(listRun+where+` ORDER BY r.created_ms DESC, r.id DESC LIMIT ?`), append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list runs: %w", err)
	}
	defer rows.Close()
	var out []store.Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: list runs: %w", err)
		}
		r.Report = nil
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: list runs: %w", err)
	}
	return out, nil
}

// CancelRun ends a queued run in one guarded UPDATE. A running run gets a
// cancel request, written in a transaction that first updates the run's
// row only while it is running: the row lock orders it with FinishRun
// (which updates the row, then looks for a request before it commits), so
// either the request is seen and the run ends cancelled, or the run had
// ended and the request is not written (ErrConflict).
func (db *DB) CancelRun(ctx context.Context, tenant, id, message string, now time.Time) (store.Run, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return store.Run{}, fmt.Errorf("sqlstore: cancel run: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, db.bind(`UPDATE runs SET status = 'error', outcome = 'error', message = ?, progress = '',
		finished_ms = ? WHERE tenant = ? AND id = ? AND status = 'queued'`), message, ms(now), tenant, id)
	n, err := rowsAffected(res, err)
	if err != nil {
		return store.Run{}, err
	}
	if n == 0 {
		res, err = tx.ExecContext(ctx, db.bind(`UPDATE runs SET heartbeat_ms = heartbeat_ms
			WHERE tenant = ? AND id = ? AND status = 'running'`), tenant, id)
		if n, err = rowsAffected(res, err); err != nil {
			return store.Run{}, err
		}
	}
	if n == 1 {
		if _, err := tx.ExecContext(ctx, db.bind(`INSERT INTO run_cancels (run_id, requested_ms) VALUES (?, ?)
			ON CONFLICT (run_id) DO NOTHING`), id, ms(now)); err != nil {
			return store.Run{}, fmt.Errorf("sqlstore: cancel run: %w", err)
		}
	}
	r, err := scanRun(tx.QueryRowContext(ctx, db.bind(selectRun+` WHERE r.tenant = ? AND r.id = ?`), tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, store.ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("sqlstore: cancel run: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return store.Run{}, fmt.Errorf("sqlstore: cancel run: %w", err)
	}
	if n == 0 {
		// Neither queued nor running: it had ended before the request.
		return r, store.ErrConflict
	}
	return r, nil
}

func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, fmt.Errorf("sqlstore: cancel run: %w", err)
	}
	return res.RowsAffected()
}

func (db *DB) RunProgress(ctx context.Context, id, owner, progress string, now time.Time) error {
	res, err := db.w.ExecContext(ctx, db.bind(`UPDATE runs SET progress = ?, heartbeat_ms = ?
		WHERE id = ? AND owner = ? AND status = 'running'`), progress, ms(now), id, owner)
	if err := affectedOne(res, err); err != nil {
		return err
	}
	return db.cancelled(ctx, db.w, id)
}

// cancelled answers ErrCancelled when the vendor asked to cancel run id.
func (db *DB) cancelled(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, id string) error {
	var n int
	if err := q.QueryRowContext(ctx, db.bind(`SELECT COUNT(*) FROM run_cancels WHERE run_id = ?`), id).Scan(&n); err != nil {
		return fmt.Errorf("sqlstore: run: %w", err)
	}
	if n > 0 {
		return store.ErrCancelled
	}
	return nil
}

func (db *DB) FinishRun(ctx context.Context, r store.Run, now time.Time) error {
	if !r.Status.Done() {
		return fmt.Errorf("sqlstore: finish run: %q is not a final status", r.Status)
	}
	if r.CertificateID != "" && r.Status != store.RunPassed {
		return fmt.Errorf("sqlstore: finish run: a certificate on a run that ends %s", r.Status)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: finish run: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, db.bind(`UPDATE runs SET status = ?, progress = ?, message = ?, outcome = ?, report = ?,
		finished_ms = ?, heartbeat_ms = ? WHERE id = ? AND owner = ? AND status = 'running'`),
		string(r.Status), r.Progress, r.Message, r.Outcome, nonNil(r.Report), ms(now), ms(now), r.ID, r.Owner)
	if err := affectedOne(res, err); err != nil {
		return err
	}
	if r.Status != store.RunError {
		// After the row is locked by the update: a cancel request
		// committed before is seen here, a later one finds the run ended
		// (see CancelRun).
		if err := db.cancelled(ctx, tx, r.ID); err != nil {
			return err
		}
	}
	if r.CertificateID != "" {
		// Once: a run whose certificate is recorded keeps it.
		res, err := tx.ExecContext(ctx, db.bind(`UPDATE run_issues SET certificate_id = ? WHERE run_id = ? AND certificate_id = ''`),
			r.CertificateID, r.ID)
		if err != nil {
			return fmt.Errorf("sqlstore: finish run: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return fmt.Errorf("sqlstore: finish run %s: it did not ask for a certificate, or has one: %w", r.ID, store.ErrConflict)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: finish run: %w", err)
	}
	return nil
}

func (db *DB) FailStaleRuns(ctx context.Context, before time.Time, message string, now time.Time) (int, error) {
	res, err := db.w.ExecContext(ctx, db.bind(`UPDATE runs SET status = 'error', outcome = 'error', message = ?, finished_ms = ?
		WHERE status = 'running' AND heartbeat_ms < ?`), message, ms(now), ms(before))
	if err != nil {
		return 0, fmt.Errorf("sqlstore: fail stale runs: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

func affectedOne(res sql.Result, err error) error {
	if err != nil {
		return fmt.Errorf("sqlstore: run: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrConflict
	}
	return nil
}
