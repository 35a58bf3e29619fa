-- Initial schema of the production Postgres store.
--
-- Same tables and meaning as migrations/sqlite: instants are BIGINT unix
-- seconds (UTC); money is integer minor units with an ISO 4217 code. Every
-- tenant-owned table carries account_id, every unique and exclusion
-- constraint includes it, and every query filters by it (so the schema can
-- be distributed by account_id). `seq` is the stable paging position
-- (creation order).

-- Lets the booking exclusion constraint mix `=` on text with `&&` on ranges.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE accounts (
    id         TEXT   NOT NULL PRIMARY KEY,
    name       TEXT   NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id         TEXT   NOT NULL PRIMARY KEY,
    account_id TEXT   NOT NULL REFERENCES accounts (id),
    lookup     TEXT   NOT NULL,
    hash       TEXT   NOT NULL,
    revoked_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX api_keys_lookup ON api_keys (lookup);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE providers (
    seq        BIGSERIAL NOT NULL PRIMARY KEY,
    id         TEXT      NOT NULL,
    account_id TEXT      NOT NULL REFERENCES accounts (id),
    name       TEXT      NOT NULL,
    email      TEXT,
    is_default BOOLEAN   NOT NULL,
    created_at BIGINT    NOT NULL,
    updated_at BIGINT    NOT NULL,
    CONSTRAINT providers_account_id_key UNIQUE (account_id, id)
);
CREATE INDEX providers_account_seq ON providers (account_id, seq);
CREATE INDEX providers_account_default ON providers (account_id, is_default, seq);

CREATE TABLE services (
    seq            BIGSERIAL NOT NULL PRIMARY KEY,
    id             TEXT      NOT NULL,
    account_id     TEXT      NOT NULL REFERENCES accounts (id),
    provider_id    TEXT      NOT NULL,
    name           TEXT      NOT NULL,
    description    TEXT,
    duration_min   BIGINT    NOT NULL,
    price_minor    BIGINT    NOT NULL,
    currency       TEXT      NOT NULL,
    price_type     TEXT      NOT NULL,
    -- Bit i set = open on weekday i (Monday = 0 … Sunday = 6).
    days           BIGINT    NOT NULL,
    -- Wall-clock window in minutes after midnight, end may be 1440.
    start_min      BIGINT    NOT NULL,
    end_min        BIGINT    NOT NULL,
    timezone       TEXT      NOT NULL,
    buffer_before  BIGINT    NOT NULL,
    buffer_after   BIGINT    NOT NULL,
    minimum_notice BIGINT    NOT NULL,
    auto_confirm   BOOLEAN   NOT NULL,
    archived       BOOLEAN   NOT NULL,
    created_at     BIGINT    NOT NULL,
    updated_at     BIGINT    NOT NULL,
    CONSTRAINT services_account_id_key UNIQUE (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id)
);
CREATE INDEX services_account_seq ON services (account_id, archived, seq);

CREATE TABLE bookings (
    seq            BIGSERIAL NOT NULL PRIMARY KEY,
    id             TEXT      NOT NULL,
    account_id     TEXT      NOT NULL REFERENCES accounts (id),
    service_id     TEXT      NOT NULL,
    provider_id    TEXT      NOT NULL,
    duration_min   BIGINT    NOT NULL,
    scheduled_at   BIGINT    NOT NULL,
    end_at         BIGINT    NOT NULL,
    -- [scheduled_at - buffer_before, end_at + buffer_after): what conflicts.
    occupied_start BIGINT    NOT NULL,
    occupied_end   BIGINT    NOT NULL,
    buffer_before  BIGINT    NOT NULL,
    buffer_after   BIGINT    NOT NULL,
    status         TEXT      NOT NULL
                   CHECK (status IN ('pending', 'confirmed', 'cancelled', 'completed')),
    customer_email TEXT      NOT NULL,
    customer_name  TEXT      NOT NULL,
    price_minor    BIGINT    NOT NULL,
    currency       TEXT      NOT NULL,
    notes          TEXT,
    -- JSON object of string values.
    metadata       JSONB     NOT NULL,
    cancel_reason  TEXT,
    sequence       BIGINT    NOT NULL,
    created_at     BIGINT    NOT NULL,
    updated_at     BIGINT    NOT NULL,
    CONSTRAINT bookings_account_id_key UNIQUE (account_id, id),
    -- Busy-time scans are bounded by the longest possible occupied range
    -- (1440 + 2 * 10080 minutes); the store relies on this.
    CONSTRAINT bookings_occupied_length
        CHECK (occupied_start < occupied_end AND occupied_end - occupied_start <= 1296000),
    FOREIGN KEY (account_id, service_id) REFERENCES services (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id),
    -- THE conflict guard: no two active bookings of one provider may occupy
    -- overlapping time. The store inserts and updates without checking first
    -- and maps the violation (SQLSTATE 23P01 on this constraint name) to the
    -- domain's conflict error, so it holds across any number of server
    -- instances. The range is int8range over unix seconds rather than
    -- tstzrange because the codebase stores every instant as integer seconds;
    -- '[)' makes adjacent bookings (end == start) compatible.
    CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
        account_id WITH =,
        provider_id WITH =,
        int8range(occupied_start, occupied_end, '[)') WITH &&
    ) WHERE (status IN ('pending', 'confirmed'))
);
-- Busy times: the provider's rows near a range (a bounded scan, see the
-- length check above).
-- Covering, so busy-time reads are index-only scans. Not partial on the
-- active statuses on purpose: the query's status filter is a bind parameter,
-- and a cached (generic) plan cannot prove a partial index's predicate from
-- one, so it fell back to scanning every booking of the account.
CREATE INDEX bookings_busy ON bookings (account_id, provider_id, occupied_start)
    INCLUDE (occupied_end, status, id);
CREATE INDEX bookings_account_seq ON bookings (account_id, seq);
CREATE INDEX bookings_account_scheduled ON bookings (account_id, scheduled_at);

CREATE TABLE events (
    seq                   BIGSERIAL NOT NULL PRIMARY KEY,
    id                    TEXT      NOT NULL,
    account_id            TEXT      NOT NULL REFERENCES accounts (id),
    booking_id            TEXT      NOT NULL,
    kind                  TEXT      NOT NULL,
    previous_scheduled_at BIGINT,
    created_at            BIGINT    NOT NULL,
    -- JSON snapshot of the booking right after the change (the same shape
    -- as the SQLite store's, so the webhooks worker reads both).
    booking               JSONB     NOT NULL,
    CONSTRAINT events_account_id_key UNIQUE (account_id, id),
    FOREIGN KEY (account_id, booking_id) REFERENCES bookings (account_id, id)
);
CREATE INDEX events_booking ON events (account_id, booking_id, seq);

CREATE TABLE idempotency_keys (
    account_id   TEXT    NOT NULL REFERENCES accounts (id),
    "key"        TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    -- NULL while the first request is being processed.
    status       INTEGER,
    body         BYTEA,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (account_id, "key")
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Rate limits shared by every server instance: one GCRA state per (key,
-- limit). `tat` is the theoretical arrival time in microseconds of the
-- database clock. The key is opaque (an API key id), not tenant data.
CREATE TABLE rate_limits (
    "key"   TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    tat     BIGINT  NOT NULL,
    -- Whether the last request was allowed (returned by the upsert).
    allowed BOOLEAN NOT NULL,
    -- The latest "now" any request of this row used (µs). Requests read the
    -- clock before they queue on the row lock, so a later one can carry an
    -- earlier clock; taking the maximum keeps time monotonic per row.
    seen    BIGINT  NOT NULL,
    PRIMARY KEY ("key", name)
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
