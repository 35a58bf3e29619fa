//! Weekly wall-clock opening hours in an IANA time zone.

use std::fmt;

use jiff::civil::Weekday as JiffWeekday;

use crate::{Timezone, ValidationError};

/// A day of the week. Wire names are lowercase English (`monday`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
    /// Sunday.
    Sunday,
}

impl Weekday {
    /// All days, Monday first.
    pub const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// Lowercase English name.
    pub fn name(self) -> &'static str {
        match self {
            Weekday::Monday => "monday",
            Weekday::Tuesday => "tuesday",
            Weekday::Wednesday => "wednesday",
            Weekday::Thursday => "thursday",
            Weekday::Friday => "friday",
            Weekday::Saturday => "saturday",
            Weekday::Sunday => "sunday",
        }
    }

    /// Parses a lowercase English name.
    pub fn parse(name: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|d| d.name() == name)
    }

    /// Monday = 0 … Sunday = 6.
    pub fn index(self) -> usize {
        self as usize
    }

    /// From jiff's weekday.
    pub fn from_jiff(day: JiffWeekday) -> Weekday {
        match day {
            JiffWeekday::Monday => Weekday::Monday,
            JiffWeekday::Tuesday => Weekday::Tuesday,
            JiffWeekday::Wednesday => Weekday::Wednesday,
            JiffWeekday::Thursday => Weekday::Thursday,
            JiffWeekday::Friday => Weekday::Friday,
            JiffWeekday::Saturday => Weekday::Saturday,
            JiffWeekday::Sunday => Weekday::Sunday,
        }
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A wall-clock time of day with minute precision, `00:00` to `24:00` inclusive
/// (`24:00` is only meaningful as the end of a window: the next midnight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    /// Midnight at the start of the day.
    pub const MIDNIGHT: LocalTime = LocalTime(0);
    /// Midnight at the end of the day (`24:00`).
    pub const END_OF_DAY: LocalTime = LocalTime(24 * 60);

    /// Parses `HH:MM` (two digits each); `24:00` is allowed.
    pub fn parse(text: &str, field: &str) -> Result<LocalTime, ValidationError> {
        let invalid = || ValidationError::new(field, "must be a time of day as HH:MM");
        let bytes = text.as_bytes();
        if bytes.len() != 5 || bytes[2] != b':' {
            return Err(invalid());
        }
        let digits = |s: &str| -> Option<u16> {
            if s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let (h, m) = match (digits(&text[0..2]), digits(&text[3..5])) {
            (Some(h), Some(m)) => (h, m),
            _ => return Err(invalid()),
        };
        if m > 59 || h > 24 || (h == 24 && m != 0) {
            return Err(invalid());
        }
        Ok(LocalTime(h * 60 + m))
    }

    /// From minutes after midnight (`0..=1440`).
    pub fn from_minutes(minutes: u16) -> Option<LocalTime> {
        (minutes <= 24 * 60).then_some(LocalTime(minutes))
    }

    /// Minutes after midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// A set of weekdays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    /// Whether the day is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.index()) != 0
    }

    /// The days in the set, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        Weekday::ALL.into_iter().filter(move |d| self.contains(*d))
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Builds a set from names, rejecting unknown names, repeats and an empty list.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<WeekdaySet, ValidationError> {
        if names.is_empty() {
            return Err(ValidationError::new("days", "must list at least one day"));
        }
        let mut set = 0u8;
        for name in names {
            let name = name.as_ref();
            let day = Weekday::parse(name).ok_or_else(|| {
                ValidationError::new(
                    "days",
                    format!("unknown day `{name}`: use lowercase English names"),
                )
            })?;
            let bit = 1 << day.index();
            if set & bit != 0 {
                return Err(ValidationError::new(
                    "days",
                    format!("`{name}` is listed twice"),
                ));
            }
            set |= bit;
        }
        Ok(WeekdaySet(set))
    }
}

impl FromIterator<Weekday> for WeekdaySet {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        WeekdaySet(iter.into_iter().fold(0, |acc, d| acc | (1 << d.index())))
    }
}

/// Weekly opening hours: the same wall-clock window `[start, end)` on each
/// listed day, in one IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyAvailability {
    days: WeekdaySet,
    start: LocalTime,
    end: LocalTime,
    timezone: Timezone,
}

impl WeeklyAvailability {
    /// Validates `start < end` and a non-empty day set. Field names in errors are
    /// relative to the `availability` object (`hours.start`, `days`).
    pub fn new(
        days: WeekdaySet,
        start: LocalTime,
        end: LocalTime,
        timezone: Timezone,
    ) -> Result<Self, ValidationError> {
        if days.is_empty() {
            return Err(ValidationError::new("days", "must list at least one day"));
        }
        if start == LocalTime::END_OF_DAY {
            return Err(ValidationError::new(
                "hours.start",
                "24:00 is only allowed as an end",
            ));
        }
        if start >= end {
            return Err(ValidationError::new(
                "hours.end",
                "must be after hours.start",
            ));
        }
        Ok(WeeklyAvailability {
            days,
            start,
            end,
            timezone,
        })
    }

    /// The open days.
    pub fn days(&self) -> WeekdaySet {
        self.days
    }

    /// Wall-clock opening time.
    pub fn start(&self) -> LocalTime {
        self.start
    }

    /// Wall-clock closing time (may be `24:00`).
    pub fn end(&self) -> LocalTime {
        self.end
    }

    /// The zone the hours are in.
    pub fn timezone(&self) -> &Timezone {
        &self.timezone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_local_times() {
        assert_eq!(LocalTime::parse("09:00", "f").unwrap().minutes(), 540);
        assert_eq!(
            LocalTime::parse("24:00", "f").unwrap(),
            LocalTime::END_OF_DAY
        );
        for bad in ["9:00", "24:01", "12:60", "ab:cd", "12-00", "", "+1:00"] {
            assert!(LocalTime::parse(bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn weekday_sets_reject_repeats_and_unknown_names() {
        assert!(WeekdaySet::parse(&["monday", "monday"]).is_err());
        assert!(WeekdaySet::parse(&["Monday"]).is_err());
        assert!(WeekdaySet::parse::<&str>(&[]).is_err());
        let set = WeekdaySet::parse(&["friday", "monday"]).unwrap();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![Weekday::Monday, Weekday::Friday]
        );
    }
}
