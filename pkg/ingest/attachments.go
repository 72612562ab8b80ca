package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"sort"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

const (
	headerHash            = "X-Experience-API-Hash"
	usageTypeSignature    = "http://adlnet.gov/expapi/attachments/signature"
	mimeMultipartMixed    = "multipart/mixed"
	mimeOctetStream       = "application/octet-stream"
	headerTransferEncoder = "Content-Transfer-Encoding"
)

// part is a raw attachment of a multipart/mixed request.
type part struct {
	hash        string
	contentType string
	content     []byte
}

// statementBody returns the statement JSON of a request and, for
// multipart/mixed, its attachment parts (xAPI Communication 1.5.2: the first
// part is the statement, each other part an attachment named by its SHA-256
// in X-Experience-API-Hash).
func statementBody(c *fiber.Ctx) ([]byte, []part, error) {
	mt, params, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil {
		return nil, nil, badRequest(fmt.Sprintf("Content-Type %q: %v", c.Get(fiber.HeaderContentType), err))
	}
	switch mt {
	case fiber.MIMEApplicationJSON:
		return c.Body(), nil, nil
	case mimeMultipartMixed:
	default:
		return nil, nil, badRequest(fmt.Sprintf("Content-Type %q: statements are sent as application/json, or multipart/mixed with attachments", mt))
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, badRequest("multipart/mixed without a boundary parameter")
	}
	r := multipart.NewReader(bytes.NewReader(c.Body()), boundary)
	first, err := r.NextRawPart()
	if err != nil {
		return nil, nil, badRequest("multipart/mixed: cannot read the statement part: " + err.Error())
	}
	if ct, _, _ := mime.ParseMediaType(first.Header.Get(fiber.HeaderContentType)); ct != fiber.MIMEApplicationJSON {
		return nil, nil, badRequest("multipart/mixed: the first part must be the statement(s) as application/json")
	}
	body, err := io.ReadAll(first)
	if err != nil {
		return nil, nil, badRequest("multipart/mixed: " + err.Error())
	}
	var parts []part
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, badRequest("multipart/mixed: " + err.Error())
		}
		h := strings.ToLower(strings.TrimSpace(p.Header.Get(headerHash)))
		if h == "" {
			return nil, nil, badRequest(fmt.Sprintf("multipart/mixed: attachment part %d has no %s header", len(parts)+1, headerHash))
		}
		if enc := p.Header.Get(headerTransferEncoder); enc != "" && !strings.EqualFold(enc, "binary") {
			return nil, nil, badRequest(fmt.Sprintf("multipart/mixed: attachment %s: Content-Transfer-Encoding must be binary, not %q", h, enc))
		}
		content, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, badRequest("multipart/mixed: " + err.Error())
		}
		sum := sha256.Sum256(content)
		if hex.EncodeToString(sum[:]) != h {
			return nil, nil, badRequest(fmt.Sprintf("multipart/mixed: attachment part's content does not hash to its %s %s", headerHash, h))
		}
		parts = append(parts, part{hash: h, contentType: p.Header.Get(fiber.HeaderContentType), content: content})
	}
	return body, parts, nil
}

// attachmentRef is what a statement says about one attachment.
type attachmentRef struct {
	UsageType   string `json:"usageType"`
	ContentType string `json:"contentType"`
	SHA2        string `json:"sha2"`
	FileURL     string `json:"fileUrl"`
}

// needsPart reports whether an attachment must travel with its statement
// as a multipart part: it has no fileUrl, or it is a signature.
func needsPart(ref attachmentRef) bool {
	return ref.FileURL == "" || ref.UsageType == usageTypeSignature
}

func attachmentRefs(stmt []byte) ([]attachmentRef, error) {
	if !bytes.Contains(stmt, []byte(`"attachments"`)) {
		return nil, nil
	}
	var s struct {
		Attachments []attachmentRef `json:"attachments"`
	}
	if err := json.Unmarshal(stmt, &s); err != nil {
		return nil, err
	}
	return s.Attachments, nil
}

// matchAttachments checks the parts against what the statements declare:
// every attachment without a fileUrl has its part, every part belongs to an
// attachment, and every signature verifies. It returns the bodies to store.
func matchAttachments(prepared []xapi.Prepared, parts []part, v xapi.Version, a xapi.Assign) ([]store.Attachment, error) {
	byHash := map[string]part{}
	for _, p := range parts {
		byHash[p.hash] = p
	}
	used := map[string]bool{}
	for i, st := range prepared {
		refs, err := attachmentRefs(st.JSON)
		if err != nil {
			return nil, fmt.Errorf("read attachments of statement %s: %w", st.ID, err)
		}
		for j, ref := range refs {
			h := strings.ToLower(ref.SHA2)
			p, ok := byHash[h]
			if !ok {
				if needsPart(ref) {
					return nil, &apiError{Status: fiber.StatusBadRequest, Message: fmt.Sprintf(
						"statement %d attachment %d (sha2 %s) has no fileUrl and no multipart/mixed part carrying it", i, j, h),
						Fields: []xapi.FieldError{{Pointer: fmt.Sprintf("/%d/attachments/%d/sha2", i, j), Rule: "needs a part with this X-Experience-API-Hash"}}}
				}
				continue
			}
			used[h] = true
			if ref.UsageType == usageTypeSignature {
				if err := verifySignature(st, ref, p, v, a); err != nil {
					return nil, badRequest(fmt.Sprintf("statement %s: signature: %v", st.ID, err))
				}
			}
		}
	}
	var out []store.Attachment
	for _, p := range parts {
		if !used[p.hash] {
			return nil, badRequest(fmt.Sprintf("multipart/mixed: part %s matches no attachment of the statements", p.hash))
		}
		out = append(out, store.Attachment{SHA2: p.hash, ContentType: p.contentType, Content: p.content})
	}
	return out, nil
}

// multipartResponse writes body and the attachments the statements in it
// reference, as xAPI's multipart/mixed statement response.
func (s *Server) multipartResponse(c *fiber.Ctx, tenant string, body []byte, stmts [][]byte) error {
	seen := map[string]bool{}
	var hashes []string
	for _, st := range stmts {
		refs, err := attachmentRefs(st)
		if err != nil {
			return err
		}
		for _, r := range refs {
			// Only an attachment that had to come with its statement (no
			// fileUrl, or a signature) is served: its sender proved it
			// holds the content. A fileUrl attachment may name any hash,
			// and serving the tenant's body of that hash would hand out
			// another credential's attachment to whoever knows its SHA-256.
			if !needsPart(r) {
				continue
			}
			if h := strings.ToLower(r.SHA2); h != "" && !seen[h] {
				seen[h] = true
				hashes = append(hashes, h)
			}
		}
	}
	sort.Strings(hashes)
	atts, err := s.deps.Attachments.GetAttachments(c.UserContext(), tenant, hashes)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	pw, err := w.CreatePart(textproto.MIMEHeader{fiber.HeaderContentType: {fiber.MIMEApplicationJSON}})
	if err != nil {
		return err
	}
	pw.Write(body)
	for _, a := range atts {
		pw, err := w.CreatePart(textproto.MIMEHeader{
			fiber.HeaderContentType: {a.ContentType},
			headerTransferEncoder:   {"binary"},
			headerHash:              {a.SHA2},
		})
		if err != nil {
			return err
		}
		pw.Write(a.Content)
	}
	if err := w.Close(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, mimeMultipartMixed+"; boundary="+w.Boundary())
	return c.Send(buf.Bytes())
}
