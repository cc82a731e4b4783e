package traffic

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

const jwt = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln"

func TestRedactParamsOAuth(t *testing.T) {
	in := "grant_type=authorization_code&code=abc%2Fdef&redirect_uri=https%3A%2F%2Fapp%2Fcb&code_verifier=v3r1f13r%2B~" +
		"&client_assertion=eyJ.x.y&scope=patient%2F*.rs&c%6Fde=sneaky&%zz=1&token=t0k&id_token_hint=" + jwt
	got := RedactParams(in, OAuth)
	want := "grant_type=authorization_code&code=%5Bredacted%5D&redirect_uri=https%3A%2F%2Fapp%2Fcb&code_verifier=xxxxxxxx%2Bx" +
		"&client_assertion=%5Bredacted%5D&scope=patient%2F*.rs&c%6Fde=%5Bredacted%5D&[redacted]&token=%5Bredacted%5D&id_token_hint=eyJredacted.redacted."
	if got != want {
		t.Fatalf("RedactParams(OAuth)\n got %s\nwant %s", got, want)
	}
	for _, secret := range []string{"abc", "v3r1f13r", "eyJ.x", "sneaky", "t0k", "eyJhbGci"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q survives", secret)
		}
	}
	// The masked verifier still has its length and alphabet, which is what
	// SMART-TOKEN-01 checks.
	q, err := url.ParseQuery(got)
	if err != nil {
		t.Fatal(err)
	}
	good := RedactParams("code_verifier="+strings.Repeat("aZ0-._~", 7), OAuth)
	gq, _ := url.ParseQuery(good)
	if v := gq.Get("code_verifier"); !regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`).MatchString(v) {
		t.Errorf("a valid verifier masks to %q, which the rule would refuse", v)
	}
	if v := q.Get("code_verifier"); regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`).MatchString(v) {
		t.Errorf("an invalid verifier masks to %q, which the rule would accept", v)
	}
}

func TestRedactParamsElsewhere(t *testing.T) {
	// code is a FHIR search parameter here; credentials are not.
	in := "patient=p1&code=8480-6&access_token=s3cr3t&_count=10&token=t0k&x=" + jwt + "&code_verifier=v"
	got := RedactParams(in, Elsewhere)
	want := "patient=p1&code=8480-6&access_token=%5Bredacted%5D&_count=10&token=%5Bredacted%5D&x=eyJredacted.redacted.&code_verifier=%5Bredacted%5D"
	if got != want {
		t.Fatalf("RedactParams(Elsewhere)\n got %s\nwant %s", got, want)
	}
	// A credential behind a ';' takes its pair with it.
	if got := RedactParams("a=1;access_token=s3cr3t&b=2", Elsewhere); strings.Contains(got, "s3cr3t") || !strings.HasSuffix(got, "&b=2") {
		t.Errorf("semicolon: %s", got)
	}
	if got := RedactParams("", Elsewhere); got != "" {
		t.Errorf("empty: %q", got)
	}
}

func TestRedactURL(t *testing.T) {
	got := RedactURL("https://app.example/cb?code=c0d3&state=s#access_token=t0k&token_type=bearer", OAuth)
	want := "https://app.example/cb?code=%5Bredacted%5D&state=s#access_token=%5Bredacted%5D&token_type=bearer"
	if got != want {
		t.Fatalf("RedactURL\n got %s\nwant %s", got, want)
	}
	if got := RedactURL("https://app.example/cb", OAuth); got != "https://app.example/cb" {
		t.Errorf("no query: %s", got)
	}
}
