DROP INDEX bookings_held;
DELETE FROM bookings WHERE status = 'held';
ALTER TABLE bookings DROP CONSTRAINT bookings_no_overlap;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    account_id WITH =,
    provider_id WITH =,
    int8range(occupied_start, occupied_end, '[)') WITH &&
) WHERE (status IN ('pending', 'confirmed'));
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check
    CHECK (status IN ('pending', 'confirmed', 'cancelled', 'completed'));
ALTER TABLE bookings DROP COLUMN hold_expires_at;
DROP TABLE holds;
