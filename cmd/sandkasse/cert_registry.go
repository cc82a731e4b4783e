package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/suite"
	"github.com/sandkasse/sandkasse/validator/suitereport"
)

// storeIssued keeps an issued certificate in the registry with its JSON
// report (the bytes whose digest the certificate names) and the recording
// the suite examined, so `rules diff` can re-evaluate it later.
func storeIssued(dir, token string, report *suitereport.Report, rec *suite.Recording) error {
	js, err := suitereport.Get("json")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := js.Render(&buf, report); err != nil {
		return err
	}
	_, err = (&certstore.Store{Dir: dir}).Put(token, buf.Bytes(), rec)
	return err
}

const certRevokeSynopsis = "--registry DIR --key KEYFILE --staff --reason TEXT CERT-ID|CERT-FILE\n\n" +
	"Revokes a certificate kept in the registry: adds it to DIR/revocations.jws and re-signs\n" +
	"the list with KEYFILE, whose key must be in DIR/jwks.json. Revoking is for platform\n" +
	"staff; --staff asserts that role (the server checks it for real).\n" +
	"Exit status: 0 revoked, 1 refused (already revoked), 2 could not run."

// runCertRevoke is `sandkasse cert revoke`.
func runCertRevoke(args []string, sio stdio) int {
	fs := newFlags("cert revoke", certRevokeSynopsis, sio.err)
	registry := fs.String("registry", "", "certificate registry directory (required)")
	keyFile := fs.String("key", "", "signing key whose public half is in the registry's jwks.json (required)")
	staff := fs.Bool("staff", false, "act in the platform-staff role (required)")
	reason := fs.String("reason", "", "why, shown to everyone who checks the certificate (required)")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(sio.err, "sandkasse cert revoke: "+format+"\n", a...)
		return code
	}
	if len(rest) != 1 {
		fs.Usage()
		return fail(exitUsage, "expected one certificate id or file")
	}
	if !*staff {
		return fail(exitUsage, "refused: revoking is for the platform-staff role; pass --staff to act in it")
	}
	if *registry == "" || *keyFile == "" || strings.TrimSpace(*reason) == "" {
		fs.Usage()
		return fail(exitUsage, "--registry, --key and --reason are required")
	}
	key, err := cert.LoadSigningKey(*keyFile)
	if err != nil {
		return fail(exitUsage, "--key: %v", err)
	}
	signer, err := cert.NewSigner(key)
	if err != nil {
		return fail(exitUsage, "--key: %v", err)
	}
	store := &certstore.Store{Dir: *registry}
	id := rest[0]
	if fileExists(id) {
		// A certificate file: its id, once its signature checks out with
		// the registry's keys (an unverified jti could name anything).
		keys, err := store.Keys()
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		data, err := os.ReadFile(id)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		res := cert.NewVerifier(keys).Verify(strings.TrimSpace(string(data)))
		if res.Payload == nil {
			return fail(exitUsage, "%s: not a certificate of this registry: %s", id, res.Detail)
		}
		id = res.Payload.ID
	}
	r, err := store.Revoke(signer, id, strings.TrimSpace(*reason), time.Now())
	switch {
	case errors.Is(err, cert.ErrAlreadyRevoked):
		return fail(exitFindings, "refused: %v", err)
	case err != nil:
		return fail(exitUsage, "%v", err)
	}
	fmt.Fprintf(sio.out, "revoked %s at %s: %s\nrevocation list %s signed with key %s\n",
		r.ID, r.RevokedAt.Format(time.RFC3339), r.Reason, store.RevocationsPath(), signer.KeyID())
	return exitOK
}

// addKeyToRegistry puts a new key's public half in the registry's key set.
func addKeyToRegistry(dir string, k cert.PublicKey) error {
	_, err := (&certstore.Store{Dir: dir}).AddKey(k)
	return err
}
