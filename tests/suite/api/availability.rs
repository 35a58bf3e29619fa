//! Availability: the slot grid in the service's zone, bookings and buffers
//! removing slots, cancellations freeing them, minimum notice, DST.

use booking_tests::{Api, add_days, fmt_utc, future_monday, ny, seed_with, ts};
use jiff::civil::{Date, Weekday};
use jiff::tz::{Offset, TimeZone};
use jiff::{Timestamp, ToSpan};
use serde_json::json;

use super::setup_seed;

/// The seed's slot starts on one New York day.
fn seed_day(day: jiff::civil::Date) -> Vec<String> {
    (9..17).map(|h| ny(day, h, 0)).collect()
}

async fn starts_on(api: &Api, service: &str, day: jiff::civil::Date) -> Vec<String> {
    api.slot_starts(service, &day.to_string(), &day.to_string())
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn seed_week_has_eight_hourly_slots_per_weekday() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let sunday = add_days(monday, 6);
    let res = api
        .availability("srv_consultation", &monday.to_string(), &sunday.to_string())
        .await
        .expect_status(200)
        .json;
    assert_eq!(res["service_id"], "srv_consultation");
    assert_eq!(res["timezone"], "America/New_York");
    let slots = res["slots"].as_array().expect("slots");
    let expected: Vec<String> = (0..5).flat_map(|d| seed_day(add_days(monday, d))).collect();
    let starts: Vec<&str> = slots
        .iter()
        .map(|s| s["start"].as_str().expect("start"))
        .collect();
    assert_eq!(
        starts, expected,
        "Monday to Friday, 09:00-17:00 New York, hourly"
    );
    for slot in slots {
        let start = ts(slot["start"].as_str().expect("start"));
        let end = ts(slot["end"].as_str().expect("end"));
        assert_eq!(end.duration_since(start).as_secs(), 3600, "{slot}");
        assert!(slot["start"].as_str().expect("start").ends_with('Z'));
    }
    // Winter (EST): 09:00 local is 14:00Z; summer (EDT): 13:00Z.
    let first = starts[0];
    assert!(
        first.ends_with("T14:00:00Z") || first.ends_with("T13:00:00Z"),
        "{first}"
    );
    // Saturday and Sunday alone: nothing.
    let weekend = api
        .slot_starts(
            "srv_consultation",
            &add_days(monday, 5).to_string(),
            &sunday.to_string(),
        )
        .await;
    assert!(weekend.is_empty(), "{weekend:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn instant_bounds_are_exclusive_at_the_end() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    // [10:00, 13:00) local: slots 10, 11, 12.
    let starts = api
        .slot_starts("srv_consultation", &ny(monday, 10, 0), &ny(monday, 13, 0))
        .await;
    assert_eq!(
        starts,
        [ny(monday, 10, 0), ny(monday, 11, 0), ny(monday, 12, 0)]
    );
    // Any offset is accepted in requests.
    let local = |h: i8| {
        monday
            .at(h, 0, 0, 0)
            .in_tz("America/New_York")
            .expect("zoned")
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    };
    assert!(!local(10).ends_with('Z'));
    let offset = api
        .slot_starts("srv_consultation", &local(10), &local(12))
        .await;
    assert_eq!(offset, [ny(monday, 10, 0), ny(monday, 11, 0)]);
    // Dates are inclusive: Monday to Tuesday is two days.
    let two = api
        .slot_starts(
            "srv_consultation",
            &monday.to_string(),
            &add_days(monday, 1).to_string(),
        )
        .await;
    assert_eq!(two.len(), 16, "{two:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn booked_slots_disappear_and_come_back_when_cancelled() {
    let (_server, api) = setup_seed().await;
    let tuesday = add_days(future_monday(), 1);
    let booking = api.book_ok("srv_consultation", &ny(tuesday, 11, 0)).await;
    let mut expected = seed_day(tuesday);
    expected.retain(|s| *s != ny(tuesday, 11, 0));
    assert_eq!(starts_on(&api, "srv_consultation", tuesday).await, expected);
    // Other days are untouched.
    assert_eq!(
        starts_on(&api, "srv_consultation", add_days(tuesday, 1)).await,
        seed_day(add_days(tuesday, 1))
    );

    // An off-grid booking (10:17-11:17 local) removes both slots it overlaps.
    let wednesday = add_days(tuesday, 1);
    api.book_ok("srv_consultation", &ny(wednesday, 10, 17))
        .await;
    let mut expected_wed = seed_day(wednesday);
    expected_wed.retain(|s| *s != ny(wednesday, 10, 0) && *s != ny(wednesday, 11, 0));
    assert_eq!(
        starts_on(&api, "srv_consultation", wednesday).await,
        expected_wed
    );

    let id = booking["id"].as_str().expect("id");
    api.post_empty(&format!("/v1/bookings/{id}/cancel"))
        .await
        .expect_status(200);
    assert_eq!(
        starts_on(&api, "srv_consultation", tuesday).await,
        seed_day(tuesday)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bookings_block_every_service_of_the_same_provider() {
    let (_server, api) = setup_seed().await;
    api.create_service(&seed_with(&json!({"id": "srv_short", "duration": 30})))
        .await;
    let day = add_days(future_monday(), 2);
    api.book_ok("srv_consultation", &ny(day, 9, 0)).await;
    let short = starts_on(&api, "srv_short", day).await;
    assert_eq!(short.first(), Some(&ny(day, 10, 0)), "{short:?}");
    assert_eq!(
        short.len(),
        14,
        "16 half hours minus the booked hour: {short:?}"
    );
    let conflict = api.book("srv_short", &ny(day, 9, 30)).await;
    let details = conflict.expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["next_available"], ny(day, 10, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn buffers_remove_neighbouring_slots() {
    let (_server, api) = setup_seed().await;
    api.create_service(&seed_with(
        &json!({"id": "srv_buffered", "buffer_after": 30}),
    ))
    .await;
    let day = add_days(future_monday(), 1);
    // Unbooked: the grid is still hourly.
    assert_eq!(starts_on(&api, "srv_buffered", day).await, seed_day(day));

    // A booking at 11:00 holds [11:00, 12:30) with its buffer.
    api.book_ok("srv_buffered", &ny(day, 11, 0)).await;
    let starts = starts_on(&api, "srv_buffered", day).await;
    for gone in [10, 11, 12] {
        assert!(
            !starts.contains(&ny(day, gone, 0)),
            "{gone}:00 must be gone: {starts:?}"
        );
    }
    for kept in [9, 13, 14, 15] {
        assert!(
            starts.contains(&ny(day, kept, 0)),
            "{kept}:00 must stay: {starts:?}"
        );
    }
    // The seed service (no buffers of its own) still sees the booking's buffer:
    // 12:00-13:00 would overlap [11:00, 12:30).
    let seed = starts_on(&api, "srv_consultation", day).await;
    assert!(!seed.contains(&ny(day, 12, 0)), "{seed:?}");
    assert!(seed.contains(&ny(day, 10, 0)), "{seed:?}");
    assert!(seed.contains(&ny(day, 13, 0)), "{seed:?}");
    // Booking into the buffer conflicts, pointing at the first free slot after it.
    let details = api
        .book("srv_buffered", &ny(day, 12, 0))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["next_available"], ny(day, 13, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn minimum_notice_hides_slots_that_start_too_soon() {
    let (_server, api) = setup_seed().await;
    let notice_days = 7;
    api.create_service(&seed_with(&json!({
        "id": "srv_notice",
        "minimum_notice": notice_days * 24 * 60,
    })))
    .await;
    let now = Timestamp::now();
    let from = fmt_utc(now);
    let to = fmt_utc(
        now.checked_add((24 * (notice_days + 4)).hours())
            .expect("instant"),
    );
    let earliest = now
        .checked_add((24 * notice_days).hours())
        .expect("instant");

    let with_notice = api.slot_starts("srv_notice", &from, &to).await;
    assert!(!with_notice.is_empty(), "slots after the notice exist");
    for s in &with_notice {
        assert!(ts(s) >= earliest, "{s} starts within the notice");
    }
    let without = api.slot_starts("srv_consultation", &from, &to).await;
    let soon: Vec<&String> = without.iter().filter(|s| ts(s) < earliest).collect();
    assert!(!soon.is_empty(), "the seed has slots within a week");
    // Booking within the notice is a conflict pointing past it.
    let details = api
        .book("srv_notice", soon[0])
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    let next = details["next_available"].as_str().expect("next_available");
    assert!(ts(next) >= earliest, "{next}");
    assert_eq!(next, with_notice[0]);
}

/// The Sunday of New York's next change of clocks, forward (`spring`) or back,
/// at least three weeks from now: far enough that the days around it are never
/// in the past and no minimum notice reaches them. Read from the time-zone
/// database, so the tests never expire; the change must be the usual one
/// between EST (UTC-5) and EDT (UTC-4), which the expected instants assume.
fn next_new_york_change(spring: bool) -> Date {
    let tz = TimeZone::get("America/New_York").expect("tz");
    let after = Timestamp::now()
        .checked_add((24 * 21).hours())
        .expect("instant");
    let (est, edt) = (Offset::constant(-5), Offset::constant(-4));
    let change = tz
        .following(after)
        .take(8)
        .find(|t| {
            let before = tz.to_offset(t.timestamp() - 1.second());
            if spring {
                (before, t.offset()) == (est, edt)
            } else {
                (before, t.offset()) == (edt, est)
            }
        })
        .unwrap_or_else(|| panic!("no EST/EDT change (spring: {spring}) after {after}"));
    let sunday = tz.to_datetime(change.timestamp()).date();
    assert_eq!(sunday.weekday(), Weekday::Sunday, "{change:?}");
    sunday
}

/// `day` at `hour`:00 UTC, as the API writes it.
fn utc(day: Date, hour: i8) -> String {
    fmt_utc(
        day.at(hour, 0, 0, 0)
            .to_zoned(TimeZone::UTC)
            .expect("zoned")
            .timestamp(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_grid_stays_wall_clock_across_the_spring_dst_change() {
    let (_server, api) = setup_seed().await;
    // America/New_York springs forward on this Sunday, at 02:00 EST.
    let sunday = next_new_york_change(true);
    let friday = add_days(sunday, -2);
    let monday = add_days(sunday, 1);
    let starts = api
        .slot_starts("srv_consultation", &friday.to_string(), &monday.to_string())
        .await;
    let expected: Vec<String> = (14..22)
        .map(|h| utc(friday, h))
        .chain((13..21).map(|h| utc(monday, h)))
        .collect();
    assert_eq!(
        starts, expected,
        "EST Friday 09:00 = 14:00Z, EDT Monday 09:00 = 13:00Z"
    );

    // A 24-hour window over the change: the missing 02:00-03:00 is skipped and
    // every slot lasts exactly its duration.
    api.create_service(&seed_with(&json!({
        "id": "srv_night",
        "availability": {"days": ["sunday"], "hours": {"start": "00:00", "end": "24:00"}, "timezone": "America/New_York"},
    })))
    .await;
    let res = api
        .availability("srv_night", &sunday.to_string(), &sunday.to_string())
        .await
        .expect_status(200)
        .json;
    let slots = res["slots"].as_array().expect("slots");
    assert_eq!(slots.len(), 23, "a 23-hour day has 23 hourly slots: {res}");
    // 00:00 and 01:00 EST.
    assert_eq!(slots[0]["start"], utc(sunday, 5));
    assert_eq!(slots[1]["start"], utc(sunday, 6));
    // 02:00 does not exist; 03:00 EDT is 07:00Z.
    assert_eq!(slots[2]["start"], utc(sunday, 7));
    for slot in slots {
        let (s, e) = (
            ts(slot["start"].as_str().expect("s")),
            ts(slot["end"].as_str().expect("e")),
        );
        assert_eq!(e.duration_since(s).as_secs(), 3600, "{slot}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_fall_back_times_take_the_earlier_instant() {
    let (_server, api) = setup_seed().await;
    // America/New_York falls back on this Sunday: 01:00-02:00 happens twice.
    let sunday = next_new_york_change(false);
    api.create_service(&seed_with(&json!({
        "id": "srv_fall",
        "availability": {"days": ["sunday"], "hours": {"start": "00:00", "end": "03:00"}, "timezone": "America/New_York"},
    })))
    .await;
    let starts = starts_on(&api, "srv_fall", sunday).await;
    // 00:00 EDT, 01:00 EDT (the earlier 01:00), 02:00 EST; the window ends 03:00 EST.
    assert_eq!(starts, [utc(sunday, 4), utc(sunday, 5), utc(sunday, 7)]);
    // The second 01:00 (EST) is inside the window: bookable off the grid.
    let b = api.book_ok("srv_fall", &utc(sunday, 6)).await;
    assert_eq!(b["end_at"], utc(sunday, 7));
    // 06:00-07:00Z sits between the 05:00Z and 07:00Z slots, touching both.
    let after = starts_on(&api, "srv_fall", sunday).await;
    assert_eq!(after, starts);
    let half_past_six = fmt_utc(ts(&utc(sunday, 6)) + 30.minutes());
    let details = api
        .book("srv_fall", &half_past_six)
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["next_available"], utc(sunday, 7));
}

#[tokio::test(flavor = "multi_thread")]
async fn other_zones_and_a_window_ending_at_midnight() {
    let (_server, api) = setup_seed().await;
    api.create_service(&seed_with(&json!({
        "id": "srv_kolkata",
        "availability": {"days": ["monday"], "hours": {"start": "09:00", "end": "11:00"}, "timezone": "Asia/Kolkata"},
    })))
    .await;
    api.create_service(&seed_with(&json!({
        "id": "srv_late",
        "availability": {"days": ["monday"], "hours": {"start": "22:00", "end": "24:00"}, "timezone": "America/New_York"},
    })))
    .await;
    let monday = future_monday();
    let kolkata = starts_on(&api, "srv_kolkata", monday).await;
    assert_eq!(
        kolkata,
        [format!("{monday}T03:30:00Z"), format!("{monday}T04:30:00Z")],
        "UTC+05:30"
    );
    let late = starts_on(&api, "srv_late", monday).await;
    assert_eq!(late, [ny(monday, 22, 0), ny(monday, 23, 0)]);
    let b = api.book_ok("srv_late", &ny(monday, 23, 0)).await;
    assert_eq!(b["end_at"], ny(add_days(monday, 1), 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duration_longer_than_the_window_never_fits() {
    let (_server, api) = setup_seed().await;
    api.create_service(&seed_with(&json!({"id": "srv_day", "duration": 1440})))
        .await;
    let monday = future_monday();
    let starts = api
        .slot_starts(
            "srv_day",
            &monday.to_string(),
            &add_days(monday, 13).to_string(),
        )
        .await;
    assert!(starts.is_empty(), "{starts:?}");
    let details = api
        .book("srv_day", &ny(monday, 9, 0))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["requested_time"], ny(monday, 9, 0));
    assert!(details["next_available"].is_null(), "{details}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_range_limit_is_62_days() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    // Dates are inclusive: D..D+61 is 62 days, D..D+62 is 63.
    api.availability(
        "srv_consultation",
        &monday.to_string(),
        &add_days(monday, 61).to_string(),
    )
    .await
    .expect_status(200);
    api.availability(
        "srv_consultation",
        &monday.to_string(),
        &add_days(monday, 62).to_string(),
    )
    .await
    .expect_validation();
    // Instants: exactly 62 days is fine, a minute more is not.
    let from = ts(&ny(monday, 0, 0));
    let at = |minutes: i64| fmt_utc(from.checked_add(minutes.minutes()).expect("instant"));
    api.availability("srv_consultation", &at(0), &at(62 * 24 * 60))
        .await
        .expect_status(200);
    api.availability("srv_consultation", &at(0), &at(62 * 24 * 60 + 1))
        .await
        .expect_validation();
}
