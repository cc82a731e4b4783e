package synth

import (
	"bufio"
	"context"
	"fmt"
	"io"
)

// WriteNDJSON writes the population as NDJSON: one resource per line, in
// the order Generate emits them.
func WriteNDJSON(ctx context.Context, w io.Writer, opts Options) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	err := Generate(ctx, opts, func(r Resource) error {
		bw.Write(r.JSON)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// Bundle types WriteBundle can write.
const (
	BundleTransaction = "transaction"
	BundleCollection  = "collection"
)

// WriteBundle writes the population as one Bundle, streamed. A transaction
// Bundle PUTs every resource under its generated id, so literal references
// (Patient/{id}) hold on the receiving server; each entry's fullUrl is
// urn:uuid:{id}.
func WriteBundle(ctx context.Context, w io.Writer, opts Options, bundleType string) error {
	if bundleType != BundleTransaction && bundleType != BundleCollection {
		return fmt.Errorf("synth: unknown bundle type %q (want %s or %s)", bundleType, BundleTransaction, BundleCollection)
	}
	o, err := opts.normalised()
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var j jw
	j.obj("")
	j.str("resourceType", "Bundle")
	j.str("id", uuid(rng(o.Seed, streamWorld+2<<62)))
	j.meta("")
	j.str("type", bundleType)
	j.dateTime("timestamp", o.Start)
	j.arr("entry")
	bw.Write(j.b)
	first := true
	err = Generate(ctx, o, func(r Resource) error {
		j.b = j.b[:0]
		j.comma = !first
		first = false
		j.obj("")
		j.str("fullUrl", "urn:uuid:"+r.ID)
		j.key("resource")
		j.b = append(j.b, r.JSON...)
		j.comma = true
		if bundleType == BundleTransaction {
			j.obj("request")
			j.str("method", "PUT")
			j.str("url", r.Type+"/"+r.ID)
			j.end()
		}
		j.end()
		_, err := bw.Write(j.b)
		return err
	})
	if err != nil {
		return err
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}
