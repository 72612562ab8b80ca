package importer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"
)

// Part is an attachment body, as xAPI carries it in multipart/mixed: named
// by the SHA-256 (hex) of its content.
type Part struct {
	Hash        string
	ContentType string
	Content     []byte
}

const headerHash = "X-Experience-API-Hash"

// multipartBody is the statements (a JSON array) and parts as an xAPI
// multipart/mixed request body, and its content type.
func multipartBody(statements []byte, parts []Part) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	pw, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, "", err
	}
	pw.Write(statements)
	for _, p := range parts {
		pw, err := w.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ContentType},
			"Content-Transfer-Encoding": {"binary"},
			headerHash:                  {p.Hash},
		})
		if err != nil {
			return nil, "", err
		}
		pw.Write(p.Content)
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), "multipart/mixed; boundary=" + w.Boundary(), nil
}

// splitMultipart reads an xAPI multipart/mixed answer: the JSON of its
// first part and its attachment parts by hash. A part whose content does
// not hash to its X-Experience-API-Hash is an error: forwarded, it would
// be refused with the statements it belongs to.
func splitMultipart(contentType string, body []byte) ([]byte, map[string]Part, error) {
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil || params["boundary"] == "" {
		return nil, nil, fmt.Errorf("multipart answer with Content-Type %q: no boundary", contentType)
	}
	r := multipart.NewReader(bytes.NewReader(delimited(body, params["boundary"])), params["boundary"])
	first, err := r.NextPart()
	if err != nil {
		return nil, nil, fmt.Errorf("multipart answer: %w", err)
	}
	js, err := io.ReadAll(first)
	if err != nil {
		return nil, nil, fmt.Errorf("multipart answer: %w", err)
	}
	parts := map[string]Part{}
	for {
		p, err := r.NextPart()
		if errors.Is(err, io.EOF) {
			return js, parts, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("multipart answer: %w", err)
		}
		content, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, fmt.Errorf("multipart answer: %w", err)
		}
		h := strings.ToLower(p.Header.Get(headerHash))
		sum := sha256.Sum256(content)
		if got := hex.EncodeToString(sum[:]); h != got {
			return nil, nil, fmt.Errorf("multipart answer: a part's %s is %q, its content hashes to %s", headerHash, h, got)
		}
		parts[h] = Part{Hash: h, ContentType: p.Header.Get("Content-Type"), Content: content}
	}
}

// delimited puts the CRLF that must precede every boundary delimiter
// where it is missing: Learning Locker (xapi-statements 5) writes the
// closing delimiter right after the JSON, which Go's reader takes for a
// truncated body. A boundary never occurs inside the parts, so only
// delimiters change.
func delimited(body []byte, boundary string) []byte {
	delim := []byte("--" + boundary)
	var out []byte
	for rest, start := body, 0; ; {
		i := bytes.Index(rest, delim)
		if i < 0 {
			if out == nil {
				return body
			}
			return append(out, rest...)
		}
		if start+i > 0 && (i == 0 || rest[i-1] != '\n') {
			out = append(append(out, rest[:i]...), '\r', '\n')
		} else {
			out = append(out, rest[:i]...)
		}
		out = append(out, delim...)
		rest = rest[i+len(delim):]
		start += i + len(delim)
	}
}
