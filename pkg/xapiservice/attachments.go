package xapiservice

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"sort"
	"strings"

	"github.com/streamlrs/streamlrs/pkg/store"
	"github.com/streamlrs/streamlrs/pkg/xapi"
)

const (
	// HeaderHash names an attachment part by the SHA-256 of its content.
	HeaderHash = "X-Experience-API-Hash"
	// HeaderTransferEncoding of an attachment part: binary, the only one.
	HeaderTransferEncoding = "Content-Transfer-Encoding"
	// MIMEMultipartMixed is how statements travel with their attachments.
	MIMEMultipartMixed = "multipart/mixed"
	mimeJSON           = "application/json"
	mimeOctetStream    = "application/octet-stream"
	usageTypeSignature = "http://adlnet.gov/expapi/attachments/signature"
)

// Part is a raw attachment of a multipart/mixed request.
type Part struct {
	Hash        string // lower-case hex SHA-256 of Content
	ContentType string
	Content     []byte
}

// ReadStatementBody returns the statement JSON of a request body and, for
// multipart/mixed, its attachment parts (xAPI Communication 1.5.2: the
// first part is the statement, each other part an attachment named by its
// SHA-256 in X-Experience-API-Hash, which its content must hash to).
func ReadStatementBody(contentType string, body []byte) ([]byte, []Part, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, nil, BadRequest(fmt.Sprintf("Content-Type %q: %v", contentType, err))
	}
	switch mt {
	case mimeJSON:
		return body, nil, nil
	case MIMEMultipartMixed:
	default:
		return nil, nil, BadRequest(fmt.Sprintf("Content-Type %q: statements are sent as application/json, or multipart/mixed with attachments", mt))
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, nil, BadRequest("multipart/mixed without a boundary parameter")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	first, err := r.NextRawPart()
	if err != nil {
		return nil, nil, BadRequest("multipart/mixed: cannot read the statement part: " + err.Error())
	}
	if ct, _, _ := mime.ParseMediaType(first.Header.Get("Content-Type")); ct != mimeJSON {
		return nil, nil, BadRequest("multipart/mixed: the first part must be the statement(s) as application/json")
	}
	stmts, err := io.ReadAll(first)
	if err != nil {
		return nil, nil, BadRequest("multipart/mixed: " + err.Error())
	}
	var parts []Part
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, BadRequest("multipart/mixed: " + err.Error())
		}
		h := strings.ToLower(strings.TrimSpace(p.Header.Get(HeaderHash)))
		if h == "" {
			return nil, nil, BadRequest(fmt.Sprintf("multipart/mixed: attachment part %d has no %s header", len(parts)+1, HeaderHash))
		}
		if enc := p.Header.Get(HeaderTransferEncoding); enc != "" && !strings.EqualFold(enc, "binary") {
			return nil, nil, BadRequest(fmt.Sprintf("multipart/mixed: attachment %s: Content-Transfer-Encoding must be binary, not %q", h, enc))
		}
		content, err := io.ReadAll(p)
		if err != nil {
			return nil, nil, BadRequest("multipart/mixed: " + err.Error())
		}
		sum := sha256.Sum256(content)
		if hex.EncodeToString(sum[:]) != h {
			return nil, nil, BadRequest(fmt.Sprintf("multipart/mixed: attachment part's content does not hash to its %s %s", HeaderHash, h))
		}
		parts = append(parts, Part{Hash: h, ContentType: p.Header.Get("Content-Type"), Content: content})
	}
	return stmts, parts, nil
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
func matchAttachments(prepared []xapi.Prepared, parts []Part, v xapi.Version, a xapi.Assign) ([]store.Attachment, error) {
	byHash := map[string]Part{}
	for _, p := range parts {
		byHash[p.Hash] = p
	}
	used := map[string]bool{}
	sentWith := map[string][]string{} // hash -> statements that sent it for a fileUrl attachment
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
					e := BadRequest(fmt.Sprintf("statement %d attachment %d (sha2 %s) has no fileUrl and no multipart/mixed part carrying it", i, j, h))
					e.Fields = []xapi.FieldError{{Pointer: fmt.Sprintf("/%d/attachments/%d/sha2", i, j), Rule: "needs a part with this X-Experience-API-Hash"}}
					return nil, e
				}
				continue
			}
			used[h] = true
			if !needsPart(ref) {
				sentWith[h] = append(sentWith[h], st.ID)
			}
			if ref.UsageType == usageTypeSignature {
				if err := verifySignature(st, ref, p, v, a); err != nil {
					return nil, BadRequest(fmt.Sprintf("statement %s: signature: %v", st.ID, err))
				}
			}
		}
	}
	var out []store.Attachment
	for _, p := range parts {
		if !used[p.Hash] {
			return nil, BadRequest(fmt.Sprintf("multipart/mixed: part %s matches no attachment of the statements", p.Hash))
		}
		out = append(out, store.Attachment{SHA2: p.Hash, ContentType: p.ContentType, Content: p.Content, SentWith: sentWith[p.Hash]})
	}
	return out, nil
}

// AttachmentReader serves the attachment bodies of statements read back.
type AttachmentReader interface {
	GetAttachments(ctx context.Context, tenant string, sha2s []string) ([]store.Attachment, error)
	Granted(ctx context.Context, tenant string, gs []store.AttachmentGrant) (map[store.AttachmentGrant]bool, error)
}

// attachmentsOf returns, by hash, the attachments of tenant that a
// multipart statement response carries for stmts.
func attachmentsOf(ctx context.Context, ar AttachmentReader, tenant string, stmts [][]byte) ([]store.Attachment, error) {
	seen := map[string]bool{}
	var hashes []string
	var ask []store.AttachmentGrant
	for _, st := range stmts {
		refs, err := attachmentRefs(st)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			h := strings.ToLower(r.SHA2)
			if h == "" || seen[h] {
				continue
			}
			// An attachment that had to come with its statement (no fileUrl,
			// or a signature) is served: its sender proved it holds the
			// content. A fileUrl attachment may name any hash, and serving
			// the tenant's body of that hash would hand out another
			// credential's attachment to whoever knows its SHA-256: it is
			// served only to a statement that sent the body itself.
			if needsPart(r) {
				seen[h] = true
				hashes = append(hashes, h)
				continue
			}
			var id struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(st, &id); err == nil && id.ID != "" {
				ask = append(ask, store.AttachmentGrant{StatementID: id.ID, SHA2: h})
			}
		}
	}
	if len(ask) > 0 {
		ok, err := ar.Granted(ctx, tenant, ask)
		if err != nil {
			return nil, err
		}
		for g := range ok {
			if !seen[g.SHA2] {
				seen[g.SHA2] = true
				hashes = append(hashes, g.SHA2)
			}
		}
	}
	sort.Strings(hashes)
	return ar.GetAttachments(ctx, tenant, hashes)
}
