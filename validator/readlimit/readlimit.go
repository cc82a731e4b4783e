// Package readlimit reads a whole input of bounded size: one larger than
// the limit is refused with an error, never cut short and used as if it
// were whole (a truncated key set or certificate must not half-parse).
// It imports only the standard library, so the engine and the CLI share it.
package readlimit

import (
	"fmt"
	"io"
	"os"
)

// All reads r to its end, at most limit bytes; more is an error.
func All(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than the limit of %d bytes", limit)
	}
	return data, nil
}

// File reads the file at path, at most limit bytes; its errors name the
// path (never the content).
func File(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := All(f, limit)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, nil
}
