package main

import (
	"fmt"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
)

const certRefreshSynopsis = "--registry DIR --key KEYFILE --staff\n\n" +
	"Re-signs the registry's revocation list (DIR/revocations.jws, entries unchanged) when it\n" +
	"has no next update or less than half its 24 h validity is left, so that `cert verify`\n" +
	"does not refuse it as stale. `serve --signing-key` does this by itself; run this (e.g.\n" +
	"hourly) for a registry no server with a key serves. KEYFILE's key must be in\n" +
	"DIR/jwks.json, and a list that does not verify is never re-signed.\n" +
	"Exit status: 0 the list is fresh (re-signed or not), 2 could not run."

// runCertRefresh is `sandkasse cert refresh`.
func runCertRefresh(args []string, sio stdio) int {
	fs := newFlags("cert refresh", certRefreshSynopsis, sio.err)
	registry := fs.String("registry", "", "certificate registry directory (required)")
	keyFile := fs.String("key", "", "signing key whose public half is in the registry's jwks.json (required)")
	staff := fs.Bool("staff", false, "act in the platform-staff role (required)")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(sio.err, "sandkasse cert refresh: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) != 0 || *registry == "" || *keyFile == "" {
		fs.Usage()
		return fail("--registry and --key are required, and nothing else")
	}
	if !*staff {
		return fail("refused: signing the revocation list is for the platform-staff role; pass --staff to act in it")
	}
	key, err := cert.LoadSigningKey(*keyFile)
	if err != nil {
		return fail("--key: %v", err)
	}
	signer, err := cert.NewSigner(key)
	if err != nil {
		return fail("--key: %v", err)
	}
	store := &certstore.Store{Dir: *registry}
	if _, refreshed, err := store.RefreshRevocations(signer, time.Now()); err != nil {
		return fail("%v", err)
	} else if !refreshed {
		fmt.Fprintf(sio.out, "%s is fresh; not re-signed\n", store.RevocationsPath())
	} else {
		fmt.Fprintf(sio.out, "%s re-signed with key %s, valid for %s\n", store.RevocationsPath(), signer.KeyID(), signer.RevocationValidity())
	}
	return exitOK
}
