package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/validator/certstore"
)

const certRetireSynopsis = "--registry DIR --staff [--force] KID\n\n" +
	"Removes key KID from DIR/jwks.json, the last step of a key rotation: add the new key\n" +
	"(cert keygen --registry DIR), sign with it (serve --signing-key or verify --issue --key),\n" +
	"move the revocation list to it (cert refresh --key NEWKEY), then retire the old key once\n" +
	"its certificates have expired or been revoked. Certificates signed with a retired key no\n" +
	"longer verify, so retiring is refused while the key is the only one, signs the revocation\n" +
	"list, or signs certificates still valid (they are listed); --force retires it anyway.\n" +
	"Exit status: 0 retired, 1 refused (still in use), 2 could not run."

// runCertRetire is `sandkasse cert retire-key`.
func runCertRetire(args []string, sio stdio) int {
	fs := newFlags("cert retire-key", certRetireSynopsis, sio.err)
	registry := fs.String("registry", "", "certificate registry directory (required)")
	staff := fs.Bool("staff", false, "act in the platform-staff role (required)")
	force := fs.Bool("force", false, "retire even if certificates signed with the key are still valid (they stop verifying)")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(sio.err, "sandkasse cert retire-key: "+format+"\n", a...)
		return code
	}
	if len(rest) != 1 || *registry == "" {
		fs.Usage()
		return fail(exitUsage, "expected --registry DIR and one key id")
	}
	if !*staff {
		return fail(exitUsage, "refused: retiring a key is for the platform-staff role; pass --staff to act in it")
	}
	store := &certstore.Store{Dir: *registry}
	inUse, err := store.RetireKey(rest[0], time.Now(), *force)
	switch {
	case errors.Is(err, certstore.ErrKeyInUse):
		if len(inUse) > 0 {
			return fail(exitFindings, "refused: %v: %s (revoke them, wait until they expire, or pass --force)", err, strings.Join(inUse, ", "))
		}
		return fail(exitFindings, "refused: %v", err)
	case err != nil:
		return fail(exitUsage, "%v", err)
	}
	fmt.Fprintf(sio.out, "key %s retired from %s\n", rest[0], store.KeySetPath())
	if len(inUse) > 0 {
		fmt.Fprintf(sio.out, "%d certificate(s) signed with it no longer verify: %s\n", len(inUse), strings.Join(inUse, ", "))
	}
	return exitOK
}
