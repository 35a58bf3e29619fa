-- Holds (api.md, "Holds"): a short reservation of a time. A hold occupies
-- what the booking it stands for would (appointment plus the service's
-- buffers, unix seconds) until `expires_at`; an expired row blocks nothing
-- (every check compares `expires_at` with the clock), and is removed when a
-- write meets it. The writer checks holds against bookings and each other.
CREATE TABLE holds (
    seq            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL,
    account_id     TEXT    NOT NULL REFERENCES accounts (id),
    key_id         TEXT    NOT NULL,
    service_id     TEXT    NOT NULL,
    provider_id    TEXT    NOT NULL,
    scheduled_at   INTEGER NOT NULL,
    duration_min   INTEGER NOT NULL,
    buffer_before  INTEGER NOT NULL,
    buffer_after   INTEGER NOT NULL,
    occupied_start INTEGER NOT NULL,
    occupied_end   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (account_id, id),
    -- Bounded like a booking's, so lookups by occupied start stay bounded.
    CHECK (occupied_start < occupied_end AND occupied_end - occupied_start <= 1296000),
    FOREIGN KEY (account_id, service_id) REFERENCES services (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id)
);
-- Conflict checks and busy time: the provider's holds near a range.
CREATE INDEX holds_provider ON holds (account_id, provider_id, occupied_start);
-- The per-key limit counts a key's unexpired holds.
CREATE INDEX holds_key ON holds (account_id, key_id, expires_at);
