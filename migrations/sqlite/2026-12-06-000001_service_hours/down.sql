DROP INDEX bookings_service_day;
ALTER TABLE services DROP COLUMN max_bookings_per_day;
ALTER TABLE services DROP COLUMN booking_horizon;
ALTER TABLE services DROP COLUMN slot_interval;
ALTER TABLE services DROP COLUMN hours;
