package runs

import (
	"context"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/suite"
)

// CancelMessage is the message of a run the vendor cancelled.
const CancelMessage = "cancelled by the vendor"

// cancelledEnd is how a cancelled run ends: an error (the tool did not
// finish), no report, no certificate.
func cancelledEnd() store.Run {
	return store.Run{Status: store.RunError, Outcome: suite.Error.String(), Message: CancelMessage, Progress: "cancelled"}
}

// List returns a page of a tenant's runs, newest first, without reports.
func (s *Service) List(ctx context.Context, q store.RunQuery) ([]store.Run, error) {
	return s.o.Store.ListRuns(ctx, q)
}

// Cancel cancels a tenant's run: a queued one ends at once, a running one
// at its owner's next heartbeat (within Options.Heartbeat), never with a
// certificate. Errors are the store's: ErrNotFound, and ErrConflict for a
// run that had already ended (the returned run says how).
func (s *Service) Cancel(ctx context.Context, tenant, id string) (store.Run, error) {
	return s.o.Store.CancelRun(ctx, tenant, id, CancelMessage, s.o.Now().UTC().Truncate(time.Millisecond))
}
