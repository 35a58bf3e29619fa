-- The limit of unexpired holds per API key, held exactly under concurrency.
-- The hold insert counted the key's live holds in its statement's snapshot,
-- so holds of one key made at the same moment (on one process or several)
-- each counted the same and could all pass the limit. A lock per key would
-- make them take turns through each one's durable commit, so one key's
-- holds would run at the disk's pace, one after another.
--
-- Instead each live hold of a key takes one of the limit's places, a number
-- in `hold_slot` (0 to the limit minus one), unique among the key's guard
-- rows: the insert picks a place no live hold of the key has in its
-- snapshot (at random, so holds made at the same moment rarely pick the
-- same) and removes the key's expired guard rows, freeing theirs. Two
-- inserts that pick the same place meet in `bookings_hold_slot`: the second
-- waits for the first's commit and, refused, tries again with a snapshot
-- that sees it. So there are never more live holds of a key than places.
-- The index also serves the per-key count, as `bookings_hold_key` did, which
-- it replaces (a hold still writes six index entries).
ALTER TABLE bookings ADD COLUMN hold_slot INTEGER;
UPDATE bookings b SET hold_slot = r.n - 1
    FROM (SELECT account_id, id, row_number() OVER (
              PARTITION BY account_id, hold_key_id ORDER BY hold_expires_at, id) AS n
          FROM bookings WHERE status = 'held') r
    WHERE b.account_id = r.account_id AND b.id = r.id;
ALTER TABLE bookings DROP CONSTRAINT bookings_status_check;
ALTER TABLE bookings ADD CONSTRAINT bookings_status_check CHECK (
    status IN ('pending', 'confirmed', 'cancelled', 'completed', 'held')
    AND (status = 'held') = (hold_expires_at IS NOT NULL)
    AND (status = 'held') = (hold_key_id IS NOT NULL)
    AND (status = 'held') = (hold_slot IS NOT NULL));
DROP INDEX bookings_hold_key;
CREATE UNIQUE INDEX bookings_hold_slot ON bookings (account_id, hold_key_id, hold_slot)
    INCLUDE (hold_expires_at) WHERE status = 'held';
