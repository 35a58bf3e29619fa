//! Reminders: `booking.reminder` at each of a service's offsets before an
//! active booking's start.

use jiff::{SignedDuration, Timestamp};

use crate::{Booking, Minutes};

/// How far ahead the reminder round looks: the largest offset (30 days).
pub const REMINDER_WINDOW: SignedDuration = SignedDuration::from_secs(43_200 * 60);

/// The offsets of `offsets` whose reminder is due for `booking` at `now`:
/// the booking is active and has not started (`now < scheduled_at`), the
/// reminder's time (`scheduled_at - offset`) has come, and that time is not
/// before the booking got its current start. That instant is `created_at`
/// for a booking never rescheduled (`sequence` 0) and `updated_at` (the
/// last change, at or after the last move) for one rescheduled: reminders
/// whose time had already passed when the booking was made or moved are
/// never sent.
pub fn due_offsets(booking: &Booking, offsets: &[Minutes], now: Timestamp) -> Vec<Minutes> {
    if !booking.status.is_active() || now >= booking.scheduled_at {
        return Vec::new();
    }
    let since = if booking.sequence == 0 {
        booking.created_at
    } else {
        booking.updated_at
    };
    offsets
        .iter()
        .copied()
        .filter(|offset| {
            let at = booking
                .scheduled_at
                .checked_sub(SignedDuration::from_mins(i64::from(offset.get())));
            at.is_ok_and(|at| at <= now && at >= since)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        AccountId, BookingId, BookingStatus, Customer, Email, Metadata, Money, ProviderId,
        ServiceId,
    };

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn booking(created: &str, start: &str) -> Booking {
        Booking {
            id: BookingId::from_trusted("bk_1"),
            account_id: AccountId::from_trusted("acc_1"),
            service_id: ServiceId::from_trusted("srv_1"),
            provider_id: ProviderId::from_trusted("prv_1"),
            provider_ids: Vec::new(),
            duration: Minutes::new(60),
            scheduled_at: at(start),
            buffer_before: Minutes::ZERO,
            buffer_after: Minutes::ZERO,
            status: BookingStatus::Confirmed,
            customer: Customer {
                email: Email::parse("c@example.com", "e").unwrap(),
                name: "C".into(),
            },
            price: Money::from_minor(0, crate::Currency::parse("USD").unwrap()).unwrap(),
            notes: None,
            metadata: Metadata::default(),
            cancel_reason: None,
            sequence: 0,
            created_at: at(created),
            updated_at: at(created),
            link: None,
        }
    }

    const OFFSETS: [Minutes; 2] = [Minutes::new(60), Minutes::new(1440)];

    #[test]
    fn due_once_their_time_has_come_and_until_the_start() {
        let b = booking("2027-01-01T00:00:00Z", "2027-01-10T10:00:00Z");
        assert!(due_offsets(&b, &OFFSETS, at("2027-01-09T09:59:59Z")).is_empty());
        assert_eq!(
            due_offsets(&b, &OFFSETS, at("2027-01-09T10:00:00Z")),
            [Minutes::new(1440)]
        );
        assert_eq!(
            due_offsets(&b, &OFFSETS, at("2027-01-10T09:30:00Z")),
            OFFSETS
        );
        assert!(due_offsets(&b, &OFFSETS, at("2027-01-10T10:00:00Z")).is_empty());
    }

    #[test]
    fn not_when_passed_before_the_booking_was_made_or_moved() {
        let b = booking("2027-01-10T08:00:00Z", "2027-01-10T10:00:00Z");
        assert_eq!(
            due_offsets(&b, &OFFSETS, at("2027-01-10T09:00:00Z")),
            [Minutes::new(60)]
        );
        let mut moved = booking("2027-01-01T00:00:00Z", "2027-01-10T10:00:00Z");
        moved.sequence = 1;
        moved.updated_at = at("2027-01-10T08:00:00Z");
        assert_eq!(
            due_offsets(&moved, &OFFSETS, at("2027-01-10T09:00:00Z")),
            [Minutes::new(60)]
        );
    }

    #[test]
    fn never_for_inactive_bookings() {
        let mut b = booking("2027-01-01T00:00:00Z", "2027-01-10T10:00:00Z");
        b.status = BookingStatus::Cancelled;
        assert!(due_offsets(&b, &OFFSETS, at("2027-01-10T09:30:00Z")).is_empty());
    }
}
