DROP INDEX bookings_active_start;
DROP TABLE booking_reminders;
ALTER TABLE events DROP COLUMN reminder_offset;
ALTER TABLE services DROP COLUMN reminders;
