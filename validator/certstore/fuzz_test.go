package certstore

import (
	"bytes"
	"os"
	"testing"

	"github.com/sandkasse/sandkasse/validator/suite"
)

// FuzzDecodeEvidence: evidence read back from a registry never panics, and
// what decodes encodes to evidence that decodes to the same encoding.
func FuzzDecodeEvidence(f *testing.F) {
	rec, err := suite.LoadDir(os.DirFS("testdata/offline"))
	if err != nil {
		f.Fatal(err)
	}
	good, err := EncodeEvidence(rec)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"exchanges":[],"resources":[{"file":"a","type":"Patient","resource":{},"via":0}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := DecodeEvidence(data)
		if err != nil {
			return
		}
		once, err := EncodeEvidence(rec)
		if err != nil {
			return // e.g. a resource that is not JSON text: refused on write
		}
		back, err := DecodeEvidence(once)
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v", err)
		}
		twice, err := EncodeEvidence(back)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("encoding is not stable: %v\n%s\n%s", err, once, twice)
		}
	})
}
