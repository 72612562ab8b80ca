-- Rotation with a grace period (the replaced secret's hash stays valid until
-- previous_until, unix microseconds) and an optional per-credential rate
-- limit in requests per second (0: none).
ALTER TABLE credentials ADD COLUMN previous_secret_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN previous_until INTEGER;
ALTER TABLE credentials ADD COLUMN rate_limit INTEGER NOT NULL DEFAULT 0;
