//! Which bookings a provider's feed holds.
//!
//! A feed is polled every few minutes by every subscriber, so it must stay
//! small however long the provider's history grows: it covers bookings that
//! ended at most [`FEED_HISTORY`] ago and everything after that, including
//! all future bookings. Completed bookings stay like any other (a calendar
//! keeps past appointments). Cancelled ones stay for [`CANCELLED_RETENTION`]
//! after their cancellation, shown as `STATUS:CANCELLED`, so that a
//! subscribed client learns of the cancellation instead of seeing the event
//! silently vanish (which some clients treat differently, or not at all);
//! then they drop out.
//!
//! Days are 24 hours: all instants are UTC.

use booking_domain::{Booking, BookingStatus};
use jiff::{SignedDuration, Timestamp};

/// How far back the feed reaches, measured by booking end: 90 days.
pub const FEED_HISTORY: SignedDuration = SignedDuration::from_hours(90 * 24);

/// How long a cancelled booking stays in the feed after its cancellation:
/// 30 days.
pub const CANCELLED_RETENTION: SignedDuration = SignedDuration::from_hours(30 * 24);

/// The earliest end a booking in the feed at `now` may have: `now - 90 days`.
///
/// A store selects candidates with `scheduled_at >= feed_window_start(now) -
/// longest duration` (the start column is the indexed one; a booking ending
/// after the window start cannot start earlier than that), then keeps those
/// for which [`in_feed`] holds.
pub fn feed_window_start(now: Timestamp) -> Timestamp {
    now.checked_sub(FEED_HISTORY).unwrap_or(Timestamp::MIN)
}

/// Whether `booking` belongs in its provider's feed at `now`.
///
/// - It must end at or after [`feed_window_start`]`(now)`; every future
///   booking does.
/// - A cancelled booking must also have been cancelled less than
///   [`CANCELLED_RETENTION`] ago. The cancellation instant is its
///   `updated_at`: a cancelled booking cannot change any more, so its last
///   change is the cancellation.
pub fn in_feed(booking: &Booking, now: Timestamp) -> bool {
    if booking.end_at() < feed_window_start(now) {
        return false;
    }
    match booking.status {
        BookingStatus::Cancelled => {
            let dropped_at = booking
                .updated_at
                .checked_add(CANCELLED_RETENTION)
                .unwrap_or(Timestamp::MAX);
            now < dropped_at
        }
        BookingStatus::Pending | BookingStatus::Confirmed | BookingStatus::Completed => true,
    }
}
