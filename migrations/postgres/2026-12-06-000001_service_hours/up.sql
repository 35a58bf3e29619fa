-- Issue 14's opening hours and booking rules on services.
-- `hours` is NULL when the hours are the seed's shape (one window on each of
-- `days`, `start_min`-`end_min`) without overrides; otherwise it holds every
-- weekly window and date override as JSON
-- ({"weekly": [[[start_min, end_min], ...] x 7, Monday first],
--   "overrides": [["YYYY-MM-DD", [[start_min, end_min], ...]], ...]})
-- and `days`/`start_min`/`end_min` are only a summary.
ALTER TABLE services ADD COLUMN hours JSONB;
ALTER TABLE services ADD COLUMN slot_interval BIGINT;
ALTER TABLE services ADD COLUMN booking_horizon BIGINT;
ALTER TABLE services ADD COLUMN max_bookings_per_day BIGINT;
-- The daily cap counts a service's active bookings starting on one local day.
CREATE INDEX bookings_service_day ON bookings (account_id, service_id, scheduled_at);
