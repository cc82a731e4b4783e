package cert

import "testing"

// FuzzVerify: whatever the input, Verify returns a verdict without
// panicking, and only the one genuine certificate is ever valid (the fuzzer
// has no private key, and each certificate has one spelling).
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	f.Add(fx.cert)
	f.Add(fx.cert[:len(fx.cert)/2])
	f.Add("e30.e30.AA")
	v := NewVerifier(fx.keys, WithClock(fixedClock(t0)))
	f.Fuzz(func(t *testing.T, s string) {
		r := v.Verify(s)
		if r.Status == "" || r.Code == "" || r.Detail == "" {
			t.Fatalf("incomplete verdict %+v", r)
		}
		if r.Valid() && s != fx.cert {
			t.Fatalf("a different string verified: %q", s)
		}
		if (r.Payload != nil) != (r.Status == StatusValid || r.Status == StatusExpired || r.Status == StatusNotYetValid || r.Status == StatusRevoked) {
			t.Fatalf("payload presence does not match status %s", r.Status)
		}
	})
}
