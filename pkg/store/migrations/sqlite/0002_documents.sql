-- See the PostgreSQL migration: documents keyed by scope digest,
-- registration ('' when none) and id digest; canonical Activity
-- definitions keyed by the statement_keys digest of the activity. Both
-- are rowid tables: a document may be large, which WITHOUT ROWID handles
-- badly.
CREATE TABLE documents (
    scope        BLOB NOT NULL,
    registration TEXT NOT NULL,
    doc          BLOB NOT NULL,
    tenant       TEXT NOT NULL,
    kind         INTEGER NOT NULL,
    activity_id  TEXT NOT NULL,
    agent        TEXT NOT NULL,
    doc_id       TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content      BLOB NOT NULL,
    etag         TEXT NOT NULL,
    updated      INTEGER NOT NULL,
    PRIMARY KEY (scope, registration, doc)
);

CREATE TABLE activities (
    digest     BLOB PRIMARY KEY,
    tenant     TEXT NOT NULL,
    id         TEXT NOT NULL,
    definition BLOB NOT NULL,
    updated    INTEGER NOT NULL
);
