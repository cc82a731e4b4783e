package source

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// got is a Doc reduced to what the tests compare.
type got struct {
	Source string
	Index  int
	Line   int
	Data   string
	Code   string
}

func collect(t *testing.T, args []string, stdin io.Reader, lim Limits) []got {
	t.Helper()
	var out []got
	err := Walk(context.Background(), args, stdin, lim, func(d Doc) error {
		g := got{Source: d.Source, Index: d.Index, Line: d.Line, Data: string(d.Data)}
		if d.Problem != nil {
			g.Code = d.Problem.Code
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return out
}

func TestWalkDirectoryOrderAndFilter(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "b.json"), `{"b":1}`)
	write(t, filepath.Join(dir, "a", "z.json"), `{"z":1}`)
	write(t, filepath.Join(dir, "a", "notes.txt"), `not an input`)
	write(t, filepath.Join(dir, ".git", "x.json"), `{"hidden":1}`)
	write(t, filepath.Join(dir, "c.ndjson"), "{\"l\":0}\n\n{\"l\":2}\n")
	docs := collect(t, []string{dir}, nil, Limits{})
	want := []got{
		{Source: filepath.Join(dir, "a", "z.json"), Line: 1, Data: `{"z":1}`},
		{Source: filepath.Join(dir, "b.json"), Line: 1, Data: `{"b":1}`},
		{Source: filepath.Join(dir, "c.ndjson"), Index: 0, Line: 1, Data: `{"l":0}`},
		{Source: filepath.Join(dir, "c.ndjson"), Index: 2, Line: 3, Data: `{"l":2}`},
	}
	if fmt.Sprint(docs) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", docs, want)
	}
}

func TestWalkUnreadableInsideDirectoryIsAFinding(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), `{}`)
	// A dangling link cannot be read by anyone, root included, so this
	// case is tested on every machine.
	if err := os.Symlink(filepath.Join(dir, "gone"), filepath.Join(dir, "b.json")); err != nil {
		t.Skip("symlinks not available:", err)
	}
	write(t, filepath.Join(dir, "c.json"), `{}`)
	docs := collect(t, []string{dir}, nil, Limits{})
	if len(docs) != 3 || docs[1].Code != CodeUnreadable || docs[1].Source != filepath.Join(dir, "b.json") || docs[2].Data != `{}` {
		t.Fatalf("got %v", docs)
	}
}

func TestWalkPermissionDeniedInsideDirectory(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "secret.json")
	write(t, p, `{}`)
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	if f, err := os.Open(p); err == nil {
		f.Close()
		t.Skip("running with privileges that ignore file modes (root?); chmod 000 does not block reads here")
	}
	docs := collect(t, []string{dir}, nil, Limits{})
	if len(docs) != 1 || docs[0].Code != CodeUnreadable {
		t.Fatalf("got %v", docs)
	}
}

func TestNDJSONLimitsAndBadLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.ndjson")
	long := `{"x":"` + strings.Repeat("a", 40) + `"}`
	write(t, p, "{\"i\":0}\n"+long+"\n{\"i\":2}\r\n{\"i\":3}")
	docs := collect(t, []string{p}, nil, Limits{MaxLineBytes: 20})
	want := []got{
		{Source: p, Index: 0, Line: 1, Data: `{"i":0}`},
		{Source: p, Index: 1, Line: 2, Code: CodeLineTooLong},
		{Source: p, Index: 2, Line: 3, Data: "{\"i\":2}\r"},
		{Source: p, Index: 3, Line: 4, Data: `{"i":3}`},
	}
	if fmt.Sprint(docs) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", docs, want)
	}
}

func TestReadLineBoundaries(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		long []bool
	}{
		{"abcd\n", 4, []bool{false, false}}, // exactly at the limit, then an empty last line
		{"abcde\n", 4, []bool{true, false}},
		{"abcd", 4, []bool{false}},
		{"abcde", 4, []bool{true}},
	} {
		br := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
		var longs []bool
		for {
			_, long, err := readLine(br, tc.max)
			longs = append(longs, long)
			if err != nil {
				break
			}
		}
		if fmt.Sprint(longs) != fmt.Sprint(tc.long) {
			t.Errorf("%q max %d: got %v want %v", tc.in, tc.max, longs, tc.long)
		}
	}
}

// endless yields n bytes of 'a' without holding them.
type endless struct{ n int }

func (e *endless) Read(p []byte) (int, error) {
	if e.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), e.n)
	for i := range k {
		p[i] = 'a'
	}
	e.n -= k
	return k, nil
}

// A line far over the limit must be skipped, not buffered: this is what
// keeps a hostile NDJSON from exhausting memory.
func TestNDJSONHugeLineIsNotBuffered(t *testing.T) {
	const size = 64 << 20
	r := io.MultiReader(strings.NewReader("{}\n"), &endless{n: size}, strings.NewReader("\n{}\n"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := walker{ctx: context.Background(), lim: Limits{MaxLineBytes: 1 << 10}.withDefaults()}
	var codes []string
	w.emit = func(d Doc) error {
		if d.Problem != nil {
			codes = append(codes, d.Problem.Code)
		} else {
			codes = append(codes, string(d.Data))
		}
		return nil
	}
	if err := w.lines("big.ndjson", r); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if fmt.Sprint(codes) != fmt.Sprint([]string{"{}", CodeLineTooLong, "{}"}) {
		t.Fatalf("got %v", codes)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Fatalf("allocated %d bytes to skip a %d byte line", alloc, size)
	}
}

func TestFileAndStdinSizeLimit(t *testing.T) {
	dir := t.TempDir()
	at := filepath.Join(dir, "at.json")
	over := filepath.Join(dir, "over.json")
	write(t, at, "1234567890")
	write(t, over, "12345678901")
	docs := collect(t, []string{at, over, "-"}, strings.NewReader("123456789012"), Limits{MaxBytes: 10})
	want := []got{
		{Source: at, Line: 1, Data: "1234567890"},
		{Source: over, Line: 1, Code: CodeTooLarge},
		{Source: "-", Line: 1, Code: CodeTooLarge},
	}
	if fmt.Sprint(docs) != fmt.Sprint(want) {
		t.Fatalf("got  %v\nwant %v", docs, want)
	}
}

func TestCheckRefusesMissingArgument(t *testing.T) {
	dir := t.TempDir()
	if err := Check([]string{dir, "-"}); err != nil {
		t.Fatalf("Check(existing dir): %v", err)
	}
	err := Check([]string{filepath.Join(dir, "missing.json")})
	if err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Fatalf("Check(missing) = %v", err)
	}
}

func TestWalkStopsOnEmitError(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.json"), `{}`)
	write(t, filepath.Join(dir, "b.json"), `{}`)
	stop := errors.New("stop")
	n := 0
	err := Walk(context.Background(), []string{dir}, nil, Limits{}, func(Doc) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("err %v after %d docs", err, n)
	}
}

// FuzzLines checks the NDJSON splitter on any input: it never panics, never
// hands out a line over the limit, and every byte of the input is accounted
// for by an emitted line, a too-long finding or a line break.
func FuzzLines(f *testing.F) {
	f.Add([]byte("{}\n{\"a\":1}\r\n\n"), 4)
	f.Add([]byte("aaaaaaaaaa\nb"), 3)
	f.Add([]byte(""), 1)
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max <= 0 || max > 1<<16 {
			return
		}
		w := walker{ctx: context.Background(), lim: Limits{MaxLineBytes: max}.withDefaults()}
		lines := strings.Split(string(data), "\n")
		w.emit = func(d Doc) error {
			if d.Index >= len(lines) {
				t.Fatalf("index %d beyond %d lines", d.Index, len(lines))
			}
			want := lines[d.Index]
			if d.Problem != nil {
				if len(want) <= max {
					t.Fatalf("line %d (%d bytes) refused with limit %d", d.Index, len(want), max)
				}
				return nil
			}
			if string(d.Data) != want || len(d.Data) > max {
				t.Fatalf("line %d: got %q want %q (limit %d)", d.Index, d.Data, want, max)
			}
			return nil
		}
		if err := w.lines("f.ndjson", bufio.NewReaderSize(bytesReader(data), 16)); err != nil {
			t.Fatal(err)
		}
	})
}

func bytesReader(b []byte) io.Reader { return strings.NewReader(string(b)) }
