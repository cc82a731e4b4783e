package traffic

import (
	"strings"
	"testing"
)

func TestRedactForm(t *testing.T) {
	in := "grant_type=authorization_code&code=abc%2Fdef&redirect_uri=https%3A%2F%2Fapp%2Fcb&code_verifier=v3r1f13r" +
		"&client_assertion=eyJ.x.y&scope=patient%2F*.rs&c%6Fde=sneaky&%zz=1"
	got := string(RedactForm([]byte(in)))
	want := "grant_type=authorization_code&code=%5Bredacted%5D&redirect_uri=https%3A%2F%2Fapp%2Fcb&code_verifier=%5Bredacted%5D" +
		"&client_assertion=%5Bredacted%5D&scope=patient%2F*.rs&c%6Fde=%5Bredacted%5D&[redacted]"
	if got != want {
		t.Fatalf("RedactForm\n got %s\nwant %s", got, want)
	}
	for _, secret := range []string{"abc", "v3r1f13r", "eyJ", "sneaky"} {
		if strings.Contains(got, secret) {
			t.Errorf("%q survives", secret)
		}
	}
}
