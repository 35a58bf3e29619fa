//! Property tests: for arbitrary Unicode names and notes every rendering
//! obeys the line rules and gives the text back.

use booking_domain::{Booking, BookingId, BookingStatus, Minutes};
use booking_ical::{CalendarMeta, Entry, render_booking, render_feed};
use jiff::SignedDuration;
use proptest::prelude::*;

use crate::fixtures::{
    assert_line_rules, base, customer, normalized, raw_values, unescape, unfold,
};
use crate::parse::check_rendering;

/// Any Unicode text, weighted towards what escaping and folding must
/// handle: the TEXT specials, every newline form, controls, spaces and
/// multi-byte characters of every width (including combining sequences).
fn text(max: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => any::<char>(),
        2 => prop::sample::select(vec![
            '\\', ';', ',', ':', '"', '\n', '\r', '\t', ' ', '\u{0}', '\u{1b}', '\u{7f}', '\u{85}',
            '\u{2028}', '\u{feff}', '\u{301}',
        ]),
        2 => prop::sample::select(vec!['é', 'ß', 'Ж', '日', '本', '€', '🎉', '👩', '\u{200d}', '𝄞']),
        2 => prop::char::range('a', 'z'),
    ];
    prop::collection::vec(ch, 0..max).prop_map(|cs| cs.into_iter().collect())
}

fn status() -> impl Strategy<Value = BookingStatus> {
    prop::sample::select(vec![
        BookingStatus::Pending,
        BookingStatus::Confirmed,
        BookingStatus::Cancelled,
        BookingStatus::Completed,
    ])
}

/// A booking with arbitrary free text, status, time and sequence.
fn booking() -> impl Strategy<Value = (Booking, String)> {
    (
        text(120),
        prop::option::of(text(600)),
        text(80),
        status(),
        -2_000_000_000i64..2_000_000_000,
        0u32..1440,
        any::<u32>(),
    )
        .prop_map(
            |(name, notes, service, status, offset, minutes, sequence)| {
                let b = base();
                let scheduled_at = b.scheduled_at + SignedDuration::from_secs(offset);
                (
                    Booking {
                        id: BookingId::from_trusted(format!("bk_{sequence}")),
                        customer: customer(&name),
                        notes,
                        status,
                        duration: Minutes::new(minutes),
                        scheduled_at,
                        sequence,
                        ..b
                    },
                    service,
                )
            },
        )
}

/// The single raw value of `name` in an unfolded rendering.
fn only_value<'a>(unfolded: &'a str, name: &str) -> Option<&'a str> {
    let values = raw_values(unfolded, name);
    assert!(values.len() <= 1, "{name} appears {} times", values.len());
    values.first().copied()
}

/// Our own unfold + unescape (independent of the crate and of the parser
/// crate) gives the normalised text back.
fn assert_round_trips(body: &str, name: &str, bookings: &[(Booking, String)]) {
    let unfolded = unfold(body);
    assert_eq!(
        unescape(only_value(&unfolded, "X-WR-CALNAME").unwrap()),
        normalized(name)
    );
    let events: Vec<&str> = unfolded.split("BEGIN:VEVENT\r\n").skip(1).collect();
    assert_eq!(events.len(), bookings.len());
    for (event, (booking, service)) in events.into_iter().zip(bookings) {
        let summary = unescape(only_value(event, "SUMMARY").unwrap());
        assert_eq!(
            summary,
            format!(
                "{} with {}",
                normalized(service),
                normalized(&booking.customer.name)
            )
        );
        let description = only_value(event, "DESCRIPTION").map(unescape);
        let expected = booking
            .notes
            .as_deref()
            .map(normalized)
            .filter(|n| !n.is_empty());
        assert_eq!(description, expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn feeds_obey_the_line_rules_and_round_trip(
        name in text(200),
        bookings in prop::collection::vec(booking(), 0..4),
        refresh_secs in -100_000i64..10_000_000,
    ) {
        let meta = CalendarMeta { name: &name, refresh: SignedDuration::from_secs(refresh_secs) };
        let entries: Vec<Entry<'_>> = bookings
            .iter()
            .map(|(booking, service_name)| Entry { booking, service_name })
            .collect();
        let body = render_feed(&meta, entries.iter().copied());
        assert_line_rules(&body);
        assert_round_trips(&body, &name, &bookings);
        // And the independent parser agrees on every property.
        let refresh = raw_values(&unfold(&body), "X-PUBLISHED-TTL")[0].to_owned();
        check_rendering(&body, &normalized(&name), Some(&refresh), &entries);
    }

    #[test]
    fn single_booking_calendars_obey_the_line_rules_and_round_trip(
        (booking, service) in booking(),
    ) {
        let entry = Entry { booking: &booking, service_name: &service };
        let body = render_booking(entry);
        assert_line_rules(&body);
        assert_round_trips(&body, &service, &[(booking.clone(), service.clone())]);
        check_rendering(&body, &normalized(&service), None, &[entry]);
    }
}
