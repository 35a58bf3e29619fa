//! Benchmark of the ICS adapter's CPU side: parsing and expanding a
//! 5,000-event calendar for a 90-day window, and the two pathological shapes
//! the unit tests in `src/ics/tests.rs` check for correctness only.
//!
//! Run with `cargo bench -p booking-calendars --bench ics` (part of
//! `make bench`). Targets, in a release build:
//!
//! - `parse_and_expand_5000_events_90_days`: under 50 ms. The calendar looks
//!   like a busy person's Google export: two years of events with
//!   descriptions, attendees and alarms, in three zones; a tenth recur
//!   (weekly or daily, some begun years ago, some with `UNTIL`, each with
//!   EXDATEs), and a few have moved instances.
//! - `old_series_fast_forwarded`: series begun in 1900-2001 expanded into a
//!   week of 2028 (the test `old_series_are_fast_forwarded_to_the_window`):
//!   well under a millisecond (some 60 µs on a 2-core VM in December 2026),
//!   since they are fast-forwarded rather than walked from their start.
//! - `rules_that_match_nothing`: rules that never match or cannot be read,
//!   over five years (the test
//!   `rules_that_match_nothing_or_cannot_be_read_do_not_hang_or_fail`): tens
//!   of milliseconds (`rrule`'s internal guard on the rule that never
//!   matches; some 25 ms on a 2-core VM in December 2026), never seconds.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::hint::black_box;

use booking_calendars::ics::busy_blocks;
use booking_domain::TimeRange;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::civil::{DateTime, date};
use jiff::{SignedDuration, Timestamp};

const EVENTS: usize = 5_000;

const ZONES: [&str; 3] = ["America/New_York", "Europe/Berlin", "Asia/Tokyo"];

fn stamp(at: DateTime) -> String {
    at.strftime("%Y%m%dT%H%M%S").to_string()
}

fn calendar() -> String {
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n\
         VERSION:2.0\r\nCALSCALE:GREGORIAN\r\nMETHOD:PUBLISH\r\n\
         X-WR-CALNAME:bench@example.com\r\nX-WR-TIMEZONE:America/New_York\r\n",
    );
    let first = date(2024, 7, 1).at(8, 0, 0, 0);
    for i in 0..EVENTS {
        let n = i64::try_from(i).unwrap();
        let zone = ZONES[i % ZONES.len()];
        let uid = format!("{i:08x}-bench@google.com");
        let recurring = i % 10 == 0;
        let start = if recurring {
            // Begun between 2019 and 2025.
            date(2019, 1, 7).at(9 + (n % 8) as i8, 0, 0, 0)
                + SignedDuration::from_hours(24 * (n * 37 % 2_300))
        } else {
            // Spread over two years, 7:00 to 19:00.
            first
                + SignedDuration::from_hours(24 * (n * 731 / EVENTS as i64))
                + SignedDuration::from_mins(60 * (n % 12) + 15 * (n % 4))
        };
        let end = start + SignedDuration::from_mins(30 + 15 * (n % 5));
        out.push_str("BEGIN:VEVENT\r\n");
        if i % 3 == 2 {
            let _ = write!(
                out,
                "DTSTART:{}Z\r\nDTEND:{}Z\r\n",
                stamp(start),
                stamp(end)
            );
        } else {
            let _ = write!(
                out,
                "DTSTART;TZID={zone}:{}\r\nDTEND;TZID={zone}:{}\r\n",
                stamp(start),
                stamp(end)
            );
        }
        if recurring {
            let rule = match i % 40 {
                0 => "FREQ=DAILY".to_owned(),
                10 => "FREQ=WEEKLY;BYDAY=MO,WE,FR".to_owned(),
                20 => format!(
                    "FREQ=DAILY;UNTIL={}Z",
                    stamp(start + SignedDuration::from_hours(24 * 900))
                ),
                _ => "FREQ=WEEKLY;INTERVAL=2".to_owned(),
            };
            let _ = write!(out, "RRULE:{rule}\r\n");
            for k in 1..=3 {
                let excluded = start + SignedDuration::from_hours(24 * 7 * (k * 50 + n % 7));
                let _ = if i % 3 == 2 {
                    write!(out, "EXDATE:{}Z\r\n", stamp(excluded))
                } else {
                    write!(out, "EXDATE;TZID={zone}:{}\r\n", stamp(excluded))
                };
            }
        }
        let _ = write!(
            out,
            "DTSTAMP:20250601T120000Z\r\nUID:{uid}\r\n\
             ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Jan\r\n \
             e Doe;X-NUM-GUESTS=0:mailto:jane.doe@example.com\r\n\
             ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;CN=gu\r\n \
             est{i}@example.org;X-NUM-GUESTS=0:mailto:guest{i}@example.org\r\n\
             CREATED:20240601T100000Z\r\n\
             DESCRIPTION:Agenda item {i}.\\n\\nJoin with Google Meet: https://meet.google.com/\r\n \
             abc-defg-hij\\n\\nPlease bring the numbers\\, the slides and the notes.\r\n\
             LAST-MODIFIED:20250101T100000Z\r\nLOCATION:Room {}\r\nSEQUENCE:0\r\n\
             STATUS:{}\r\nSUMMARY:Meeting {i}\r\nTRANSP:{}\r\n\
             BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:This is an event reminder\r\n\
             TRIGGER:-P0DT0H10M0S\r\nEND:VALARM\r\nEND:VEVENT\r\n",
            i % 17,
            if i % 50 == 7 {
                "CANCELLED"
            } else {
                "CONFIRMED"
            },
            if i % 20 == 3 { "TRANSPARENT" } else { "OPAQUE" },
        );
        // A moved instance of some recurring events.
        if recurring && i % 30 == 0 {
            let original = date(2025, 6, 2).at(start.hour(), 0, 0, 0);
            let _ = write!(
                out,
                "BEGIN:VEVENT\r\nUID:{uid}\r\nRECURRENCE-ID;TZID={zone}:{}\r\n\
                 DTSTART;TZID={zone}:{}\r\nDTEND;TZID={zone}:{}\r\n\
                 SUMMARY:Moved\r\nEND:VEVENT\r\n",
                stamp(original),
                stamp(original + SignedDuration::from_hours(3)),
                stamp(original + SignedDuration::from_hours(4)),
            );
        }
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

fn bench(c: &mut Criterion) {
    let ics = calendar();
    let start: Timestamp = "2025-06-01T00:00:00Z".parse().unwrap();
    let window = TimeRange::new(start, start + SignedDuration::from_hours(24 * 90)).unwrap();
    let blocks = busy_blocks(&ics, window).unwrap();
    eprintln!(
        "calendar: {} events, {} KiB; {} busy blocks in 90 days",
        EVENTS,
        ics.len() / 1024,
        blocks.len()
    );

    let mut group = c.benchmark_group("ics");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("parse_and_expand_5000_events_90_days", |b| {
        b.iter(|| busy_blocks(black_box(&ics), black_box(window)).unwrap())
    });
    group.finish();
}

/// Daily, monthly, yearly and fortnightly series begun long ago.
const OLD_SERIES: &str = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//bench//EN
BEGIN:VEVENT
UID:since-1900
DTSTART;TZID=Europe/Amsterdam:19000101T093000
DTEND;TZID=Europe/Amsterdam:19000101T094500
RRULE:FREQ=DAILY
END:VEVENT
BEGIN:VEVENT
UID:month-end
DTSTART;TZID=America/New_York:19900131T170000
DTEND;TZID=America/New_York:19900131T180000
RRULE:FREQ=MONTHLY
END:VEVENT
BEGIN:VEVENT
UID:leap-day
DTSTART;VALUE=DATE:19600229
RRULE:FREQ=YEARLY
END:VEVENT
BEGIN:VEVENT
UID:last-friday
DTSTART:20000128T120000Z
DTEND:20000128T130000Z
RRULE:FREQ=MONTHLY;BYDAY=-1FR
END:VEVENT
BEGIN:VEVENT
UID:fortnightly
DTSTART:20010102T150000Z
DTEND:20010102T160000Z
RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH
END:VEVENT
END:VCALENDAR
";

/// A rule that can never match, one that cannot be read, one that ended
/// before it began.
const RULES_THAT_MATCH_NOTHING: &str = "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//bench//EN
BEGIN:VEVENT
UID:never
DTSTART:20250101T090000Z
DTEND:20250101T100000Z
RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30
END:VEVENT
BEGIN:VEVENT
UID:garbage
DTSTART:20250102T090000Z
DTEND:20250102T100000Z
RRULE:FREQ=SOMETIMES;X-NAME=1
END:VEVENT
BEGIN:VEVENT
UID:until-before-start
DTSTART:20250103T090000Z
DTEND:20250103T100000Z
RRULE:FREQ=DAILY;UNTIL=20240101T000000Z
END:VEVENT
END:VCALENDAR
";

fn range(start: &str, end: &str) -> TimeRange {
    TimeRange::new(start.parse().unwrap(), end.parse().unwrap()).unwrap()
}

fn pathological(c: &mut Criterion) {
    let mut group = c.benchmark_group("ics");
    let week = range("2028-02-25T00:00:00Z", "2028-03-04T00:00:00Z");
    assert_eq!(busy_blocks(OLD_SERIES, week).unwrap().len(), 9);
    group.bench_function("old_series_fast_forwarded", |b| {
        b.iter(|| busy_blocks(black_box(OLD_SERIES), black_box(week)).unwrap())
    });
    let years = range("2025-01-01T00:00:00Z", "2030-01-01T00:00:00Z");
    assert_eq!(
        busy_blocks(RULES_THAT_MATCH_NOTHING, years).unwrap().len(),
        3
    );
    group.bench_function("rules_that_match_nothing", |b| {
        b.iter(|| busy_blocks(black_box(RULES_THAT_MATCH_NOTHING), black_box(years)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench, pathological);
criterion_main!(benches);
