-- Indexes that only ever find real bookings skip holds' guard rows (status
-- 'held'): a hold writes six index entries instead of ten (its primary key,
-- `bookings_account_id_key`, `bookings_no_overlap`, `bookings_busy`,
-- `bookings_held` and `bookings_hold_key`). Every query these serve spells
-- out a status predicate the planner proves the index's from, in its text
-- (never a bind parameter, which a cached generic plan cannot use):
-- the listing (`status <> 'held'`, also beside a status filter:
-- `bookings_account_seq`, `bookings_account_scheduled`), the daily cap's
-- count, the service's starts and a team's loads (`status IN ('pending',
-- 'confirmed')`: `bookings_service_day`), a team's latest bookings
-- (`status <> 'held'`: `bookings_service_provider`).
DROP INDEX bookings_account_seq;
CREATE INDEX bookings_account_seq ON bookings (account_id, seq) WHERE status <> 'held';
DROP INDEX bookings_account_scheduled;
CREATE INDEX bookings_account_scheduled ON bookings (account_id, scheduled_at)
    WHERE status <> 'held';
DROP INDEX bookings_service_day;
CREATE INDEX bookings_service_day ON bookings (account_id, service_id, scheduled_at)
    WHERE status <> 'held';
DROP INDEX bookings_service_provider;
CREATE INDEX bookings_service_provider ON bookings (account_id, service_id, provider_id, created_at)
    WHERE status <> 'held';
