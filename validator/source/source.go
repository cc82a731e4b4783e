// Package source turns the paths a user names (files, directories, NDJSON
// files, stdin) into a stream of documents to validate. Reading is where a
// validator meets hostile or broken input first, so every limit lives here and
// every failure to read one input becomes a finding on that input, never a
// crash: only an argument that cannot be opened at all stops the tool.
package source

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sandkasse/sandkasse/validator/issue"
)

// Stable codes of reading problems. They sit beside the parser's json-* codes.
const (
	CodeUnreadable  = "input-unreadable"
	CodeTooLarge    = "input-too-large"
	CodeLineTooLong = "ndjson-line-too-long"
)

// Defaults for Limits' zero fields.
const (
	DefaultMaxBytes     = 64 << 20
	DefaultMaxLineBytes = 16 << 20
)

// Limits bound what reading one input may cost.
type Limits struct {
	// MaxBytes bounds a whole file or stdin; a bigger one is a finding and is
	// never read past the limit.
	MaxBytes int64
	// MaxLineBytes bounds one NDJSON line. NDJSON files themselves have no
	// size limit: they are read line by line.
	MaxLineBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = DefaultMaxLineBytes
	}
	return l
}

// Doc is one document to validate, or the reason it could not be read.
type Doc struct {
	// Source is the path as found (the argument joined with the walked
	// name), or "-" for stdin.
	Source string
	// Index is the 0-based line index of an NDJSON document, 0 otherwise.
	Index int
	// Line is the 1-based line of the input where the document starts; the
	// validator counts from 1 within the document, so a caller adds Line-1
	// to point into the file.
	Line int
	Data []byte
	// Problem is set when the document could not be read; Data is then nil.
	Problem *issue.Issue
}

// IsNDJSON reports whether a path is read as one resource per line.
func IsNDJSON(path string) bool {
	return strings.EqualFold(filepath.Ext(path), ".ndjson")
}

// wanted reports whether a file met while walking a directory is an input.
func wanted(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".json" || ext == ".ndjson"
}

// Check verifies that every argument can be opened, before any output is
// produced, so that a mistyped path fails the run cleanly (exit 2) instead of
// after half the results have been printed.
func Check(args []string) error {
	for _, a := range args {
		if a == "-" {
			continue
		}
		fi, err := os.Stat(a)
		if err != nil {
			return fmt.Errorf("%s: %w", a, unwrapPath(err))
		}
		if fi.IsDir() {
			f, err := os.Open(a)
			if err != nil {
				return fmt.Errorf("%s: %w", a, unwrapPath(err))
			}
			_, err = f.ReadDir(1)
			f.Close()
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("%s: %w", a, unwrapPath(err))
			}
			continue
		}
		f, err := os.Open(a)
		if err != nil {
			return fmt.Errorf("%s: %w", a, unwrapPath(err))
		}
		f.Close()
	}
	return nil
}

// unwrapPath drops the *PathError wrapper, whose text repeats the path the
// caller already prints.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Walk calls emit for every document under args, in argument order, then
// directory order (lexical), then line order. Directories are walked one
// entry at a time and NDJSON is read one line at a time, so memory stays
// bounded by the limits whatever the size of the input. emit's error (or the
// context's) stops the walk and is returned.
func Walk(ctx context.Context, args []string, stdin io.Reader, lim Limits, emit func(Doc) error) error {
	lim = lim.withDefaults()
	w := walker{ctx: ctx, lim: lim, emit: emit}
	for _, a := range args {
		if err := ctx.Err(); err != nil {
			return err
		}
		var err error
		switch {
		case a == "-":
			err = w.reader("-", stdin, false)
		default:
			err = w.path(a, true)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type walker struct {
	ctx  context.Context
	lim  Limits
	emit func(Doc) error
}

func (w *walker) problem(src string, index, line int, code, typ, msg, fix string) error {
	return w.emit(Doc{Source: src, Index: index, Line: line, Problem: &issue.Issue{
		Severity: issue.Fatal, Code: code, Type: typ, Message: msg, Fix: fix,
	}})
}

func (w *walker) unreadable(src string, err error) error {
	// The OS error names the cause (permission denied, is a directory), not
	// any content, so it is safe to report.
	return w.problem(src, 0, 1, CodeUnreadable, "exception",
		"cannot read the input: "+unwrapPath(err).Error(),
		"check that the file exists and that the user running the validator may read it")
}

func (w *walker) path(p string, top bool) error {
	fi, err := os.Stat(p)
	if err != nil {
		return w.unreadable(p, err)
	}
	if fi.IsDir() {
		return w.dir(p)
	}
	// A named pipe found while walking would block the walk on open; only
	// an argument the user named may be one (e.g. /dev/stdin, <(cmd)).
	if !fi.Mode().IsRegular() && !top {
		return w.problem(p, 0, 1, CodeUnreadable, "exception", "not a regular file", "")
	}
	f, err := os.Open(p)
	if err != nil {
		return w.unreadable(p, err)
	}
	defer f.Close()
	return w.reader(p, f, IsNDJSON(p))
}

func (w *walker) dir(root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if cerr := w.ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			// An unreadable subdirectory is a finding on that directory; the
			// rest of the tree is still worth validating.
			if perr := w.unreadable(p, err); perr != nil {
				return perr
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			// Hidden directories (.git, .cache) are never inputs.
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if !wanted(d.Name()) {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			// WalkDir does not follow links; a link to a directory is
			// skipped rather than walked, to stay clear of cycles.
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				return nil
			}
		}
		return w.path(p, false)
	})
}

func (w *walker) reader(src string, r io.Reader, ndjson bool) error {
	if ndjson {
		return w.lines(src, r)
	}
	// Read one byte past the limit to tell "exactly at the limit" from
	// "over it" without trusting a size that stdin or /proc cannot give.
	data, err := io.ReadAll(io.LimitReader(r, w.lim.MaxBytes+1))
	if err != nil {
		return w.unreadable(src, err)
	}
	if int64(len(data)) > w.lim.MaxBytes {
		return w.problem(src, 0, 1, CodeTooLarge, "too-long",
			fmt.Sprintf("input is larger than the limit of %d bytes", w.lim.MaxBytes),
			"split the input, or raise the limit with --max-bytes")
	}
	return w.emit(Doc{Source: src, Line: 1, Data: data})
}

// lines emits one document per non-blank line. A line over the limit is
// skipped to its end without being held in memory.
func (w *walker) lines(src string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	max := w.lim.MaxLineBytes
	for index := 0; ; index++ {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		line, long, err := readLine(br, max)
		if err != nil && !errors.Is(err, io.EOF) {
			return w.problem(src, index, index+1, CodeUnreadable, "exception",
				"cannot read the input: "+unwrapPath(err).Error(), "")
		}
		atEOF := errors.Is(err, io.EOF)
		switch {
		case long:
			if perr := w.problem(src, index, index+1, CodeLineTooLong, "too-long",
				fmt.Sprintf("NDJSON line is longer than the limit of %d bytes", max),
				"raise the limit with --max-line-bytes"); perr != nil {
				return perr
			}
		case len(bytes.TrimSpace(line)) > 0:
			if perr := w.emit(Doc{Source: src, Index: index, Line: index + 1, Data: line}); perr != nil {
				return perr
			}
		}
		if atEOF {
			return nil
		}
	}
}

// readLine returns the next line without its terminator. When the line is
// longer than max it is consumed and long is true, and no more than the
// reader's buffer is ever held. err is io.EOF on the last line.
func readLine(br *bufio.Reader, max int) (line []byte, long bool, err error) {
	var buf []byte
	for {
		chunk, rerr := br.ReadSlice('\n')
		if !long {
			if len(buf)+len(chunk) > max+1 { // +1: the '\n' is not part of the line
				long, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if rerr == bufio.ErrBufferFull {
			continue
		}
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return nil, long, rerr
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		if !long && len(buf) > max {
			long, buf = true, nil
		}
		if errors.Is(rerr, io.EOF) {
			return buf, long, io.EOF
		}
		return buf, long, nil
	}
}
