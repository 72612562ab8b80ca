-- See the SQLite migration: an imported statement's provenance moves into
-- its row (source NULL for a statement that was not imported).
ALTER TABLE statements ADD COLUMN source text, ADD COLUMN original_stored timestamptz;
UPDATE statements AS s SET source = p.source, original_stored = p.original_stored
FROM statement_provenance AS p WHERE p.tenant = s.tenant AND p.id = s.id;
DROP TABLE statement_provenance;
