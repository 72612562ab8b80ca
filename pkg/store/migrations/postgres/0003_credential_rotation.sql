-- Rotation with a grace period (the replaced secret's hash stays valid until
-- previous_until) and an optional per-credential rate limit in requests per
-- second (0: none).
ALTER TABLE credentials
    ADD COLUMN previous_secret_hash text NOT NULL DEFAULT '',
    ADD COLUMN previous_until timestamptz,
    ADD COLUMN rate_limit integer NOT NULL DEFAULT 0 CHECK (rate_limit >= 0);
