-- Bookings written into the provider's own calendar, and CalDAV.
--
-- SQLite cannot change a CHECK constraint in place, so `calendar_connections`
-- (whose kinds now include `caldav`) is rebuilt, with `calendar_busy`, its
-- only child: the new tables are filled and the old ones dropped child first,
-- then renamed (renaming rewrites the child's foreign key to the new name), so
-- no cascade ever runs and every row and `seq` is kept.
CREATE TABLE calendar_connections_new (
    seq                INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    id                 TEXT      NOT NULL,
    account_id         TEXT      NOT NULL REFERENCES accounts (id),
    provider_id        TEXT      NOT NULL,
    kind               TEXT      NOT NULL
        CHECK (kind IN ('ics', 'google', 'outlook', 'calendly', 'caldav')),
    url                TEXT,
    calendar_id        TEXT,
    access_token       TEXT,
    refresh_token      TEXT,
    client_id          TEXT,
    client_secret      TEXT,
    expires_at         INTEGER,
    status             TEXT      NOT NULL CHECK (status IN ('pending', 'synced', 'error')),
    last_synced_at     INTEGER,
    last_error         TEXT,
    last_error_at      INTEGER,
    busy_blocks        INTEGER    NOT NULL,
    etag               TEXT,
    last_modified      TEXT,
    sync_attempted_at  INTEGER,
    sync_claimed_until INTEGER,
    created_at         INTEGER    NOT NULL,
    updated_at         INTEGER    NOT NULL,
    -- Write bookings into this calendar.
    write              BOOLEAN    NOT NULL DEFAULT 0,
    -- CalDAV account (sealed like the other credentials).
    username           TEXT,
    password           TEXT,
    last_write_error    TEXT,
    last_write_error_at INTEGER,
    UNIQUE (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id)
);
INSERT INTO calendar_connections_new (seq, id, account_id, provider_id, kind, url, calendar_id,
    access_token, refresh_token, client_id, client_secret, expires_at, status, last_synced_at,
    last_error, last_error_at, busy_blocks, etag, last_modified, sync_attempted_at,
    sync_claimed_until, created_at, updated_at)
SELECT seq, id, account_id, provider_id, kind, url, calendar_id,
    access_token, refresh_token, client_id, client_secret, expires_at, status, last_synced_at,
    last_error, last_error_at, busy_blocks, etag, last_modified, sync_attempted_at,
    sync_claimed_until, created_at, updated_at
FROM calendar_connections;

CREATE TABLE calendar_busy_new (
    seq         INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    account_id  TEXT      NOT NULL,
    provider_id TEXT      NOT NULL,
    calendar_id TEXT      NOT NULL,
    start_at    INTEGER    NOT NULL,
    end_at      INTEGER    NOT NULL,
    CONSTRAINT calendar_busy_piece CHECK (start_at < end_at AND end_at - start_at <= 86400),
    FOREIGN KEY (account_id, calendar_id)
        REFERENCES calendar_connections_new (account_id, id) ON DELETE CASCADE
);
INSERT INTO calendar_busy_new (seq, account_id, provider_id, calendar_id, start_at, end_at)
SELECT seq, account_id, provider_id, calendar_id, start_at, end_at FROM calendar_busy;

DROP TABLE calendar_busy;
DROP TABLE calendar_connections;
ALTER TABLE calendar_connections_new RENAME TO calendar_connections;
ALTER TABLE calendar_busy_new RENAME TO calendar_busy;
CREATE INDEX calendar_connections_provider ON calendar_connections (account_id, provider_id, seq);
CREATE INDEX calendar_connections_due ON calendar_connections (sync_attempted_at);
CREATE INDEX calendar_connections_writers ON calendar_connections (account_id, provider_id)
    WHERE write;
CREATE INDEX calendar_busy_provider ON calendar_busy (account_id, provider_id, start_at);
CREATE INDEX calendar_busy_calendar ON calendar_busy (account_id, calendar_id);

-- The write outbox: one row per (writing connection, booking). Queuing
-- (in the booking's own transaction) sets `next_attempt_at` and raises
-- `version`; the worker claims due rows with a lease, writes the booking's
-- state at that moment, and clears `next_attempt_at` only if `version` is
-- still the one it claimed. `remote_id` is the provider's event id where the
-- provider chooses it (Outlook), `remote_etag` the CalDAV resource's ETag,
-- `written` whether the event exists in the calendar.
CREATE TABLE calendar_writes (
    seq             INTEGER   NOT NULL PRIMARY KEY AUTOINCREMENT,
    account_id      TEXT      NOT NULL,
    calendar_id     TEXT      NOT NULL,
    booking_id      TEXT      NOT NULL,
    version         INTEGER   NOT NULL DEFAULT 1,
    attempts        INTEGER   NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    lease_until     INTEGER,
    written         BOOLEAN   NOT NULL DEFAULT 0,
    remote_id       TEXT,
    remote_etag     TEXT,
    last_error      TEXT,
    created_at      INTEGER   NOT NULL,
    updated_at      INTEGER   NOT NULL,
    UNIQUE (account_id, calendar_id, booking_id),
    FOREIGN KEY (account_id, calendar_id)
        REFERENCES calendar_connections (account_id, id) ON DELETE CASCADE
);
CREATE INDEX calendar_writes_due ON calendar_writes (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
