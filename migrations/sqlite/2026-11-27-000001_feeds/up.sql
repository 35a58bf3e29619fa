-- Private calendar feeds. A feed token is never stored: the provider row
-- keeps the SHA-256 of its current token (to find the provider from a feed
-- URL) and the token's generation, raised by each rotation; the token itself
-- is derived from a server key and the generation whenever it is shown.
ALTER TABLE providers ADD COLUMN feed_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE providers ADD COLUMN feed_token_hash TEXT;
CREATE UNIQUE INDEX providers_feed_token ON providers (feed_token_hash)
    WHERE feed_token_hash IS NOT NULL;

-- Server-wide secrets generated on first use (the feed key when
-- BOOKING_FEED_KEY is not set), shared by every instance.
CREATE TABLE server_secrets (
    name       TEXT   NOT NULL PRIMARY KEY,
    value      TEXT   NOT NULL,
    created_at INTEGER NOT NULL
);
