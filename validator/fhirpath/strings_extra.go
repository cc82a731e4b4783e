package fhirpath

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

type regexpT = regexp.Regexp

// regexCache keeps patterns that arrive at run time (not literals, which
// are compiled with the expression). It is bounded: patterns can come from
// documents.
var regexCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

const regexCacheMax = 256

func cachedRegex(pattern string, full bool) (*regexp.Regexp, error) {
	key := pattern
	if full {
		key = "\x00" + pattern
	}
	regexCache.Lock()
	re := regexCache.m[key]
	regexCache.Unlock()
	if re != nil {
		return re, nil
	}
	// The pattern may be a string over a document's memory, which is
	// reused; the cache and the Regexp (which keeps its source) get a copy.
	key, pattern = strings.Clone(key), strings.Clone(pattern)
	re, err := compileRegex(pattern, full)
	if err != nil {
		return nil, err
	}
	regexCache.Lock()
	if regexCache.m == nil || len(regexCache.m) >= regexCacheMax {
		regexCache.m = map[string]*regexp.Regexp{}
	}
	regexCache.m[key] = re
	regexCache.Unlock()
	return re, nil
}

func fnEncode(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	format, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	if err := c.tick(len(s) * 2); err != nil {
		return nil, err
	}
	switch format {
	case "base64":
		return Collection{String(base64.StdEncoding.EncodeToString([]byte(s)))}, nil
	case "urlbase64":
		return Collection{String(base64.URLEncoding.EncodeToString([]byte(s)))}, nil
	case "hex":
		return Collection{String(hex.EncodeToString([]byte(s)))}, nil
	}
	return nil, errAt(n.pos, "encode(): unknown format")
}

func fnDecode(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	format, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	var b []byte
	switch format {
	case "base64":
		b, err = base64.StdEncoding.DecodeString(s)
	case "urlbase64":
		b, err = base64.URLEncoding.DecodeString(s)
	case "hex":
		b, err = hex.DecodeString(s)
	default:
		return nil, errAt(n.pos, "decode(): unknown format")
	}
	if err != nil || !utf8.Valid(b) {
		return nil, nil
	}
	return Collection{String(b)}, nil
}

func fnEscape(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	format, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	switch format {
	case "html":
		return Collection{String(htmlEscaper.Replace(s))}, nil
	case "json":
		b, _ := json.Marshal(s)
		out := string(b[1 : len(b)-1])
		// encoding/json escapes <, > and & for HTML safety; JSON does not
		// require it.
		out = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(out)
		return Collection{String(out)}, nil
	}
	return nil, errAt(n.pos, "escape(): unknown format")
}

func fnUnescape(c *ctx, in Collection, n *callNode) (Collection, error) {
	s, ok, err := strIn(in, n)
	if err != nil || !ok {
		return nil, err
	}
	format, ok, err := strArg(c, n, 0)
	if err != nil || !ok {
		return nil, err
	}
	switch format {
	case "html":
		return Collection{String(html.UnescapeString(s))}, nil
	case "json":
		out, ok := jsonUnescape(s)
		if !ok {
			return nil, nil
		}
		return Collection{String(out)}, nil
	}
	return nil, errAt(n.pos, "unescape(): unknown format")
}

// htmlEscaper uses the named entities the suite expects (&quot;), where
// html.EscapeString writes numeric ones.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")

// jsonUnescape decodes JSON string escapes; other characters, including
// bare quotes, are kept as they are.
func jsonUnescape(s string) (string, bool) {
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			b.WriteByte(s[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if i+5 > len(s) {
				return "", false
			}
			var r string
			if err := json.Unmarshal([]byte(`"\u`+s[i+1:i+5]+`"`), &r); err != nil {
				return "", false
			}
			b.WriteString(r)
			i += 4
		default:
			return "", false
		}
	}
	return b.String(), true
}
