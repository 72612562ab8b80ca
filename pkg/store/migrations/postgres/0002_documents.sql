-- The document resources (State, Activity Profile, Agent Profile). They are
-- written synchronously by ingest, not through the topic. A document is
-- addressed by its scope (tenant, resource kind, activity, agent), its
-- registration (State only, '' otherwise) and its id. Scope and id are
-- kept as 128-bit digests in the key so that arbitrarily long IRIs and
-- ids fit a fixed-width index; the clear values are kept beside them and
-- compared too, so that a digest collision can never return another
-- document.
CREATE TABLE documents (
    scope        uuid NOT NULL,
    registration text COLLATE "C" NOT NULL,
    doc          uuid NOT NULL,
    tenant       text COLLATE "C" NOT NULL,
    kind         smallint NOT NULL,
    activity_id  text NOT NULL,
    agent        text NOT NULL,
    doc_id       text NOT NULL,
    content_type text NOT NULL,
    content      bytea NOT NULL,
    etag         text NOT NULL,
    updated      timestamptz NOT NULL,
    PRIMARY KEY (scope, registration, doc)
);

-- The canonical definition of each Activity, merged from the statements
-- the tenant sent, by the store-writer in the transaction that writes the
-- statements. digest is the statement_keys digest of the activity key.
CREATE TABLE activities (
    digest     uuid PRIMARY KEY,
    tenant     text COLLATE "C" NOT NULL,
    id         text NOT NULL,
    definition bytea NOT NULL,
    updated    timestamptz NOT NULL
);
