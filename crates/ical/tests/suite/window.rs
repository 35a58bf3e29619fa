//! Feed membership: 90 days back by end time, all future bookings,
//! cancelled ones for 30 days after their cancellation.

use booking_domain::{Booking, BookingStatus, Minutes};
use booking_ical::{CANCELLED_RETENTION, FEED_HISTORY, feed_window_start, in_feed};
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;

use crate::fixtures::{base, t};

const NOW: &str = "2027-06-01T12:00:00Z";

fn now() -> Timestamp {
    t(NOW)
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// A one-hour booking in `status` that ended `ended_days_ago` days before now.
fn ended(status: BookingStatus, ended_days_ago: i64) -> Booking {
    let end = now() - days(ended_days_ago);
    Booking {
        status,
        scheduled_at: end - SignedDuration::from_hours(1),
        updated_at: end,
        ..base()
    }
}

/// A future booking cancelled `cancelled_days_ago` days before now.
fn cancelled(cancelled_days_ago: i64) -> Booking {
    Booking {
        status: BookingStatus::Cancelled,
        scheduled_at: now() + days(10),
        updated_at: now() - days(cancelled_days_ago),
        ..base()
    }
}

#[test]
fn the_window_starts_90_days_back() {
    assert_eq!(feed_window_start(now()), t("2027-03-03T12:00:00Z"));
    assert_eq!(FEED_HISTORY, days(90));
    assert_eq!(CANCELLED_RETENTION, days(30));
    assert_eq!(feed_window_start(Timestamp::MIN), Timestamp::MIN);
}

#[test]
fn future_bookings_are_all_in() {
    for status in [BookingStatus::Pending, BookingStatus::Confirmed] {
        for ahead in [0, 1, 400, 3650] {
            let b = Booking {
                status,
                scheduled_at: now() + days(ahead),
                ..base()
            };
            assert!(in_feed(&b, now()), "{status} in {ahead} days");
        }
    }
    // One in progress (started before now, ends after).
    let b = Booking {
        scheduled_at: now() - SignedDuration::from_mins(30),
        ..base()
    };
    assert!(in_feed(&b, now()));
}

#[test]
fn past_bookings_stay_90_days_after_their_end() {
    for status in [
        BookingStatus::Confirmed,
        BookingStatus::Completed,
        BookingStatus::Pending,
    ] {
        assert!(in_feed(&ended(status, 1), now()), "{status} 1");
        assert!(in_feed(&ended(status, 89), now()), "{status} 89");
        assert!(in_feed(&ended(status, 90), now()), "{status} exactly 90");
        assert!(!in_feed(&ended(status, 91), now()), "{status} 91");
    }
}

#[test]
fn completed_bookings_long_ago_drop_out() {
    assert!(!in_feed(&ended(BookingStatus::Completed, 365 * 2), now()));
    assert!(!in_feed(&ended(BookingStatus::Completed, 120), now()));
}

#[test]
fn the_window_is_measured_by_end_not_start() {
    // Started 90 days and 30 minutes ago, lasted an hour: ended inside the window.
    let b = Booking {
        status: BookingStatus::Completed,
        duration: Minutes::new(60),
        scheduled_at: now() - days(90) - SignedDuration::from_mins(30),
        ..base()
    };
    assert!(in_feed(&b, now()));
    let b = Booking {
        duration: Minutes::new(20),
        ..b
    };
    assert!(!in_feed(&b, now()));
}

#[test]
fn cancelled_bookings_stay_30_days_after_cancellation() {
    assert!(in_feed(&cancelled(0), now()));
    assert!(in_feed(&cancelled(29), now()));
    assert!(!in_feed(&cancelled(30), now()), "exactly 30 days: out");
    assert!(!in_feed(&cancelled(31), now()));
    let just_inside = Booking {
        updated_at: now() - days(30) + SignedDuration::from_secs(1),
        ..cancelled(0)
    };
    assert!(in_feed(&just_inside, now()));
}

#[test]
fn cancelled_bookings_also_need_the_window() {
    // Cancelled recently, but it ended 100 days ago.
    let b = Booking {
        status: BookingStatus::Cancelled,
        scheduled_at: now() - days(100),
        updated_at: now() - days(5),
        ..base()
    };
    assert!(!in_feed(&b, now()));
    // Cancelled 29 days ago for a booking that was 20 days ago: still in.
    let b = Booking {
        status: BookingStatus::Cancelled,
        scheduled_at: now() - days(20),
        updated_at: now() - days(29),
        ..base()
    };
    assert!(in_feed(&b, now()));
}

#[test]
fn extreme_instants_do_not_panic() {
    let b = Booking {
        scheduled_at: Timestamp::MAX,
        updated_at: Timestamp::MAX,
        status: BookingStatus::Cancelled,
        ..base()
    };
    assert!(in_feed(&b, Timestamp::MIN));
    assert!(!in_feed(
        &ended(BookingStatus::Confirmed, 1),
        Timestamp::MAX
    ));
}

proptest! {
    /// What a store selects with `scheduled_at >= feed_window_start(now) -
    /// longest duration` is a superset of the feed.
    #[test]
    fn the_store_query_covers_the_feed(
        offset_mins in -400_000i64..400_000,
        duration in 0u32..=1440,
        cancelled_mins_ago in 0i64..100_000,
        is_cancelled in any::<bool>(),
    ) {
        const LONGEST: u32 = 1440;
        let b = Booking {
            status: if is_cancelled { BookingStatus::Cancelled } else { BookingStatus::Confirmed },
            duration: Minutes::new(duration),
            scheduled_at: now() + SignedDuration::from_mins(offset_mins),
            updated_at: now() - SignedDuration::from_mins(cancelled_mins_ago),
            ..base()
        };
        if in_feed(&b, now()) {
            let selected = feed_window_start(now()) - Minutes::new(LONGEST).duration();
            prop_assert!(b.scheduled_at >= selected);
        }
    }
}
