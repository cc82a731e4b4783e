package cert

import "testing"

func BenchmarkSign(b *testing.B) {
	f := newFixture(b)
	p := samplePayload()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.signer.Sign(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	f := newFixture(b)
	v := NewVerifier(f.keys, WithClock(fixedClock(t0)))
	b.ReportAllocs()
	for b.Loop() {
		if r := v.Verify(f.cert); !r.Valid() {
			b.Fatal(r.Status)
		}
	}
}

// BenchmarkVerifyRejectTampered is the cost of refusing a certificate whose
// signature was changed: the full path up to the Ed25519 check.
func BenchmarkVerifyRejectTampered(b *testing.B) {
	f := newFixture(b)
	bad := []byte(f.cert)
	bad[len(bad)-3] = alphabet[(indexAlphabet(bad[len(bad)-3])+1)%64]
	v := NewVerifier(f.keys, WithClock(fixedClock(t0)))
	b.ReportAllocs()
	for b.Loop() {
		if r := v.Verify(string(bad)); r.Status != StatusBadSignature {
			b.Fatal(r.Status)
		}
	}
}

func indexAlphabet(c byte) int {
	for i := 0; i < len(alphabet); i++ {
		if alphabet[i] == c {
			return i
		}
	}
	return -1
}
