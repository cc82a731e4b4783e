package readlimit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestAllReadsUpToTheLimitAndRefusesMore(t *testing.T) {
	got, err := All(strings.NewReader("12345"), 5)
	if err != nil || string(got) != "12345" {
		t.Fatalf("at the limit: got %q, %v; want the whole input", got, err)
	}
	got, err = All(strings.NewReader("123456"), 5)
	if err == nil || got != nil || err.Error() != "larger than the limit of 5 bytes" {
		t.Fatalf("one byte over: got %q, %v; want no data and the limit", got, err)
	}
	boom := errors.New("boom")
	if _, err := All(iotest.ErrReader(boom), 5); !errors.Is(err, boom) {
		t.Fatalf("a failing reader: got %v, want its error", err)
	}
}

func TestFileNamesThePath(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.jwk")
	if err := os.WriteFile(p, []byte("secret-content-123"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := File(p, 18); err != nil || string(got) != "secret-content-123" {
		t.Fatalf("at the limit: got %q, %v", got, err)
	}
	_, err := File(p, 17)
	if err == nil || err.Error() != p+": larger than the limit of 17 bytes" {
		t.Fatalf("over the limit: got %v, want the path and the limit, not the content", err)
	}
	if _, err := File(filepath.Join(dir, "missing"), 10); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing file: got %v, want fs.ErrNotExist", err)
	}
}
