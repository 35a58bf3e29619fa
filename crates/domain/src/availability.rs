//! Weekly wall-clock opening hours in an IANA time zone.

use std::fmt;

use jiff::civil::{Date, Weekday as JiffWeekday};

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

/// Most windows one day may have.
pub const MAX_WINDOWS_PER_DAY: usize = 8;
/// Most date overrides one service may have.
pub const MAX_OVERRIDES: usize = 500;

/// A wall-clock opening window `[start, end)` of one local day, with
/// `start < end` and `start` before `24:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Window {
    start: LocalTime,
    end: LocalTime,
}

impl Window {
    /// Validates `start < end` (`24:00` only as an end). Field names in errors
    /// are `start` and `end`: nest them with [`ValidationError::within`].
    pub fn new(start: LocalTime, end: LocalTime) -> Result<Window, ValidationError> {
        if start == LocalTime::END_OF_DAY {
            return Err(ValidationError::new(
                "start",
                "24:00 is only allowed as an end",
            ));
        }
        if start >= end {
            return Err(ValidationError::new("end", "must be after start"));
        }
        Ok(Window { start, end })
    }

    /// Wall-clock opening time.
    pub fn start(&self) -> LocalTime {
        self.start
    }

    /// Wall-clock closing time (may be `24:00`).
    pub fn end(&self) -> LocalTime {
        self.end
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// A local date whose windows replace that weekday's weekly windows (no
/// windows: closed all day).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DateOverride {
    date: Date,
    windows: Vec<Window>,
}

impl DateOverride {
    /// The local date.
    pub fn date(&self) -> Date {
        self.date
    }

    /// Its windows, sorted; empty when the day is closed.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }
}

/// The seed's shape of opening hours: one window on each listed day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeedHours {
    /// The open days.
    pub days: WeekdaySet,
    /// Opening time on each of them.
    pub start: LocalTime,
    /// Closing time on each of them (may be `24:00`).
    pub end: LocalTime,
}

/// The windows in force on one local date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayHours<'a> {
    /// Sorted, disjoint and non-touching wall-clock windows; empty: closed.
    pub windows: &'a [Window],
    /// Whether a date override (rather than the weekly hours) decides them.
    pub overridden: bool,
}

/// Opening hours in one IANA time zone: up to [`MAX_WINDOWS_PER_DAY`]
/// wall-clock windows per weekday, plus up to [`MAX_OVERRIDES`] date
/// overrides whose windows replace that date's weekly windows.
///
/// Built from the seed's form with [`WeeklyAvailability::new`] (one window on
/// each listed day) or from the weekly form with
/// [`WeeklyAvailability::weekly`]; overrides are added with
/// [`WeeklyAvailability::with_overrides`]. Field names in validation errors
/// are relative to the `availability` object (`hours.start`,
/// `weekly.monday[1].start`, `overrides[3].date`): callers nest them with
/// [`ValidationError::within`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeeklyAvailability {
    /// Windows per weekday, Monday first.
    weekly: [Vec<Window>; 7],
    /// Sorted by date, unique dates.
    overrides: Vec<DateOverride>,
    timezone: Timezone,
}

/// Validates one day's list of `(start, end)` windows; `field` names the list.
fn validate_windows(
    windows: &[(LocalTime, LocalTime)],
    field: &str,
) -> Result<Vec<Window>, ValidationError> {
    if windows.len() > MAX_WINDOWS_PER_DAY {
        return Err(ValidationError::new(
            field,
            format!("at most {MAX_WINDOWS_PER_DAY} windows per day"),
        ));
    }
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for (i, &(start, end)) in windows.iter().enumerate() {
        let window = Window::new(start, end).map_err(|e| e.within(&format!("{field}[{i}]")))?;
        if let Some(previous) = out.last()
            && window.start <= previous.end
        {
            return Err(ValidationError::new(
                format!("{field}[{i}].start"),
                format!(
                    "must be after the previous window's end ({}): windows are sorted and may not overlap or touch",
                    previous.end
                ),
            ));
        }
        out.push(window);
    }
    Ok(out)
}

impl WeeklyAvailability {
    /// The seed's form: the window `[start, end)` on each listed day.
    /// Validates `start < end` and a non-empty day set (fields `hours.start`,
    /// `hours.end`, `days`).
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
        let window = Window { start, end };
        let weekly = Weekday::ALL.map(|d| {
            if days.contains(d) {
                vec![window]
            } else {
                Vec::new()
            }
        });
        Ok(WeeklyAvailability {
            weekly,
            overrides: Vec::new(),
            timezone,
        })
    }

    /// The weekly form: `(start, end)` windows per weekday, Monday first; an
    /// empty list closes the day. Each day has at most
    /// [`MAX_WINDOWS_PER_DAY`] windows, each `start < end` (`24:00` only as
    /// an end), sorted, neither overlapping nor touching. Errors name
    /// `weekly.<day>[i].start` / `.end`, or `weekly.<day>`. A week with no
    /// open day is allowed (overrides may open single dates).
    pub fn weekly(
        days: [Vec<(LocalTime, LocalTime)>; 7],
        timezone: Timezone,
    ) -> Result<Self, ValidationError> {
        let mut weekly: [Vec<Window>; 7] = Default::default();
        for (day, windows) in Weekday::ALL.into_iter().zip(days.iter()) {
            weekly[day.index()] = validate_windows(windows, &format!("weekly.{}", day.name()))?;
        }
        Ok(WeeklyAvailability {
            weekly,
            overrides: Vec::new(),
            timezone,
        })
    }

    /// Replaces the date overrides: at most [`MAX_OVERRIDES`], unique dates,
    /// each with windows validated as a weekday's (`[]` closes the date).
    /// Errors name `overrides`, `overrides[i].date` or
    /// `overrides[i].hours[j].start` / `.end`.
    pub fn with_overrides(
        mut self,
        overrides: Vec<(Date, Vec<(LocalTime, LocalTime)>)>,
    ) -> Result<Self, ValidationError> {
        if overrides.len() > MAX_OVERRIDES {
            return Err(ValidationError::new(
                "overrides",
                format!("at most {MAX_OVERRIDES} overrides"),
            ));
        }
        let mut out = Vec::with_capacity(overrides.len());
        for (i, (date, windows)) in overrides.iter().enumerate() {
            let windows = validate_windows(windows, &format!("overrides[{i}].hours"))?;
            out.push((
                i,
                DateOverride {
                    date: *date,
                    windows,
                },
            ));
        }
        out.sort_by_key(|(i, o)| (o.date, *i));
        for pair in out.windows(2) {
            if pair[0].1.date == pair[1].1.date {
                return Err(ValidationError::new(
                    format!("overrides[{}].date", pair[1].0),
                    format!("{} is listed twice", pair[1].1.date),
                ));
            }
        }
        self.overrides = out.into_iter().map(|(_, o)| o).collect();
        Ok(self)
    }

    /// The weekly windows of `day` (empty: closed), ignoring overrides.
    pub fn weekly_windows(&self, day: Weekday) -> &[Window] {
        &self.weekly[day.index()]
    }

    /// The date overrides, ascending by date.
    pub fn overrides(&self) -> &[DateOverride] {
        &self.overrides
    }

    /// The override of `date`, if any (binary search).
    pub fn override_for(&self, date: Date) -> Option<&DateOverride> {
        self.overrides
            .binary_search_by_key(&date, |o| o.date)
            .ok()
            .and_then(|i| self.overrides.get(i))
    }

    /// The windows in force on the local `date`: its override's, else its
    /// weekday's.
    pub fn hours_on(&self, date: Date) -> DayHours<'_> {
        match self.override_for(date) {
            Some(o) => DayHours {
                windows: &o.windows,
                overridden: true,
            },
            None => DayHours {
                windows: self.weekly_windows(Weekday::from_jiff(date.weekday())),
                overridden: false,
            },
        }
    }

    /// The seed's shape when every open weekday has the same single window
    /// (and at least one weekday is open), so the hours read back as
    /// `days` + `hours`; `None` otherwise. Overrides do not matter: they are
    /// read back beside either form.
    pub fn seed_shape(&self) -> Option<SeedHours> {
        let mut shape: Option<SeedHours> = None;
        for day in Weekday::ALL {
            match (self.weekly_windows(day), shape.as_mut()) {
                ([], _) => {}
                ([w], None) => {
                    shape = Some(SeedHours {
                        days: WeekdaySet::from_iter([day]),
                        start: w.start,
                        end: w.end,
                    });
                }
                ([w], Some(s)) if w.start == s.start && w.end == s.end => {
                    s.days = WeekdaySet(s.days.0 | (1 << day.index()));
                }
                _ => return None,
            }
        }
        shape
    }

    /// Whether [`WeeklyAvailability::seed_shape`] is `Some`.
    pub fn is_seed_shaped(&self) -> bool {
        self.seed_shape().is_some()
    }

    /// The weekdays with at least one weekly window.
    pub fn days(&self) -> WeekdaySet {
        Weekday::ALL
            .into_iter()
            .filter(|d| !self.weekly_windows(*d).is_empty())
            .collect()
    }

    /// The seed form's opening time. For hours that are not seed-shaped this
    /// is only a summary (the earliest weekly opening time, `00:00` when no
    /// weekday is open): read [`WeeklyAvailability::weekly_windows`] instead.
    pub fn start(&self) -> LocalTime {
        self.weekly
            .iter()
            .filter_map(|w| w.first())
            .map(|w| w.start)
            .min()
            .unwrap_or(LocalTime::MIDNIGHT)
    }

    /// The seed form's closing time. For hours that are not seed-shaped this
    /// is only a summary (the latest weekly closing time, `00:00` when no
    /// weekday is open): read [`WeeklyAvailability::weekly_windows`] instead.
    pub fn end(&self) -> LocalTime {
        self.weekly
            .iter()
            .filter_map(|w| w.last())
            .map(|w| w.end)
            .max()
            .unwrap_or(LocalTime::MIDNIGHT)
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod hours_tests {
    use super::*;

    fn t(s: &str) -> LocalTime {
        LocalTime::parse(s, "t").unwrap()
    }

    fn tz() -> Timezone {
        Timezone::parse("America/New_York").unwrap()
    }

    fn week(
        monday: &[(&str, &str)],
        saturday: &[(&str, &str)],
    ) -> [Vec<(LocalTime, LocalTime)>; 7] {
        let mut days: [Vec<(LocalTime, LocalTime)>; 7] = Default::default();
        days[0] = monday.iter().map(|(a, b)| (t(a), t(b))).collect();
        days[5] = saturday.iter().map(|(a, b)| (t(a), t(b))).collect();
        days
    }

    fn field(r: Result<WeeklyAvailability, ValidationError>) -> String {
        r.unwrap_err().within("availability").field
    }

    #[test]
    fn weekly_windows_are_validated_with_field_names() {
        let ok = WeeklyAvailability::weekly(
            week(
                &[("09:00", "12:00"), ("13:00", "17:00")],
                &[("10:00", "24:00")],
            ),
            tz(),
        )
        .unwrap();
        assert_eq!(ok.weekly_windows(Weekday::Monday).len(), 2);
        assert_eq!(
            ok.days().iter().collect::<Vec<_>>(),
            vec![Weekday::Monday, Weekday::Saturday]
        );
        assert!(ok.seed_shape().is_none());

        let touching = week(&[("09:00", "12:00"), ("12:00", "17:00")], &[]);
        assert_eq!(
            field(WeeklyAvailability::weekly(touching, tz())),
            "availability.weekly.monday[1].start"
        );
        let unsorted = week(&[("13:00", "17:00"), ("09:00", "12:00")], &[]);
        assert_eq!(
            field(WeeklyAvailability::weekly(unsorted, tz())),
            "availability.weekly.monday[1].start"
        );
        let backwards = week(&[], &[("14:00", "10:00")]);
        assert_eq!(
            field(WeeklyAvailability::weekly(backwards, tz())),
            "availability.weekly.saturday[0].end"
        );
        let midnight_start = week(&[("24:00", "24:00")], &[]);
        assert_eq!(
            field(WeeklyAvailability::weekly(midnight_start, tz())),
            "availability.weekly.monday[0].start"
        );
        let nine: Vec<(String, String)> = (0..9)
            .map(|h| (format!("{:02}:00", h * 2), format!("{:02}:30", h * 2)))
            .collect();
        let nine: Vec<(&str, &str)> = nine.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            field(WeeklyAvailability::weekly(week(&nine, &[]), tz())),
            "availability.weekly.monday"
        );
        assert!(WeeklyAvailability::weekly(week(&nine[..8], &[]), tz()).is_ok());
        // A week with no open day is allowed: overrides may open dates.
        assert!(WeeklyAvailability::weekly(Default::default(), tz()).is_ok());
    }

    #[test]
    fn overrides_are_validated_and_replace_the_weekday() {
        let base = WeeklyAvailability::new(
            WeekdaySet::parse(&["monday", "tuesday", "wednesday", "thursday", "friday"]).unwrap(),
            t("09:00"),
            t("17:00"),
            tz(),
        )
        .unwrap();
        let xmas: Date = "2026-12-25".parse().unwrap();
        let eve: Date = "2026-12-24".parse().unwrap();
        let a = base
            .clone()
            .with_overrides(vec![(xmas, vec![]), (eve, vec![(t("09:00"), t("12:00"))])])
            .unwrap();
        assert_eq!(a.overrides()[0].date(), eve);
        assert_eq!(
            a.hours_on(xmas),
            DayHours {
                windows: &[],
                overridden: true
            }
        );
        assert_eq!(
            a.hours_on(eve).windows,
            &[Window::new(t("09:00"), t("12:00")).unwrap()]
        );
        let monday: Date = "2026-12-21".parse().unwrap();
        assert_eq!(a.hours_on(monday).windows.len(), 1);
        assert!(!a.hours_on(monday).overridden);
        // Still seed-shaped: overrides are read back beside the seed form.
        assert_eq!(
            a.seed_shape(),
            Some(SeedHours {
                days: base.days(),
                start: t("09:00"),
                end: t("17:00")
            })
        );

        let dup = base
            .clone()
            .with_overrides(vec![(xmas, vec![]), (eve, vec![]), (xmas, vec![])]);
        assert_eq!(field(dup), "availability.overrides[2].date");
        let bad = base
            .clone()
            .with_overrides(vec![(xmas, vec![(t("10:00"), t("09:00"))])]);
        assert_eq!(field(bad), "availability.overrides[0].hours[0].end");
        let many: Vec<_> = (0..501)
            .map(|n| {
                (
                    jiff::civil::date(2026, 1, 1)
                        .checked_add(jiff::Span::new().days(n))
                        .unwrap(),
                    vec![],
                )
            })
            .collect();
        assert_eq!(
            field(base.clone().with_overrides(many[..501].to_vec())),
            "availability.overrides"
        );
        assert!(base.with_overrides(many[..500].to_vec()).is_ok());
    }

    #[test]
    fn seed_form_reads_back_as_seed() {
        let days = WeekdaySet::parse(&["monday", "friday"]).unwrap();
        let a = WeeklyAvailability::new(days, t("09:00"), t("24:00"), tz()).unwrap();
        assert_eq!(
            a.seed_shape(),
            Some(SeedHours {
                days,
                start: t("09:00"),
                end: t("24:00")
            })
        );
        assert_eq!(
            (a.days(), a.start(), a.end()),
            (days, t("09:00"), t("24:00"))
        );
        // The same single window given in the weekly form is seed-shaped too.
        let w =
            WeeklyAvailability::weekly(week(&[("09:00", "24:00")], &[("09:00", "24:00")]), tz())
                .unwrap();
        assert!(w.is_seed_shaped());
        let w =
            WeeklyAvailability::weekly(week(&[("09:00", "17:00")], &[("10:00", "14:00")]), tz())
                .unwrap();
        assert!(!w.is_seed_shaped());
        assert!(
            !WeeklyAvailability::weekly(Default::default(), tz())
                .unwrap()
                .is_seed_shaped()
        );
    }
}
