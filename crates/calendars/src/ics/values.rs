//! RFC 5545 value types read by hand: DATE, DATE-TIME, UTC-OFFSET and
//! DURATION, plus property and parameter look-ups on the parser's tree.
//!
//! The parser crate hands back property values as text; it has typed
//! conversions, but they go through chrono and lose the distinction between
//! a floating time, a `Z` time and a `TZID` time that busy time depends on.
//! These readers are strict about shape (digits where digits belong) and
//! lenient about what real feeds get wrong: surrounding whitespace and
//! lower-case letters.

use icalendar::parser::{Component, Property};
use jiff::civil::{Date, DateTime};
use jiff::{Span, tz::Offset};

/// Whether a property or component name is `name` (names are case-insensitive).
pub(crate) fn is(actual: &str, name: &str) -> bool {
    actual.eq_ignore_ascii_case(name)
}

/// The first property called `name`.
pub(crate) fn prop<'c, 'a>(component: &'c Component<'a>, name: &str) -> Option<&'c Property<'a>> {
    component
        .properties
        .iter()
        .find(|p| is(p.name.as_str(), name))
}

/// Every property called `name`.
pub(crate) fn props<'c, 'a>(
    component: &'c Component<'a>,
    name: &'c str,
) -> impl Iterator<Item = &'c Property<'a>> + 'c {
    component
        .properties
        .iter()
        .filter(move |p| is(p.name.as_str(), name))
}

/// The trimmed value of the first property called `name`.
pub(crate) fn value<'c>(component: &'c Component<'_>, name: &str) -> Option<&'c str> {
    prop(component, name).map(|p| p.val.as_str().trim())
}

/// The value of a property's parameter `key`, without surrounding quotes.
pub(crate) fn param<'p>(property: &'p Property<'_>, key: &str) -> Option<&'p str> {
    property
        .params
        .iter()
        .find(|p| is(p.key.as_str(), key))
        .and_then(|p| p.val.as_ref())
        .map(|v| v.as_str().trim().trim_matches('"'))
}

fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A DATE value, `YYYYMMDD`.
pub(crate) fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if s.len() != 8 {
        return None;
    }
    let year: i16 = digits(s.get(0..4)?)?;
    let month: i8 = digits(s.get(4..6)?)?;
    let day: i8 = digits(s.get(6..8)?)?;
    Date::new(year, month, day).ok()
}

/// A DATE-TIME value, `YYYYMMDDTHHMMSS` with an optional `Z`: the civil
/// time and whether it is UTC. A leap second (`60`) reads as `59`.
pub(crate) fn parse_date_time(s: &str) -> Option<(DateTime, bool)> {
    let s = s.trim();
    let (s, utc) = match s.strip_suffix(['Z', 'z']) {
        Some(rest) => (rest, true),
        None => (s, false),
    };
    let (date, time) = s.split_once(['T', 't'])?;
    let date = parse_date(date)?;
    if time.len() != 6 {
        return None;
    }
    let hour: i8 = digits(time.get(0..2)?)?;
    let minute: i8 = digits(time.get(2..4)?)?;
    let second: i8 = digits::<i8>(time.get(4..6)?)?.min(59);
    let time = jiff::civil::Time::new(hour, minute, second, 0).ok()?;
    Some((date.to_datetime(time), utc))
}

/// A UTC-OFFSET value, `+HHMM` or `+HHMMSS` (or `-`).
pub(crate) fn parse_utc_offset(s: &str) -> Option<Offset> {
    let s = s.trim();
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if rest.len() != 4 && rest.len() != 6 {
        return None;
    }
    let hours: i32 = digits(rest.get(0..2)?)?;
    let minutes: i32 = digits(rest.get(2..4)?)?;
    let seconds: i32 = if rest.len() == 6 {
        digits(rest.get(4..6)?)?
    } else {
        0
    };
    if minutes > 59 || seconds > 59 {
        return None;
    }
    Offset::from_seconds(sign * (hours * 3600 + minutes * 60 + seconds)).ok()
}

/// A DURATION value (`P1D`, `PT1H30M`, `-P1W`, `P1DT12H`). Days and weeks
/// stay nominal (a day is a calendar day, 23 or 25 hours across a DST
/// change), as RFC 5545 says; hours and smaller units are exact.
pub(crate) fn parse_duration(s: &str) -> Option<Span> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    // Weeks, days, hours, minutes, seconds.
    let mut amounts = [0i64; 5];
    let mut number = String::new();
    let mut in_time = false;
    let mut any = false;
    let mut time_units = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            'T' if number.is_empty() && !in_time => in_time = true,
            d if d.is_ascii_digit() => number.push(d),
            unit => {
                let n: i64 = digits(&number)?;
                number.clear();
                any = true;
                time_units |= in_time;
                let index = match (unit, in_time) {
                    ('W', false) => 0,
                    ('D', false) => 1,
                    ('H', true) => 2,
                    ('M', true) => 3,
                    ('S', true) => 4,
                    _ => return None,
                };
                amounts[index] = amounts[index].checked_add(n)?;
            }
        }
    }
    if !number.is_empty() || !any || (in_time && !time_units) {
        return None;
    }
    let [weeks, days, hours, minutes, seconds] = amounts;
    let span = Span::new()
        .try_weeks(weeks)
        .ok()?
        .try_days(days)
        .ok()?
        .try_hours(hours)
        .ok()?
        .try_minutes(minutes)
        .ok()?
        .try_seconds(seconds)
        .ok()?;
    Some(if negative { span.negate() } else { span })
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    #[test]
    fn dates_and_date_times() {
        assert_eq!(parse_date("20250309"), Some(date(2025, 3, 9)));
        assert_eq!(parse_date(" 20250309 "), Some(date(2025, 3, 9)));
        assert_eq!(parse_date("20250230"), None);
        assert_eq!(parse_date("2025-03-09"), None);
        assert_eq!(parse_date("2025030"), None);
        assert_eq!(
            parse_date_time("20250309T090000"),
            Some((date(2025, 3, 9).at(9, 0, 0, 0), false))
        );
        assert_eq!(
            parse_date_time("20250309T090000Z"),
            Some((date(2025, 3, 9).at(9, 0, 0, 0), true))
        );
        assert_eq!(
            parse_date_time("20161231T235960Z"),
            Some((date(2016, 12, 31).at(23, 59, 59, 0), true))
        );
        assert_eq!(parse_date_time("20250309"), None);
        assert_eq!(parse_date_time("20250309T0900"), None);
        assert_eq!(parse_date_time("20250309T250000"), None);
        assert_eq!(parse_date_time("2025030xT090000"), None);
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("+0100").map(|o| o.seconds()), Some(3600));
        assert_eq!(
            parse_utc_offset("-0500").map(|o| o.seconds()),
            Some(-5 * 3600)
        );
        assert_eq!(
            parse_utc_offset("+0530").map(|o| o.seconds()),
            Some(5 * 3600 + 1800)
        );
        assert_eq!(
            parse_utc_offset("+004512").map(|o| o.seconds()),
            Some(45 * 60 + 12)
        );
        assert_eq!(parse_utc_offset("0100"), None);
        assert_eq!(parse_utc_offset("+01"), None);
        assert_eq!(parse_utc_offset("+0160"), None);
    }

    #[test]
    fn durations() {
        let d = |s| parse_duration(s).map(|span: Span| span.fieldwise());
        assert_eq!(
            d("PT1H30M"),
            Some(Span::new().hours(1).minutes(30).fieldwise())
        );
        assert_eq!(d("P1D"), Some(Span::new().days(1).fieldwise()));
        assert_eq!(d("P2W"), Some(Span::new().weeks(2).fieldwise()));
        assert_eq!(
            d("P1DT12H"),
            Some(Span::new().days(1).hours(12).fieldwise())
        );
        assert_eq!(d("-PT15M"), Some(Span::new().minutes(-15).fieldwise()));
        assert_eq!(d("+PT10S"), Some(Span::new().seconds(10).fieldwise()));
        assert_eq!(d("pt45m"), Some(Span::new().minutes(45).fieldwise()));
        for bad in ["", "P", "PT", "1H", "P1H", "PT1D", "P1DT", "P1.5D", "PTH"] {
            assert_eq!(parse_duration(bad).map(|s| s.to_string()), None, "{bad}");
        }
    }
}
