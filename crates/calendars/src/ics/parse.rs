//! From the downloaded text to events: line normalisation, the parser crate,
//! and reading each `VEVENT`'s times into [`Event`]s.
//!
//! The text is normalised before parsing because real feeds are looser than
//! RFC 5545 and the parser is strict in ways that do not matter for busy
//! time: line endings become CRLF (the parser looks for CRLF first, and on
//! LF-only input would rescan the rest of the file for every line), folded
//! lines are unfolded, blank lines go, `BEGIN`/`END` lines are upper-cased
//! (component names are case-insensitive), and only `BEGIN:VCALENDAR` …
//! `END:VCALENDAR` blocks are kept, each parsed on its own (some servers
//! concatenate several, or append a stray line after the last).
//!
//! The same pass drops what busy time never reads: every property but the
//! handful of [`KEPT_PROPERTIES`] and every component but those of
//! [`KEPT_COMPONENTS`] (alarms, to-dos). A Google export is mostly
//! descriptions and attendee lists; the parser only ever sees the fifth of
//! it that matters, which keeps a 5,000-event file well within the time
//! budget and means a vendor property the parser would choke on (odd
//! quoting in `X-APPLE-STRUCTURED-LOCATION`, say) cannot fail the file.
//!
//! Each event's times are resolved here, once: a `TZID` through [`Zones`],
//! `Z` as UTC, and a floating time or a DATE in the calendar's zone
//! (`X-WR-TIMEZONE` when it names a known zone, else UTC). An event whose
//! `DTSTART` cannot be read is skipped and counted, not fatal: one broken
//! event should not hide the busy time of the others.

use icalendar::parser::{Component, Property, read_calendar_simple};
use jiff::Span;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::error::IcsError;
use super::values::{is, param, parse_date, parse_date_time, parse_duration, prop, props, value};
use super::zones::Zones;

/// A DATE or DATE-TIME value with the zone it is read in.
#[derive(Debug, Clone)]
pub(crate) struct Moment {
    /// The wall-clock value (midnight for a DATE).
    pub(crate) civil: DateTime,
    /// UTC for `Z`, the `TZID`'s zone, or the calendar's zone.
    pub(crate) zone: TimeZone,
    /// A DATE (a whole day), not a DATE-TIME.
    pub(crate) date_only: bool,
}

/// How an occurrence ends.
#[derive(Debug, Clone)]
pub(crate) enum End {
    /// `DTEND` (or the end of a `PERIOD`).
    At(Moment),
    /// `DURATION` (or a `PERIOD` with a duration).
    Duration(Span),
    /// Neither: a day for a DATE start, nothing for a DATE-TIME start.
    Unspecified,
}

/// One `RDATE` value.
#[derive(Debug, Clone)]
pub(crate) enum RDate {
    /// A start; the occurrence lasts as long as the event.
    At(Moment),
    /// A `PERIOD`: its own start and end.
    Period(Moment, End),
}

/// One `VEVENT`, with what busy time needs of it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// `UID`, which ties a `RECURRENCE-ID` override to its series.
    pub(crate) uid: Option<String>,
    /// `DTSTART`.
    pub(crate) start: Moment,
    /// `DTEND`, `DURATION` or neither.
    pub(crate) end: End,
    /// Not cancelled, not transparent, not Outlook "free".
    pub(crate) busy: bool,
    /// `RECURRENCE-ID`: this event replaces that instance of its series.
    pub(crate) recurrence_id: Option<Moment>,
    /// `RRULE` values, as written.
    pub(crate) rrules: Vec<String>,
    /// `RDATE` values.
    pub(crate) rdates: Vec<RDate>,
    /// `EXDATE` values.
    pub(crate) exdates: Vec<Moment>,
}

/// What a file holds for busy time.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Every readable `VEVENT`.
    pub(crate) events: Vec<Event>,
    /// Busy periods of `VFREEBUSY` components (`FREEBUSY` not `FBTYPE=FREE`).
    pub(crate) free_busy: Vec<(Moment, End)>,
    /// `VEVENT`s skipped because their start could not be read.
    pub(crate) skipped: usize,
    /// Distinct `TZID`s read as UTC because nothing else matched.
    pub(crate) unknown_zones: usize,
}

/// The components busy time reads; any other (`VALARM`, `VTODO`,
/// `VJOURNAL`, vendor blocks) is dropped with everything inside it.
const KEPT_COMPONENTS: &[&str] = &[
    "VCALENDAR",
    "VEVENT",
    "VFREEBUSY",
    "VTIMEZONE",
    "STANDARD",
    "DAYLIGHT",
];

/// The properties busy time reads; the others (descriptions, attendees,
/// locations, vendor extensions) never reach the parser.
const KEPT_PROPERTIES: &[&str] = &[
    "DTSTART",
    "DTEND",
    "DURATION",
    "RRULE",
    "RDATE",
    "EXDATE",
    "RECURRENCE-ID",
    "UID",
    "STATUS",
    "TRANSP",
    "X-MICROSOFT-CDO-BUSYSTATUS",
    "X-WR-TIMEZONE",
    "TZID",
    "TZOFFSETFROM",
    "TZOFFSETTO",
    "FREEBUSY",
];

/// Text ready for the parser: `BEGIN:VCALENDAR` … `END:VCALENDAR` blocks,
/// each with the original line number of each of its lines.
struct Normalized {
    blocks: Vec<(String, Vec<usize>)>,
}

/// Builds [`Normalized`] from logical (unfolded) lines.
#[derive(Default)]
struct Blocks {
    done: Vec<(String, Vec<usize>)>,
    current: Option<(String, Vec<usize>)>,
    /// Names of the dropped components being skipped, innermost last.
    skipping: Vec<String>,
}

impl Blocks {
    fn emit(&mut self, line: &str, number: usize) {
        if let Some((text, lines)) = self.current.as_mut() {
            text.push_str(line);
            text.push_str("\r\n");
            lines.push(number);
        }
    }

    fn finish_block(&mut self) {
        if let Some(block) = self.current.take() {
            self.done.push(block);
        }
        self.skipping.clear();
    }

    fn line(&mut self, line: &str, number: usize) {
        let name_end = name_end(line);
        let name = line[..name_end].trim_end();
        let marker =
            |keyword: &str| name.eq_ignore_ascii_case(keyword) && line[name_end..].starts_with(':');
        let (begin, end) = (marker("BEGIN"), marker("END"));
        if begin || end {
            let component = line[name_end + 1..].trim().to_ascii_uppercase();
            if let Some(innermost) = self.skipping.last() {
                if begin {
                    self.skipping.push(component);
                } else if *innermost == component {
                    self.skipping.pop();
                }
                return;
            }
            if begin && component == "VCALENDAR" {
                // An unterminated previous block is kept so the parser
                // reports it.
                self.finish_block();
                self.current = Some((String::new(), Vec::new()));
            } else if self.current.is_none() {
                return; // Outside any calendar.
            } else if begin && !KEPT_COMPONENTS.contains(&component.as_str()) {
                self.skipping.push(component);
                return;
            }
            let keyword = if begin { "BEGIN" } else { "END" };
            self.emit(&format!("{keyword}:{component}"), number);
            if end && component == "VCALENDAR" {
                self.finish_block();
            }
        } else if self.skipping.is_empty() && is_kept_property(name) {
            self.emit(line, number);
        }
    }
}

/// Where a content line's name ends (at its first `;` or `:`).
fn name_end(line: &str) -> usize {
    line.bytes()
        .position(|b| b == b';' || b == b':')
        .unwrap_or(line.len())
}

fn is_kept_property(name: &str) -> bool {
    KEPT_PROPERTIES
        .iter()
        .any(|kept| kept.eq_ignore_ascii_case(name))
}

/// Whether a line starting with this physical line can matter: `BEGIN`,
/// `END` or a kept property. Decided on the first physical line so that
/// the folded continuations of dropped properties are never copied (a
/// name is never folded in practice: folding happens at 75 octets).
fn may_keep(first: &str) -> bool {
    let name = first[..name_end(first)].trim_end();
    name.eq_ignore_ascii_case("BEGIN") || name.eq_ignore_ascii_case("END") || is_kept_property(name)
}

/// See the module documentation.
fn normalize(input: &str) -> Normalized {
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    let mut blocks = Blocks::default();
    // The logical line being unfolded (when it may be kept), and its first
    // physical line number.
    let mut logical = String::new();
    let mut logical_number = 0;
    let mut dropping = false;
    for (index, raw) in input.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t']) {
            if dropping {
                continue;
            }
            if !logical.is_empty() {
                logical.push_str(rest);
                continue;
            }
        }
        if raw.trim().is_empty() {
            continue;
        }
        if !logical.is_empty() {
            blocks.line(&logical, logical_number);
        }
        logical.clear();
        dropping = !may_keep(raw);
        if !dropping {
            logical.push_str(raw);
            logical_number = index + 1;
        }
    }
    if !logical.is_empty() {
        blocks.line(&logical, logical_number);
    }
    blocks.finish_block();
    Normalized {
        blocks: blocks.done,
    }
}

/// Parses `text` into events and free/busy periods.
pub(crate) fn parse(text: &str) -> Result<Parsed, IcsError> {
    let normalized = normalize(text);
    if normalized.blocks.is_empty() {
        return Err(IcsError::NotICalendar);
    }
    let mut parsed = Parsed::default();
    for (block, lines) in &normalized.blocks {
        let components = read_calendar_simple(block).map_err(|error| {
            // The error points into `block`: find its line.
            let offset = block.len().saturating_sub(error.input.len());
            let index = block
                .get(..offset)
                .map_or(0, |before| before.matches("\r\n").count());
            let line = lines
                .get(index)
                .or(lines.last())
                .copied()
                .unwrap_or_default();
            IcsError::Malformed { line }
        })?;
        for calendar in &components {
            if is(calendar.name.as_str(), "VCALENDAR") {
                read_calendar(calendar, &mut parsed);
            }
        }
    }
    Ok(parsed)
}

/// Reads one `VCALENDAR` into `parsed`.
fn read_calendar(calendar: &Component<'_>, parsed: &mut Parsed) {
    let mut zones = Zones::new(calendar.components.iter());
    let calendar_zone = value(calendar, "X-WR-TIMEZONE")
        .and_then(|name| zones.lookup(name))
        .unwrap_or(TimeZone::UTC);
    let mut reader = Reader {
        zones: &mut zones,
        calendar_zone,
    };
    for component in &calendar.components {
        let name = component.name.as_str();
        if is(name, "VEVENT") {
            match reader.event(component) {
                Some(event) => parsed.events.push(event),
                None => parsed.skipped += 1,
            }
        } else if is(name, "VFREEBUSY") {
            reader.free_busy(component, &mut parsed.free_busy);
        }
    }
    parsed.unknown_zones += zones.unknown;
}

/// Reads values of one calendar, resolving zones as it goes.
struct Reader<'z> {
    zones: &'z mut Zones,
    calendar_zone: TimeZone,
}

impl Reader<'_> {
    /// One `VEVENT`; `None` when it has no readable `DTSTART`.
    fn event(&mut self, component: &Component<'_>) -> Option<Event> {
        let start = self.moment(prop(component, "DTSTART")?)?;
        let end = match (prop(component, "DTEND"), value(component, "DURATION")) {
            (Some(dtend), _) => self.moment(dtend).map_or(End::Unspecified, End::At),
            (None, Some(duration)) => {
                parse_duration(duration).map_or(End::Unspecified, End::Duration)
            }
            (None, None) => End::Unspecified,
        };
        let upper = |name: &str| value(component, name).map(str::to_ascii_uppercase);
        let cancelled = upper("STATUS").as_deref() == Some("CANCELLED");
        let transparent = upper("TRANSP").as_deref() == Some("TRANSPARENT");
        let outlook_free = upper("X-MICROSOFT-CDO-BUSYSTATUS").as_deref() == Some("FREE");
        let recurrence_id = match prop(component, "RECURRENCE-ID") {
            Some(p) => Some(self.moment(p)?),
            None => None,
        };
        let rrules = props(component, "RRULE")
            .map(|p| p.val.as_str().trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        let mut rdates = Vec::new();
        for p in props(component, "RDATE") {
            self.rdates(p, &mut rdates);
        }
        let mut exdates = Vec::new();
        for p in props(component, "EXDATE") {
            exdates.extend(self.moments(p));
        }
        Some(Event {
            uid: value(component, "UID").map(str::to_owned),
            start,
            end,
            busy: !(cancelled || transparent || outlook_free),
            recurrence_id,
            rrules,
            rdates,
            exdates,
        })
    }

    /// The busy periods of a `VFREEBUSY`.
    fn free_busy(&mut self, component: &Component<'_>, out: &mut Vec<(Moment, End)>) {
        for p in props(component, "FREEBUSY") {
            let free = param(p, "FBTYPE").is_some_and(|t| t.eq_ignore_ascii_case("FREE"));
            if free {
                continue;
            }
            for item in p.val.as_str().split(',') {
                if let Some(period) = self.period(p, item) {
                    out.push(period);
                }
            }
        }
    }

    /// `RDATE` values: start times, dates or periods.
    fn rdates(&mut self, p: &Property<'_>, out: &mut Vec<RDate>) {
        for item in p.val.as_str().split(',') {
            if item.contains('/') {
                if let Some((start, end)) = self.period(p, item) {
                    out.push(RDate::Period(start, end));
                }
            } else if let Some(moment) = self.read(p, item) {
                out.push(RDate::At(moment));
            }
        }
    }

    /// A `PERIOD`: `start/end` or `start/duration`.
    fn period(&mut self, p: &Property<'_>, item: &str) -> Option<(Moment, End)> {
        let (start, end) = item.split_once('/')?;
        let start = self.read(p, start)?;
        let end = if end.trim_start().starts_with(['P', 'p', '+', '-']) {
            End::Duration(parse_duration(end)?)
        } else {
            End::At(self.read(p, end)?)
        };
        Some((start, end))
    }

    /// The single value of a DATE or DATE-TIME property.
    fn moment(&mut self, p: &Property<'_>) -> Option<Moment> {
        self.read(p, p.val.as_str())
    }

    /// Every value of a list property (`EXDATE:…,…`), skipping unreadable ones.
    fn moments(&mut self, p: &Property<'_>) -> Vec<Moment> {
        p.val
            .as_str()
            .split(',')
            .filter_map(|item| self.read(p, item))
            .collect()
    }

    /// One DATE or DATE-TIME value of property `p` (whose parameters say
    /// `VALUE=DATE` or `TZID=…`).
    fn read(&mut self, p: &Property<'_>, item: &str) -> Option<Moment> {
        let item = item.trim();
        let date_value = param(p, "VALUE").is_some_and(|v| v.eq_ignore_ascii_case("DATE"));
        if date_value || item.len() == 8 {
            let date = parse_date(item)?;
            return Some(Moment {
                civil: date.to_datetime(jiff::civil::Time::midnight()),
                zone: self.calendar_zone.clone(),
                date_only: true,
            });
        }
        let (civil, utc) = parse_date_time(item)?;
        let zone = if utc {
            TimeZone::UTC
        } else if let Some(tzid) = param(p, "TZID") {
            self.zones.resolve(tzid)
        } else {
            self.calendar_zone.clone()
        };
        Some(Moment {
            civil,
            zone,
            date_only: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_unfolds_and_keeps_only_calendars() {
        let input = "\u{feff}junk before\nbegin:vcalendar\nVERSION:2.0\n\nX-WR-TIMEZONE:Europe/\n  Paris\r\n\tx\nbegin:vevent\nSUMMARY:dropped\nBEGIN:VALARM\nBEGIN:X-NESTED\nDTSTART:dropped\nEND:X-NESTED\nEND:VALARM\ndtstart:20250101\nend:vevent\nend:vcalendar\ntrailing junk\nBEGIN:VCALENDAR\nEND:VCALENDAR";
        let normalized = normalize(input);
        assert_eq!(normalized.blocks.len(), 2);
        assert_eq!(
            normalized.blocks[0].0,
            "BEGIN:VCALENDAR\r\nX-WR-TIMEZONE:Europe/ Parisx\r\nBEGIN:VEVENT\r\ndtstart:20250101\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        assert_eq!(normalized.blocks[0].1, vec![2, 5, 8, 15, 16, 17]);
        assert_eq!(
            normalized.blocks[1].0,
            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
        );
    }

    #[test]
    fn not_a_calendar() {
        assert_eq!(
            parse("<html><body>Sign in</body></html>").unwrap_err(),
            IcsError::NotICalendar
        );
        assert_eq!(parse("").unwrap_err(), IcsError::NotICalendar);
    }

    #[test]
    fn a_broken_line_is_reported_with_its_original_number() {
        let input = "BEGIN:VCALENDAR\nVERSION:2.0\nBEGIN:VEVENT\nDTSTART:20250101T090000Z\nEND:VTODO\nEND:VCALENDAR\n";
        assert_eq!(parse(input).unwrap_err(), IcsError::Malformed { line: 5 });
        let truncated = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20250101T090000Z\n";
        assert!(matches!(
            parse(truncated).unwrap_err(),
            IcsError::Malformed { .. }
        ));
    }

    #[test]
    fn events_are_read_with_their_zones() {
        let input = "BEGIN:VCALENDAR
X-WR-TIMEZONE:Europe/Paris
BEGIN:VEVENT
UID:a
DTSTART;TZID=America/New_York:20250310T090000
DTEND;TZID=America/New_York:20250310T100000
RRULE:FREQ=WEEKLY
EXDATE;TZID=America/New_York:20250317T090000,20250324T090000
RDATE;VALUE=PERIOD:20250401T120000Z/PT1H
END:VEVENT
BEGIN:VEVENT
UID:b
DTSTART;VALUE=DATE:20250101
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:c
DTSTART:20250101T090000
DURATION:PT30M
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
SUMMARY:no start
END:VEVENT
BEGIN:VFREEBUSY
FREEBUSY;FBTYPE=BUSY:20250102T100000Z/20250102T110000Z,20250103T100000Z/PT2H
FREEBUSY;FBTYPE=FREE:20250104T100000Z/20250104T110000Z
END:VFREEBUSY
END:VCALENDAR
";
        let parsed = parse(input).unwrap();
        assert_eq!(parsed.skipped, 1);
        assert_eq!(parsed.events.len(), 3);
        let a = &parsed.events[0];
        assert_eq!(a.start.zone.iana_name(), Some("America/New_York"));
        assert!(a.busy && !a.start.date_only);
        assert_eq!(a.rrules, vec!["FREQ=WEEKLY".to_owned()]);
        assert_eq!(a.exdates.len(), 2);
        assert!(matches!(
            &a.rdates[..],
            [RDate::Period(_, End::Duration(_))]
        ));
        let b = &parsed.events[1];
        assert!(!b.busy && b.start.date_only);
        assert_eq!(b.start.zone.iana_name(), Some("Europe/Paris"));
        let c = &parsed.events[2];
        assert!(!c.busy);
        // Floating: the calendar's zone.
        assert_eq!(c.start.zone.iana_name(), Some("Europe/Paris"));
        assert!(matches!(c.end, End::Duration(_)));
        assert_eq!(parsed.free_busy.len(), 2);
    }
}
