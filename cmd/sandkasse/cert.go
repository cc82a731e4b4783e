package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/readlimit"
)

const certSynopsis = "verify CERT --jwks FILE|URL [--revocations FILE|URL|none] [--format text|json]\n" +
	"       sandkasse cert revoke --registry DIR --key KEYFILE --staff --reason TEXT CERT-ID|CERT-FILE\n" +
	"       sandkasse cert refresh --registry DIR --key KEYFILE --staff\n" +
	"       sandkasse cert keygen --out KEYFILE [--jwks JWKSFILE] [--registry DIR]\n" +
	"       sandkasse cert retire-key --registry DIR --staff [--force] KID\n\n" +
	"verify checks a Sandkasse certificate (a file, - for stdin, or the certificate text itself)\n" +
	"against a JWKS, offline when --jwks is a file, and prints what it certifies and the\n" +
	"verdict. With --revocations the signed revocation list is checked too; when --jwks is a\n" +
	"URL ending in /.well-known/jwks.json and --revocations is not given, the list is fetched\n" +
	"from /.well-known/revocations.jws beside it. Offline, the output says revocation was not\n" +
	"checked. --revocations none skips the check. A list past its next update is refused\n" +
	"(exit 2: a stale copy could hide a later revocation); one signed before lists carried a\n" +
	"next update is used and shown as having no freshness bound. URLs must be https (plain\n" +
	"http only to localhost).\n" +
	"Exit status: 0 valid, 1 invalid (expired, not yet valid, revoked, bad signature,\n" +
	"unknown key, malformed: the verdict line and the JSON \"status\" say which), 2 could not\n" +
	"run (bad flags, unreadable input, a key set or revocation list that cannot be fetched\n" +
	"or trusted)."

func runCert(ctx context.Context, args []string, sio stdio) int {
	if len(args) > 0 {
		switch args[0] {
		case "keygen":
			return runCertKeygen(args[1:], sio)
		case "revoke":
			return runCertRevoke(args[1:], sio)
		case "refresh":
			return runCertRefresh(args[1:], sio) // cert_refresh.go
		case "retire-key":
			return runCertRetire(args[1:], sio) // cert_retire.go
		}
	}
	fs := newFlags("cert", certSynopsis, sio.err)
	jwksRef := fs.String("jwks", "", "public keys: a JWKS file, or an https URL (http only to localhost)")
	revRef := fs.String("revocations", "", "signed revocation list: a file, an https URL (http only to localhost), or none (default: beside an online --jwks)")
	format := fs.String("format", "text", "output format: text or json")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit for each URL fetch")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(sio.err, "sandkasse cert: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) != 2 || rest[0] != "verify" {
		fs.Usage()
		return fail("expected 'verify CERT', 'revoke CERT' or 'keygen --out KEYFILE'")
	}
	if *format != "text" && *format != "json" {
		return fail("unknown format %q (text or json)", *format)
	}
	if *jwksRef == "" {
		// No default trust anchor: which keys to trust is the caller's
		// decision, never something the certificate could point to.
		return fail("--jwks is required (the issuer's published key set, e.g. https://HOST/.well-known/jwks.json)")
	}
	f := fetcher{ctx: ctx, timeout: *timeout, stdin: sio.in}

	token, err := f.certificate(rest[1])
	if err != nil {
		return fail("%v", err)
	}
	jwks, err := f.read(*jwksRef, cert.MaxKeySetBytes, true)
	if err != nil {
		return fail("--jwks: %v", err)
	}
	keys, err := cert.ParseKeySet(jwks)
	if err != nil {
		return fail("--jwks %s: %v", *jwksRef, err)
	}
	v := cert.NewVerifier(keys)
	if *revRef == "" {
		*revRef = defaultRevocations(*jwksRef)
	}
	if *revRef != "" && *revRef != "none" {
		// https like the key set: the list is signed, but a copy served in
		// the clear can be swapped for an older genuine one.
		data, err := f.read(*revRef, cert.MaxRevocationListBytes, true)
		if err != nil {
			return fail("--revocations: %v (pass --revocations none to verify without checking revocation)", err)
		}
		// A list that does not verify cannot say a certificate is not
		// revoked, so the verdict would be unfounded either way.
		list, err := v.VerifyRevocations(strings.TrimSpace(string(data)))
		if err != nil {
			return fail("--revocations %s: the list cannot be trusted: %v", *revRef, err)
		}
		if err := v.CheckFresh(list); err != nil {
			return fail("--revocations %s: %v (a stale list can hide a revocation)", *revRef, err)
		}
		v = cert.NewVerifier(keys, cert.WithRevocations(list))
	}

	res := v.Verify(token)
	if *format == "json" {
		enc := json.NewEncoder(sio.out)
		// Literal UTF-8 and <, >, &: the certificate block then reads as
		// its canonical form.
		enc.SetEscapeHTML(false)
		if err := enc.Encode(res); err != nil {
			return fail("%v", err)
		}
	} else {
		printCertResult(sio.out, res)
	}
	if res.Valid() {
		return exitOK
	}
	return exitFindings
}

var verdictWords = map[cert.Status]string{
	cert.StatusValid:        "VALID",
	cert.StatusExpired:      "EXPIRED",
	cert.StatusNotYetValid:  "NOT YET VALID",
	cert.StatusRevoked:      "REVOKED",
	cert.StatusBadSignature: "BAD SIGNATURE",
	cert.StatusUnknownKey:   "UNKNOWN KEY",
	cert.StatusMalformed:    "MALFORMED",
}

func printCertResult(w io.Writer, r cert.Result) {
	const ts = "2006-01-02T15:04:05Z"
	row := func(k, v string) { fmt.Fprintf(w, "  %-12s %s\n", k+":", v) }
	if p := r.Payload; p != nil {
		fmt.Fprintf(w, "Certificate %s\n", p.ID)
		row("App", p.App.Name+" "+p.App.Version)
		row("Artifact", p.App.ArtifactDigest)
		vendor := "org. no. " + p.Vendor.OrgNumber
		if p.Vendor.Name != "" {
			vendor = p.Vendor.Name + " (" + vendor + ")"
		}
		row("Vendor", vendor)
		row("Suite", p.Suite.ID+" "+p.Suite.Version)
		row("Rule set", p.RuleSet.ID+" "+p.RuleSet.Version+" ("+p.RuleSet.Digest+")")
		row("Report", p.ReportDigest)
		row("Issuer", p.Issuer)
		row("Issued", p.Issued.UTC().Format(ts))
		row("Expires", p.Expires.UTC().Format(ts))
		row("Key id", p.KeyID)
		switch {
		case r.Revocation != nil:
			row("Revoked", r.Revocation.RevokedAt.UTC().Format(ts))
			row("Reason", r.Revocation.Reason)
			row("Revocation", "checked against the list signed "+r.RevocationsIssued.UTC().Format(ts)+listBound(r)+": REVOKED")
		case r.RevocationsChecked:
			row("Revocation", "checked against the list signed "+r.RevocationsIssued.UTC().Format(ts)+listBound(r)+": not revoked")
		default:
			row("Revocation", "not checked (offline: no revocation list given; the certificate may have been revoked)")
		}
	} else {
		// Nothing in an unverified certificate is shown as a claim; the key
		// id is quoted because it came from the attacker-controllable header.
		fmt.Fprintln(w, "Certificate (contents not shown: they could not be verified)")
		if r.KeyID != "" {
			row("Key id", fmt.Sprintf("%q (as stated in the certificate)", r.KeyID))
		}
	}
	word := verdictWords[r.Status]
	if word == "" {
		word = strings.ToUpper(string(r.Status))
	}
	fmt.Fprintf(w, "Verdict: %s: %s\n", word, r.Detail)
}

// listBound says how long the consulted list was vouched for.
func listBound(r cert.Result) string {
	if r.RevocationsNextUpdate.IsZero() {
		return " (no freshness bound: it predates lists with a next update)"
	}
	return ", valid until " + r.RevocationsNextUpdate.UTC().Format("2006-01-02T15:04:05Z")
}

// defaultRevocations is the issuer's list beside an online key set: the
// caller chose that origin as its trust anchor, so its list is the one that
// speaks for the certificates it vouches for. A certificate never picks it.
func defaultRevocations(jwksRef string) string {
	u, err := url.Parse(jwksRef)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !strings.HasSuffix(u.Path, "/.well-known/jwks.json") {
		return ""
	}
	u.Path = strings.TrimSuffix(u.Path, "jwks.json") + "revocations.jws"
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// fetcher reads the command's inputs: files, stdin, or URLs with a timeout
// and a size limit.
type fetcher struct {
	ctx     context.Context
	timeout time.Duration
	stdin   io.Reader
}

// certificate resolves CERT: "-" is stdin, an existing path is a file, and
// text shaped like a compact JWS is the certificate itself.
func (f fetcher) certificate(ref string) (string, error) {
	var data []byte
	var err error
	switch {
	case ref == "-":
		data, err = readlimit.All(f.stdin, cert.MaxCertificateBytes)
	case fileExists(ref):
		data, err = f.read(ref, cert.MaxCertificateBytes, false)
	case strings.Count(ref, ".") == 2 && !strings.ContainsAny(ref, "/\\ "):
		return ref, nil
	default:
		return "", fmt.Errorf("%s: no such file, and not a certificate", ref)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(data)), nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// read returns a file's or URL's content, at most limit bytes. A trust
// anchor (the JWKS) must come over https, or plain http only from this
// machine: a key set fetched in the clear could be swapped in transit, and
// then any forged certificate would verify. So must the revocation list:
// its signature proves the issuer made it, not that it is the current one.
func (f fetcher) read(ref string, limit int64, trustAnchor bool) ([]byte, error) {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		fh, err := os.Open(ref)
		if err != nil {
			return nil, err
		}
		defer fh.Close()
		return readlimit.All(fh, limit)
	}
	if err := allowedURL(u, trustAnchor); err != nil {
		return nil, err
	}
	client := &http.Client{
		Timeout: f.timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return allowedURL(req.URL, trustAnchor)
		},
	}
	req, err := http.NewRequestWithContext(f.ctx, http.MethodGet, ref, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP status %s", ref, resp.Status)
	}
	data, err := readlimit.All(resp.Body, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", ref, err)
	}
	return data, nil
}

func allowedURL(u *url.URL, trustAnchor bool) error {
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme != "http":
		return fmt.Errorf("%s: only http and https URLs", u.Redacted())
	case !trustAnchor:
		return nil
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: must be fetched over https (plain http only from localhost): a key set or revocation list served in the clear can be swapped on the way", u.Redacted())
}

// runCertKeygen is `sandkasse cert keygen --out KEYFILE [--jwks JWKSFILE]`:
// a new Ed25519 signing key (mode 0600, PEM PKCS #8) and its public JWKS
// beside it (default KEYFILE's directory/jwks.json). Neither file is
// overwritten.
func runCertKeygen(args []string, sio stdio) int {
	fs := newFlags("cert keygen", "--out KEYFILE [--jwks JWKSFILE]\n\n"+
		"Writes a new Ed25519 signing key (mode 0600) and the JWKS with its public key.\n"+
		"Existing files are never overwritten.", sio.err)
	out := fs.String("out", "", "private key file to create (required)")
	jwksOut := fs.String("jwks", "", "public JWKS file to create (default: jwks.json beside the key)")
	registry := fs.String("registry", "", "also add the public key to this certificate registry's jwks.json")
	rest, code, done := parseFlags(fs, args)
	if done {
		return code
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(sio.err, "sandkasse cert keygen: "+format+"\n", a...)
		return exitUsage
	}
	if len(rest) != 0 || *out == "" {
		fs.Usage()
		return fail("--out is required")
	}
	if *jwksOut == "" {
		*jwksOut = filepath.Join(filepath.Dir(*out), "jwks.json")
	}
	for _, p := range []string{*out, *jwksOut} {
		if _, err := os.Lstat(p); err == nil {
			return fail("%s exists; refusing to overwrite it", p)
		}
	}
	key, err := cert.GenerateKey(nil)
	if err != nil {
		return fail("%v", err)
	}
	ks, err := cert.NewKeySet(key.Public())
	if err != nil {
		return fail("%v", err)
	}
	jwks, err := ks.MarshalJSON()
	if err != nil {
		return fail("%v", err)
	}
	if err := cert.WriteSigningKey(*out, key, cert.PEM); err != nil {
		return fail("%v", err)
	}
	f, err := os.OpenFile(*jwksOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil {
		_, err = f.Write(append(jwks, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.Remove(*out)
		return fail("%s: %v", *jwksOut, err)
	}
	fmt.Fprintf(sio.out, "key %s written to %s (private, mode 0600); public key set in %s\n", key.ID(), *out, *jwksOut)
	if *registry != "" {
		if err := addKeyToRegistry(*registry, key.Public()); err != nil {
			return fail("the key was written, but not added to the registry: %v", err)
		}
		fmt.Fprintf(sio.out, "public key %s added to %s/jwks.json\n", key.ID(), *registry)
	}
	return exitOK
}
