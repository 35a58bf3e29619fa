//! Every rendering read back by an independent parser (the `icalendar`
//! crate), checking each required property, exactly once, with its value.

use booking_domain::{Booking, BookingStatus};
use booking_ical::{CalendarMeta, DEFAULT_REFRESH, Entry, PRODID, render_booking, render_feed};
use icalendar::parser::{self, Component, Property};
use icalendar::{CalendarDateTime, Component as _, DatePerhapsTime, EventStatus};
use jiff::{SignedDuration, Timestamp};

use crate::fixtures::{FEED_NAME, entries, feed_bookings, feed_meta, normalized, unescape, utc};

fn one<'a>(props: &'a [Property<'a>], name: &str) -> &'a Property<'a> {
    let found: Vec<_> = props.iter().filter(|p| p.name.as_str() == name).collect();
    assert_eq!(found.len(), 1, "{name} must appear exactly once");
    found[0]
}

fn value<'a>(props: &'a [Property<'a>], name: &str) -> &'a str {
    one(props, name).val.as_str()
}

fn absent(props: &[Property<'_>], name: &str) {
    assert!(
        props.iter().all(|p| p.name.as_str() != name),
        "{name} must be absent"
    );
}

/// Checks the calendar-level properties; `refresh` is `None` for the
/// single-booking calendar.
fn check_calendar(props: &[Property<'_>], name: &str, refresh: Option<&str>) {
    assert_eq!(value(props, "VERSION"), "2.0");
    assert_eq!(value(props, "PRODID"), PRODID);
    assert_eq!(value(props, "CALSCALE"), "GREGORIAN");
    assert_eq!(value(props, "METHOD"), "PUBLISH");
    // NAME is not TEXT-unescaped by this parser; X-WR-CALNAME is.
    assert_eq!(unescape(value(props, "NAME")), name);
    assert_eq!(value(props, "X-WR-CALNAME"), name);
    match refresh {
        Some(refresh) => {
            let interval = one(props, "REFRESH-INTERVAL");
            assert_eq!(interval.val.as_str(), refresh);
            let params: Vec<_> = interval
                .params
                .iter()
                .map(|p| (p.key.as_str(), p.val.as_ref().map(|v| v.as_str())))
                .collect();
            assert_eq!(params, [("VALUE", Some("DURATION"))]);
            assert_eq!(value(props, "X-PUBLISHED-TTL"), refresh);
        }
        None => {
            absent(props, "REFRESH-INTERVAL");
            absent(props, "X-PUBLISHED-TTL");
        }
    }
}

fn check_event(event: &Component<'_>, booking: &Booking, service_name: &str) {
    assert_eq!(event.name.as_str(), "VEVENT");
    assert!(event.components.is_empty());
    let props = &event.properties;
    assert_eq!(value(props, "UID"), format!("{}@booking-api", booking.id));
    assert_eq!(value(props, "DTSTAMP"), utc(booking.updated_at));
    assert_eq!(value(props, "CREATED"), utc(booking.created_at));
    assert_eq!(value(props, "LAST-MODIFIED"), utc(booking.updated_at));
    assert_eq!(value(props, "DTSTART"), utc(booking.scheduled_at));
    let end = booking.scheduled_at + SignedDuration::from_mins(booking.duration.get().into());
    assert_eq!(value(props, "DTEND"), utc(end));
    assert_eq!(value(props, "SEQUENCE"), booking.sequence.to_string());
    let (status, transp) = match booking.status {
        BookingStatus::Pending => ("TENTATIVE", "OPAQUE"),
        BookingStatus::Confirmed | BookingStatus::Completed => ("CONFIRMED", "OPAQUE"),
        BookingStatus::Cancelled => ("CANCELLED", "OPAQUE"),
    };
    assert_eq!(value(props, "STATUS"), status);
    assert_eq!(value(props, "TRANSP"), transp);
    assert_eq!(
        value(props, "SUMMARY"),
        format!(
            "{} with {}",
            normalized(service_name),
            normalized(&booking.customer.name)
        )
    );
    match booking.notes.as_deref().map(normalized) {
        Some(notes) if !notes.is_empty() => assert_eq!(value(props, "DESCRIPTION"), notes),
        _ => absent(props, "DESCRIPTION"),
    }
    for p in props {
        assert!(
            [
                "UID",
                "DTSTAMP",
                "CREATED",
                "LAST-MODIFIED",
                "SEQUENCE",
                "DTSTART",
                "DTEND",
                "STATUS",
                "SUMMARY",
                "DESCRIPTION",
                "TRANSP"
            ]
            .contains(&p.name.as_str()),
            "unexpected property {}",
            p.name.as_str()
        );
        assert!(p.params.is_empty(), "{} has parameters", p.name.as_str());
    }
}

/// Parses `body` (unfolded by the parser crate) and checks it against the
/// entries it was rendered from.
pub fn check_rendering(body: &str, name: &str, refresh: Option<&str>, rendered: &[Entry<'_>]) {
    let unfolded = parser::unfold(body);
    let calendar = parser::read_calendar(&unfolded).unwrap_or_else(|e| panic!("{e}\n{body}"));
    check_calendar(&calendar.properties, name, refresh);
    assert_eq!(calendar.components.len(), rendered.len());
    for (event, entry) in calendar.components.iter().zip(rendered) {
        check_event(event, entry.booking, entry.service_name);
    }
}

fn seconds(ts: Timestamp) -> i64 {
    ts.as_second()
}

#[test]
fn the_feed_parses_with_every_property() {
    let bookings = feed_bookings();
    let body = render_feed(&feed_meta(), entries(&bookings));
    check_rendering(&body, FEED_NAME, Some("PT15M"), &entries(&bookings));
}

#[test]
fn the_single_booking_calendar_parses_with_every_property() {
    for (booking, service_name) in &feed_bookings() {
        let entry = Entry {
            booking,
            service_name,
        };
        let body = render_booking(entry);
        check_rendering(&body, service_name, None, &[entry]);
    }
}

#[test]
fn the_refresh_interval_is_a_parameter() {
    let bookings = feed_bookings();
    for (refresh, text) in [
        (SignedDuration::from_mins(5), "PT5M"),
        (SignedDuration::from_hours(1), "PT1H"),
        (SignedDuration::from_hours(24), "P1D"),
        (SignedDuration::from_secs(90 * 60 + 30), "PT1H30M30S"),
    ] {
        let meta = CalendarMeta {
            name: "Provider",
            refresh,
        };
        let body = render_feed(&meta, entries(&bookings[..1]));
        check_rendering(&body, "Provider", Some(text), &entries(&bookings[..1]));
        // The parser's own typed reading agrees (it reads ISO 8601 durations).
        let calendar: icalendar::Calendar = body.parse().unwrap();
        assert_eq!(
            calendar.get_ttl().map(|d| d.num_seconds()),
            Some(refresh.as_secs())
        );
    }
    assert_eq!(CalendarMeta::new("x").refresh, DEFAULT_REFRESH);
}

/// The typed API of the parser crate reads times, texts and statuses as
/// clients would.
#[test]
fn typed_reading_agrees() {
    let bookings = feed_bookings();
    let body = render_feed(&feed_meta(), entries(&bookings));
    let calendar: icalendar::Calendar = body.parse().unwrap();
    // This parser does not unescape NAME (an RFC 7986 property it has no
    // value type for), so its raw value is unescaped here.
    assert_eq!(
        calendar.get_name().map(unescape).as_deref(),
        Some(FEED_NAME)
    );
    let events: Vec<_> = calendar.events().collect();
    assert_eq!(events.len(), bookings.len());
    let utc_seconds = |d: Option<DatePerhapsTime>| match d {
        Some(DatePerhapsTime::DateTime(CalendarDateTime::Utc(dt))) => dt.timestamp(),
        other => panic!("not a UTC date-time: {other:?}"),
    };
    for (event, (booking, service_name)) in events.into_iter().zip(&bookings) {
        assert_eq!(
            event.get_uid(),
            Some(format!("{}@booking-api", booking.id).as_str())
        );
        assert_eq!(
            utc_seconds(event.get_start()),
            seconds(booking.scheduled_at)
        );
        assert_eq!(utc_seconds(event.get_end()), seconds(booking.end_at()));
        assert_eq!(
            event.get_timestamp().map(|t| t.timestamp()),
            Some(seconds(booking.updated_at))
        );
        assert_eq!(
            event.get_created().map(|t| t.timestamp()),
            Some(seconds(booking.created_at))
        );
        assert_eq!(
            event.get_last_modified().map(|t| t.timestamp()),
            Some(seconds(booking.updated_at))
        );
        assert_eq!(event.get_sequence(), Some(booking.sequence));
        let status = match booking.status {
            BookingStatus::Pending => EventStatus::Tentative,
            BookingStatus::Confirmed | BookingStatus::Completed => EventStatus::Confirmed,
            BookingStatus::Cancelled => EventStatus::Cancelled,
        };
        assert_eq!(event.get_status(), Some(status));
        assert_eq!(
            event.get_summary(),
            Some(format!("{service_name} with {}", booking.customer.name).as_str())
        );
        assert_eq!(
            event.get_description(),
            booking.notes.as_deref().map(normalized).as_deref()
        );
    }
}
