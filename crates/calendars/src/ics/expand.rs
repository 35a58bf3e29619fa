//! From events to busy blocks: recurrence expansion, exceptions, overrides.
//!
//! **Recurrence happens on the wall clock.** RFC 5545 repeats an event at the
//! same local time (a weekly 09:00 New York meeting stays at 09:00 across the
//! March change: 14:00 UTC, then 13:00 UTC). So the `rrule` crate expands the
//! rule over *civil* date-times, handed to it dressed as UTC (which has no
//! DST, so it never shifts them), and only then is each occurrence placed in
//! its real zone by jiff, with RFC 5545's rule for local times that do not
//! exist (a time in a spring-forward gap moves forward by the gap) or exist
//! twice (the first). jiff is the only time zone database involved: `rrule`
//! never sees a real zone, so Windows names and `VTIMEZONE` definitions work
//! for recurring events too.
//!
//! **Expansion is bounded by the window, not by history.** A rule without
//! `COUNT` is fast-forwarded: its start moves, by a whole number of periods
//! (`INTERVAL` days, weeks, months or years), to just before the window
//! (less the longest an occurrence lasts), with the parts the rule took
//! implicitly from the original start (the day of the month, the month)
//! written out, so the same occurrences follow. A daily meeting begun in
//! 1990 costs the same as one begun last week. A rule with `COUNT` cannot
//! skip ahead (the count runs from the first occurrence), so it is walked
//! from its start. Either way iteration stops past the window's end, and at
//! [`MAX_OCCURRENCES_PER_RULE`] generated occurrences, whichever is first;
//! `rrule`'s own guard stops rules that match nothing (`BYMONTHDAY=30` in
//! February) after a bounded number of empty periods.
//!
//! **Exceptions.** `EXDATE`s and the `RECURRENCE-ID`s of the series'
//! overrides (same `UID`) remove occurrences: a DATE-TIME removes the
//! occurrence starting at that instant, a DATE (or anything on an all-day
//! series) the occurrence on that local day. The override itself is then an
//! ordinary single event: moved, it is busy at its new time; cancelled or
//! transparent, it is not busy at all. `DTSTART` is always an occurrence,
//! even when the rule would not produce it. `RDATE`s add occurrences (a
//! `PERIOD` with its own length). `EXRULE` (deprecated) and
//! `RANGE=THISANDFUTURE` are not supported: the override replaces only the
//! instance it names.
//!
//! **Lengths.** `DTEND` gives an exact length (every occurrence lasts the
//! same number of seconds); `DURATION` is nominal (`P1D` is one calendar day,
//! 23 hours on the day clocks go forward). An all-day event without either
//! lasts one day; a timed event without either lasts no time and blocks
//! nothing.
//!
//! A rule `rrule` refuses (or that makes it panic: the input is untrusted,
//! so expansion runs under `catch_unwind`) is dropped and the event keeps its
//! `DTSTART` and `RDATE`s.

use std::collections::{HashMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use booking_domain::TimeRange;
use chrono::{Datelike, TimeZone as _, Timelike};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Span, Timestamp};
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};

use super::error::IcsError;
use super::parse::{End, Event, Moment, Parsed, RDate};
use super::values::{parse_date, parse_date_time};

/// The most occurrences generated for one `RRULE` of one event (those before
/// the window included).
pub const MAX_OCCURRENCES_PER_RULE: usize = 10_000;

/// The most occurrences generated for a whole calendar.
pub const MAX_OCCURRENCES_PER_CALENDAR: usize = 1_000_000;

/// The longest the expansion of one calendar may run. A rule that matches
/// nothing (`FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30`) costs `rrule` up to its
/// internal guard of 100,000 empty periods, some 10 ms, before giving up;
/// thousands of them would otherwise hold a blocking thread for minutes.
pub const EXPANSION_TIME_BUDGET: Duration = Duration::from_secs(3);

/// What is left of a calendar's expansion budget.
pub(crate) struct Budget {
    deadline: Instant,
    occurrences_left: usize,
}

impl Budget {
    /// `time` from now, and [`MAX_OCCURRENCES_PER_CALENDAR`] occurrences.
    pub(crate) fn new(time: Duration) -> Budget {
        Budget {
            deadline: Instant::now() + time,
            occurrences_left: MAX_OCCURRENCES_PER_CALENDAR,
        }
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Counts one generated occurrence; `false` once the budget is spent
    /// (the clock is read every 64 occurrences).
    fn spend(&mut self) -> bool {
        self.occurrences_left = self.occurrences_left.saturating_sub(1);
        self.occurrences_left > 0
            && (!self.occurrences_left.is_multiple_of(64) || !self.out_of_time())
    }
}

/// Why a rule yields nothing.
enum RuleError {
    /// The rule cannot be used; the event keeps its other occurrences.
    Ignored(&'static str),
    /// The calendar's budget ran out.
    OutOfBudget,
}

impl From<&'static str> for RuleError {
    fn from(reason: &'static str) -> RuleError {
        RuleError::Ignored(reason)
    }
}

/// Slack added to the look-back and look-ahead of an expansion, for zone
/// offsets between civil and real time and for nominal lengths that vary.
const SLACK: SignedDuration = SignedDuration::from_hours(7 * 24);

/// The rule parts `rrule` is given; `UNTIL` is handled here, and anything
/// else (`X-…`, RFC 7529's `RSCALE`/`SKIP`) is dropped.
const RULE_PARTS: &[&str] = &[
    "FREQ",
    "COUNT",
    "INTERVAL",
    "BYSECOND",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
];

/// How long each occurrence of an event lasts.
#[derive(Debug, Clone)]
enum Length {
    /// The same number of seconds every time.
    Exact(SignedDuration),
    /// The same calendar amount every time (days stay days across DST).
    Nominal(Span),
}

/// The instant a moment names (a DATE: the start of that day in its zone).
fn instant(moment: &Moment) -> Option<Timestamp> {
    if moment.date_only {
        Some(
            moment
                .civil
                .date()
                .to_zoned(moment.zone.clone())
                .ok()?
                .timestamp(),
        )
    } else {
        moment.zone.to_timestamp(moment.civil).ok()
    }
}

/// The length of occurrences starting at `start` and ending as `end` says;
/// `None` when they would last no time.
fn length(start: &Moment, end: &End) -> Option<Length> {
    let one_day = || Length::Nominal(Span::new().days(1));
    match end {
        End::At(end) if start.date_only && end.date_only => {
            let days = start.civil.date().until(end.civil.date()).ok()?.get_days();
            Some(if days > 0 {
                Length::Nominal(Span::new().days(days))
            } else {
                one_day()
            })
        }
        End::At(end) => {
            let exact = instant(end)?.duration_since(instant(start)?);
            if exact.is_positive() {
                Some(Length::Exact(exact))
            } else if start.date_only {
                Some(one_day())
            } else {
                None
            }
        }
        End::Duration(span) => Some(Length::Nominal(*span)),
        End::Unspecified if start.date_only => Some(one_day()),
        End::Unspecified => None,
    }
}

/// The instants of an occurrence starting at `civil` in `zone`.
fn occurrence(
    civil: DateTime,
    zone: &TimeZone,
    date_only: bool,
    length: &Length,
) -> Option<(Timestamp, Timestamp)> {
    let (start, end) = match (date_only, length) {
        // The common case needs no `Zoned`.
        (false, Length::Exact(d)) => {
            let start = zone.to_timestamp(civil).ok()?;
            (start, start.checked_add(*d).ok()?)
        }
        _ => {
            let start = if date_only {
                civil.date().to_zoned(zone.clone()).ok()?
            } else {
                zone.to_zoned(civil).ok()?
            };
            let end = match length {
                Length::Exact(d) => start.timestamp().checked_add(*d).ok()?,
                Length::Nominal(span) => start.checked_add(*span).ok()?.timestamp(),
            };
            (start.timestamp(), end)
        }
    };
    (start < end).then_some((start, end))
}

/// Occurrences a series must not produce: its `EXDATE`s and overridden
/// instances.
struct Exclusions {
    instants: HashSet<Timestamp>,
    days: HashSet<Date>,
}

impl Exclusions {
    fn new<'m>(moments: impl IntoIterator<Item = &'m Moment>, all_day_series: bool) -> Exclusions {
        let mut instants = HashSet::new();
        let mut days = HashSet::new();
        for moment in moments {
            if moment.date_only || all_day_series {
                days.insert(moment.civil.date());
            } else if let Some(t) = instant(moment) {
                instants.insert(t);
            }
        }
        Exclusions { instants, days }
    }

    fn excludes(&self, start: Timestamp, local_day: Date) -> bool {
        self.instants.contains(&start) || self.days.contains(&local_day)
    }
}

/// The busy blocks of `parsed` overlapping `window`, sorted and merged;
/// [`IcsError::TooComplex`] when the expansion outruns `budget`.
pub(crate) fn busy_blocks(
    parsed: &Parsed,
    window: TimeRange,
    budget: &mut Budget,
) -> Result<Vec<TimeRange>, IcsError> {
    let mut overridden: HashMap<&str, Vec<&Moment>> = HashMap::new();
    for event in &parsed.events {
        if let (Some(uid), Some(rid)) = (event.uid.as_deref(), event.recurrence_id.as_ref()) {
            overridden.entry(uid).or_default().push(rid);
        }
    }

    let mut blocks = Vec::new();
    let mut push = |range: Option<(Timestamp, Timestamp)>| {
        if let Some(block) = range.and_then(|(start, end)| TimeRange::new(start, end))
            && block.overlaps(&window)
        {
            blocks.push(block);
        }
    };
    for event in &parsed.events {
        if !event.busy {
            continue;
        }
        let Some(length) = length(&event.start, &event.end) else {
            continue;
        };
        let single =
            event.recurrence_id.is_some() || (event.rrules.is_empty() && event.rdates.is_empty());
        if single {
            let start = &event.start;
            push(occurrence(
                start.civil,
                &start.zone,
                start.date_only,
                &length,
            ));
        } else {
            let overrides = event
                .uid
                .as_deref()
                .and_then(|uid| overridden.get(uid))
                .map_or(&[][..], Vec::as_slice);
            series(event, &length, overrides, window, budget, &mut push)?;
        }
    }
    for (start, end) in &parsed.free_busy {
        if let Some(length) = length(start, end) {
            push(occurrence(
                start.civil,
                &start.zone,
                start.date_only,
                &length,
            ));
        }
    }
    Ok(merge(blocks))
}

/// Sorts and merges overlapping or touching blocks.
fn merge(mut blocks: Vec<TimeRange>) -> Vec<TimeRange> {
    blocks.sort_unstable();
    let mut merged: Vec<TimeRange> = Vec::with_capacity(blocks.len());
    for block in blocks {
        match merged.last_mut() {
            Some(last) if block.start() <= last.end() => {
                if block.end() > last.end()
                    && let Some(joined) = TimeRange::new(last.start(), block.end())
                {
                    *last = joined;
                }
            }
            _ => merged.push(block),
        }
    }
    merged
}

/// The occurrences of a recurring event, less its exceptions.
fn series(
    event: &Event,
    length: &Length,
    overrides: &[&Moment],
    window: TimeRange,
    budget: &mut Budget,
    push: &mut impl FnMut(Option<(Timestamp, Timestamp)>),
) -> Result<(), IcsError> {
    let start = &event.start;
    let exclusions = Exclusions::new(
        event.exdates.iter().chain(overrides.iter().copied()),
        start.date_only,
    );
    let mut emit = |range: Option<(Timestamp, Timestamp)>, local_day: Date| {
        if let Some((s, e)) = range
            && !exclusions.excludes(s, local_day)
        {
            push(Some((s, e)));
        }
    };

    // How far before the window an occurrence can start and still overlap it.
    let first = occurrence(start.civil, &start.zone, start.date_only, length);
    let longest = first.map_or(SignedDuration::ZERO, |(s, e)| e.duration_since(s));
    let lookback = longest.saturating_add(SLACK);
    let local = |t: Timestamp| t.to_zoned(start.zone.clone()).datetime();
    let bounds = (
        local(window.start())
            .checked_sub(lookback)
            .unwrap_or(DateTime::MIN),
        local(window.end())
            .checked_add(SLACK)
            .unwrap_or(DateTime::MAX),
    );

    let mut starts = vec![start.civil];
    for rule in &event.rrules {
        if budget.out_of_time() {
            return Err(IcsError::TooComplex);
        }
        match expand_rule(rule, start, bounds, budget) {
            Ok(found) => starts.extend(found),
            Err(RuleError::Ignored(reason)) => {
                tracing::debug!(reason, "ICS recurrence rule ignored");
            }
            Err(RuleError::OutOfBudget) => return Err(IcsError::TooComplex),
        }
    }
    starts.sort_unstable();
    starts.dedup();
    for civil in starts {
        emit(
            occurrence(civil, &start.zone, start.date_only, length),
            civil.date(),
        );
    }

    for rdate in &event.rdates {
        match rdate {
            RDate::At(at) => emit(
                occurrence(at.civil, &at.zone, at.date_only, length),
                at.civil.date(),
            ),
            RDate::Period(at, end) => {
                if let Some(own) = self::length(at, end) {
                    emit(
                        occurrence(at.civil, &at.zone, at.date_only, &own),
                        at.civil.date(),
                    );
                }
            }
        }
    }
    Ok(())
}

/// The civil starts one `RRULE` produces between `bounds` (civil, in the
/// event's zone), expanded by `rrule` on the wall clock.
fn expand_rule(
    rule: &str,
    start: &Moment,
    (from, to): (DateTime, DateTime),
    budget: &mut Budget,
) -> Result<Vec<DateTime>, RuleError> {
    let mut until = None;
    let mut kept = Vec::new();
    for part in rule.split(';') {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_uppercase();
        if key == "UNTIL" {
            until = Some(until_civil(value, start).ok_or("unreadable UNTIL")?);
        } else if RULE_PARTS.contains(&key.as_str()) {
            // Rule values are case-insensitive; `rrule` reads upper case.
            kept.push(format!("{key}={}", value.trim().to_ascii_uppercase()));
        }
    }
    if until.is_some_and(|until| until < from) {
        return Ok(Vec::new()); // Over before the window.
    }
    let parsed: RRule<Unvalidated> = kept.join(";").parse().map_err(|_| "unreadable RRULE")?;
    let (mut parsed, dtstart) = fast_forward(parsed, start.civil, from);
    if until.is_some_and(|until| until < dtstart) {
        return Ok(Vec::new());
    }
    if let Some(until) = until {
        parsed = parsed.until(fake_utc(until).ok_or("UNTIL out of range")?);
    }
    let dtstart = fake_utc(dtstart).ok_or("DTSTART out of range")?;

    let walk = move || -> Result<Vec<DateTime>, RuleError> {
        let set: RRuleSet = parsed.build(dtstart).map_err(|_| "invalid RRULE")?.limit();
        let mut found = Vec::new();
        for (generated, occurrence) in (&set).into_iter().enumerate() {
            let Some(civil) = from_fake_utc(&occurrence) else {
                break;
            };
            if civil > to {
                break;
            }
            if generated >= MAX_OCCURRENCES_PER_RULE {
                tracing::debug!("ICS recurrence cut at {MAX_OCCURRENCES_PER_RULE} occurrences");
                break;
            }
            if !budget.spend() {
                return Err(RuleError::OutOfBudget);
            }
            if civil >= from {
                found.push(civil);
            }
        }
        Ok(found)
    };
    catch_unwind(AssertUnwindSafe(walk))
        .unwrap_or(Err(RuleError::Ignored("RRULE expansion panicked")))
}

/// `UNTIL` as a civil date-time in the event's zone: a `Z` value converted,
/// a floating value as is, a DATE to the end of that day (inclusive).
fn until_civil(value: &str, start: &Moment) -> Option<DateTime> {
    let value = value.trim();
    if let Some(date) = parse_date(value) {
        return Some(date.at(23, 59, 59, 0));
    }
    let (civil, utc) = parse_date_time(value)?;
    if utc {
        let instant = TimeZone::UTC.to_timestamp(civil).ok()?;
        Some(instant.to_zoned(start.zone.clone()).datetime())
    } else {
        Some(civil)
    }
}

/// Moves a rule without `COUNT` to start just before `from` (see the module
/// documentation); returns the rule, with the parts it took from the
/// original start written out, and its new start.
fn fast_forward(
    rule: RRule<Unvalidated>,
    dtstart: DateTime,
    from: DateTime,
) -> (RRule<Unvalidated>, DateTime) {
    if rule.get_count().is_some() || from <= dtstart {
        return (rule, dtstart);
    }
    let interval = i64::from(rule.get_interval().max(1));
    let fixed_period = match rule.get_freq() {
        Frequency::Secondly => Some(1),
        Frequency::Minutely => Some(60),
        Frequency::Hourly => Some(3_600),
        Frequency::Daily => Some(86_400),
        Frequency::Weekly => Some(7 * 86_400),
        Frequency::Monthly | Frequency::Yearly => None,
    };
    if let Some(seconds) = fixed_period {
        let period = seconds * interval;
        let elapsed = from.duration_since(dtstart).as_secs();
        let skip = elapsed / period * period;
        return match dtstart.checked_add(SignedDuration::from_secs(skip)) {
            Ok(moved) => (rule, moved),
            Err(_) => (rule, dtstart),
        };
    }

    // Months or years: write out what the rule took from DTSTART's date.
    let implicit_day = rule.get_by_week_no().is_empty()
        && rule.get_by_year_day().is_empty()
        && rule.get_by_month_day().is_empty()
        && rule.get_by_weekday().is_empty();
    let yearly = rule.get_freq() == Frequency::Yearly;
    let mut rule = rule;
    if implicit_day {
        rule = rule.by_month_day(vec![dtstart.day()]);
        if yearly
            && rule.get_by_month().is_empty()
            && let Ok(month) = chrono::Month::try_from(dtstart.month().unsigned_abs())
        {
            rule = rule.by_month(&[month]);
        }
    }
    let months_between = (i64::from(from.year()) - i64::from(dtstart.year())) * 12
        + i64::from(from.month())
        - i64::from(dtstart.month());
    let (skip_months, first_month) = if yearly {
        let years = months_between / 12 - 1;
        (years.max(0) / interval * interval * 12, 1)
    } else {
        let months = months_between - 1;
        (months.max(0) / interval * interval, dtstart.month())
    };
    if skip_months == 0 {
        return (rule, dtstart);
    }
    let moved = dtstart
        .date()
        .first_of_month()
        .with()
        .month(first_month)
        .build()
        .ok()
        .and_then(|d| d.checked_add(Span::new().months(skip_months)).ok())
        .map(|d| d.to_datetime(dtstart.time()));
    match moved {
        Some(moved) => (rule, moved),
        None => (rule, dtstart),
    }
}

/// A civil date-time as `rrule`'s UTC (which never shifts it).
fn fake_utc(civil: DateTime) -> Option<chrono::DateTime<rrule::Tz>> {
    let naive = chrono::NaiveDate::from_ymd_opt(
        i32::from(civil.year()),
        u32::try_from(civil.month()).ok()?,
        u32::try_from(civil.day()).ok()?,
    )?
    .and_hms_opt(
        u32::try_from(civil.hour()).ok()?,
        u32::try_from(civil.minute()).ok()?,
        u32::try_from(civil.second()).ok()?,
    )?;
    Some(rrule::Tz::UTC.from_utc_datetime(&naive))
}

/// The inverse of [`fake_utc`].
fn from_fake_utc(at: &chrono::DateTime<rrule::Tz>) -> Option<DateTime> {
    let naive = at.naive_utc();
    DateTime::new(
        i16::try_from(naive.year()).ok()?,
        i8::try_from(naive.month()).ok()?,
        i8::try_from(naive.day()).ok()?,
        i8::try_from(naive.hour()).ok()?,
        i8::try_from(naive.minute()).ok()?,
        i8::try_from(naive.second()).ok()?,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use super::*;

    /// Every occurrence in `[from, to]`, walked by `rrule` from the real
    /// start: what fast-forwarding must reproduce.
    fn brute_force(rule: &str, dtstart: DateTime, from: DateTime, to: DateTime) -> Vec<DateTime> {
        let rule: RRule<Unvalidated> = rule.parse().unwrap();
        let set = rule.build(fake_utc(dtstart).unwrap()).unwrap();
        (&set)
            .into_iter()
            .map(|o| from_fake_utc(&o).unwrap())
            .take_while(|civil| *civil <= to)
            .filter(|civil| *civil >= from)
            .collect()
    }

    #[test]
    fn fast_forwarding_reproduces_the_walk_from_the_start() {
        let rules = [
            "FREQ=DAILY",
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0,30",
            "FREQ=WEEKLY",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE,FR",
            "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,SA",
            "FREQ=MONTHLY",
            "FREQ=MONTHLY;INTERVAL=5",
            "FREQ=MONTHLY;BYDAY=2TU",
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=YEARLY",
            "FREQ=YEARLY;INTERVAL=4",
            "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH",
            "FREQ=YEARLY;BYMONTH=1,7",
            "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
            "FREQ=YEARLY;BYYEARDAY=100,200",
            "FREQ=HOURLY;INTERVAL=7",
            "FREQ=MINUTELY;INTERVAL=1441",
        ];
        let starts = [
            date(1999, 1, 31).at(10, 15, 0, 0),
            date(2004, 2, 29).at(23, 45, 0, 0),
            date(2012, 12, 31).at(0, 0, 0, 0),
        ];
        let windows = [
            (
                date(2025, 3, 1).at(0, 0, 0, 0),
                date(2025, 4, 15).at(0, 0, 0, 0),
            ),
            (
                date(2030, 12, 20).at(0, 0, 0, 0),
                date(2032, 3, 10).at(0, 0, 0, 0),
            ),
        ];
        for rule in rules {
            for dtstart in starts {
                let start = Moment {
                    civil: dtstart,
                    zone: TimeZone::UTC,
                    date_only: false,
                };
                for (from, to) in windows {
                    let expected = brute_force(rule, dtstart, from, to);
                    let found = expand_rule(rule, &start, (from, to), &mut budget())
                        .ok()
                        .unwrap();
                    assert_eq!(found, expected, "{rule} from {dtstart} in {from}..{to}");
                }
            }
        }
    }

    fn budget() -> Budget {
        Budget::new(Duration::from_secs(60))
    }

    #[test]
    fn until_is_read_in_the_event_zone() {
        let start = Moment {
            civil: date(2025, 1, 6).at(9, 0, 0, 0),
            zone: TimeZone::get("America/New_York").unwrap(),
            date_only: false,
        };
        let bounds = (
            date(2025, 1, 1).at(0, 0, 0, 0),
            date(2025, 12, 31).at(0, 0, 0, 0),
        );
        // 14:00 UTC is 09:00 New York: the 20 January occurrence is included.
        let count = |rule: &str| {
            expand_rule(rule, &start, bounds, &mut budget())
                .ok()
                .map(|found| found.len())
        };
        assert_eq!(count("FREQ=WEEKLY;UNTIL=20250120T140000Z"), Some(3));
        assert_eq!(count("FREQ=WEEKLY;UNTIL=20250120T135959Z"), Some(2));
        // A DATE includes its whole day.
        assert_eq!(count("FREQ=WEEKLY;UNTIL=20250120"), Some(3));
        assert_eq!(count("FREQ=WEEKLY;UNTIL=soon"), None);
    }
}
