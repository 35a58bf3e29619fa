ALTER TABLE services DROP COLUMN reschedule_cutoff;
ALTER TABLE services DROP COLUMN cancel_cutoff;
ALTER TABLE events DROP COLUMN actor;
DROP INDEX bookings_link_hash;
ALTER TABLE bookings DROP COLUMN link_hash;
ALTER TABLE bookings DROP COLUMN link_salt;
