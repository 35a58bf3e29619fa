-- A hold is one row on Postgres: its guard row in `bookings` (status
-- 'held', see 2026-12-07-000200_holds), which already held everything a
-- hold is (service, provider, start, duration, buffers, occupied range,
-- `hold_expires_at`, `created_at`) but the API key that made it. The
-- `holds` table doubled every hold's write (a heap row, four index entries,
-- a sequence value and three foreign-key checks beside the guard row) and
-- the conversion's delete (issue 16: a hold and its booking should cost at
-- most two plain bookings); it goes. SQLite keeps its `holds` table (its writer
-- checks holds itself and has no guard rows).
--
-- `hold_key_id`: the key that made a hold (NULL for every other row).
-- Readers of holds (`get_hold`, `delete_hold`, the per-key count, the
-- busy-time read) read the guard rows: `bookings_held` (by provider and
-- occupied start, which the purge of expired guard rows uses too) and
-- `bookings_hold_key` (the key's holds by expiry, for the limit of 100
-- unexpired holds per key). An expired guard row stays until a write near
-- it purges it, as before; every reader compares `hold_expires_at` with the
-- clock, so it blocks nothing meanwhile.
ALTER TABLE bookings ADD COLUMN hold_key_id TEXT;
UPDATE bookings b SET hold_key_id = h.key_id
    FROM holds h
    WHERE b.status = 'held' AND h.account_id = b.account_id AND h.id = b.id;
-- A guard row without its `holds` row is not a hold any reader knew of.
DELETE FROM bookings WHERE status = 'held' AND hold_key_id IS NULL;
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check CHECK (
    status IN ('pending', 'confirmed', 'cancelled', 'completed', 'held')
    AND (status = 'held') = (hold_expires_at IS NOT NULL)
    AND (status = 'held') = (hold_key_id IS NOT NULL));
CREATE INDEX bookings_hold_key ON bookings (account_id, hold_key_id, hold_expires_at)
    WHERE status = 'held';
DROP TABLE holds;
