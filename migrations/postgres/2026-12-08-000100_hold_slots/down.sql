DROP INDEX bookings_hold_slot;
CREATE INDEX bookings_hold_key ON bookings (account_id, hold_key_id, hold_expires_at)
    WHERE status = 'held';
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check CHECK (
    status IN ('pending', 'confirmed', 'cancelled', 'completed', 'held')
    AND (status = 'held') = (hold_expires_at IS NOT NULL)
    AND (status = 'held') = (hold_key_id IS NOT NULL));
ALTER TABLE bookings DROP COLUMN hold_slot;
