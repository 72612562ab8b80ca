package loadgen

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/textproto"
)

// Mode is how statements are sent.
type Mode string

const (
	// ModePost sends one statement per POST; the LRS assigns the id unless
	// GenConfig.IDs is set.
	ModePost Mode = "post"
	// ModePut sends one statement per PUT ?statementId=.
	ModePut Mode = "put"
	// ModeBatch POSTs arrays of BatchSize statements.
	ModeBatch Mode = "batch"
)

// ParseMode accepts post, put or batch.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModePost, ModePut, ModeBatch:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want post, put or batch", s)
}

// body is one request ready to send.
type body struct {
	method      string
	query       string // "" or "statementId=…"
	contentType string
	data        []byte
	statements  int
	instance    int
	knownID     string // an id of the request's statements known before the answer ("" if the LRS assigns them)
}

// buildBody encodes statements for mode: a JSON object (post, put), a JSON
// array (batch), or, when a statement carries an attachment,
// multipart/mixed with the JSON first and one part per attachment, as the
// xAPI spec requires for attachments sent with their content.
func buildBody(mode Mode, sts []Statement) (body, error) {
	if len(sts) == 0 {
		return body{}, fmt.Errorf("build request: no statements")
	}
	b := body{method: "POST", contentType: "application/json", statements: len(sts), instance: sts[0].Instance, knownID: sts[0].ID}
	if mode == ModePut {
		if len(sts) != 1 || sts[0].ID == "" {
			return body{}, fmt.Errorf("build request: a PUT carries one statement with an id")
		}
		b.method, b.query = "PUT", "statementId="+sts[0].ID
	}
	var js []byte
	if mode == ModeBatch {
		n := 1
		for _, s := range sts {
			n += len(s.JSON) + 1
		}
		js = make([]byte, 0, n)
		js = append(js, '[')
		for i, s := range sts {
			if i > 0 {
				js = append(js, ',')
			}
			js = append(js, s.JSON...)
		}
		js = append(js, ']')
	} else {
		if len(sts) != 1 {
			return body{}, fmt.Errorf("build request: mode %s sends one statement per request, got %d", mode, len(sts))
		}
		js = sts[0].JSON
	}
	var atts []*Attachment
	for _, s := range sts {
		if s.Attachment != nil {
			atts = append(atts, s.Attachment)
		}
	}
	if len(atts) == 0 {
		b.data = js
		return b, nil
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	p, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"application/json"}})
	if err != nil {
		return body{}, fmt.Errorf("multipart: %w", err)
	}
	p.Write(js)
	for _, a := range atts {
		p, err := w.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {a.ContentType},
			"Content-Transfer-Encoding": {"binary"},
			"X-Experience-API-Hash":     {a.SHA2},
		})
		if err != nil {
			return body{}, fmt.Errorf("multipart: %w", err)
		}
		p.Write(a.Content)
	}
	if err := w.Close(); err != nil {
		return body{}, fmt.Errorf("multipart: %w", err)
	}
	b.contentType = "multipart/mixed; boundary=" + w.Boundary()
	b.data = buf.Bytes()
	return b, nil
}
