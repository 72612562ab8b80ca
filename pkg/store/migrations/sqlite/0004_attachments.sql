-- Attachment bodies, content-addressed by SHA-256 within a tenant. Written
-- by ingest before the statement that references them is published, so a
-- statement is never visible without its attachments.
CREATE TABLE IF NOT EXISTS attachments (
    tenant       TEXT NOT NULL,
    sha2         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    content      BLOB NOT NULL,
    PRIMARY KEY (tenant, sha2)
) WITHOUT ROWID;
