//! Instants, durations in whole minutes, half-open time ranges and IANA time zones.
//!
//! Every instant in the domain is a [`jiff::Timestamp`] (UTC). Wall-clock
//! time only exists inside [`crate::WeeklyAvailability`], and is turned into
//! instants by [`crate::scheduling`].

use std::fmt;

use jiff::{SignedDuration, Timestamp, tz::TimeZone};

use crate::ValidationError;

/// A whole number of minutes, at least 0. Used for durations, buffers and notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Minutes(u32);

impl Minutes {
    /// Zero minutes.
    pub const ZERO: Minutes = Minutes(0);

    /// Minutes with no range check; callers with a range use [`Minutes::in_range`].
    pub const fn new(value: u32) -> Self {
        Minutes(value)
    }

    /// Minutes in `min..=max`, else a [`ValidationError`] naming `field`.
    pub fn in_range(value: i64, min: u32, max: u32, field: &str) -> Result<Self, ValidationError> {
        if value < i64::from(min) || value > i64::from(max) {
            return Err(ValidationError::new(
                field,
                format!("must be between {min} and {max} minutes"),
            ));
        }
        // In range of u32 thanks to the check above.
        Ok(Minutes(value as u32))
    }

    /// The number of minutes.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// As a signed duration, for instant arithmetic.
    pub fn duration(self) -> SignedDuration {
        SignedDuration::from_mins(i64::from(self.0))
    }
}

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} min", self.0)
    }
}

/// A half-open range of instants `[start, end)` with `start < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeRange {
    start: Timestamp,
    end: Timestamp,
}

impl TimeRange {
    /// A range `[start, end)`; `None` unless `start < end`.
    pub fn new(start: Timestamp, end: Timestamp) -> Option<Self> {
        (start < end).then_some(TimeRange { start, end })
    }

    /// `[start, start + length)`, saturating at the end of time; a zero length
    /// counts as one minute so the range is never empty.
    pub fn starting_at(start: Timestamp, length: Minutes) -> TimeRange {
        let length = Minutes::new(length.get().max(1)).duration();
        match start.checked_add(length) {
            Ok(end) => TimeRange { start, end },
            Err(_) => TimeRange {
                start: Timestamp::MAX.checked_sub(length).unwrap_or(Timestamp::MIN),
                end: Timestamp::MAX,
            },
        }
    }

    /// The first instant in the range.
    pub fn start(&self) -> Timestamp {
        self.start
    }

    /// The first instant after the range.
    pub fn end(&self) -> Timestamp {
        self.end
    }

    /// Whether the two ranges share at least one instant.
    pub fn overlaps(&self, other: &TimeRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// Whether `other` lies entirely inside this range.
    pub fn contains(&self, other: &TimeRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// Whether the instant lies inside this range.
    pub fn contains_instant(&self, t: Timestamp) -> bool {
        self.start <= t && t < self.end
    }

    /// The range widened by `before` at the start and `after` at the end.
    /// Saturates at the ends of the representable range.
    pub fn widened(&self, before: Minutes, after: Minutes) -> TimeRange {
        let start = self
            .start
            .checked_sub(before.duration())
            .unwrap_or(Timestamp::MIN);
        let end = self
            .end
            .checked_add(after.duration())
            .unwrap_or(Timestamp::MAX);
        TimeRange { start, end }
    }

    /// Length of the range.
    pub fn length(&self) -> SignedDuration {
        self.end.duration_since(self.start)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

/// A validated IANA time zone such as `America/New_York`.
///
/// Only names from the IANA database are accepted: fixed offsets and POSIX
/// strings are rejected, because a business's hours follow its region's rules.
#[derive(Clone)]
pub struct Timezone {
    name: String,
    tz: TimeZone,
}

impl Timezone {
    /// Looks the name up in the bundled IANA database.
    pub fn parse(name: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new("timezone", "must be an IANA time zone name");
        // IANA names are Area/Location (or a few legacy single words like "UTC");
        // reject anything with characters the database never uses.
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
        {
            return Err(invalid());
        }
        let tz = TimeZone::get(name).map_err(|_| invalid())?;
        // The database's lookups are case-insensitive; a name is taken only
        // as the database spells it.
        match tz.iana_name() {
            Some(spelled) if spelled != name => Err(ValidationError::new(
                "timezone",
                format!("must be an IANA time zone name, spelled as in the database: {spelled}"),
            )),
            _ => Ok(Timezone {
                name: name.to_owned(),
                tz,
            }),
        }
    }

    /// The IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rules, for conversions.
    pub fn tz(&self) -> &TimeZone {
        &self.tz
    }
}

impl PartialEq for Timezone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Timezone {}

impl fmt::Debug for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Timezone").field(&self.name).finish()
    }
}

impl fmt::Display for Timezone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timezone_accepts_iana_names_only() {
        assert_eq!(
            Timezone::parse("America/New_York").unwrap().name(),
            "America/New_York"
        );
        assert!(Timezone::parse("Australia/Lord_Howe").is_ok());
        assert!(Timezone::parse("Not/AZone").is_err());
        assert!(Timezone::parse("").is_err());
        assert!(Timezone::parse("+05:00").is_err());
        assert!(Timezone::parse("EST5EDT,M3.2.0,M11.1.0").is_err());
        // Names as the database spells them, links and legacy names too.
        for name in [
            "UTC",
            "Etc/UTC",
            "GMT",
            "US/Eastern",
            "Asia/Calcutta",
            "Asia/Kolkata",
            "America/Argentina/Buenos_Aires",
            "Etc/GMT+5",
            "EST",
        ] {
            assert_eq!(Timezone::parse(name).unwrap().name(), name);
        }
        // Any other case is refused, naming the spelling.
        for name in ["america/new_york", "AMERICA/NEW_YORK", "utc", "Us/Eastern"] {
            let e = Timezone::parse(name).unwrap_err();
            assert_eq!(e.field, "timezone");
            assert!(
                e.message.contains("spelled as in the database"),
                "{name}: {e:?}"
            );
        }
    }

    #[test]
    fn ranges_are_half_open() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let a = TimeRange::new(t("2024-01-01T10:00:00Z"), t("2024-01-01T11:00:00Z")).unwrap();
        let b = TimeRange::new(t("2024-01-01T11:00:00Z"), t("2024-01-01T12:00:00Z")).unwrap();
        assert!(!a.overlaps(&b));
        assert!(a.widened(Minutes::ZERO, Minutes::new(1)).overlaps(&b));
        assert!(TimeRange::new(t("2024-01-01T11:00:00Z"), t("2024-01-01T11:00:00Z")).is_none());
    }
}
