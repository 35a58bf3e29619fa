-- Issue 16's reminders. A service's offsets (minutes before the start),
-- comma-separated ascending; '' for none.
ALTER TABLE services ADD COLUMN reminders TEXT NOT NULL DEFAULT '';
-- `booking.reminder` events carry the offset that was reached.
ALTER TABLE events ADD COLUMN reminder_offset BIGINT;
-- One row per reminder sent: the unique key is what makes it exactly once
-- across instances (the row, the event and its deliveries commit together;
-- a second sender's insert finds the key and sends nothing). The start is
-- part of the key, so a rescheduled booking's reminders are due again.
CREATE TABLE booking_reminders (
    account_id   TEXT   NOT NULL,
    booking_id   TEXT   NOT NULL,
    offset_min   BIGINT NOT NULL,
    scheduled_at BIGINT NOT NULL,
    event_id     TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, booking_id, offset_min, scheduled_at)
);
-- The reminder round scans active bookings starting in the next 30 days.
CREATE INDEX bookings_active_start ON bookings (scheduled_at)
    WHERE status IN ('pending', 'confirmed');
