CREATE INDEX bookings_provider_occupied ON bookings (account_id, provider_id, occupied_start);
DROP INDEX bookings_busy;
