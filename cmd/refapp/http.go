package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// HTTPDoer sends requests (an *http.Client).
type HTTPDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// noRedirect is a client that hands redirects back to the app, as a SMART
// app's redirect handler would receive them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(v any) error {
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("status %d, body is not JSON: %v", r.status, err)
	}
	return nil
}

func (c Config) client() HTTPDoer {
	if c.HTTP != nil {
		return c.HTTP
	}
	return noRedirect
}

func (c Config) tenantURL(p string) string {
	return strings.TrimRight(c.Server, "/") + "/t/" + c.Tenant + p
}

// do sends one request; headers are name, value pairs.
func (c Config) do(ctx context.Context, method, u, contentType string, body []byte, headers ...string) (reply, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return reply{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.client().Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return reply{}, err
	}
	if c.Log != nil {
		fmt.Fprintf(c.Log, "refapp: %s %s -> %d\n", method, pathOf(u), resp.StatusCode)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

func pathOf(u string) string {
	if pu, err := url.Parse(u); err == nil {
		return pu.Path
	}
	return "?"
}

// expect fails unless the reply has the status.
func expect(r reply, err error, status int, what string) (reply, error) {
	if err != nil {
		return r, fmt.Errorf("%s: %w", what, err)
	}
	if r.status != status {
		b := r.body
		if len(b) > 3000 {
			b = b[:3000]
		}
		return r, fmt.Errorf("%s: status %d, want %d: %s", what, r.status, status, b)
	}
	return r, nil
}

// refused fails unless the sandbox refused the request (a bad variant's
// deliberate mistake must not pass unnoticed by the sandbox either).
func refused(r reply, err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if r.status < 300 {
		return fmt.Errorf("%s: the sandbox accepted it (status %d)", what, r.status)
	}
	return nil
}

// call sends a request that must be answered with status want.
func (c Config) call(ctx context.Context, want int, what, method, u, contentType string, body []byte, headers ...string) (reply, error) {
	r, err := c.do(ctx, method, u, contentType, body, headers...)
	return expect(r, err, want, what)
}

// mistake sends a bad variant's deliberate mistake, which the sandbox must
// refuse.
func (c Config) mistake(ctx context.Context, what, method, u, contentType string, body []byte, headers ...string) (reply, error) {
	r, err := c.do(ctx, method, u, contentType, body, headers...)
	return r, refused(r, err, what)
}
