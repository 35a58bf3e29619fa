DROP TABLE calendar_writes;
DROP INDEX calendar_connections_writers;
DELETE FROM calendar_connections WHERE kind = 'caldav';
ALTER TABLE calendar_connections DROP COLUMN last_write_error_at;
ALTER TABLE calendar_connections DROP COLUMN last_write_error;
ALTER TABLE calendar_connections DROP COLUMN password;
ALTER TABLE calendar_connections DROP COLUMN username;
ALTER TABLE calendar_connections DROP COLUMN write;
ALTER TABLE calendar_connections DROP CONSTRAINT calendar_connections_kind_check;
ALTER TABLE calendar_connections ADD CONSTRAINT calendar_connections_kind_check
    CHECK (kind IN ('ics', 'google', 'outlook', 'calendly'));
