package epr

import (
	"context"
	"time"

	"github.com/sandkasse/sandkasse/sandbox/store"
	"github.com/sandkasse/sandkasse/validator/fhirjson"
)

// Import writes a resource as version 1 under its own id, without
// validation: for seeding a tenant from a trusted generator (sandbox/synth,
// whose output its own tests validate). It runs in the caller's
// transaction.
func Import(ctx context.Context, tx store.Tx, typ, id string, body []byte, at time.Time) error {
	doc, err := fhirjson.Parse(body, fhirjson.Limits{})
	if err != nil {
		return err
	}
	at = at.UTC().Truncate(time.Millisecond)
	r := store.Resource{Type: typ, ID: id, Version: 1, Updated: at, Body: stamp(body, doc.Root, typ, id, 1, at)}
	return tx.Put(ctx, r, extract(typ, id, doc.Root, ""), 0) // the generator's references are relative
}
