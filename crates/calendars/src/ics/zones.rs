//! Which time zone a `TZID` names.
//!
//! Exporters disagree on how to name zones, so resolution tries, in order:
//!
//! 1. an IANA name (`America/New_York`), from jiff's bundled database, the
//!    same one the rest of booking-api uses;
//! 2. a Windows name (`W. Europe Standard Time`, as Outlook and Exchange
//!    publish), through CLDR's mapping ([`super::windows_zones`]);
//! 3. an IANA name at the end of a path-like id
//!    (`/mozilla.org/20050126_1/Europe/Paris`, `/citadel.org/…/Europe/Rome`);
//! 4. the file's own `VTIMEZONE` with that `TZID`, converted to a POSIX TZ
//!    rule: its current yearly daylight-saving rule (`BYMONTH` with
//!    `BYDAY=2SU`/`-1SU`, or the old `BYMONTHDAY=8,…,14;BYDAY=SU` spelling),
//!    or its current fixed offset when it has no such rule. Past rule changes
//!    recorded in the definition are not replayed: only the latest applies;
//! 5. otherwise UTC (and a debug log), since a wrong zone shifts a block by
//!    hours but dropping the event would lose it altogether.
//!
//! Resolved zones are cached per file: a 5,000-event export names the same
//! few zones thousands of times.

use std::collections::HashMap;

use icalendar::parser::Component;
use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::values::{is, parse_date_time, parse_utc_offset, value};
use super::windows_zones::windows_to_iana;

/// Resolves the `TZID`s of one file.
pub(crate) struct Zones {
    /// The file's `VTIMEZONE`s, converted (`None`: could not be), by `TZID`.
    defined: HashMap<String, Option<TimeZone>>,
    cache: HashMap<String, TimeZone>,
    /// How many distinct `TZID`s fell back to UTC.
    pub(crate) unknown: usize,
}

impl Zones {
    /// Collects the `VTIMEZONE` definitions among `components`.
    pub(crate) fn new<'c, 'a: 'c>(
        components: impl IntoIterator<Item = &'c Component<'a>>,
    ) -> Zones {
        let mut defined = HashMap::new();
        for component in components {
            if !is(component.name.as_str(), "VTIMEZONE") {
                continue;
            }
            if let Some(tzid) = value(component, "TZID") {
                defined.insert(tzid.to_owned(), from_vtimezone(component));
            }
        }
        Zones {
            defined,
            cache: HashMap::new(),
            unknown: 0,
        }
    }

    /// The zone `tzid` names (see the module documentation for the order).
    pub(crate) fn resolve(&mut self, tzid: &str) -> TimeZone {
        if let Some(tz) = self.cache.get(tzid) {
            return tz.clone();
        }
        let tz = self.lookup(tzid).unwrap_or_else(|| {
            self.unknown += 1;
            tracing::debug!(tzid, "unknown TZID in an ICS calendar; read as UTC");
            TimeZone::UTC
        });
        self.cache.insert(tzid.to_owned(), tz.clone());
        tz
    }

    /// Like [`Zones::resolve`] but `None` instead of the UTC fallback.
    pub(crate) fn lookup(&self, tzid: &str) -> Option<TimeZone> {
        let name = tzid.trim().trim_matches('"');
        if let Some(tz) = iana(name) {
            return Some(tz);
        }
        if let Some(tz) = windows_to_iana(name).and_then(iana) {
            return Some(tz);
        }
        if let Some(tz) = iana_suffix(name) {
            return Some(tz);
        }
        self.defined
            .get(tzid)
            .or_else(|| self.defined.get(name))
            .cloned()
            .flatten()
    }
}

/// An IANA zone by name; empty and implausible names are not looked up.
fn iana(name: &str) -> Option<TimeZone> {
    if name.is_empty() || name.len() > 64 {
        return None;
    }
    TimeZone::get(name).ok()
}

/// The IANA name at the end of a path-like `TZID`: its last three, then
/// last two, path segments.
fn iana_suffix(name: &str) -> Option<TimeZone> {
    let segments: Vec<&str> = name.split('/').filter(|s| !s.is_empty()).collect();
    if segments.len() < 2 {
        return None;
    }
    [3, 2]
        .into_iter()
        .filter(|&n| segments.len() > n || (segments.len() == n && name.starts_with('/')))
        .find_map(|n| iana(&segments[segments.len() - n..].join("/")))
}

/// One `STANDARD` or `DAYLIGHT` observance.
struct Observance {
    start: DateTime,
    offset_to: Offset,
    /// `(month, week 1–5 where 5 is "last", weekday 0–6 from Sunday)`.
    rule: Option<(i8, i8, i8)>,
}

fn observance(component: &Component<'_>) -> Option<Observance> {
    let (start, _) = parse_date_time(value(component, "DTSTART")?)?;
    let offset_to = parse_utc_offset(value(component, "TZOFFSETTO")?)?;
    let rule = value(component, "RRULE").and_then(yearly_rule);
    Some(Observance {
        start,
        offset_to,
        rule,
    })
}

/// The latest observance of a kind (`STANDARD` or `DAYLIGHT`).
fn latest(vtimezone: &Component<'_>, kind: &str) -> Option<Observance> {
    vtimezone
        .components
        .iter()
        .filter(|c| is(c.name.as_str(), kind))
        .filter_map(observance)
        .max_by_key(|o| o.start)
}

/// Converts a `VTIMEZONE` into a jiff zone (see the module documentation).
fn from_vtimezone(vtimezone: &Component<'_>) -> Option<TimeZone> {
    let standard = latest(vtimezone, "STANDARD");
    let daylight = latest(vtimezone, "DAYLIGHT");
    match (standard, daylight) {
        (Some(std), Some(dst)) => match (std.rule, dst.rule) {
            (Some(std_rule), Some(dst_rule)) if std.offset_to != dst.offset_to => {
                let posix = format!(
                    "STD{}DST{},{},{}",
                    posix_offset(std.offset_to),
                    posix_offset(dst.offset_to),
                    posix_rule(dst_rule, dst.start),
                    posix_rule(std_rule, std.start),
                );
                TimeZone::posix(&posix)
                    .ok()
                    .or(Some(TimeZone::fixed(std.offset_to)))
            }
            // No usable yearly rule: whichever observance began last holds.
            _ if dst.start > std.start && dst.rule.is_none() => {
                Some(TimeZone::fixed(dst.offset_to))
            }
            _ => Some(TimeZone::fixed(std.offset_to)),
        },
        (Some(only), None) | (None, Some(only)) => Some(TimeZone::fixed(only.offset_to)),
        (None, None) => None,
    }
}

/// `M<month>.<week>.<weekday>/<time>`; the time is the observance's
/// `DTSTART` time of day, local time before the transition, as in POSIX.
fn posix_rule((month, week, weekday): (i8, i8, i8), start: DateTime) -> String {
    format!(
        "M{month}.{week}.{weekday}/{}:{:02}:{:02}",
        start.hour(),
        start.minute(),
        start.second()
    )
}

/// A POSIX offset: hours west of UTC, so the sign is the opposite of ISO's.
fn posix_offset(offset: Offset) -> String {
    let west = -offset.seconds();
    let sign = if west < 0 { "-" } else { "" };
    let west = west.unsigned_abs();
    let (hours, minutes, seconds) = (west / 3600, west / 60 % 60, west % 60);
    match (minutes, seconds) {
        (0, 0) => format!("{sign}{hours}"),
        (_, 0) => format!("{sign}{hours}:{minutes:02}"),
        _ => format!("{sign}{hours}:{minutes:02}:{seconds:02}"),
    }
}

/// Reads a `VTIMEZONE` observance's yearly `RRULE` into
/// `(month, week, weekday)`; `None` for anything else, and for a rule with
/// `UNTIL` (it has ended).
fn yearly_rule(rrule: &str) -> Option<(i8, i8, i8)> {
    let mut freq = None;
    let mut month = None;
    let mut by_day = None;
    let mut by_month_day = None;
    for part in rrule.split(';') {
        let (key, val) = part.split_once('=')?;
        let key = key.trim().to_ascii_uppercase();
        let val = val.trim();
        match key.as_str() {
            "FREQ" => freq = Some(val.to_ascii_uppercase()),
            "BYMONTH" => month = val.parse::<i8>().ok(),
            "BYDAY" => by_day = Some(val.to_ascii_uppercase()),
            "BYMONTHDAY" => by_month_day = Some(val),
            "UNTIL" | "COUNT" => return None,
            _ => {}
        }
    }
    if freq.as_deref() != Some("YEARLY") {
        return None;
    }
    let month = month.filter(|m| (1..=12).contains(m))?;
    let by_day = by_day?;
    let day_name = by_day.get(by_day.len().checked_sub(2)?..)?;
    let weekday = ["SU", "MO", "TU", "WE", "TH", "FR", "SA"]
        .iter()
        .position(|d| *d == day_name)? as i8;
    let ordinal = &by_day[..by_day.len() - 2];
    let week = if ordinal.is_empty() {
        // BYDAY=SU with BYMONTHDAY=8,9,…,14 (second Sunday) or -7,…,-1 (last).
        let days: Vec<i8> = by_month_day?
            .split(',')
            .map(|d| d.trim().parse().ok())
            .collect::<Option<_>>()?;
        let first = *days.first()?;
        let consecutive = days.len() == 7 && days.windows(2).all(|w| w[1] == w[0] + 1);
        match first {
            _ if !consecutive => return None,
            1 | 8 | 15 | 22 => (first - 1) / 7 + 1,
            -7 => 5,
            _ => return None,
        }
    } else {
        match ordinal.trim_start_matches('+').parse::<i8>().ok()? {
            n @ 1..=4 => n,
            5 | -1 => 5,
            _ => return None,
        }
    };
    Some((month, week, weekday))
}

#[cfg(test)]
mod tests {
    use icalendar::parser::read_calendar_simple;
    use jiff::Timestamp;
    use jiff::civil::date;

    use super::*;

    fn zones(text: &str) -> Zones {
        let normalized = text.replace('\n', "\r\n");
        let components = read_calendar_simple(&normalized).unwrap();
        let calendar = components.into_iter().next().unwrap();
        Zones::new(calendar.components.iter())
    }

    fn utc(tz: &TimeZone, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
        tz.to_timestamp(date(y, mo, d).at(h, mi, 0, 0)).unwrap()
    }

    const OUTLOOK_CUSTOM: &str = "BEGIN:VCALENDAR
BEGIN:VTIMEZONE
TZID:Customized Time Zone
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Old US Eastern
BEGIN:STANDARD
DTSTART:19671029T020000
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061029T060000Z
END:STANDARD
BEGIN:STANDARD
DTSTART:20071104T020000
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
RRULE:FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=1,2,3,4,5,6,7;BYDAY=SU
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:20070311T020000
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VTIMEZONE
TZID:Fixed Plus Five Thirty
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
END:STANDARD
END:VTIMEZONE
END:VCALENDAR
";

    #[test]
    fn iana_and_windows_names_win_over_definitions() {
        let mut zones = zones(OUTLOOK_CUSTOM);
        assert_eq!(
            zones.resolve("America/New_York").iana_name(),
            Some("America/New_York")
        );
        assert_eq!(
            zones.resolve("W. Europe Standard Time").iana_name(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            zones
                .resolve("/mozilla.org/20050126_1/America/Argentina/Buenos_Aires")
                .iana_name(),
            Some("America/Argentina/Buenos_Aires")
        );
        assert_eq!(
            zones
                .resolve("/citadel.org/20190914_1/Europe/Paris")
                .iana_name(),
            Some("Europe/Paris")
        );
        assert_eq!(zones.unknown, 0);
    }

    #[test]
    fn a_vtimezone_with_yearly_rules_becomes_a_posix_zone() {
        let mut zones = zones(OUTLOOK_CUSTOM);
        let tz = zones.resolve("Customized Time Zone");
        // Central European: +01:00 in winter, +02:00 from the last Sunday
        // of March (30 March 2025) to the last Sunday of October.
        assert_eq!(
            utc(&tz, 2025, 1, 15, 9, 0).to_string(),
            "2025-01-15T08:00:00Z"
        );
        assert_eq!(
            utc(&tz, 2025, 3, 29, 9, 0).to_string(),
            "2025-03-29T08:00:00Z"
        );
        assert_eq!(
            utc(&tz, 2025, 3, 31, 9, 0).to_string(),
            "2025-03-31T07:00:00Z"
        );
        assert_eq!(
            utc(&tz, 2025, 10, 27, 9, 0).to_string(),
            "2025-10-27T08:00:00Z"
        );
    }

    #[test]
    fn the_latest_observances_apply_including_the_monthday_spelling() {
        let mut zones = zones(OUTLOOK_CUSTOM);
        let tz = zones.resolve("Old US Eastern");
        // 2025: DST from 9 March to 2 November.
        assert_eq!(
            utc(&tz, 2025, 3, 8, 9, 0).to_string(),
            "2025-03-08T14:00:00Z"
        );
        assert_eq!(
            utc(&tz, 2025, 3, 10, 9, 0).to_string(),
            "2025-03-10T13:00:00Z"
        );
        assert_eq!(
            utc(&tz, 2025, 11, 1, 9, 0).to_string(),
            "2025-11-01T13:00:00Z"
        );
        assert_eq!(
            utc(&tz, 2025, 11, 3, 9, 0).to_string(),
            "2025-11-03T14:00:00Z"
        );
    }

    #[test]
    fn a_vtimezone_without_rules_is_a_fixed_offset() {
        let mut zones = zones(OUTLOOK_CUSTOM);
        let tz = zones.resolve("Fixed Plus Five Thirty");
        assert_eq!(
            utc(&tz, 2025, 6, 1, 9, 0).to_string(),
            "2025-06-01T03:30:00Z"
        );
    }

    #[test]
    fn unknown_names_are_utc_and_counted_once() {
        let mut zones = zones(OUTLOOK_CUSTOM);
        assert_eq!(zones.resolve("Mars/Olympus_Mons"), TimeZone::UTC);
        assert_eq!(zones.resolve("Mars/Olympus_Mons"), TimeZone::UTC);
        assert_eq!(zones.unknown, 1);
        assert!(zones.lookup("").is_none());
    }

    #[test]
    fn rules_that_cannot_be_posix_are_refused() {
        assert_eq!(
            yearly_rule("FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"),
            Some((3, 5, 0))
        );
        assert_eq!(
            yearly_rule("FREQ=YEARLY;BYMONTH=10;BYDAY=+2FR"),
            Some((10, 2, 5))
        );
        assert_eq!(
            yearly_rule("FREQ=YEARLY;BYMONTH=4;BYMONTHDAY=-7,-6,-5,-4,-3,-2,-1;BYDAY=SU"),
            Some((4, 5, 0))
        );
        assert_eq!(yearly_rule("FREQ=YEARLY;BYMONTH=3;BYDAY=-2SU"), None);
        assert_eq!(yearly_rule("FREQ=MONTHLY;BYMONTH=3;BYDAY=1SU"), None);
        assert_eq!(yearly_rule("FREQ=YEARLY;BYDAY=1SU"), None);
        assert_eq!(
            yearly_rule("FREQ=YEARLY;BYMONTH=3;BYDAY=1SU;UNTIL=20060402T070000Z"),
            None
        );
        assert_eq!(
            yearly_rule("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=9,10,11,12,13,14,15;BYDAY=SU"),
            None
        );
    }

    #[test]
    fn posix_offsets_count_west() {
        let o = |s| posix_offset(Offset::from_seconds(s).unwrap());
        assert_eq!(o(3600), "-1");
        assert_eq!(o(-5 * 3600), "5");
        assert_eq!(o(5 * 3600 + 1800), "-5:30");
        assert_eq!(o(-(3 * 3600 + 1800)), "3:30");
        assert_eq!(o(0), "0");
        assert_eq!(o(45 * 60 + 12), "-0:45:12");
    }
}
