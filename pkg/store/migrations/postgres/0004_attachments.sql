-- Attachment bodies, content-addressed by SHA-256 within a tenant. Written
-- by ingest before the statement that references them is published, so a
-- statement is never visible without its attachments.
CREATE TABLE IF NOT EXISTS attachments (
    tenant       text   NOT NULL,
    sha2         text   NOT NULL,
    content_type text   NOT NULL,
    content      bytea  NOT NULL,
    PRIMARY KEY (tenant, sha2)
);
