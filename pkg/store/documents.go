package store

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Document resources (xAPI State, Activity Profile and Agent Profile) are
// mutable documents with optimistic concurrency. Unlike statements they are
// written synchronously by ingest, so a read right after a write sees it.

// DocumentKind tells the three document resources apart.
type DocumentKind int16

const (
	KindState           DocumentKind = 1 // /activities/state: activity, agent, registration
	KindActivityProfile DocumentKind = 2 // /activities/profile: activity
	KindAgentProfile    DocumentKind = 3 // /agents/profile: agent
)

func (k DocumentKind) String() string {
	switch k {
	case KindState:
		return "state"
	case KindActivityProfile:
		return "activity profile"
	case KindAgentProfile:
		return "agent profile"
	}
	return fmt.Sprintf("document kind %d", int16(k))
}

// DocumentScope is the set of documents a listing or a delete-all covers.
type DocumentScope struct {
	Tenant     string
	Kind       DocumentKind
	ActivityID string // State and Activity Profile
	// Agent identifies the agent of a State or Agent Profile by its inverse
	// functional identifier, in a form the caller keeps stable.
	Agent string
	// Registration is a State's registration, a lower-case UUID. In a
	// DocumentKey "" means the document has none; in a scope given to
	// ListDocumentIDs or DeleteDocuments "" matches every registration,
	// as the State resource's "[+ registration if specified]" says.
	Registration string
}

// DocumentKey addresses one document.
type DocumentKey struct {
	DocumentScope
	ID string // stateId or profileId
}

// Document is one stored document, returned byte for byte with the
// Content-Type it was sent with.
type Document struct {
	ContentType string
	Content     []byte
	// ETag is the hex SHA-1 of Content (what xAPI 1.0.3 asks for), set by
	// the store on every write.
	ETag string
	// Updated is when the document was last written, set by the store.
	Updated time.Time
}

// DocumentUpdate decides, given the current document (nil if there is
// none), what a write leaves: the new document, or nil to delete it. An
// error aborts the write and is returned as is (wrapped), so that callers
// can reject a failed precondition.
type DocumentUpdate func(current *Document) (*Document, error)

// Activity is the canonical definition of an Activity, merged from every
// statement of a tenant that carried a definition for its id.
type Activity struct {
	ID         string
	Definition []byte // a JSON object
	Updated    time.Time
}

// ETag returns the entity tag of content: its SHA-1 in hex.
func ETag(content []byte) string {
	sum := sha1.Sum(content)
	return hex.EncodeToString(sum[:])
}

func (s DocumentScope) validate() error {
	switch {
	case s.Tenant == "":
		return errors.New("document without a tenant")
	case s.Kind < KindState || s.Kind > KindAgentProfile:
		return fmt.Errorf("unknown %v", s.Kind)
	case (s.Kind == KindState || s.Kind == KindActivityProfile) != (s.ActivityID != ""):
		return fmt.Errorf("a %v document needs an activity id, and no other kind has one", s.Kind)
	case (s.Kind == KindState || s.Kind == KindAgentProfile) != (s.Agent != ""):
		return fmt.Errorf("a %v document needs an agent, and no other kind has one", s.Kind)
	case s.Kind != KindState && s.Registration != "":
		return fmt.Errorf("a %v document has no registration", s.Kind)
	}
	return nil
}

func (k DocumentKey) validate() error {
	if err := k.DocumentScope.validate(); err != nil {
		return err
	}
	if k.ID == "" {
		return fmt.Errorf("%v document without an id", k.Kind)
	}
	return nil
}

// digest is the fixed-width key of a scope (without its registration).
func (s DocumentScope) digest() [16]byte {
	h := sha256.New()
	// Length-prefixed, so that no two scopes write the same bytes.
	fmt.Fprintf(h, "%d:%d:%s%d:%s%d:%s", s.Kind, len(s.Tenant), s.Tenant, len(s.ActivityID), s.ActivityID, len(s.Agent), s.Agent)
	var sum [32]byte
	var d [16]byte
	copy(d[:], h.Sum(sum[:0]))
	return d
}

// docDigest is the fixed-width key of a document id.
func docDigest(id string) [16]byte {
	sum := sha256.Sum256([]byte(id))
	var d [16]byte
	copy(d[:], sum[:16])
	return d
}

// sealDocument sets what the store owns on a document about to be written.
func sealDocument(d *Document, now time.Time) {
	d.ETag = ETag(d.Content)
	d.Updated = fromMicros(toMicros(now))
}

// documentTx is one backend's transaction, seen by updateDocument: read the
// current document (nil when there is none), delete it, or write a new one.
type documentTx interface {
	read(ctx context.Context) (*Document, error)
	remove(ctx context.Context) error
	write(ctx context.Context, d *Document) error
}

// updateDocument is UpdateDocument's logic, the same on every backend: read,
// let fn decide, then delete or write, inside the caller's transaction.
func updateDocument(ctx context.Context, tx documentTx, fn DocumentUpdate) error {
	cur, err := tx.read(ctx)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	next, err := fn(cur)
	if err != nil {
		return err
	}
	if next == nil {
		if cur != nil {
			if err := tx.remove(ctx); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
		}
		return nil
	}
	sealDocument(next, time.Now())
	if err := tx.write(ctx, next); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// documentUpsert writes a document; $n or ? placeholders are the backend's.
const documentUpsert = `INSERT INTO documents (scope, registration, doc, tenant, kind, activity_id, agent, doc_id,
    content_type, content, etag, updated) VALUES (%s)
ON CONFLICT (scope, registration, doc) DO UPDATE SET content_type = excluded.content_type,
    content = excluded.content, etag = excluded.etag, updated = excluded.updated`
