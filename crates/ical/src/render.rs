//! The calendars: a provider's feed and the single-booking file.
//!
//! The component model is `ics`'s; escaping ([`crate::text`]) and folding
//! ([`crate::fold`]) are ours (see the crate docs for why). Each component is
//! serialised by `ics` into a reused scratch buffer and re-folded into the
//! one output buffer, so rendering is linear in the output and allocates a
//! handful of small vectors per event.

use std::fmt::{self, Write as _};
use std::ops::Range;

use booking_domain::{Booking, BookingStatus};
use ics::components::Property;
use ics::properties::{
    CalScale, Created, Description, DtEnd, DtStart, LastModified, Method, Name, ProdID,
    RefreshInterval, Sequence, Status, Summary, Transp, Version,
};
use jiff::tz::Offset;
use jiff::{SignedDuration, Timestamp};

use crate::fold::refold;
use crate::text::push_escaped;

/// The `PRODID` of every calendar: identifies the product, not the build, so
/// a release does not change every ETag.
pub const PRODID: &str = "-//booking-api//booking-api 0.1//EN";

/// The refresh interval [`CalendarMeta::new`] suggests to subscribers.
pub const DEFAULT_REFRESH: SignedDuration = SignedDuration::from_mins(15);

/// The shortest refresh interval written; shorter ones are raised to it.
const MIN_REFRESH: SignedDuration = SignedDuration::from_mins(1);

/// The right-hand side of every `UID`.
const UID_DOMAIN: &str = "booking-api";

/// Output size of the calendar's frame (everything but the events), before
/// its name. Only a capacity hint.
const FRAME_ESTIMATE: usize = 320;

/// Output size of one typical event before its free text. Only a capacity hint.
const EVENT_ESTIMATE: usize = 420;

/// The most the feed's buffer is sized for up front; past that it grows as
/// usual (a size hint is not a promise).
const MAX_PRESIZE: usize = 64 << 20;

/// 0001-01-01T00:00:00Z: the earliest instant with a four-digit year, which
/// `DATE-TIME` requires. Earlier instants are written as this one.
const EARLIEST: Timestamp = Timestamp::constant(-62_135_596_800, 0);

/// A feed's calendar-level properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalendarMeta<'a> {
    /// The calendar's display name (`NAME`, `X-WR-CALNAME`): the provider's
    /// name.
    pub name: &'a str,
    /// How often subscribers should refresh (`REFRESH-INTERVAL`,
    /// `X-PUBLISHED-TTL`). Written in whole seconds, and at least one minute.
    pub refresh: SignedDuration,
}

impl<'a> CalendarMeta<'a> {
    /// A calendar called `name`, refreshed every [`DEFAULT_REFRESH`].
    pub fn new(name: &'a str) -> Self {
        CalendarMeta {
            name,
            refresh: DEFAULT_REFRESH,
        }
    }
}

/// One booking to render, with what the booking does not carry itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The booking.
    pub booking: &'a Booking,
    /// The booked service's name, for the `SUMMARY`.
    pub service_name: &'a str,
}

/// Renders a provider's feed: one `VEVENT` per entry, in the given order.
///
/// Renders exactly the entries given; choosing them (see
/// [`crate::in_feed`]) is the caller's job. The output is a pure function of
/// the arguments.
pub fn render_feed<'a>(
    meta: &CalendarMeta<'_>,
    entries: impl IntoIterator<Item = Entry<'a>>,
) -> String {
    let entries = entries.into_iter();
    let events = entries.size_hint().0.saturating_mul(EVENT_ESTIMATE);
    let frame = FRAME_ESTIMATE.saturating_add(meta.name.len().saturating_mul(2));
    let mut writer = Writer::with_capacity(frame.saturating_add(events).min(MAX_PRESIZE));
    writer.begin_calendar(meta.name, Some(meta.refresh));
    for entry in entries {
        writer.event(entry);
    }
    writer.end_calendar()
}

/// Renders the single-booking calendar ("add to calendar",
/// `GET /v1/bookings/{id}.ics`): the same `VEVENT` as in the feed, in a
/// `METHOD:PUBLISH` calendar named after the service.
///
/// It carries no refresh interval: it is imported once, and later changes
/// reach subscribers through the feed (the `UID` is the same).
pub fn render_booking(entry: Entry<'_>) -> String {
    let mut writer = Writer::with_capacity(
        FRAME_ESTIMATE + 2 * entry.service_name.len() + EVENT_ESTIMATE + free_text_len(entry),
    );
    writer.begin_calendar(entry.service_name, None);
    writer.event(entry);
    writer.end_calendar()
}

fn free_text_len(entry: Entry<'_>) -> usize {
    let b = entry.booking;
    // Escaping and folding add a little; this is a hint.
    (entry.service_name.len() + b.customer.name.len() + b.notes.as_ref().map_or(0, String::len))
        * 11
        / 10
}

/// The output buffer and two reused scratch buffers.
struct Writer {
    /// The calendar so far, folded.
    out: String,
    /// What `ics` writes for one component, before re-folding.
    scratch: String,
    /// One event's property values, escaped and formatted; `ics` borrows them.
    values: String,
}

impl Writer {
    fn with_capacity(capacity: usize) -> Self {
        Writer {
            out: String::with_capacity(capacity),
            scratch: String::with_capacity(1024),
            values: String::with_capacity(512),
        }
    }

    fn begin_calendar(&mut self, name: &str, refresh: Option<SignedDuration>) {
        self.out.push_str("BEGIN:VCALENDAR\r\n");
        let values = &mut self.values;
        values.clear();
        let name = push_range(values, |v| push_escaped(v, name));
        let refresh = refresh.map(|r| push_range(values, |v| push_duration(v, r)));
        let values = &*values;

        let mut properties: Vec<Property<'_>> = vec![
            Version::new("2.0").into(),
            ProdID::new(PRODID).into(),
            CalScale::new("GREGORIAN").into(),
            Method::new("PUBLISH").into(),
            Name::new(&values[name.clone()]).into(),
            Property::new("X-WR-CALNAME", &values[name]),
        ];
        if let Some(refresh) = refresh {
            properties.push(RefreshInterval::new(&values[refresh.clone()]).into());
            properties.push(Property::new("X-PUBLISHED-TTL", &values[refresh]));
        }

        self.scratch.clear();
        for property in &properties {
            display_into(&mut self.scratch, property);
        }
        refold(&self.scratch, &mut self.out);
    }

    fn event(&mut self, entry: Entry<'_>) {
        let b = entry.booking;
        let values = &mut self.values;
        values.clear();
        let uid = push_range(values, |v| {
            push_escaped(v, b.id.as_str());
            v.push('@');
            v.push_str(UID_DOMAIN);
        });
        let updated = push_range(values, |v| push_utc(v, b.updated_at));
        let created = push_range(values, |v| push_utc(v, b.created_at));
        let sequence = push_range(values, |v| push_u64(v, b.sequence.into()));
        let start = push_range(values, |v| push_utc(v, b.scheduled_at));
        let end = push_range(values, |v| push_utc(v, b.end_at()));
        let summary = push_range(values, |v| {
            push_escaped(v, entry.service_name);
            v.push_str(" with ");
            push_escaped(v, &b.customer.name);
        });
        let description = push_range(values, |v| {
            push_escaped(v, b.notes.as_deref().unwrap_or(""))
        });
        let values = &*values;

        let mut event = ics::Event::new(&values[uid], &values[updated.clone()]);
        event.push(Created::new(&values[created]));
        event.push(LastModified::new(&values[updated]));
        event.push(Sequence::new(&values[sequence]));
        event.push(DtStart::new(&values[start]));
        event.push(DtEnd::new(&values[end]));
        event.push(Status::new(status(b.status)));
        event.push(Summary::new(&values[summary]));
        if !description.is_empty() {
            event.push(Description::new(&values[description]));
        }
        event.push(Transp::new(transp(b.status)));

        self.scratch.clear();
        display_into(&mut self.scratch, &event);
        refold(&self.scratch, &mut self.out);
    }

    fn end_calendar(mut self) -> String {
        self.out.push_str("END:VCALENDAR\r\n");
        self.out
    }
}

/// `STATUS` of a booking's event.
fn status(status: BookingStatus) -> &'static str {
    match status {
        BookingStatus::Pending => "TENTATIVE",
        BookingStatus::Confirmed | BookingStatus::Completed => "CONFIRMED",
        BookingStatus::Cancelled => "CANCELLED",
    }
}

/// `TRANSP` of a booking's event: always `OPAQUE`, as the feed's contract
/// asks; a cancelled booking is marked by `STATUS:CANCELLED`, which every
/// client honours by removing or striking the event.
fn transp(_status: BookingStatus) -> &'static str {
    "OPAQUE"
}

/// Writes `item` (an `ics` component or property) into `buf`.
fn display_into(buf: &mut String, item: &impl fmt::Display) {
    // Infallible: writing to a `String` never fails, and `ics`'s `Display`
    // implementations only return errors their writer returned.
    #[allow(clippy::expect_used)]
    write!(buf, "{item}").expect("writing to a String cannot fail");
}

/// Appends what `write` writes to `buf` and returns where it is.
fn push_range(buf: &mut String, write: impl FnOnce(&mut String)) -> Range<usize> {
    let start = buf.len();
    write(buf);
    start..buf.len()
}

/// Appends a `DATE-TIME` in UTC form (`20270118T150000Z`), truncating
/// sub-second parts.
fn push_utc(out: &mut String, t: Timestamp) {
    let dt = Offset::UTC.to_datetime(t.max(EARLIEST));
    // Every field is non-negative: the year is at least 1 thanks to `EARLIEST`.
    let field = |v: i16| u32::try_from(v).unwrap_or(0);
    push_padded(out, field(dt.year()), 4);
    push_padded(out, field(dt.month().into()), 2);
    push_padded(out, field(dt.day().into()), 2);
    out.push('T');
    push_padded(out, field(dt.hour().into()), 2);
    push_padded(out, field(dt.minute().into()), 2);
    push_padded(out, field(dt.second().into()), 2);
    out.push('Z');
}

/// Appends the last `width` decimal digits of `n`, zero-padded.
fn push_padded(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        let digit = n / 10u32.pow(place) % 10;
        out.push(char::from_digit(digit, 10).unwrap_or('0'));
    }
}

/// Appends a `DURATION` (RFC 5545 §3.3.6) of whole seconds, at least
/// [`MIN_REFRESH`]: `P1D`, `PT15M`, `PT1H0M30S`, `P1DT2H`.
///
/// The grammar only allows a seconds part after a minutes part and a minutes
/// part after an hours part or alone, hence `PT1H0M30S` rather than
/// `PT1H30S`.
fn push_duration(out: &mut String, d: SignedDuration) {
    let secs = u64::try_from(d.max(MIN_REFRESH).as_secs()).unwrap_or(0);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (hours, minutes, seconds) = (rest / 3_600, rest % 3_600 / 60, rest % 60);
    out.push('P');
    if days > 0 {
        push_u64(out, days);
        out.push('D');
    }
    if rest == 0 {
        return;
    }
    out.push('T');
    if hours > 0 {
        push_u64(out, hours);
        out.push('H');
    }
    if minutes > 0 || (hours > 0 && seconds > 0) {
        push_u64(out, minutes);
        out.push('M');
    }
    if seconds > 0 {
        push_u64(out, seconds);
        out.push('S');
    }
}

/// Appends `n` in decimal.
fn push_u64(out: &mut String, n: u64) {
    display_into(out, &n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duration(d: SignedDuration) -> String {
        let mut out = String::new();
        push_duration(&mut out, d);
        out
    }

    fn utc(t: &str) -> String {
        let mut out = String::new();
        push_utc(&mut out, t.parse().unwrap());
        out
    }

    #[test]
    fn durations_follow_the_rfc_grammar() {
        let s = SignedDuration::from_secs;
        assert_eq!(duration(DEFAULT_REFRESH), "PT15M");
        assert_eq!(duration(s(3600)), "PT1H");
        assert_eq!(duration(s(3600 + 30)), "PT1H0M30S");
        assert_eq!(duration(s(3600 + 90)), "PT1H1M30S");
        assert_eq!(duration(s(90)), "PT1M30S");
        assert_eq!(duration(s(86_400)), "P1D");
        assert_eq!(duration(s(86_400 + 7200)), "P1DT2H");
        assert_eq!(duration(s(10 * 86_400 + 61)), "P10DT1M1S");
    }

    #[test]
    fn refresh_is_at_least_a_minute() {
        assert_eq!(duration(SignedDuration::ZERO), "PT1M");
        assert_eq!(duration(SignedDuration::from_secs(-600)), "PT1M");
        assert_eq!(duration(SignedDuration::from_secs(59)), "PT1M");
        assert_eq!(duration(SignedDuration::from_millis(60_999)), "PT1M");
    }

    #[test]
    fn date_times_are_utc_form() {
        assert_eq!(utc("2027-01-18T15:00:00Z"), "20270118T150000Z");
        assert_eq!(utc("2027-01-18T10:00:00-05:00"), "20270118T150000Z");
        assert_eq!(utc("2024-02-29T23:59:59.999Z"), "20240229T235959Z");
        assert_eq!(utc("0005-03-04T05:06:07Z"), "00050304T050607Z");
        assert_eq!(utc("-000100-01-01T00:00:00Z"), "00010101T000000Z");
        // jiff's last instant (leaving room for any offset).
        let mut max = String::new();
        push_utc(&mut max, Timestamp::MAX);
        assert_eq!(max, "99991230T220000Z");
    }
}
