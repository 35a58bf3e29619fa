DROP TABLE server_secrets;
DROP INDEX providers_feed_token;
ALTER TABLE providers DROP COLUMN feed_token_hash;
ALTER TABLE providers DROP COLUMN feed_generation;
