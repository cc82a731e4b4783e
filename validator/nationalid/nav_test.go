package nationalid

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"testing"
)

type navVerdict struct {
	Input   string   `json:"input"`
	Status  string   `json:"status"`
	Type    string   `json:"type"`
	Reasons []string `json:"reasons"`
}

func loadNAV(t *testing.T) []navVerdict {
	t.Helper()
	f, err := os.Open("testdata/navikt-fnrvalidator-2.2.1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []navVerdict
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v navVerdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("golden line %d: %v", len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 2000 {
		t.Fatalf("golden file has %d lines, want at least 2000", len(out))
	}
	return out
}

var navKinds = map[string]Kind{
	"fnr":         KindFNR,
	"dnr":         KindDNR,
	"hnr":         KindHOrNAVSynthetic,
	"tnr":         KindTenorSynthetic,
	"dnr-and-hnr": KindDAndHOrNAVSynthetic,
	"dnr-and-tnr": KindTenorSyntheticDNR,
}

// navReason maps our reason to NAV's wording so a failure can be checked to be
// one NAV also names.
func navReason(r Reason) string {
	switch r {
	case ReasonLength, ReasonNonDigit:
		return "fnr, dnr or hnr must consist of 11 digits"
	case ReasonControlDigit1, ReasonControlDigit2:
		return "checksums don't match"
	case ReasonDate:
		return "invalid date"
	}
	return r.Code()
}

// TestNAVGolden compares AcceptEither with NAV's validator, which also accepts
// the 2032 k1 values and does not check individual-number series. The one
// expected difference is FH-nummer: NAV reads a first digit 8/9 as a D-number
// day of 40-59 and rejects it as a date.
func TestNAVGolden(t *testing.T) {
	var agree, fh, fhValid int
	for _, v := range loadNAV(t) {
		got := Parse(v.Input, AcceptEither)
		if got.Kind == KindFH {
			if v.Status == "valid" {
				t.Errorf("%s: NAV accepts an FH-shaped number; the expected difference no longer holds", v.Input)
			}
			fh++
			if got.Valid() {
				fhValid++
			}
			continue
		}
		if (v.Status == "valid") != got.Valid() {
			t.Errorf("%s: NAV %s %v, we %s", v.Input, v.Status, v.Reasons, got.Reason.Code())
			continue
		}
		if got.Valid() {
			if navKinds[v.Type] != got.Kind {
				t.Errorf("%s: NAV type %s, our kind %s", v.Input, v.Type, got.Kind)
				continue
			}
		} else if !slices.Contains(v.Reasons, navReason(got.Reason)) {
			// We stop at the first failure (date before control digits); NAV lists
			// all, so ours must be among them.
			t.Errorf("%s: NAV reasons %v do not include ours (%s)", v.Input, v.Reasons, got.Reason.Code())
			continue
		}
		agree++
	}
	t.Logf("AcceptEither vs NAV: %d agree, %d FH-shaped that NAV rejects (%d of them valid FH-nummer to us)", agree, fh, fhValid)
	if fh == 0 || agree == 0 {
		t.Fatal("golden file lost its FH or ordinary cases")
	}
}

// TestNAVGoldenPre2032 checks that under the strict classic rules we reject
// exactly NAV-valid numbers that the classic rules forbid, each for a reason NAV
// does not check: a 2032-only k1, an individual number outside the year's
// series, or 29 February in a non-leap century (NAV takes 1900+YY but 2000 for
// 00, so it never sees 29.02.1900).
func TestNAVGoldenPre2032(t *testing.T) {
	counts := map[Reason]int{}
	for _, v := range loadNAV(t) {
		if v.Status != "valid" {
			if Parse(v.Input, Pre2032).Valid() && Parse(v.Input, Pre2032).Kind != KindFH {
				t.Errorf("%s: NAV rejects (%v) what Pre2032 accepts", v.Input, v.Reasons)
			}
			continue
		}
		got := Parse(v.Input, Pre2032)
		if got.Valid() {
			counts[OK]++
			continue
		}
		switch got.Reason {
		case ReasonControlDigit1, ReasonIndividualNumberRange:
		case ReasonDate:
			if got.Month != 2 || got.Day != 29 {
				t.Errorf("%s: date rejected by Pre2032 but not a leap-day case", v.Input)
			}
		default:
			t.Errorf("%s: NAV valid, Pre2032 says %s", v.Input, got.Reason.Code())
		}
		counts[got.Reason]++
	}
	t.Logf("NAV-valid under Pre2032: %d valid, %d 2032-only k1, %d outside series, %d leap day in 1900",
		counts[OK], counts[ReasonControlDigit1], counts[ReasonIndividualNumberRange], counts[ReasonDate])
	if counts[ReasonControlDigit1] == 0 || counts[ReasonIndividualNumberRange] == 0 || counts[ReasonDate] == 0 {
		t.Fatal("golden file no longer covers every known difference")
	}
}
