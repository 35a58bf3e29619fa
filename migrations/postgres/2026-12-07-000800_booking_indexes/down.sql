DROP INDEX bookings_account_seq;
CREATE INDEX bookings_account_seq ON bookings (account_id, seq);
DROP INDEX bookings_account_scheduled;
CREATE INDEX bookings_account_scheduled ON bookings (account_id, scheduled_at);
DROP INDEX bookings_service_day;
CREATE INDEX bookings_service_day ON bookings (account_id, service_id, scheduled_at);
DROP INDEX bookings_service_provider;
CREATE INDEX bookings_service_provider ON bookings (account_id, service_id, provider_id, created_at);
