-- Issue 16's customer links. A booking's link token is derived from the
-- server key and `link_salt` (128+ random bits); only the token's SHA-256
-- (`link_hash`) is stored, indexed to find the booking a link opens. NULL
-- for bookings made before links existed (they have no link). The index is
-- not unique: like every unique index it would have to include
-- `account_id`, which a link does not carry; SHA-256 of distinct random
-- tokens never collide in practice.
ALTER TABLE bookings ADD COLUMN link_salt TEXT;
ALTER TABLE bookings ADD COLUMN link_hash TEXT;
CREATE INDEX bookings_link_hash ON bookings (link_hash) WHERE link_hash IS NOT NULL;
-- Who caused each event: 'api', 'customer' (through the link) or 'system'
-- (automatic completion). Earlier events are recorded as 'api'.
ALTER TABLE events ADD COLUMN actor TEXT NOT NULL DEFAULT 'api';
-- Minutes before the start after which the customer's link may no longer
-- cancel or reschedule.
ALTER TABLE services ADD COLUMN cancel_cutoff INTEGER NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN reschedule_cutoff INTEGER NOT NULL DEFAULT 0;
