package certstore

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/cert"
	"github.com/sandkasse/sandkasse/validator/issue"
	"github.com/sandkasse/sandkasse/validator/policy"
	"github.com/sandkasse/sandkasse/validator/ruleset"
	"github.com/sandkasse/sandkasse/validator/suite"
)

const (
	offlineDir = "testdata/offline"
	smartRules = "../../rules/epr-smart-app"
	artifact   = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

func recording(t testing.TB) *suite.Recording {
	t.Helper()
	rec, err := suite.LoadDir(os.DirFS(offlineDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Exchanges) == 0 {
		t.Fatal("fixture has no exchanges")
	}
	return rec
}

func runSmart(t *testing.T, rec *suite.Recording) []byte {
	t.Helper()
	ctx := context.Background()
	rs, err := ruleset.Load(ctx, os.DirFS(smartRules), smartRules)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.Compile(ctx, rs.Modules)
	if err != nil {
		t.Fatal(err)
	}
	s, err := suite.Load(rs.FS(), rs.Manifest.Suites[0])
	if err != nil {
		t.Fatal(err)
	}
	// A validator that flags every resource, so the validate tests depend
	// on which resources the recording holds (bodies included).
	v := suite.ValidatorFunc(func(_ context.Context, b []byte) issue.List {
		return issue.List{{Severity: issue.Error, Code: "test-flag", Expression: "len" + strconv.Itoa(len(b)), Message: "flagged"}}
	})
	res := (&suite.Runner{Engine: eng, Validator: v}).Run(ctx, s, rec)
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEvidenceRoundTripGivesTheSameRun(t *testing.T) {
	rec := recording(t)
	data, err := EncodeEvidence(rec)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeEvidence(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Resources) != len(rec.Resources) || len(back.Exchanges) != len(rec.Exchanges) {
		t.Fatalf("round trip: %d/%d resources, %d/%d exchanges", len(back.Resources), len(rec.Resources), len(back.Exchanges), len(rec.Exchanges))
	}
	vias := 0
	for i, r := range back.Resources {
		if (r.Via == nil) != (rec.Resources[i].Via == nil) {
			t.Fatalf("resource %d: via lost", i)
		}
		if r.Via != nil {
			vias++
			if r.Via.File != rec.Resources[i].Via.File || r.Via != &back.Exchanges[indexOf(rec, rec.Resources[i].Via)] {
				t.Errorf("resource %d: via points to %s", i, r.Via.File)
			}
		}
	}
	if vias == 0 {
		t.Error("fixture has no resource from a request body; the via path is untested")
	}
	if a, b := runSmart(t, rec), runSmart(t, back); string(a) != string(b) {
		t.Errorf("a run over the stored evidence differs:\n%s\n%s", a, b)
	}
}

func indexOf(rec *suite.Recording, x *suite.RecordedExchange) int {
	for i := range rec.Exchanges {
		if &rec.Exchanges[i] == x {
			return i
		}
	}
	return -1
}

func TestDecodeEvidenceRefusesDamage(t *testing.T) {
	for name, in := range map[string]string{
		"not json":       `{`,
		"version":        `{"version":2,"exchanges":[],"resources":[]}`,
		"unknown member": `{"version":1,"exchanges":[],"resources":[],"extra":1}`,
		"via range":      `{"version":1,"exchanges":[],"resources":[{"file":"a","type":"Patient","resource":{},"via":3}]}`,
		"no method":      `{"version":1,"exchanges":[{"file":"a","exchange":{"url":"/x","path":"/x","status":0}}],"resources":[]}`,
		"trailing":       `{"version":1,"exchanges":[],"resources":[]} {}`,
	} {
		if _, err := DecodeEvidence([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

type fixture struct {
	store  *Store
	signer *cert.Signer
	key    *cert.SigningKey
	keys   *cert.KeySet
	report []byte
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	key, err := cert.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := cert.NewSigner(key)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{Dir: t.TempDir()}
	if added, err := s.AddKey(key.Public()); err != nil || !added {
		t.Fatalf("add key: %v %v", added, err)
	}
	if added, err := s.AddKey(key.Public()); err != nil || added {
		t.Fatalf("add the same key again: %v %v", added, err)
	}
	keys, err := s.Keys()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, signer: signer, key: key, keys: keys, report: []byte(`{"outcome":"pass"}`)}
}

func (f *fixture) issue(t *testing.T, report []byte) string {
	t.Helper()
	token, _, err := f.signer.Sign(cert.Payload{
		App:          cert.App{Name: "Demo", Version: "1.0", ArtifactDigest: artifact},
		Vendor:       cert.Vendor{OrgNumber: "974760673"},
		Suite:        cert.Suite{ID: "smart-app", Version: "0.1.0"},
		RuleSet:      cert.RuleSet{ID: "epr-smart-app", Version: "0.1.0", Digest: artifact},
		ReportDigest: digest(report),
	})
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func TestPutGetListAndDamage(t *testing.T) {
	f := newFixture(t)
	rec := recording(t)
	token := f.issue(t, f.report)
	p, err := f.store.Put(token, f.report, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Put(token, f.report, rec); !errors.Is(err, ErrExists) {
		t.Errorf("second put: %v", err)
	}
	v := cert.NewVerifier(f.keys)
	e, err := f.store.Get(p.ID, v)
	if err != nil || !e.Result.Valid() || e.Token != token {
		t.Fatalf("get: %+v %v", e, err)
	}
	if rep, err := f.store.Report(e); err != nil || string(rep) != string(f.report) {
		t.Errorf("report: %q %v", rep, err)
	}
	back, err := f.store.Evidence(e)
	if err != nil || len(back.Exchanges) != len(rec.Exchanges) {
		t.Errorf("evidence: %v", err)
	}
	if _, err := f.store.Get("no-such-id", v); !errors.Is(err, ErrNotFound) {
		t.Errorf("get unknown: %v", err)
	}
	if _, err := f.store.Get("../x", v); err == nil {
		t.Error("get with a path in the id accepted")
	}

	// A second, good entry and a tampered one: List returns the good ones
	// and names the bad one by path.
	if _, err := f.store.Put(f.issue(t, f.report), f.report, rec); err != nil {
		t.Fatal(err)
	}
	bad := f.issue(t, f.report)
	bp, err := f.store.Put(bad, f.report, rec)
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(f.store.Dir, CertificatesDir, bp.ID, CertificateFile)
	parts := strings.Split(bad, ".")
	parts[1] = parts[1][:10] + flip(parts[1][10]) + parts[1][11:]
	os.WriteFile(certPath, []byte(strings.Join(parts, ".")), 0o644)
	os.WriteFile(filepath.Join(f.store.Dir, CertificatesDir, "stray.txt"), nil, 0o644)
	es, err := f.store.List(v)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 2 || len(es) != 2 {
		t.Fatalf("list: %d entries, %v", len(es), err)
	}
	if msg := err.Error(); !strings.Contains(msg, certPath) || !strings.Contains(msg, "stray.txt") {
		t.Errorf("problems do not name the paths: %s", msg)
	}

	// Evidence over the reading limit is refused with the path and limit.
	if _, err := (&Store{Dir: f.store.Dir, MaxEvidenceBytes: 64}).Evidence(e); err == nil ||
		!strings.Contains(err.Error(), "limit of 64") || !strings.Contains(err.Error(), EvidenceFile) {
		t.Errorf("evidence over the read limit: %v", err)
	}
	// Damaged report and evidence are named by path.
	os.WriteFile(filepath.Join(e.Dir, ReportFile), []byte(`{"outcome":"fail"}`), 0o644)
	if _, err := f.store.Report(e); err == nil || !strings.Contains(err.Error(), filepath.Join(e.Dir, ReportFile)) {
		t.Errorf("changed report: %v", err)
	}
	os.WriteFile(filepath.Join(e.Dir, EvidenceFile), []byte(`{"version":1}x`), 0o644)
	if _, err := f.store.Evidence(e); err == nil || !strings.Contains(err.Error(), filepath.Join(e.Dir, EvidenceFile)) {
		t.Errorf("broken evidence: %v", err)
	}
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestPutRefuses(t *testing.T) {
	f := newFixture(t)
	rec := recording(t)
	if _, err := f.store.Put(f.issue(t, f.report), []byte(`{"other":"report"}`), rec); err == nil || !strings.Contains(err.Error(), "reportDigest") {
		t.Errorf("report digest mismatch: %v", err)
	}
	small := &Store{Dir: f.store.Dir, MaxEvidenceBytes: 100}
	if _, err := small.Put(f.issue(t, f.report), f.report, rec); err == nil || !strings.Contains(err.Error(), "limit of 100") {
		t.Errorf("evidence over the limit: %v", err)
	}
	// Signed with a key the registry does not trust.
	other, _ := cert.GenerateKey(nil)
	os2, _ := cert.NewSigner(other)
	tok, _, err := os2.Sign(cert.Payload{App: cert.App{Name: "A", Version: "1", ArtifactDigest: artifact},
		Vendor: cert.Vendor{OrgNumber: "974760673"}, Suite: cert.Suite{ID: "s", Version: "1"},
		RuleSet: cert.RuleSet{ID: "r", Version: "1", Digest: artifact}, ReportDigest: digest(f.report)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Put(tok, f.report, rec); err == nil || !strings.Contains(err.Error(), "unknown-key") {
		t.Errorf("foreign key: %v", err)
	}
	if _, err := (&Store{Dir: t.TempDir()}).Put(tok, f.report, rec); !errors.Is(err, ErrNoKeys) {
		t.Errorf("no key set: %v", err)
	}
	// Nothing half-written is left behind by the refusals.
	if ents, _ := os.ReadDir(filepath.Join(f.store.Dir, CertificatesDir)); len(ents) != 0 {
		t.Errorf("refused puts left %d entries", len(ents))
	}
	// Another key under a present id is refused.
	if _, err := f.store.AddKey(cert.PublicKey{ID: f.key.ID(), Key: other.Public().Key}); err == nil {
		t.Error("a second key under one id accepted")
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	p, err := f.store.Put(f.issue(t, f.report), f.report, recording(t))
	if err != nil {
		t.Fatal(err)
	}
	v := cert.NewVerifier(f.keys)
	if l, _, err := f.store.Revocations(v); l != nil || err != nil {
		t.Fatalf("before any revocation: %v %v", l, err)
	}
	if err := f.store.EnsureRevocations(f.signer); err != nil {
		t.Fatal(err)
	}
	if l, _, err := f.store.Revocations(v); err != nil || l == nil || len(l.Entries()) != 0 {
		t.Fatalf("empty list: %v %v", l, err)
	}
	at := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	for _, reason := range []string{"", "two\nlines", strings.Repeat("x", 501)} {
		if _, err := f.store.Revoke(f.signer, p.ID, reason, at); !errors.Is(err, ErrBadReason) {
			t.Errorf("reason %.10q: %v", reason, err)
		}
	}
	if _, err := f.store.Revoke(f.signer, "not-issued-here", "typo", at); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown certificate: %v", err)
	}
	r, err := f.store.Revoke(f.signer, p.ID, "artifact digest does not match the shipped app", at)
	if err != nil || r.ID != p.ID || !r.RevokedAt.Equal(at) {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	if _, err := f.store.Revoke(f.signer, p.ID, "again", at); !errors.Is(err, cert.ErrAlreadyRevoked) {
		t.Errorf("second revoke: %v", err)
	}
	l, token, err := f.store.Revocations(v)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Lookup(p.ID); !ok || token == "" {
		t.Fatalf("list does not hold the revocation: %+v", l.Entries())
	}
	e, err := f.store.Get(p.ID, cert.NewVerifier(f.keys, cert.WithRevocations(l)))
	if err != nil || e.Result.Status != cert.StatusRevoked || !strings.Contains(e.Result.Detail, "artifact digest") {
		t.Errorf("verdict after revocation: %+v %v", e.Result, err)
	}
	// A key outside the registry's set may not sign the list.
	other, _ := cert.GenerateKey(nil)
	os2, _ := cert.NewSigner(other)
	if _, err := f.store.Revoke(os2, p.ID, "x", at); err == nil || !strings.Contains(err.Error(), "not in") {
		t.Errorf("foreign key revokes: %v", err)
	}
	// A damaged list is an error naming it, not an empty list.
	os.WriteFile(f.store.RevocationsPath(), []byte("x.y.z"), 0o644)
	if _, _, err := f.store.Revocations(v); err == nil || !strings.Contains(err.Error(), f.store.RevocationsPath()) {
		t.Errorf("damaged list: %v", err)
	}
	if _, err := f.store.Revoke(f.signer, p.ID, "x", at); err == nil {
		t.Error("revoked over a damaged list")
	}
	// The lock file is gone after each writer.
	if _, err := os.Stat(filepath.Join(f.store.Dir, ".revocations.lock")); !os.IsNotExist(err) {
		t.Errorf("lock left behind: %v", err)
	}
}

func TestRetiredKeyIsNotAProblem(t *testing.T) {
	f := newFixture(t)
	p, err := f.store.Put(f.issue(t, f.report), f.report, recording(t))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := cert.GenerateKey(nil)
	ks, _ := cert.NewKeySet(other.Public())
	es, err := f.store.List(cert.NewVerifier(ks))
	if err != nil || len(es) != 1 || es[0].ID != p.ID || es[0].Result.Status != cert.StatusUnknownKey {
		t.Errorf("list with the signing key retired: %+v %v", es, err)
	}
}

func TestRevokeWaitsForTheLockThenGivesUp(t *testing.T) {
	f := newFixture(t)
	p, err := f.store.Put(f.issue(t, f.report), f.report, recording(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func(d time.Duration) { lockWait = d }(lockWait)
	lockWait = 200 * time.Millisecond
	lock := filepath.Join(f.store.Dir, ".revocations.lock")
	os.WriteFile(lock, nil, 0o600)
	if _, err := f.store.Revoke(f.signer, p.ID, "x", time.Now()); err == nil || !strings.Contains(err.Error(), lock) {
		t.Errorf("held lock: %v", err)
	}
	if l, _, _ := f.store.Revocations(cert.NewVerifier(f.keys)); l != nil {
		t.Error("a list was written while the lock was held")
	}
	// Released within the wait: the revocation goes through.
	go func() { time.Sleep(50 * time.Millisecond); os.Remove(lock) }()
	if _, err := f.store.Revoke(f.signer, p.ID, "x", time.Now()); err != nil {
		t.Errorf("after release: %v", err)
	}
}
