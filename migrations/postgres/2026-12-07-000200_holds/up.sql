-- Holds (api.md, "Holds"): a short reservation of a time. A hold occupies
-- what the booking it stands for would (appointment plus the service's
-- buffers, unix seconds) until `expires_at`; an expired hold blocks nothing
-- (every read compares `expires_at` with the clock).
CREATE TABLE holds (
    seq            BIGSERIAL NOT NULL PRIMARY KEY,
    id             TEXT      NOT NULL,
    account_id     TEXT      NOT NULL REFERENCES accounts (id),
    key_id         TEXT      NOT NULL,
    service_id     TEXT      NOT NULL,
    provider_id    TEXT      NOT NULL,
    scheduled_at   BIGINT    NOT NULL,
    duration_min   BIGINT    NOT NULL,
    buffer_before  BIGINT    NOT NULL,
    buffer_after   BIGINT    NOT NULL,
    occupied_start BIGINT    NOT NULL,
    occupied_end   BIGINT    NOT NULL,
    expires_at     BIGINT    NOT NULL,
    created_at     BIGINT    NOT NULL,
    CONSTRAINT holds_account_id_key UNIQUE (account_id, id),
    CONSTRAINT holds_occupied_length
        CHECK (occupied_start < occupied_end AND occupied_end - occupied_start <= 1296000),
    FOREIGN KEY (account_id, service_id) REFERENCES services (account_id, id),
    FOREIGN KEY (account_id, provider_id) REFERENCES providers (account_id, id)
);
CREATE INDEX holds_provider ON holds (account_id, provider_id, occupied_start);
CREATE INDEX holds_key ON holds (account_id, key_id, expires_at);

-- THE conflict guard must cover holds too, across processes: an exclusion
-- constraint only sees its own table, so each hold also has a guard row in
-- `bookings` (same id, status 'held', the hold's occupied range, its expiry
-- in `hold_expires_at`) that `bookings_no_overlap` keeps apart from active
-- bookings and other holds. Holds are read from `holds`; no booking read
-- sees a 'held' row (they filter on the active statuses or exclude it).
-- (Since 2026-12-07-000700_hold_rows the guard row is the hold's only row
-- on Postgres, with its key in `hold_key_id`, and `holds` is gone.)
-- Because the constraint cannot know the time, an expired guard row would
-- still block: every write that could meet one (a booking insert, a move, a
-- hold) first deletes the provider's expired guard rows overlapping its
-- range, in the same statement or transaction (see postgres/bookings.rs).
ALTER TABLE bookings ADD COLUMN hold_expires_at BIGINT;
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check CHECK (
    status IN ('pending', 'confirmed', 'cancelled', 'completed', 'held')
    AND (status = 'held') = (hold_expires_at IS NOT NULL));
ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    account_id WITH =,
    provider_id WITH =,
    int8range(occupied_start, occupied_end, '[)') WITH &&
) WHERE (status IN ('pending', 'confirmed', 'held'));
-- The purge of expired guard rows near a range: only 'held' rows, so a
-- booking insert that meets none costs one probe of an almost empty index.
CREATE INDEX bookings_held ON bookings (account_id, provider_id, occupied_start)
    WHERE status = 'held';
