-- The conflict check of every booking write and every busy-time read look
-- a provider's bookings up by occupied range: everything after the first
-- occupied start that could still overlap (up to a fortnight of bookings,
-- MAX_OCCUPIED_SECS). With the old index each candidate cost a lookup of
-- its table row (for `occupied_end`, `status` and `id`), which was most of
-- a booking insert's time; this index carries those columns, like
-- Postgres's `bookings_busy`, so neither visits the table.
CREATE INDEX bookings_busy ON bookings (account_id, provider_id, occupied_start, occupied_end, status, id);
DROP INDEX bookings_provider_occupied;
