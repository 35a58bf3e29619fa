-- Bookings written into the provider's own calendar, and CalDAV.
--
-- A connection with `write` gets the provider's active bookings as events.
-- CalDAV connections keep their collection URL in `url` and their account in
-- `username`/`password` (both sealed like the other credentials).
ALTER TABLE calendar_connections DROP CONSTRAINT calendar_connections_kind_check;
ALTER TABLE calendar_connections ADD CONSTRAINT calendar_connections_kind_check
    CHECK (kind IN ('ics', 'google', 'outlook', 'calendly', 'caldav'));
ALTER TABLE calendar_connections ADD COLUMN write BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE calendar_connections ADD COLUMN username TEXT;
ALTER TABLE calendar_connections ADD COLUMN password TEXT;
ALTER TABLE calendar_connections ADD COLUMN last_write_error TEXT;
ALTER TABLE calendar_connections ADD COLUMN last_write_error_at BIGINT;
-- The booking insert finds the provider's writing connections through it.
CREATE INDEX calendar_connections_writers ON calendar_connections (account_id, provider_id)
    WHERE write;

-- The write outbox: one row per (writing connection, booking). Queuing
-- (in the booking's own transaction) sets `next_attempt_at` and raises
-- `version`; the worker claims due rows with a lease, writes the booking's
-- state at that moment, and clears `next_attempt_at` only if `version` is
-- still the one it claimed. `remote_id` is the provider's event id where the
-- provider chooses it (Outlook), `remote_etag` the CalDAV resource's ETag,
-- `written` whether the event exists in the calendar.
CREATE TABLE calendar_writes (
    seq             BIGSERIAL NOT NULL PRIMARY KEY,
    account_id      TEXT      NOT NULL,
    calendar_id     TEXT      NOT NULL,
    booking_id      TEXT      NOT NULL,
    version         BIGINT    NOT NULL DEFAULT 1,
    attempts        INTEGER   NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    lease_until     BIGINT,
    written         BOOLEAN   NOT NULL DEFAULT false,
    remote_id       TEXT,
    remote_etag     TEXT,
    last_error      TEXT,
    created_at      BIGINT    NOT NULL,
    updated_at      BIGINT    NOT NULL,
    CONSTRAINT calendar_writes_booking UNIQUE (account_id, calendar_id, booking_id),
    FOREIGN KEY (account_id, calendar_id)
        REFERENCES calendar_connections (account_id, id) ON DELETE CASCADE
);
CREATE INDEX calendar_writes_due ON calendar_writes (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
