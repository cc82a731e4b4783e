package nationalid

import "testing"

var sinkResult Result
var sinkReason Reason

func BenchmarkParseFNR(b *testing.B) {
	for _, rs := range []RuleSet{Pre2032, From2032, AcceptEither} {
		b.Run(rs.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sinkResult = Parse("23906398699", rs)
			}
		})
	}
}

// A 2032-only number makes AcceptEither run both rules: its worst case.
func BenchmarkParse2032Only(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkResult = Parse("30108299939", AcceptEither)
	}
}

func BenchmarkCheckerFNR(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkReason = CheckerFor(SystemFNR).Check("23906398699", AcceptEither)
	}
}

func BenchmarkCheckOrgNumber(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkReason = CheckOrgNumber("974760673")
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	n := testing.AllocsPerRun(1000, func() {
		sinkResult = Parse("30108299939", AcceptEither)
		sinkReason = CheckerFNR.Check("23906398699", Pre2032)
		sinkReason = CheckOrgNumber("974760673")
	})
	if n != 0 {
		t.Fatalf("%v allocations per run, want 0", n)
	}
}
