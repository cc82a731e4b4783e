package spec_test

import (
	"testing"

	"github.com/sandkasse/sandkasse/validator/spec"
	"github.com/sandkasse/sandkasse/validator/spec/r4"
)

func BenchmarkGenerateSnapshotHeartrate(b *testing.B) {
	reg := r4.NewRegistry()
	sd := *reg.StructureDefinition(spec.CoreBase + "heartrate")
	sd.Snapshot = nil
	reg.StructureDefinition(spec.CoreBase + "vitalsigns")
	for b.Loop() {
		c := sd
		if _, err := reg.Snapshot(&c); err != nil {
			b.Fatal(err)
		}
	}
}
