-- The statements that sent an attachment's body as a part although the
-- attachment names a fileUrl: they proved they hold the content, so a GET
-- with attachments=true serves it to them (and only to them: a fileUrl
-- attachment may name any hash, and serving the tenant's body of it to
-- every statement naming it would hand out others' attachments).
CREATE TABLE IF NOT EXISTS attachment_grants (
    tenant       TEXT NOT NULL,
    statement_id TEXT NOT NULL,
    sha2         TEXT NOT NULL,
    PRIMARY KEY (tenant, statement_id, sha2)
);
