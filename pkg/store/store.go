package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/streamlrs/streamlrs/pkg/config"
)

var (
	// ErrNotFound is returned when a statement, tenant or credential does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists is returned when creating something that is already there.
	ErrExists = errors.New("already exists")
	// ErrInvalidQuery is returned for a query the store cannot run: a malformed
	// agent, a cursor from another tenant, a bad cursor.
	ErrInvalidQuery = errors.New("invalid query")
)

// Statement is one prepared xAPI statement. The ingest service already
// validated it and set id, stored, authority, version (and timestamp). The
// store extracts whatever it indexes from JSON itself.
type Statement struct {
	Tenant      string
	ID          string    // lower-case UUID
	Stored      time.Time // assigned at ingest
	JSON        []byte    // the full statement as prepared, returned byte for byte
	Fingerprint string    // hash of the canonical form: same id + same fingerprint = the same statement
	// Provenance of an imported statement (stream.Statement's); the zero
	// value for every other one.
	Provenance Provenance
}

// StatementKey names one statement of one tenant.
type StatementKey struct{ Tenant, ID string }

// Offset is the next offset to consume in one partition.
type Offset struct {
	Topic     string
	Partition int32
	Next      int64
}

// ApplyResult reports what ApplyStatements did with each statement.
type ApplyResult struct {
	Inserted, Duplicates int
	Conflicts            []Conflict
}

// Conflict is a statement that was not written because its id already holds
// a statement with a different fingerprint.
type Conflict struct {
	Statement Statement
	Reason    string
	// Existing is the fingerprint of the statement stored under the id, when
	// the conflict is one of content (not an unreadable statement).
	Existing string
}

// ConflictRecord is a conflict of content the store-writer found: the
// statement kept (StoredFingerprint) and the one refused (Fingerprint).
type ConflictRecord struct {
	Tenant            string
	ID                string
	Fingerprint       string
	StoredFingerprint string
	Detected          time.Time
}

// The store plays several roles, each an interface of its own, so that a
// consumer can name the role it uses (or declare a narrower interface
// where it is used); Store is all of them, for the wiring that opens one
// database and hands it out. Every method is safe for concurrent use.

// Store is the statement store: every role and its lifecycle.
type Store interface {
	// Migrate applies the embedded schema migrations that are not applied yet.
	Migrate(ctx context.Context) error
	Ping(ctx context.Context) error
	Close() error

	StatementWriter
	StatementReader
	Documents
	Credentials
	Attachments
	Forwarding
	Imports
	Lifecycle
}

// StatementWriter is the store-writer's role: statements in, together with
// the offsets they came from.
type StatementWriter interface {
	// ApplyStatements writes stmts idempotently by (tenant, id) and records
	// offsets for the consumer group in the same transaction. Voiding (verb
	// http://adlnet.gov/expapi/verbs/voided, object a StatementRef) is applied
	// whatever the arrival order; a voiding statement cannot void another
	// voiding statement. Offsets never move backwards: a stale writer cannot
	// undo a newer one's progress.
	ApplyStatements(ctx context.Context, group string, stmts []Statement, offsets []Offset) (ApplyResult, error)
	// AppliedOffsets returns partition -> next offset for group/topic.
	AppliedOffsets(ctx context.Context, group, topic string) (map[int32]int64, error)
}

// StatementReader is the read side of statements: the API's GETs, the
// conflict check, and the conflicts the store-writer recorded.
type StatementReader interface {
	// GetStatement with voided=false finds a statement that is not voided;
	// with voided=true one that is voided.
	GetStatement(ctx context.Context, tenant, id string, voided bool) (Statement, error)
	// QueryStatements lists statements that are not voided, newest first
	// unless q.Ascending. See Query for the filters and paging.
	QueryStatements(ctx context.Context, q Query) (Page, error)
	// Fingerprints returns the fingerprints of the statements stored under
	// keys, voided or not, in one round trip and without reading bodies: the
	// statement comparison rules (same id, other content: 409) need nothing
	// more. Keys the store does not hold (or whose id is not a UUID) are
	// absent from the map; ids are compared case-insensitively and the map
	// is keyed by the lower-case id.
	Fingerprints(ctx context.Context, keys []StatementKey) (map[StatementKey]string, error)
	// ScanStatementKeys calls fn with the key of every statement (voided or
	// not; placeholders are not statements), in no particular order, ids in
	// lower case. It reads a consistent snapshot; fn's error stops it.
	ScanStatementKeys(ctx context.Context, fn func(StatementKey) error) error
	// RecentConflicts returns the tenant's newest conflicts of content, at
	// most limit, newest first. ApplyStatements records them.
	RecentConflicts(ctx context.Context, tenant string, limit int) ([]ConflictRecord, error)
}

// Documents are the mutable xAPI documents (State, Activity Profile, Agent
// Profile) and the Activity definitions served beside them.
type Documents interface {
	// GetDocument returns one State, Activity Profile or Agent Profile
	// document; ErrNotFound if there is none.
	GetDocument(ctx context.Context, key DocumentKey) (Document, error)
	// ListDocumentIDs returns, in id order, the ids of the documents in
	// scope written after since (zero: all of them).
	ListDocumentIDs(ctx context.Context, scope DocumentScope, since time.Time) ([]string, error)
	// UpdateDocument calls fn with the current document and writes what it
	// returns, atomically: concurrent writers of the same key take turns,
	// so fn's preconditions (ETags) hold when the write happens.
	UpdateDocument(ctx context.Context, key DocumentKey, fn DocumentUpdate) error
	// DeleteDocuments deletes every document in scope and reports how many.
	DeleteDocuments(ctx context.Context, scope DocumentScope) (int, error)
	// GetActivity returns the canonical definition of an Activity merged
	// from the tenant's statements; ErrNotFound if none carried one.
	GetActivity(ctx context.Context, tenant, id string) (Activity, error)
}

// Credentials are the tenants and their API keys.
type Credentials interface {
	CreateTenant(ctx context.Context, t Tenant) error // ErrExists if present
	ListTenants(ctx context.Context) ([]Tenant, error)
	GetTenant(ctx context.Context, id string) (Tenant, error)                      // ErrNotFound if absent
	SetTenantVoidingPolicy(ctx context.Context, id, policy string) (Tenant, error) // ErrNotFound if absent
	// PutCredential inserts or replaces by Key; the tenant must exist (ErrNotFound).
	PutCredential(ctx context.Context, c Credential) error
	GetCredential(ctx context.Context, key string) (Credential, error)
	ListCredentials(ctx context.Context, tenant string) ([]Credential, error)
}

// Tenant is one organization's store.
type Tenant struct {
	ID, Name string
	// VoidingPolicy overrides the deployment's voiding policy in this
	// tenant (pkg/auth.VoidingPolicy); "" keeps it.
	VoidingPolicy string
	// Retention is the longest the tenant keeps statements, by their
	// stored time (0: for ever); whole seconds.
	Retention time.Duration
	CreatedAt time.Time
}

// Credential is an API key of one tenant. The store keeps what pkg/auth gives
// it; SecretHash is never a secret in clear.
type Credential struct {
	Key, SecretHash, Tenant, Label string
	Scopes                         []string
	Authority                      []byte // the xAPI authority Agent/Group JSON
	Disabled                       bool
	CreatedAt, UpdatedAt           time.Time
	// PreviousSecretHash is the hash a rotation replaced; it stays valid
	// until PreviousUntil so that a client can switch without downtime.
	PreviousSecretHash string
	PreviousUntil      time.Time // zero when there is no previous secret
	// RateLimit is the most requests per second the credential may make on
	// one API instance; 0 means unlimited.
	RateLimit int
}

// MaxLimit is the largest page QueryStatements returns; Limit 0 means MaxLimit.
const MaxLimit = 500

// Query selects statements of one tenant. Filters other than Since, Until and
// Limit also match a statement whose object is a StatementRef to a statement
// that matches them, recursively (xAPI "Filter Conditions for StatementRefs").
type Query struct {
	Tenant string
	// Agent is an Agent/Group JSON object as sent in the `agent` parameter;
	// statements match by its inverse functional identifier, also through
	// the members of a Group actor or object.
	Agent                            string
	Verb, Activity, Registration     string
	RelatedActivities, RelatedAgents bool
	Since, Until                     time.Time // zero = unset; since exclusive, until inclusive, on `stored`
	Limit                            int       // 0 = MaxLimit; larger values are capped at MaxLimit
	Ascending                        bool
	// Authority, an Agent/Group JSON object, keeps only statements whose
	// authority it is (statements/read/mine). A Cursor must carry the same
	// Authority filter, or the query is invalid.
	Authority string
	// Cursor continues a listing from Page.More. It carries the filters of
	// the first page, so only Tenant and Authority (which must match) are
	// read besides it.
	Cursor string
}

// Page is one page of a listing.
type Page struct {
	Statements []Statement
	More       string // cursor for the next page, "" when this is the last one
}

// Open picks the backend from the DSN: postgres:// or postgresql:// is
// PostgreSQL; sqlite:PATH or a plain file path is SQLite. Anything else is
// refused rather than taken for a file name: a PostgreSQL key=value string
// (host=db dbname=lrs) or another scheme (mysql://, file:) would otherwise
// quietly become a new, empty SQLite database.
func Open(ctx context.Context, dsn string) (Store, error) {
	// Each branch returns its own nil on error: a nil *Postgres or *SQLite
	// in the Store interface would not compare equal to nil.
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		s, err := OpenPostgres(ctx, dsn)
		if err != nil {
			return nil, err
		}
		return s, nil
	case dsn == "":
		return nil, errors.New("open store: empty DSN")
	case strings.HasPrefix(dsn, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(dsn, "sqlite:"))
	case strings.Contains(dsn, "://"), hasScheme(dsn):
		return nil, fmt.Errorf("open store: unsupported DSN scheme in %q: give postgres://... or sqlite:PATH", config.RedactDSN(dsn))
	case looksLikeKeyValue(dsn):
		return nil, fmt.Errorf("open store: %q looks like a PostgreSQL key=value DSN: give it as postgres://user:password@host:5432/db, or a file named so as sqlite:PATH", config.RedactDSN(dsn))
	default:
		return openSQLite(ctx, dsn)
	}
}

func openSQLite(ctx context.Context, path string) (Store, error) {
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// hasScheme reports whether dsn starts like a URI, "name:" with a letter
// first and no '/' before the colon (file:lrs.db, postgres:...), which a
// plain file path does not.
func hasScheme(dsn string) bool {
	colon := strings.IndexByte(dsn, ':')
	if colon < 1 || !isLetter(dsn[0]) {
		return false
	}
	for i := 1; i < colon; i++ {
		c := dsn[i]
		if !isLetter(c) && !('0' <= c && c <= '9') && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// looksLikeKeyValue reports whether dsn starts with "keyword=", the form of a
// libpq connection string, or holds '=' beside white space.
func looksLikeKeyValue(dsn string) bool {
	if eq := strings.IndexByte(dsn, '='); eq > 0 {
		key := strings.TrimRight(dsn[:eq], " \t")
		word := key != ""
		for i := 0; i < len(key); i++ {
			if c := key[i]; !isLetter(c) && c != '_' {
				word = false
			}
		}
		return word || strings.ContainsAny(dsn, " \t\n")
	}
	return false
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// rows is what pgx.Rows and *sql.Rows have in common.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// scanOffsets reads (partition, next_offset) rows, for AppliedOffsets.
func scanOffsets(rs rows) (map[int32]int64, error) {
	out := map[int32]int64{}
	for rs.Next() {
		var part int32
		var next int64
		if err := rs.Scan(&part, &next); err != nil {
			return nil, fmt.Errorf("read applied offsets: %w", err)
		}
		out[part] = next
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read applied offsets: %w", err)
	}
	return out, nil
}
