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
INSERT INTO holds (id, account_id, key_id, service_id, provider_id, scheduled_at, duration_min,
    buffer_before, buffer_after, occupied_start, occupied_end, expires_at, created_at)
SELECT id, account_id, hold_key_id, service_id, provider_id, scheduled_at, duration_min,
    buffer_before, buffer_after, occupied_start, occupied_end, hold_expires_at, created_at
FROM bookings WHERE status = 'held'
ORDER BY seq;
DROP INDEX bookings_hold_key;
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check CHECK (
    status IN ('pending', 'confirmed', 'cancelled', 'completed', 'held')
    AND (status = 'held') = (hold_expires_at IS NOT NULL));
ALTER TABLE bookings DROP COLUMN hold_key_id;
