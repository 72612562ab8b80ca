-- The provenance of an imported statement moves into its row: a table of
-- its own cost every imported statement one more random index insert, a
-- fifth of the store-writer's time during an import (docs/performance.md).
-- source is NULL for a statement that was not imported.
ALTER TABLE statements ADD COLUMN source TEXT;
ALTER TABLE statements ADD COLUMN original_stored INTEGER;
UPDATE statements SET source = p.source, original_stored = p.original_stored
FROM statement_provenance AS p WHERE p.tenant = statements.tenant AND p.id = statements.id;
DROP TABLE statement_provenance;
