package main

import (
	"errors"
	"flag"
	"fmt"

	"github.com/sandkasse/sandkasse/sandbox/api"
	"github.com/sandkasse/sandkasse/sandbox/runs"
	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/certstore"
	"github.com/sandkasse/sandkasse/validator/publish"
)

// trustFlags are serve's flags for the issuer's public side and the staff
// routes (sandbox/api/trust.go).
type trustFlags struct {
	registry, jwks, key *string
	packages            multi
}

func addTrustFlags(fs *flag.FlagSet) *trustFlags {
	tf := &trustFlags{
		registry: fs.String("registry", "", "registry of published rule sets and certificates; serves /.well-known/jwks.json and revocations.jws from it"),
		jwks:     fs.String("jwks", "", "with --registry: key set to serve instead of the registry's jwks.json"),
		key:      fs.String("signing-key", "", "with --registry: key that signs certificates of passed runs (POST /t/T/runs with \"issue\": true), revocation lists and publish records (enables /admin/rulesets and /admin/certificates/ID/revoke)"),
	}
	fs.Var(&tf.packages, "packages", "with --registry: directory of FHIR packages for published rule sets (repeatable)")
	return tf
}

// open builds the trust routes' configuration; nil without --registry.
func (tf *trustFlags) open() (*api.Trust, error) {
	if *tf.registry == "" {
		if *tf.jwks != "" || *tf.key != "" || len(tf.packages) > 0 {
			return nil, errors.New("--jwks, --signing-key and --packages need --registry")
		}
		return nil, nil
	}
	t := &api.Trust{
		Store:    &certstore.Store{Dir: *tf.registry},
		Rules:    &publish.Registry{Dir: *tf.registry},
		Packages: tf.packages,
	}
	if len(t.Packages) == 0 {
		t.Packages = defaultPackagePath()
	}
	keys := t.Store.Keys
	if *tf.jwks != "" {
		path := *tf.jwks
		keys = func() (*cert.KeySet, error) { return cert.LoadKeySet(path) }
		t.KeySet = keys
	}
	ks, err := keys()
	if err != nil {
		return nil, fmt.Errorf("the key set: %w", err)
	}
	if *tf.key == "" {
		return t, nil
	}
	sk, err := cert.LoadSigningKey(*tf.key)
	if err != nil {
		return nil, fmt.Errorf("--signing-key: %w", err)
	}
	if _, ok := ks.Lookup(sk.ID()); !ok {
		// What it signed would not verify against what is served.
		return nil, fmt.Errorf("--signing-key: key %s is not in the served key set", sk.ID())
	}
	// The registry checks revocations against its own jwks.json too.
	if rk, err := t.Store.Keys(); err != nil {
		return nil, fmt.Errorf("--signing-key: %w", err)
	} else if _, ok := rk.Lookup(sk.ID()); !ok {
		return nil, fmt.Errorf("--signing-key: key %s is not in %s", sk.ID(), t.Store.KeySetPath())
	}
	if t.Signer, err = cert.NewSigner(sk); err != nil {
		return nil, err
	}
	if t.RecordKey, err = publish.LoadKey(*tf.key); err != nil {
		return nil, err
	}
	// A verifier that goes online should find a list from the start.
	if err := t.Store.EnsureRevocations(t.Signer); err != nil {
		return nil, fmt.Errorf("the revocation list: %w", err)
	}
	return t, nil
}

// issuing gives the run service the registry and the signing key: a run
// that asks for a certificate gets one signed by the platform, kept in the
// registry with its report and evidence. Without --signing-key such a run
// is refused when it is asked for.
func issuing(t *api.Trust, o runs.Options) runs.Options {
	if t != nil {
		o.Registry, o.Signer = t.Store, t.Signer
	}
	return o
}
