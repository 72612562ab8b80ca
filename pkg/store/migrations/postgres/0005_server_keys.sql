-- Keys the servers share through the store, created on first use: the
-- HMAC key that signs the `more` cursors of statement listings, so that
-- every ingest instance accepts the cursors of the others.
CREATE TABLE IF NOT EXISTS server_keys (
    name  TEXT NOT NULL PRIMARY KEY,
    value bytea NOT NULL
);
