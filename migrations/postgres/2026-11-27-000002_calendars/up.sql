-- External calendars whose busy time blocks a provider's availability.
--
-- Credentials are needed to call the outside APIs, so they are stored as
-- they are; the API never returns them and the server never logs them.
CREATE TABLE calendar_connections (
    seq                BIGSERIAL NOT NULL PRIMARY KEY,
    id                 TEXT      NOT NULL,
    account_id         TEXT      NOT NULL REFERENCES accounts (id),
    provider_id        TEXT      NOT NULL,
    kind               TEXT      NOT NULL CHECK (kind IN ('ics', 'google', 'outlook', 'calendly')),
    url                TEXT,
    calendar_id        TEXT,
    access_token       TEXT,
    refresh_token      TEXT,
    client_id          TEXT,
    client_secret      TEXT,
    expires_at         BIGINT,
    status             TEXT      NOT NULL CHECK (status IN ('pending', 'synced', 'error')),
    last_synced_at     BIGINT,
    last_error         TEXT,
    last_error_at      BIGINT,
    busy_blocks        BIGINT    NOT NULL,
    -- Validators of the last good ICS download (conditional GET).
    etag               TEXT,
    last_modified      TEXT,
    -- Background sync: when the last attempt started, and the claim of the
    -- process running it (several instances share the work).
    sync_attempted_at  BIGINT,
    sync_claimed_until BIGINT,
    created_at         BIGINT    NOT NULL,
    updated_at         BIGINT    NOT NULL,
    CONSTRAINT calendar_connections_account_id_key UNIQUE (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id)
);
CREATE INDEX calendar_connections_provider ON calendar_connections (account_id, provider_id, seq);
CREATE INDEX calendar_connections_due ON calendar_connections (sync_attempted_at);

-- Busy blocks of the last good sync of each connection. Blocks are stored
-- in pieces of at most one day, so a lookup around a range scans only the
-- rows starting within a day before it.
CREATE TABLE calendar_busy (
    seq         BIGSERIAL NOT NULL PRIMARY KEY,
    account_id  TEXT      NOT NULL,
    provider_id TEXT      NOT NULL,
    calendar_id TEXT      NOT NULL,
    start_at    BIGINT    NOT NULL,
    end_at      BIGINT    NOT NULL,
    CONSTRAINT calendar_busy_piece CHECK (start_at < end_at AND end_at - start_at <= 86400),
    FOREIGN KEY (account_id, calendar_id)
        REFERENCES calendar_connections (account_id, id) ON DELETE CASCADE
);
CREATE INDEX calendar_busy_provider ON calendar_busy (account_id, provider_id, start_at);
CREATE INDEX calendar_busy_calendar ON calendar_busy (account_id, calendar_id);
