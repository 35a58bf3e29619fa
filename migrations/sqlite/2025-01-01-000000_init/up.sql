-- Initial schema of the embedded SQLite store.
--
-- Instants are INTEGER unix seconds (UTC); money is integer minor units with
-- an ISO 4217 code. Every tenant-owned table carries account_id, every
-- unique constraint includes it, and every query filters by it. `seq` is the
-- stable paging position (creation order).

CREATE TABLE accounts (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT    NOT NULL PRIMARY KEY,
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    lookup     TEXT    NOT NULL,
    hash       TEXT    NOT NULL,
    revoked_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX api_keys_lookup ON api_keys (lookup);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE providers (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL,
    account_id TEXT    NOT NULL REFERENCES accounts (id),
    name       TEXT    NOT NULL,
    email      TEXT,
    is_default INTEGER NOT NULL CHECK (is_default IN (0, 1)),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (account_id, id)
);
CREATE INDEX providers_account_seq ON providers (account_id, seq);
CREATE INDEX providers_account_default ON providers (account_id, is_default, seq);

CREATE TABLE services (
    seq            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL,
    account_id     TEXT    NOT NULL REFERENCES accounts (id),
    provider_id    TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    description    TEXT,
    duration_min   INTEGER NOT NULL,
    price_minor    INTEGER NOT NULL,
    currency       TEXT    NOT NULL,
    price_type     TEXT    NOT NULL,
    -- Bit i set = open on weekday i (Monday = 0 … Sunday = 6).
    days           INTEGER NOT NULL,
    -- Wall-clock window in minutes after midnight, end may be 1440.
    start_min      INTEGER NOT NULL,
    end_min        INTEGER NOT NULL,
    timezone       TEXT    NOT NULL,
    buffer_before  INTEGER NOT NULL,
    buffer_after   INTEGER NOT NULL,
    minimum_notice INTEGER NOT NULL,
    auto_confirm   INTEGER NOT NULL CHECK (auto_confirm IN (0, 1)),
    archived       INTEGER NOT NULL CHECK (archived IN (0, 1)),
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id)
);
CREATE INDEX services_account_seq ON services (account_id, archived, seq);

CREATE TABLE bookings (
    seq            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL,
    account_id     TEXT    NOT NULL REFERENCES accounts (id),
    service_id     TEXT    NOT NULL,
    provider_id    TEXT    NOT NULL,
    duration_min   INTEGER NOT NULL,
    scheduled_at   INTEGER NOT NULL,
    end_at         INTEGER NOT NULL,
    -- [scheduled_at - buffer_before, end_at + buffer_after): what conflicts.
    occupied_start INTEGER NOT NULL,
    occupied_end   INTEGER NOT NULL,
    buffer_before  INTEGER NOT NULL,
    buffer_after   INTEGER NOT NULL,
    status         TEXT    NOT NULL
                   CHECK (status IN ('pending', 'confirmed', 'cancelled', 'completed')),
    customer_email TEXT    NOT NULL,
    customer_name  TEXT    NOT NULL,
    price_minor    INTEGER NOT NULL,
    currency       TEXT    NOT NULL,
    notes          TEXT,
    -- JSON object of string values.
    metadata       TEXT    NOT NULL,
    cancel_reason  TEXT,
    sequence       INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    UNIQUE (account_id, id),
    -- Conflict scans are bounded by the longest possible occupied range
    -- (1440 + 2 * 10080 minutes); the store relies on this.
    CHECK (occupied_start < occupied_end AND occupied_end - occupied_start <= 1296000),
    FOREIGN KEY (account_id, service_id) REFERENCES services (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id)
);
-- Conflict checks and busy times: the provider's rows near a range.
CREATE INDEX bookings_provider_occupied ON bookings (account_id, provider_id, occupied_start);
CREATE INDEX bookings_account_seq ON bookings (account_id, seq);
CREATE INDEX bookings_account_scheduled ON bookings (account_id, scheduled_at);

CREATE TABLE events (
    seq                   INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id                    TEXT    NOT NULL,
    account_id            TEXT    NOT NULL REFERENCES accounts (id),
    booking_id            TEXT    NOT NULL,
    kind                  TEXT    NOT NULL,
    previous_scheduled_at INTEGER,
    created_at            INTEGER NOT NULL,
    -- JSON snapshot of the booking right after the change.
    booking               TEXT    NOT NULL,
    UNIQUE (account_id, id),
    FOREIGN KEY (account_id, booking_id) REFERENCES bookings (account_id, id)
);
CREATE INDEX events_booking ON events (account_id, booking_id, seq);

CREATE TABLE idempotency_keys (
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    "key"        TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    -- NULL while the first request is being processed.
    status       INTEGER,
    body         BLOB,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (account_id, "key")
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
