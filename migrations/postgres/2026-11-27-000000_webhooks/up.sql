-- Webhook endpoints and the outbox of deliveries.
--
-- A booking change writes its events and, in the same transaction, one
-- pending delivery per (event, enabled endpoint subscribed to the event's
-- kind). Delivery workers claim due rows with FOR UPDATE SKIP LOCKED and a
-- lease (`claimed_by`, `lease_until`): a worker that dies loses its claims
-- when the lease passes, so nothing queued is ever lost.

CREATE TABLE webhook_endpoints (
    seq                        BIGSERIAL NOT NULL PRIMARY KEY,
    id                         TEXT      NOT NULL,
    account_id                 TEXT      NOT NULL REFERENCES accounts (id),
    url                        TEXT      NOT NULL,
    -- Bit i set = subscribed to the i-th kind (created, confirmed,
    -- cancelled, rescheduled, completed).
    events                     BIGINT    NOT NULL,
    description                TEXT,
    enabled                    BOOLEAN   NOT NULL,
    -- The signing secrets must be readable to sign, so they are stored as
    -- they are; they are never logged and only shown at creation/rotation.
    secret                     TEXT      NOT NULL,
    previous_secret            TEXT,
    previous_secret_expires_at BIGINT,
    created_at                 BIGINT    NOT NULL,
    updated_at                 BIGINT    NOT NULL,
    CONSTRAINT webhook_endpoints_account_id_key UNIQUE (account_id, id)
);
CREATE INDEX webhook_endpoints_account_seq ON webhook_endpoints (account_id, seq);

CREATE TABLE webhook_deliveries (
    seq             BIGSERIAL NOT NULL PRIMARY KEY,
    id              TEXT      NOT NULL,
    account_id      TEXT      NOT NULL,
    endpoint_id     TEXT      NOT NULL,
    event_id        TEXT      NOT NULL,
    event_kind      TEXT      NOT NULL,
    state           TEXT      NOT NULL CHECK (state IN ('pending', 'succeeded', 'failed')),
    -- Attempts in the current round (redelivery starts a new round).
    round_attempts  INTEGER   NOT NULL,
    -- When the next attempt is due; NULL unless pending.
    next_attempt_at BIGINT,
    claimed_by      TEXT,
    lease_until     BIGINT,
    created_at      BIGINT    NOT NULL,
    updated_at      BIGINT    NOT NULL,
    CONSTRAINT webhook_deliveries_account_id_key UNIQUE (account_id, id),
    CONSTRAINT webhook_deliveries_once UNIQUE (account_id, endpoint_id, event_id),
    FOREIGN KEY (account_id, endpoint_id)
        REFERENCES webhook_endpoints (account_id, id) ON DELETE CASCADE,
    FOREIGN KEY (account_id, event_id) REFERENCES events (account_id, id)
);
-- What workers claim: only pending rows, earliest due first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE state = 'pending';
-- Recording attempts finds deliveries by id alone (ids are random and unique).
CREATE UNIQUE INDEX webhook_deliveries_id ON webhook_deliveries (id);
-- Purging the log of finished deliveries.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at)
    WHERE state <> 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (account_id, endpoint_id, seq);

CREATE TABLE webhook_attempts (
    seq          BIGSERIAL NOT NULL PRIMARY KEY,
    account_id   TEXT      NOT NULL,
    delivery_seq BIGINT    NOT NULL REFERENCES webhook_deliveries (seq) ON DELETE CASCADE,
    at           BIGINT    NOT NULL,
    status_code  INTEGER,
    error        TEXT,
    duration_ms  BIGINT    NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_seq, seq);

-- Automatic completion: confirmed bookings whose end has passed.
CREATE INDEX bookings_confirmed_end ON bookings (end_at) WHERE status = 'confirmed';
