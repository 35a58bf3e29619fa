//! Busy time of small hand-written calendars: one behaviour per test, the
//! expected blocks written out in UTC.

use booking_domain::TimeRange;
use jiff::Timestamp;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn window(start: &str, end: &str) -> TimeRange {
    TimeRange::new(ts(start), ts(end)).unwrap()
}

/// The blocks as `start/end` strings, for readable assertions.
fn blocks(ics: &str, start: &str, end: &str) -> Vec<String> {
    busy_blocks(ics, window(start, end))
        .unwrap()
        .iter()
        .map(|b| format!("{}/{}", b.start(), b.end()))
        .collect()
}

/// A calendar around `body` (events), with LF line endings.
fn calendar(body: &str) -> String {
    format!("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n{body}END:VCALENDAR\n")
}

#[test]
fn weekly_meeting_keeps_its_local_time_across_the_dst_change() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:standup
DTSTART;TZID=America/New_York:20250303T090000
DTEND;TZID=America/New_York:20250303T093000
RRULE:FREQ=WEEKLY;BYDAY=MO
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-03-01T00:00:00Z", "2025-03-18T00:00:00Z"),
        vec![
            "2025-03-03T14:00:00Z/2025-03-03T14:30:00Z",
            // 9 March: clocks go forward; 09:00 EDT is 13:00 UTC.
            "2025-03-10T13:00:00Z/2025-03-10T13:30:00Z",
            "2025-03-17T13:00:00Z/2025-03-17T13:30:00Z",
        ]
    );
    // And back in November.
    assert_eq!(
        blocks(&ics, "2025-10-27T00:00:00Z", "2025-11-04T00:00:00Z"),
        vec![
            "2025-10-27T13:00:00Z/2025-10-27T13:30:00Z",
            "2025-11-03T14:00:00Z/2025-11-03T14:30:00Z",
        ]
    );
}

#[test]
fn exdate_removes_an_occurrence_in_any_spelling() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:daily
DTSTART;TZID=Europe/Berlin:20250601T080000
DTEND;TZID=Europe/Berlin:20250601T090000
RRULE:FREQ=DAILY;COUNT=6
EXDATE;TZID=Europe/Berlin:20250602T080000
EXDATE:20250603T060000Z,20250604T060000Z
EXDATE;VALUE=DATE:20250605
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-06-01T00:00:00Z", "2025-06-30T00:00:00Z"),
        vec![
            "2025-06-01T06:00:00Z/2025-06-01T07:00:00Z",
            "2025-06-06T06:00:00Z/2025-06-06T07:00:00Z",
        ]
    );
}

#[test]
fn rdate_adds_occurrences_and_periods_keep_their_own_length() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:r
DTSTART:20250601T100000Z
DURATION:PT1H
RRULE:freq=weekly;count=2;wkst=su
RDATE:20250604T150000Z
RDATE;VALUE=PERIOD:20250605T120000Z/20250605T123000Z,20250606T120000Z/PT15M
END:VEVENT
BEGIN:VEVENT
UID:only-rdates
DTSTART;TZID=Asia/Tokyo:20250610T090000
DTEND;TZID=Asia/Tokyo:20250610T100000
RDATE;TZID=Asia/Tokyo:20250611T090000
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-06-01T00:00:00Z", "2025-06-30T00:00:00Z"),
        vec![
            "2025-06-01T10:00:00Z/2025-06-01T11:00:00Z",
            "2025-06-04T15:00:00Z/2025-06-04T16:00:00Z",
            "2025-06-05T12:00:00Z/2025-06-05T12:30:00Z",
            "2025-06-06T12:00:00Z/2025-06-06T12:15:00Z",
            "2025-06-08T10:00:00Z/2025-06-08T11:00:00Z",
            "2025-06-10T00:00:00Z/2025-06-10T01:00:00Z",
            "2025-06-11T00:00:00Z/2025-06-11T01:00:00Z",
        ]
    );
}

#[test]
fn overrides_move_or_cancel_the_instance_they_name() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:series@example.com
DTSTART;TZID=America/Chicago:20250106T100000
DTEND;TZID=America/Chicago:20250106T110000
RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20250127T160000Z
END:VEVENT
BEGIN:VEVENT
UID:series@example.com
RECURRENCE-ID;TZID=America/Chicago:20250113T100000
DTSTART;TZID=America/Chicago:20250114T150000
DTEND;TZID=America/Chicago:20250114T160000
END:VEVENT
BEGIN:VEVENT
UID:series@example.com
RECURRENCE-ID:20250120T160000Z
DTSTART;TZID=America/Chicago:20250120T100000
DTEND;TZID=America/Chicago:20250120T110000
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:series@example.com
RECURRENCE-ID;TZID=America/Chicago:20250127T100000
DTSTART;TZID=America/Chicago:20250127T100000
DTEND;TZID=America/Chicago:20250127T110000
TRANSP:TRANSPARENT
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-01-01T00:00:00Z", "2025-02-28T00:00:00Z"),
        vec![
            "2025-01-06T16:00:00Z/2025-01-06T17:00:00Z",
            // Moved from Monday 13 to Tuesday 14, 15:00 CST.
            "2025-01-14T21:00:00Z/2025-01-14T22:00:00Z",
            // 20 January cancelled, 27 January made free; UNTIL ends the series.
        ]
    );
}

#[test]
fn an_override_moved_into_the_window_counts_and_one_moved_out_does_not() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:s
DTSTART:20250301T090000Z
DTEND:20250301T100000Z
RRULE:FREQ=DAILY
END:VEVENT
BEGIN:VEVENT
UID:s
RECURRENCE-ID:20250310T090000Z
DTSTART:20250320T090000Z
DTEND:20250320T100000Z
END:VEVENT
BEGIN:VEVENT
UID:s
RECURRENCE-ID:20250325T090000Z
DTSTART:20250311T120000Z
DTEND:20250311T130000Z
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-03-10T00:00:00Z", "2025-03-12T00:00:00Z"),
        vec![
            "2025-03-11T09:00:00Z/2025-03-11T10:00:00Z",
            "2025-03-11T12:00:00Z/2025-03-11T13:00:00Z",
        ]
    );
}

#[test]
fn all_day_events_block_whole_days_in_the_calendar_zone() {
    let body = "BEGIN:VEVENT
UID:holiday
DTSTART;VALUE=DATE:20250704
DTEND;VALUE=DATE:20250706
END:VEVENT
BEGIN:VEVENT
UID:one-day
DTSTART;VALUE=DATE:20250710
END:VEVENT
";
    let in_la =
        format!("BEGIN:VCALENDAR\nX-WR-TIMEZONE:America/Los_Angeles\n{body}END:VCALENDAR\n");
    assert_eq!(
        blocks(&in_la, "2025-07-01T00:00:00Z", "2025-07-31T00:00:00Z"),
        vec![
            "2025-07-04T07:00:00Z/2025-07-06T07:00:00Z",
            "2025-07-10T07:00:00Z/2025-07-11T07:00:00Z",
        ]
    );
    // Without X-WR-TIMEZONE: UTC days.
    assert_eq!(
        blocks(
            &calendar(body),
            "2025-07-01T00:00:00Z",
            "2025-07-31T00:00:00Z"
        ),
        vec![
            "2025-07-04T00:00:00Z/2025-07-06T00:00:00Z",
            "2025-07-10T00:00:00Z/2025-07-11T00:00:00Z",
        ]
    );
}

#[test]
fn recurring_all_day_events_and_date_exdates() {
    let ics = format!(
        "BEGIN:VCALENDAR\nX-WR-TIMEZONE:Europe/London\n{}END:VCALENDAR\n",
        "BEGIN:VEVENT
UID:weekly-off
DTSTART;VALUE=DATE:20250321
DTEND;VALUE=DATE:20250322
RRULE:FREQ=WEEKLY;UNTIL=20250411
EXDATE;VALUE=DATE:20250404
END:VEVENT
"
    );
    assert_eq!(
        blocks(&ics, "2025-03-01T00:00:00Z", "2025-05-01T00:00:00Z"),
        vec![
            "2025-03-21T00:00:00Z/2025-03-22T00:00:00Z",
            "2025-03-28T00:00:00Z/2025-03-29T00:00:00Z",
            // 4 April excluded; from 30 March (BST) London days start at
            // 23:00 UTC.
            "2025-04-10T23:00:00Z/2025-04-11T23:00:00Z",
        ]
    );
}

#[test]
fn transparent_cancelled_and_outlook_free_events_are_not_busy() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:a
DTSTART:20250601T100000Z
DTEND:20250601T110000Z
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:b
DTSTART:20250601T120000Z
DTEND:20250601T130000Z
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:c
DTSTART:20250601T140000Z
DTEND:20250601T150000Z
X-MICROSOFT-CDO-BUSYSTATUS:FREE
END:VEVENT
BEGIN:VEVENT
UID:d
DTSTART:20250601T160000Z
DTEND:20250601T170000Z
STATUS:TENTATIVE
TRANSP:OPAQUE
END:VEVENT
BEGIN:VEVENT
UID:e
DTSTART:20250601T180000Z
DTEND:20250601T190000Z
RRULE:FREQ=DAILY
TRANSP:TRANSPARENT
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-06-01T00:00:00Z", "2025-06-05T00:00:00Z"),
        vec!["2025-06-01T16:00:00Z/2025-06-01T17:00:00Z"]
    );
}

#[test]
fn duration_is_nominal_and_dtend_exact() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:nominal
DTSTART;TZID=Europe/Paris:20250329T120000
DURATION:P1D
END:VEVENT
BEGIN:VEVENT
UID:exact
DTSTART;TZID=Europe/Paris:20250329T180000
DTEND;TZID=Europe/Paris:20250330T180000
END:VEVENT
BEGIN:VEVENT
UID:recurring-duration
DTSTART:20250401T080000Z
DURATION:PT45M
RRULE:FREQ=DAILY;COUNT=2
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-03-29T00:00:00Z", "2025-04-03T00:00:00Z"),
        vec![
            // 12:00 CET to 12:00 CEST the next day: 23 real hours; the exact
            // 24-hour event ends at 18:00 CEST = 16:00 UTC. Merged.
            "2025-03-29T11:00:00Z/2025-03-30T16:00:00Z",
            "2025-04-01T08:00:00Z/2025-04-01T08:45:00Z",
            "2025-04-02T08:00:00Z/2025-04-02T08:45:00Z",
        ]
    );
}

#[test]
fn floating_times_are_read_in_the_calendar_zone_else_utc() {
    let body = "BEGIN:VEVENT
UID:f
DTSTART:20250115T090000
DTEND:20250115T100000
END:VEVENT
";
    assert_eq!(
        blocks(
            &calendar(body),
            "2025-01-15T00:00:00Z",
            "2025-01-16T00:00:00Z"
        ),
        vec!["2025-01-15T09:00:00Z/2025-01-15T10:00:00Z"]
    );
    let in_tokyo = format!("BEGIN:VCALENDAR\nX-WR-TIMEZONE:Asia/Tokyo\n{body}END:VCALENDAR\n");
    assert_eq!(
        blocks(&in_tokyo, "2025-01-15T00:00:00Z", "2025-01-16T00:00:00Z"),
        vec!["2025-01-15T00:00:00Z/2025-01-15T01:00:00Z"]
    );
}

#[test]
fn a_time_in_the_spring_forward_gap_moves_forward() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:gap
DTSTART;TZID=America/New_York:20250302T023000
DTEND;TZID=America/New_York:20250302T033000
RRULE:FREQ=WEEKLY;COUNT=2
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-03-01T00:00:00Z", "2025-03-31T00:00:00Z"),
        vec![
            "2025-03-02T07:30:00Z/2025-03-02T08:30:00Z",
            // 02:30 does not exist on 9 March: 03:30 EDT.
            "2025-03-09T07:30:00Z/2025-03-09T08:30:00Z",
        ]
    );
}

#[test]
fn old_series_are_fast_forwarded_to_the_window() {
    let ics = calendar(
        "BEGIN:VEVENT
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
",
    );
    // How fast the fast-forward is, is measured by the `ics` benchmark
    // (`old_series_fast_forwarded`), not asserted here.
    let found = blocks(&ics, "2028-02-25T00:00:00Z", "2028-03-04T00:00:00Z");
    assert_eq!(
        found,
        vec![
            // Daily at 09:30 in Amsterdam (08:30 UTC in winter); the last
            // Friday of February; 29 February. The month-end series has no
            // day in this window, and the fortnightly one is in an "off"
            // week (1,417 weeks after the one of 2 January 2001).
            "2028-02-25T08:30:00Z/2028-02-25T08:45:00Z",
            "2028-02-25T12:00:00Z/2028-02-25T13:00:00Z",
            "2028-02-26T08:30:00Z/2028-02-26T08:45:00Z",
            "2028-02-27T08:30:00Z/2028-02-27T08:45:00Z",
            "2028-02-28T08:30:00Z/2028-02-28T08:45:00Z",
            "2028-02-29T00:00:00Z/2028-03-01T00:00:00Z",
            "2028-03-01T08:30:00Z/2028-03-01T08:45:00Z",
            "2028-03-02T08:30:00Z/2028-03-02T08:45:00Z",
            "2028-03-03T08:30:00Z/2028-03-03T08:45:00Z",
        ]
    );
    // The next week is an "on" week; 31 March is a month end.
    let later = blocks(&ics, "2028-03-06T00:00:00Z", "2028-04-01T00:00:00Z");
    for expected in [
        "2028-03-07T15:00:00Z/2028-03-07T16:00:00Z",
        "2028-03-09T15:00:00Z/2028-03-09T16:00:00Z",
        "2028-03-21T15:00:00Z/2028-03-21T16:00:00Z",
        "2028-03-31T12:00:00Z/2028-03-31T13:00:00Z",
        "2028-03-31T21:00:00Z/2028-03-31T22:00:00Z",
    ] {
        assert!(
            later.iter().any(|b| b == expected),
            "{expected} in {later:?}"
        );
    }
    assert!(!later.iter().any(|b| b.starts_with("2028-03-14T15")));
}

#[test]
fn count_rules_are_walked_from_their_start_and_capped() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:finite
DTSTART:20200101T120000Z
DTEND:20200101T130000Z
RRULE:FREQ=DAILY;COUNT=1000
END:VEVENT
BEGIN:VEVENT
UID:too-many
DTSTART:19700101T000000Z
DTEND:19700101T000100Z
RRULE:FREQ=HOURLY;COUNT=1000000
END:VEVENT
",
    );
    // The 1,000th occurrence is 26 September 2022.
    assert_eq!(
        blocks(&ics, "2022-09-25T00:00:00Z", "2022-09-28T00:00:00Z"),
        vec![
            "2022-09-25T12:00:00Z/2022-09-25T13:00:00Z",
            "2022-09-26T12:00:00Z/2022-09-26T13:00:00Z",
        ]
    );
    // The hourly series is cut after MAX_OCCURRENCES_PER_RULE occurrences
    // (10,000 hours: mid February 1971).
    let capped = blocks(&ics, "1971-02-10T00:00:00Z", "1971-03-01T00:00:00Z");
    assert_eq!(
        capped.last().unwrap(),
        "1971-02-21T15:00:00Z/1971-02-21T15:01:00Z"
    );
}

#[test]
fn rules_that_match_nothing_or_cannot_be_read_do_not_hang_or_fail() {
    let ics = calendar(
        "BEGIN:VEVENT
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
",
    );
    // DTSTART always counts; nothing else is produced. (The cost of a rule
    // that matches nothing is measured by the `ics` benchmark
    // `rules_that_match_nothing`.)
    assert_eq!(
        blocks(&ics, "2025-01-01T00:00:00Z", "2030-01-01T00:00:00Z"),
        vec![
            "2025-01-01T09:00:00Z/2025-01-01T10:00:00Z",
            "2025-01-02T09:00:00Z/2025-01-02T10:00:00Z",
            "2025-01-03T09:00:00Z/2025-01-03T10:00:00Z",
        ]
    );
}

#[test]
fn windows_and_custom_zones_resolve() {
    let ics = calendar(
        "BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16010101T040000
TZOFFSETFROM:-0300
TZOFFSETTO:-0400
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=4
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T000000
TZOFFSETFROM:-0400
TZOFFSETTO:-0300
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=1SU;BYMONTH=9
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
UID:w
DTSTART;TZID=W. Europe Standard Time:20250115T090000
DTEND;TZID=W. Europe Standard Time:20250115T100000
END:VEVENT
BEGIN:VEVENT
UID:c
DTSTART;TZID=Customized Time Zone:20250115T090000
DTEND;TZID=Customized Time Zone:20250115T100000
END:VEVENT
BEGIN:VEVENT
UID:u
DTSTART;TZID=Atlantis/Capital:20250116T090000
DTEND;TZID=Atlantis/Capital:20250116T100000
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-01-15T00:00:00Z", "2025-01-17T00:00:00Z"),
        vec![
            "2025-01-15T08:00:00Z/2025-01-15T09:00:00Z",
            // Southern-hemisphere custom zone: -03:00 in January.
            "2025-01-15T12:00:00Z/2025-01-15T13:00:00Z",
            // Unknown zone: UTC.
            "2025-01-16T09:00:00Z/2025-01-16T10:00:00Z",
        ]
    );
}

#[test]
fn only_blocks_overlapping_the_window_are_returned_and_they_are_merged() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:before
DTSTART:20250101T080000Z
DTEND:20250101T090000Z
END:VEVENT
BEGIN:VEVENT
UID:straddles-start
DTSTART:20250101T093000Z
DTEND:20250101T103000Z
END:VEVENT
BEGIN:VEVENT
UID:touching
DTSTART:20250101T103000Z
DTEND:20250101T110000Z
END:VEVENT
BEGIN:VEVENT
UID:inside-overlapping
DTSTART:20250101T104500Z
DTEND:20250101T113000Z
END:VEVENT
BEGIN:VEVENT
UID:ends-at-start
DTSTART:20250101T090000Z
DTEND:20250101T100000Z
END:VEVENT
BEGIN:VEVENT
UID:at-end
DTSTART:20250101T120000Z
DTEND:20250101T130000Z
END:VEVENT
BEGIN:VEVENT
UID:zero
DTSTART:20250101T110000Z
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-01-01T10:00:00Z", "2025-01-01T12:00:00Z"),
        // "before" and "ends-at-start" end by the window's start (ranges
        // are half-open), "at-end" starts at its end, "zero" lasts no time.
        vec!["2025-01-01T09:30:00Z/2025-01-01T11:30:00Z"]
    );
}

#[test]
fn free_busy_components_count() {
    let ics = calendar(
        "BEGIN:VFREEBUSY
DTSTART:20250601T000000Z
DTEND:20250608T000000Z
FREEBUSY:20250602T090000Z/20250602T100000Z
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20250603T090000Z/PT30M
FREEBUSY;FBTYPE=FREE:20250604T090000Z/20250604T100000Z
END:VFREEBUSY
",
    );
    assert_eq!(
        blocks(&ics, "2025-06-01T00:00:00Z", "2025-06-08T00:00:00Z"),
        vec![
            "2025-06-02T09:00:00Z/2025-06-02T10:00:00Z",
            "2025-06-03T09:00:00Z/2025-06-03T09:30:00Z",
        ]
    );
}

#[test]
fn broken_events_are_skipped_and_broken_files_refused() {
    let ics = calendar(
        "BEGIN:VEVENT
UID:bad
DTSTART:2025-06-01 10:00
DTEND:20250601T110000Z
END:VEVENT
BEGIN:VEVENT
UID:good
DTSTART:20250601T120000Z
DTEND:20250601T130000Z
END:VEVENT
",
    );
    assert_eq!(
        blocks(&ics, "2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z"),
        vec!["2025-06-01T12:00:00Z/2025-06-01T13:00:00Z"]
    );
    let w = window("2025-06-01T00:00:00Z", "2025-06-02T00:00:00Z");
    let error = busy_blocks("BEGIN:VCALENDAR\nBEGIN:VEVENT\nEND:VCALENDAR\n", w).unwrap_err();
    assert_eq!(error, IcsError::Malformed { line: 3 });
    assert_eq!(
        FetchError::from(error).to_string(),
        "the calendar is not valid iCalendar (near line 3)"
    );
    assert_eq!(
        busy_blocks("<!doctype html><title>Sign in</title>", w).unwrap_err(),
        IcsError::NotICalendar
    );
}

#[test]
fn webcal_links_are_fetched_over_https() {
    assert_eq!(
        effective_url("webcal://p01-caldav.icloud.com/published/2/abc"),
        "https://p01-caldav.icloud.com/published/2/abc"
    );
    assert_eq!(
        effective_url("WEBCALS://example.com/x.ics"),
        "https://example.com/x.ics"
    );
    assert_eq!(
        effective_url("https://example.com/x.ics"),
        "https://example.com/x.ics"
    );
    assert_eq!(effective_url("webcal:/broken"), "webcal:/broken");
}

#[tokio::test]
async fn the_port_refuses_other_kinds_of_source() {
    let source = IcsSource::new(false).unwrap();
    let google = CalendarSource::Google {
        calendar_id: "primary".into(),
        credentials: Default::default(),
    };
    let request = FetchRequest {
        source: &google,
        window: window("2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"),
        validators: &Validators::default(),
        now: ts("2025-01-01T00:00:00Z"),
        writes: false,
    };
    assert!(matches!(
        source.fetch(request).await,
        Err(FetchError::Refused(_))
    ));
}

#[test]
fn expansion_is_bounded_in_time() {
    // Rules that never match cost rrule some milliseconds each before it
    // gives up; enough of them would run for minutes.
    let mut body = String::new();
    for i in 0..2_000 {
        body.push_str(&format!(
            "BEGIN:VEVENT\nUID:{i}\nDTSTART:20250101T090000Z\nDTEND:20250101T100000Z\n\
             RRULE:FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31\nEND:VEVENT\n"
        ));
    }
    // These rules generate no occurrence, so only the clock can stop them:
    // `TooComplex` is the deadline firing (without it this would run for
    // minutes and end in `Ok`). How long the expansion runs past its budget
    // is not asserted; that depends on the machine.
    let error = busy_blocks_within(
        &calendar(&body),
        window("2025-06-01T00:00:00Z", "2025-09-01T00:00:00Z"),
        std::time::Duration::from_millis(200),
    )
    .unwrap_err();
    assert_eq!(error, IcsError::TooComplex);
    assert_eq!(
        FetchError::from(error).to_string(),
        "the calendar's recurring events are too many or too complex to expand"
    );
}
