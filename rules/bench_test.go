package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sandkasse/sandkasse/validator/benchcpu"
	"github.com/sandkasse/sandkasse/validator/policy"
)

// journal is a DHO measurement-alert document of the size platforms send.
const journal = `{"resourceType":"Bundle","type":"document","entry":[
{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Composition","status":"final","type":{"coding":[{"system":"http://loinc.org","code":"34109-9"}]},"subject":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"14835031048"},"display":"Kari Nordmann"},"date":"2026-11-20T09:00:00+01:00","title":"Oppfølgingsnotat"}},
{"fullUrl":"urn:uuid:2","resource":{"resourceType":"DetectedIssue","status":"final","patient":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"14835031048"},"display":"Kari Nordmann"}}},
{"fullUrl":"urn:uuid:3","resource":{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"85354-9"}]},"subject":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"14835031048"},"display":"Kari Nordmann"},"effectiveDateTime":"2026-11-20T08:15:00+01:00",
"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":150,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":95,"unit":"mmHg","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}}]}`

const observation = `{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"identifier":{"system":"urn:oid:2.16.578.1.12.4.1.4.1","value":"14835031048"},"display":"Kari Nordmann"},"effectiveDateTime":"2026-11-20T08:15:00+01:00","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`

func engine(b *testing.B, id string) *policy.Engine {
	rs, err := Load(context.Background(), id)
	if err != nil {
		b.Fatal(err)
	}
	e, err := rs.Engine(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func benchEval(b *testing.B, id string, in *policy.Input) {
	evalLoop(b, engine(b, id), in)
}

// evalLoop evaluates in under e b.N times; the input must raise no finding.
func evalLoop(b *testing.B, e *policy.Engine, in *policy.Input) {
	ctx := context.Background()
	if got, err := e.Eval(ctx, in); err != nil || len(got) != 0 {
		b.Fatalf("findings %v, err %v", got, err)
	}
	b.ReportAllocs()
	cpu0 := benchcpu.Process()
	for b.Loop() {
		if _, err := e.Eval(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
}

// reportCPU adds the process CPU time per evaluation (GC included), the
// figure to compare when other work shares the machine.
func reportCPU(b *testing.B, since time.Duration) {
	if d := benchcpu.Process() - since; since > 0 && d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/1e3/float64(b.N), "cpu-µs/op")
	}
}

// One policy evaluation per resource: every rule of the rule set over one
// input, JSON conversion included. Target: under 100µs.
func BenchmarkDHOObservation(b *testing.B) {
	benchEval(b, "dho-vkp", &policy.Input{Resource: json.RawMessage(observation)})
}

func BenchmarkDHOJournalBundle(b *testing.B) {
	benchEval(b, "dho-vkp", &policy.Input{Resource: json.RawMessage(journal)})
}

// A VKP patient search as a DHO platform sends it: POST _search, form body,
// HelseID bearer token (a JWT whose scopes the rules read).
func BenchmarkDHOSearchExchange(b *testing.B) {
	token := "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9." +
		"eyJzY29wZSI6WyJuaG46dmtwL2FwaS91c2VyL3BhdGllbnQucmVhZCIsIm5objp2a3AvYXBpL3VzZXIvYnVuZGxlLndyaXRlIl19.c2ln"
	benchEval(b, "dho-vkp", &policy.Input{
		Exchange: &policy.Exchange{Method: "POST", URL: "https://vkp.test/epj/r4/974760673/Patient/_search", Path: "/epj/r4/974760673/Patient/_search",
			Headers: map[string][]string{"authorization": {"Bearer " + token}, "servicecodes": {"dho"}, "content-type": {"application/x-www-form-urlencoded"}},
			Body:    map[string]any{"identifier": []any{"urn:oid:2.16.578.1.12.4.1.4.1|14835031048"}}, Status: 200},
	})
}

// A resource a SMART app writes, under the epr-smart-app rules.
func BenchmarkEPRResource(b *testing.B) {
	benchEval(b, "epr-smart-app", &policy.Input{Resource: json.RawMessage(observation)})
}

func BenchmarkEPRExchange(b *testing.B) {
	benchEval(b, "epr-smart-app", &policy.Input{
		Exchange: &policy.Exchange{Method: "GET", URL: "https://epr.test/fhir/Observation?patient=123", Path: "/fhir/Observation",
			Query: map[string][]string{"patient": {"123"}}, Headers: map[string][]string{"authorization": {"Bearer abc"}}, Status: 200},
		Context: map[string]any{"scopes": []any{"patient/Observation.rs"}, "patient": "123"},
	})
}

// BenchmarkEngineFloor is what an evaluation costs with no policy work: n
// finding rules that all fail at their first expression (a context key that
// is absent), which the engine cannot prune, over the DHO Observation. It
// separates the engine's own cost per input and per rule from the policies'.
func BenchmarkEngineFloor(b *testing.B) {
	for _, n := range []int{1, 10, 17} {
		b.Run(fmt.Sprintf("rules=%d", n), func(b *testing.B) {
			var src strings.Builder
			src.WriteString("package floor\n")
			for i := range n {
				fmt.Fprintf(&src, `
# METADATA
# title: Floor %[1]d
# custom:
#   id: FLOOR-%02[1]d
#   severity: error
#   requirement: FLOOR
#   source: benchmark
#   fix:
#     nb: ingen
#     en: none
deny_%[1]d contains {"msg": "m"} if input.context.absent_%[1]d
`, i)
			}
			e, err := policy.Compile(context.Background(), []policy.Module{{Name: "floor.rego", Source: []byte(src.String())}})
			if err != nil {
				b.Fatal(err)
			}
			if got := len(e.Rules()); got != n {
				b.Fatalf("%d rules compiled, want %d", got, n)
			}
			evalLoop(b, e, &policy.Input{Resource: json.RawMessage(observation)})
		})
	}
}
