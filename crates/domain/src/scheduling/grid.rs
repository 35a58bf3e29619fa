//! The slot engine: opening hours resolved to instants per local day, the
//! grid of each window, the daily counts, and the one sweep that lists
//! slots, checks a time and finds the next free one. The rules and what
//! is exported: [`super`].

use std::ops::ControlFlow;

use jiff::{
    SignedDuration, Timestamp,
    civil::{Date, DateTime, Time},
    tz::{AmbiguousOffset, TimeZone},
};

use crate::availability::Window;
use crate::{Minutes, TimeRange, Timezone, WeeklyAvailability};

/// What the scheduler needs to know about a service.
#[derive(Debug, Clone, Copy)]
pub struct SlotRules<'a> {
    /// Opening hours and their time zone.
    pub availability: &'a WeeklyAvailability,
    /// Length of one appointment, at least 1 minute (0 is treated as 1).
    pub duration: Minutes,
    /// Time that must be free before each appointment.
    pub buffer_before: Minutes,
    /// Time that must be free after each appointment.
    pub buffer_after: Minutes,
    /// How far ahead of `now` an appointment must start.
    pub minimum_notice: Minutes,
    /// Minutes between grid starts of a window; `None` (or 0): the duration.
    pub slot_interval: Option<Minutes>,
    /// Days (of 24 hours): a start must lie before `now + horizon`; `None`:
    /// no limit.
    pub booking_horizon: Option<u32>,
    /// Cap on active bookings of the service starting on one local day
    /// (`None`: none). Only the functions that take [`DailyCounts`] apply it.
    pub max_bookings_per_day: Option<u32>,
}

impl<'a> SlotRules<'a> {
    /// Rules with no buffers, notice, interval, horizon or cap.
    pub fn new(availability: &'a WeeklyAvailability, duration: Minutes) -> Self {
        SlotRules {
            availability,
            duration,
            buffer_before: Minutes::ZERO,
            buffer_after: Minutes::ZERO,
            minimum_notice: Minutes::ZERO,
            slot_interval: None,
            booking_horizon: None,
            max_bookings_per_day: None,
        }
    }
}

impl SlotRules<'_> {
    /// The duration in minutes, never 0.
    fn duration_mins(&self) -> u32 {
        self.duration.get().max(1)
    }

    /// The duration as a [`SignedDuration`], never zero.
    fn duration_span(&self) -> SignedDuration {
        SignedDuration::from_mins(i64::from(self.duration_mins()))
    }

    /// Minutes between grid starts, never 0.
    fn interval_mins(&self) -> u32 {
        self.slot_interval
            .map(Minutes::get)
            .filter(|m| *m > 0)
            .unwrap_or_else(|| self.duration_mins())
    }

    /// `now + minimum_notice`, saturating at the end of time.
    fn earliest_start(&self, now: Timestamp) -> Timestamp {
        now.checked_add(self.minimum_notice.duration())
            .unwrap_or(Timestamp::MAX)
    }

    /// `now + booking_horizon` (starts must be before it), saturating.
    fn latest_start(&self, now: Timestamp) -> Option<Timestamp> {
        self.booking_horizon.map(|days| {
            now.checked_add(SignedDuration::from_hours(24 * i64::from(days)))
                .unwrap_or(Timestamp::MAX)
        })
    }

    /// The slot's range widened by the buffers: what must be free.
    fn buffered(&self, slot: &Slot) -> TimeRange {
        slot.range().widened(self.buffer_before, self.buffer_after)
    }
}

/// A bookable appointment: `[start, end)` with `end = start + duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    /// First instant of the appointment.
    pub start: Timestamp,
    /// First instant after the appointment.
    pub end: Timestamp,
}

impl Slot {
    /// The slot as a [`TimeRange`]. A degenerate slot (`end <= start`, which the
    /// scheduler never produces) becomes one minute long.
    pub fn range(&self) -> TimeRange {
        TimeRange::new(self.start, self.end)
            .unwrap_or_else(|| TimeRange::starting_at(self.start, Minutes::new(1)))
    }
}

/// Busy intervals sorted by start and merged (overlapping or adjacent ones
/// joined). Built once in `O(n log n)`; queries are `O(log n)`.
#[derive(Debug, Clone, Default)]
pub struct BusyTimes {
    ranges: Vec<TimeRange>,
}

impl BusyTimes {
    /// Sorts and merges the ranges; any order is accepted.
    pub fn new(ranges: impl IntoIterator<Item = TimeRange>) -> Self {
        BusyTimes::from_ascending(ranges.into_iter().collect())
    }

    /// [`BusyTimes::new`] of ranges already ascending by start (what the
    /// stores read): merged in one pass, without sorting. Out-of-order input
    /// is sorted first, so the result is right either way.
    pub fn from_ascending(mut sorted: Vec<TimeRange>) -> Self {
        if !sorted.is_sorted_by_key(|r| r.start()) {
            sorted.sort_unstable_by_key(|r| r.start());
        }
        // Merged in place: no second list.
        sorted.dedup_by(|range, last| {
            if range.start() > last.end() {
                return false;
            }
            if range.end() > last.end() {
                // `last.start() < last.end() < range.end()`, so this is
                // always `Some`; keep `last` unchanged otherwise.
                *last = TimeRange::new(last.start(), range.end()).unwrap_or(*last);
            }
            true
        });
        BusyTimes { ranges: sorted }
    }

    /// The merged intervals, ascending and pairwise separated by free time.
    pub fn as_slice(&self) -> &[TimeRange] {
        &self.ranges
    }

    /// Number of merged intervals.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether there is no busy time at all.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `range` shares an instant with any busy interval (binary search).
    pub fn overlaps(&self, range: &TimeRange) -> bool {
        let i = self.first_ending_after(range.start());
        self.ranges
            .get(i)
            .is_some_and(|busy| busy.start() < range.end())
    }

    /// Index of the first interval whose end is after `t`.
    fn first_ending_after(&self, t: Timestamp) -> usize {
        self.ranges.partition_point(|busy| busy.end() <= t)
    }
}

impl FromIterator<TimeRange> for BusyTimes {
    fn from_iter<I: IntoIterator<Item = TimeRange>>(iter: I) -> Self {
        BusyTimes::new(iter)
    }
}

/// Why a start is not bookable, by [`is_bookable`] (which names the first
/// rule broken; [`explain`](super::explain) names them all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unbookable {
    /// The appointment does not fit inside one window of an open day.
    #[error("the appointment does not fit inside the service's opening hours")]
    OutsideHours,
    /// The start is earlier than `now + minimum_notice`.
    #[error("the appointment starts sooner than the service's minimum notice allows")]
    TooSoon,
    /// The start is at or after `now + booking_horizon`.
    #[error("the appointment starts later than the service's booking horizon allows")]
    BeyondHorizon,
    /// The appointment, widened by its buffers, overlaps busy time.
    #[error("the provider is busy at that time")]
    Busy,
}

/// UTC instants of every opening window (of every local day) that
/// intersects `range` (unclipped), ascending.
pub fn windows(availability: &WeeklyAvailability, range: TimeRange) -> Vec<TimeRange> {
    let mut out = Vec::new();
    for_each_window(availability, range, |window| {
        if let Some(r) = TimeRange::new(window.start, window.end) {
            out.push(r);
        }
        ControlFlow::Continue(())
    });
    out
}

/// Every free slot whose **start** lies in `[range.start, range.end)`, ascending
/// and without duplicates. Applies every rule but the daily cap (see
/// [`available_slots`](super::available_slots), which takes the day counts).
///
/// `busy` must hold at least the busy time inside [`busy_lookup_range`]`(rules,
/// range)`; intervals outside it are skipped by binary search.
pub fn slots(
    rules: &SlotRules<'_>,
    range: TimeRange,
    now: Timestamp,
    busy: &BusyTimes,
) -> Vec<Slot> {
    collect_slots(rules, range, now, busy, None)
}

/// Every slot the sweep finds over `range`, with the daily cap when
/// `counts` is given: the list behind [`slots`] and [`available_slots`].
pub(super) fn collect_slots(
    rules: &SlotRules<'_>,
    range: TimeRange,
    now: Timestamp,
    busy: &BusyTimes,
    counts: Option<&DailyCounts>,
) -> Vec<Slot> {
    let mut out = Vec::with_capacity(expected_slots(rules, range));
    sweep(rules, range, now, busy, counts, |slot| {
        out.push(slot);
        ControlFlow::Continue(())
    });
    out
}

/// How many grid starts the weekly hours give over `range` (overrides and
/// busy time aside), at most [`MAX_PREALLOCATED_SLOTS`]: the capacity
/// [`collect_slots`] starts with, so a month of short slots is not copied
/// through a dozen reallocations.
fn expected_slots(rules: &SlotRules<'_>, range: TimeRange) -> usize {
    let interval = u64::from(rules.interval_mins());
    let per_week: u64 = crate::Weekday::ALL
        .iter()
        .flat_map(|day| rules.availability.weekly_windows(*day))
        .map(|w| {
            let open = u64::from(w.end().minutes().saturating_sub(w.start().minutes()));
            open.div_ceil(interval)
        })
        .sum();
    let days = u64::try_from(range.length().as_secs().max(0) / 86_400).unwrap_or(0) + 1;
    let expected = per_week.saturating_mul(days).div_ceil(7);
    usize::try_from(expected.min(MAX_PREALLOCATED_SLOTS)).unwrap_or(0)
}

/// The most slots [`expected_slots`] asks room for up front (about 1 MiB).
const MAX_PREALLOCATED_SLOTS: u64 = 1 << 15;

/// Checks a requested start (the caller ensures it is a whole minute).
///
/// Accepted when `[start, start + duration)` lies inside one window (it need
/// not sit on the slot grid), `start >= now + minimum_notice`, `start` is
/// before the horizon, and the buffered range is free. The error names the
/// first rule broken in that order; the daily cap is not checked (see
/// [`check`](super::check)).
pub fn is_bookable(
    rules: &SlotRules<'_>,
    start: Timestamp,
    now: Timestamp,
    busy: &BusyTimes,
) -> Result<Slot, Unbookable> {
    let verdict = time_verdict(rules, start, now);
    let (Hours::Inside, Some(end)) = (&verdict.hours, verdict.end) else {
        return Err(Unbookable::OutsideHours);
    };
    if verdict.past || verdict.notice.is_some() {
        return Err(Unbookable::TooSoon);
    }
    if verdict.horizon.is_some() {
        return Err(Unbookable::BeyondHorizon);
    }
    let slot = Slot { start, end };
    if busy.overlaps(&rules.buffered(&slot)) {
        return Err(Unbookable::Busy);
    }
    Ok(slot)
}

/// The first free grid slot (notice and horizon respected) starting in
/// `[from, from + search)`, or `None`. Equal to the first element of
/// `slots(rules, [from, from + search), now, busy)`, without computing the
/// rest.
pub fn next_available(
    rules: &SlotRules<'_>,
    from: Timestamp,
    now: Timestamp,
    busy: &BusyTimes,
    search: SignedDuration,
) -> Option<Slot> {
    first_slot(rules, from, now, busy, None, search)
}

/// The busy time the caller must load so that [`slots`] (or [`is_bookable`] /
/// [`next_available`], or the [`Blockers`](super::Blockers) of
/// [`available_slots`](super::available_slots)) over
/// `range` sees every interval that can matter: `range` widened by
/// `buffer_before` at the start and `duration + buffer_after` at the end.
pub fn busy_lookup_range(rules: &SlotRules<'_>, range: TimeRange) -> TimeRange {
    let after = Minutes::new(
        rules
            .duration_mins()
            .saturating_add(rules.buffer_after.get()),
    );
    range.widened(rules.buffer_before, after)
}

/// `[start of local day from, start of the local day after to_inclusive)` as
/// instants; `None` if `from > to_inclusive` or the dates are out of range.
///
/// A local midnight that falls in a gap resolves to the first instant after the
/// gap; an ambiguous one to the earlier instant.
pub fn local_day_range(tz: &Timezone, from: Date, to_inclusive: Date) -> Option<TimeRange> {
    let tz = tz.tz();
    let (start, _) = resolve_edge(tz, from.to_datetime(Time::midnight()))?;
    let after = to_inclusive.tomorrow().ok()?;
    let (end, _) = resolve_edge(tz, after.to_datetime(Time::midnight()))?;
    TimeRange::new(start, end)
}

// ---------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------

/// One window of one local day, resolved to instants.
#[derive(Debug, Clone, Copy)]
pub(super) struct DayWindow {
    pub(super) date: Date,
    pub(super) start: Timestamp,
    pub(super) end: Timestamp,
    /// Wall-clock edges, minutes after the day's midnight (`end` up to 1440).
    pub(super) start_minute: u16,
    pub(super) end_minute: u16,
    /// The local start time does not exist (it moved to the transition), so
    /// the wall-clock grid is not `start + k * interval`.
    pub(super) start_in_gap: bool,
}

impl DayWindow {
    fn range(&self) -> Option<TimeRange> {
        TimeRange::new(self.start, self.end)
    }
}

/// Resolves a local date-time to an instant by the window-edge rule:
/// unambiguous as is, fold → earlier, gap → transition instant. Also says
/// whether the local time was in a gap.
fn resolve_edge(tz: &TimeZone, dt: DateTime) -> Option<(Timestamp, bool)> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => Some((offset.to_timestamp(dt).ok()?, false)),
        // `before` is the offset in force before the fold, so it yields the
        // earlier of the two instants.
        AmbiguousOffset::Fold { before, .. } => Some((before.to_timestamp(dt).ok()?, false)),
        AmbiguousOffset::Gap { before, after } => {
            // Read with the later offset, `dt` lands strictly before the
            // transition; read with the earlier one, at or after it. The
            // transition is the first one following the former.
            let late = before.to_timestamp(dt).ok()?;
            let early = after.to_timestamp(dt).ok()?;
            let transition = tz
                .following(early)
                .next()
                .map(|t| t.timestamp())
                .filter(|t| *t <= late)
                .unwrap_or(late);
            Some((transition, true))
        }
    }
}

/// Resolves a grid time (slot start): gap → `None`, fold → earlier.
fn resolve_grid(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt).ok(),
        AmbiguousOffset::Gap { .. } => None,
    }
}

/// A minute of the local day (`0..=1440`) as a date-time; 1440 is the next
/// midnight.
fn local_datetime(date: Date, minute: u16) -> Option<DateTime> {
    if minute >= 24 * 60 {
        return Some(date.tomorrow().ok()?.to_datetime(Time::midnight()));
    }
    // `minute < 1440`, so both parts fit in `i8` and are valid.
    let time = Time::new((minute / 60) as i8, (minute % 60) as i8, 0, 0).ok()?;
    Some(date.to_datetime(time))
}

/// One wall-clock window of `date` resolved to instants; `None` when it is
/// empty (it lies entirely in a gap) or out of range.
fn resolve_window(tz: &TimeZone, date: Date, window: Window) -> Option<DayWindow> {
    let (start_minute, end_minute) = (window.start().minutes(), window.end().minutes());
    let (start, start_in_gap) = resolve_edge(tz, local_datetime(date, start_minute)?)?;
    let (end, _) = resolve_edge(tz, local_datetime(date, end_minute)?)?;
    (start < end).then_some(DayWindow {
        date,
        start,
        end,
        start_minute,
        end_minute,
        start_in_gap,
    })
}

/// Calls `f` with every window of every local day that intersects `range`,
/// in ascending order (windows never overlap).
fn for_each_window(
    availability: &WeeklyAvailability,
    range: TimeRange,
    mut f: impl FnMut(DayWindow) -> ControlFlow<()>,
) {
    let tz = availability.timezone().tz();
    // A day's windows lie between its own local midnight and the next one, so
    // only the local dates of the range's ends (± a day of slack) can matter.
    let first = tz.to_datetime(range.start()).date();
    let last = tz.to_datetime(range.end()).date();
    let mut date = first.yesterday().unwrap_or(first);
    loop {
        for window in availability.hours_on(date).windows {
            if let Some(window) = resolve_window(tz, date, *window)
                && window.start < range.end()
                && range.start() < window.end
                && f(window).is_break()
            {
                return;
            }
        }
        if date > last {
            return;
        }
        match date.tomorrow() {
            Ok(next) => date = next,
            Err(_) => return,
        }
    }
}

/// Whether `t` is a whole minute (UTC, which is what a booking is checked on).
pub(super) fn is_whole_minute(t: Timestamp) -> bool {
    t.as_second().rem_euclid(60) == 0 && t.subsec_nanosecond() == 0
}

/// Where a start lies relative to the opening hours.
#[derive(Debug, Clone, Copy)]
pub(super) enum Hours {
    /// `[start, start + duration)` lies inside a window (the one of
    /// [`TimeVerdict::start_window`]).
    Inside,
    /// The start's local day has no windows (`overridden`: by an override).
    Closed { overridden: bool },
    /// The day is open but no window holds the appointment; the day's window
    /// nearest to the start, if any resolves to instants.
    Outside { nearest: Option<TimeRange> },
}

/// The rules that depend only on the time (not on busy time or counts).
#[derive(Debug, Clone, Copy)]
pub(super) struct TimeVerdict {
    /// `start + duration`; `None` past the end of time.
    pub(super) end: Option<Timestamp>,
    /// `start < now`.
    pub(super) past: bool,
    /// `now + minimum_notice` when `now <= start` is before it.
    pub(super) notice: Option<Timestamp>,
    /// `now + horizon` when the start is at or after it.
    pub(super) horizon: Option<Timestamp>,
    pub(super) hours: Hours,
    /// The local day the start counts on: its window's date when inside one,
    /// else its local date.
    pub(super) day: Date,
    /// The window containing the start instant (whether or not the whole
    /// appointment fits), and the start's local date-time.
    pub(super) start_window: Option<DayWindow>,
    pub(super) local: DateTime,
}

/// Checks `start` against hours, notice and horizon: the time rules that
/// [`sweep`] applies, derived the same way (same window resolution, same
/// `earliest`/`latest`).
pub(super) fn time_verdict(rules: &SlotRules<'_>, start: Timestamp, now: Timestamp) -> TimeVerdict {
    let availability = rules.availability;
    let tz = availability.timezone().tz();
    let end = start.checked_add(rules.duration_span()).ok();
    let earliest = rules.earliest_start(now);
    let past = start < now;
    let notice = (!past && start < earliest).then_some(earliest);
    let horizon = rules.latest_start(now).filter(|latest| start >= *latest);
    let local = tz.to_datetime(start);
    let date = local.date();

    // The window holding the start instant, and the one holding the whole
    // appointment (the same window, when the appointment fits).
    let mut start_window: Option<DayWindow> = None;
    let mut inside: Option<DayWindow> = None;
    let mut visit = |w: DayWindow, start_window: &mut Option<DayWindow>| {
        if w.start <= start && start < w.end {
            *start_window = Some(w);
            if end.is_some_and(|end| end <= w.end) {
                inside = Some(w);
            }
        }
    };
    // The start's own day: every window, and the nearest one.
    let own = availability.hours_on(date);
    let mut nearest: Option<(SignedDuration, TimeRange)> = None;
    for w in own.windows {
        if let Some(w) = resolve_window(tz, date, *w) {
            visit(w, &mut start_window);
            let distance = if start < w.start {
                w.start.duration_since(start)
            } else if start >= w.end {
                start.duration_since(w.end)
            } else {
                SignedDuration::ZERO
            };
            if nearest.is_none_or(|(d, _)| distance < d)
                && let Some(r) = w.range()
            {
                nearest = Some((distance, r));
            }
        }
    }
    // The neighbours' windows can only hold the start in zones whose local
    // date runs backwards over midnight; look only when their outermost edge
    // says they could (the edges are monotonic within a day).
    if start_window.is_none() {
        if let Ok(yesterday) = date.yesterday() {
            let windows = availability.hours_on(yesterday).windows;
            let reaches = windows.last().is_some_and(|last| {
                local_datetime(yesterday, last.end().minutes())
                    .and_then(|dt| resolve_edge(tz, dt))
                    .is_some_and(|(edge, _)| start < edge)
            });
            if reaches {
                windows
                    .iter()
                    .filter_map(|w| resolve_window(tz, yesterday, *w))
                    .for_each(|w| visit(w, &mut start_window));
            }
        }
        if let Ok(tomorrow) = date.tomorrow() {
            let windows = availability.hours_on(tomorrow).windows;
            let reaches = windows.first().is_some_and(|first| {
                local_datetime(tomorrow, first.start().minutes())
                    .and_then(|dt| resolve_edge(tz, dt))
                    .is_some_and(|(edge, _)| edge <= start)
            });
            if reaches {
                windows
                    .iter()
                    .filter_map(|w| resolve_window(tz, tomorrow, *w))
                    .for_each(|w| visit(w, &mut start_window));
            }
        }
    }
    let hours = match inside {
        Some(_) => Hours::Inside,
        None if own.windows.is_empty() => Hours::Closed {
            overridden: own.overridden,
        },
        None => Hours::Outside {
            nearest: nearest.map(|(_, r)| r),
        },
    };
    TimeVerdict {
        end,
        past,
        notice,
        horizon,
        hours,
        day: inside.map_or(date, |w| w.date),
        start_window,
        local,
    }
}

/// Whether `start` (with local date-time `local`) is a start of `window`'s
/// wall-clock grid, exactly as [`sweep`] generates them.
pub(super) fn on_grid(
    rules: &SlotRules<'_>,
    window: &DayWindow,
    start: Timestamp,
    local: DateTime,
) -> bool {
    if !is_whole_minute(start) || local.second() != 0 || local.subsec_nanosecond() != 0 {
        return false;
    }
    let of_day = i64::from(local.hour()) * 60 + i64::from(local.minute());
    let minute = if local.date() == window.date {
        of_day
    } else if window.date.tomorrow().ok() == Some(local.date()) {
        of_day + 24 * 60
    } else {
        return false;
    };
    let (first, end) = (i64::from(window.start_minute), i64::from(window.end_minute));
    minute >= first
        && minute < end
        && (minute - first) % i64::from(rules.interval_mins()) == 0
        && resolve_grid(rules.availability.timezone().tz(), local) == Some(start)
}

/// Cursor into the busy list for strictly ascending slot starts.
///
/// A slot starting at `t` is blocked by busy `[bs, be)` exactly when its
/// buffered range `[t - before, t + duration + after)` overlaps it, i.e. when
/// `bs - (duration + after) < t < be + before`. The cursor computes that open
/// interval of blocked starts once per busy interval, so each slot costs two
/// comparisons.
struct BusyCursor<'b> {
    ranges: &'b [TimeRange],
    index: usize,
    /// Blocked starts `(lo, hi)` (exclusive) for the interval at `index`.
    current: Option<(Timestamp, Timestamp)>,
    /// `duration + buffer_after`.
    lead: SignedDuration,
    /// `buffer_before`.
    trail: SignedDuration,
}

impl BusyCursor<'_> {
    /// If a slot starting at `start` is blocked, the first start at which the
    /// blocking interval no longer blocks. `start` must increase between calls.
    fn blocked(&mut self, start: Timestamp) -> Option<Timestamp> {
        loop {
            let (lo, hi) = match self.current {
                Some(bounds) => bounds,
                None => {
                    let busy = self.ranges.get(self.index)?;
                    let bounds = (
                        busy.start()
                            .checked_sub(self.lead)
                            .unwrap_or(Timestamp::MIN),
                        busy.end().checked_add(self.trail).unwrap_or(Timestamp::MAX),
                    );
                    self.current = Some(bounds);
                    bounds
                }
            };
            if hi <= start {
                // Neither this start nor any later one is blocked by it.
                self.index += 1;
                self.current = None;
                continue;
            }
            return (lo < start).then_some(hi);
        }
    }
}

/// Smallest `k >= 0` with `base + k * step >= target` (`step` in minutes, > 0).
fn steps_to_reach(base: Timestamp, step_mins: u32, target: Timestamp) -> u64 {
    if target <= base {
        return 0;
    }
    // In whole seconds plus a fraction, with i64 arithmetic: this runs once
    // per busy interval the grid jumps over, and 128-bit nanosecond division
    // showed in profiles. `target - base = whole + fraction`, `0 <= fraction
    // < 1 s`; a step is whole minutes, so with a fraction the quotient's
    // ceiling is its floor plus one.
    let nanos = i64::from(target.subsec_nanosecond()) - i64::from(base.subsec_nanosecond());
    let whole = target.as_second() - base.as_second() - i64::from(nanos < 0);
    let step = i64::from(step_mins.max(1)) * 60;
    let k = if nanos == 0 {
        whole.div_euclid(step) + i64::from(whole.rem_euclid(step) != 0)
    } else {
        whole.div_euclid(step) + 1
    };
    u64::try_from(k).unwrap_or(0)
}

/// The first slot of the sweep over `[from, from + search)`.
pub(super) fn first_slot(
    rules: &SlotRules<'_>,
    from: Timestamp,
    now: Timestamp,
    busy: &BusyTimes,
    counts: Option<&DailyCounts>,
    search: SignedDuration,
) -> Option<Slot> {
    let until = from.checked_add(search).unwrap_or(Timestamp::MAX);
    let range = TimeRange::new(from, until)?;
    let mut found = None;
    sweep(rules, range, now, busy, counts, |slot| {
        found = Some(slot);
        ControlFlow::Break(())
    });
    found
}

/// The one sweep behind every slot listing: emits every free grid slot
/// starting in `range` that keeps notice, horizon and (with `counts`) the
/// daily cap, ascending, until `emit` breaks.
fn sweep(
    rules: &SlotRules<'_>,
    range: TimeRange,
    now: Timestamp,
    busy: &BusyTimes,
    counts: Option<&DailyCounts>,
    mut emit: impl FnMut(Slot) -> ControlFlow<()>,
) {
    let availability = rules.availability;
    let tz = availability.timezone().tz();
    let step_mins = rules.interval_mins();
    let step = SignedDuration::from_mins(i64::from(step_mins));
    let dur = rules.duration_span();
    let step_is_duration = step == dur;
    let lower = range.start().max(rules.earliest_start(now));
    let upper = match rules.latest_start(now) {
        Some(latest) => range.end().min(latest),
        None => range.end(),
    };
    let Some(search) = TimeRange::new(lower, upper) else {
        return;
    };
    let at_cap = |date: Date| match (rules.max_bookings_per_day, counts) {
        (Some(limit), Some(counts)) => counts.get(date) >= limit,
        _ => false,
    };
    let buffer_before = rules.buffer_before.duration();
    let mut cursor = BusyCursor {
        ranges: busy.as_slice(),
        index: busy.first_ending_after(lower.checked_sub(buffer_before).unwrap_or(Timestamp::MIN)),
        current: None,
        lead: dur
            .checked_add(rules.buffer_after.duration())
            .unwrap_or(SignedDuration::MAX),
        trail: buffer_before,
    };
    // First offset transition strictly after some instant <= the current
    // window start; refreshed only when a window starts at or after it.
    let mut next_transition: Option<Option<Timestamp>> = None;
    // Last candidate handed to the busy cursor: candidates must strictly
    // increase, both for the output order and for the cursor.
    let mut last_checked: Option<Timestamp> = None;

    for_each_window(availability, search, |window| {
        if at_cap(window.date) {
            return ControlFlow::Continue(());
        }
        let transition = match next_transition {
            Some(Some(t)) if t > window.start => Some(t),
            Some(None) => None,
            _ => {
                let t = tz.following(window.start).next().map(|t| t.timestamp());
                next_transition = Some(t);
                t
            }
        };
        let uniform = !window.start_in_gap && transition.is_none_or(|t| t >= window.end);

        // Checks one candidate `[start, end)`; `Err(next)` says the grid may
        // jump to `next`, the first start the blocking busy interval allows.
        let mut check = |start: Timestamp, end: Timestamp| -> Result<ControlFlow<()>, Timestamp> {
            if start < window.start || end > window.end || start < lower || start >= upper {
                return Ok(ControlFlow::Continue(()));
            }
            if last_checked.is_some_and(|last| start <= last) {
                return Ok(ControlFlow::Continue(()));
            }
            last_checked = Some(start);
            if let Some(free_from) = cursor.blocked(start) {
                return Err(free_from);
            }
            Ok(emit(Slot { start, end }))
        };
        let in_window = |start: Timestamp| start < upper && start < window.end;

        if uniform {
            // No offset change inside the window: the wall-clock grid is a
            // UTC grid. Jump straight to the first relevant step, then step
            // by the interval. (A window start that is not a whole minute,
            // in an old zone offset with seconds, has no bookable grid.)
            if !is_whole_minute(window.start) {
                return ControlFlow::Continue(());
            }
            let grid = |k: u64| -> Option<Timestamp> {
                let offset = i64::try_from(k.checked_mul(u64::from(step_mins))?).ok()?;
                let start = window
                    .start
                    .checked_add(SignedDuration::from_mins(offset))
                    .ok()?;
                in_window(start).then_some(start)
            };
            let mut next = grid(steps_to_reach(window.start, step_mins, lower));
            while let Some(start) = next {
                let Ok(end) = start.checked_add(dur) else {
                    break;
                };
                if end > window.end {
                    break;
                }
                next = match check(start, end) {
                    Ok(ControlFlow::Break(())) => return ControlFlow::Break(()),
                    // With the interval equal to the duration (the default)
                    // the next start is this slot's end: one addition less.
                    Ok(ControlFlow::Continue(())) => if step_is_duration {
                        Some(end)
                    } else {
                        start.checked_add(step).ok()
                    }
                    .filter(|t| in_window(*t)),
                    Err(free_from) => grid(steps_to_reach(window.start, step_mins, free_from))
                        .filter(|t| *t > start),
                };
            }
        } else {
            // A transition inside the window: convert each wall-clock grid
            // time, skipping those in a gap.
            let end_minute = u32::from(window.end_minute);
            let mut minute = u32::from(window.start_minute);
            while minute < end_minute {
                let start = u16::try_from(minute)
                    .ok()
                    .and_then(|m| local_datetime(window.date, m))
                    .and_then(|dt| resolve_grid(tz, dt));
                if let Some(start) = start {
                    if !in_window(start) {
                        break;
                    }
                    // A zone offset with seconds (old local mean times)
                    // puts a wall-clock minute off the UTC minute: not
                    // bookable. (The uniform grid above checks its start
                    // once; its steps are whole minutes.)
                    if !is_whole_minute(start) {
                        minute += step_mins;
                        continue;
                    }
                    if let Ok(end) = start.checked_add(dur)
                        && let Ok(ControlFlow::Break(())) = check(start, end)
                    {
                        return ControlFlow::Break(());
                    }
                }
                minute += step_mins;
            }
        }
        ControlFlow::Continue(())
    });
}
/// Active bookings of one service per local day, for the daily cap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DailyCounts {
    /// Sorted by date, unique.
    days: Vec<(Date, u32)>,
}

impl DailyCounts {
    /// From `(local date, count)` pairs in any order (repeats add up).
    pub fn new(counts: impl IntoIterator<Item = (Date, u32)>) -> DailyCounts {
        let mut days: Vec<(Date, u32)> = counts.into_iter().collect();
        days.sort_unstable_by_key(|(d, _)| *d);
        days.dedup_by(|next, kept| {
            if next.0 == kept.0 {
                kept.1 = kept.1.saturating_add(next.1);
                true
            } else {
                false
            }
        });
        DailyCounts { days }
    }

    /// From the start instants of the service's active bookings (any order),
    /// counted by local day in `tz`: the day runs from its local midnight to
    /// the next, resolved as window edges are. One time-zone lookup per day
    /// with bookings, not per booking.
    pub fn from_starts(tz: &Timezone, starts: impl IntoIterator<Item = Timestamp>) -> DailyCounts {
        let mut starts: Vec<Timestamp> = starts.into_iter().collect();
        starts.sort_unstable();
        let mut days = Vec::new();
        let mut rest = starts.as_slice();
        while let Some(&first) = rest.first() {
            let (date, day) = counted_day(tz, first);
            let n = match day {
                Some(range) if range.contains_instant(first) => {
                    rest.partition_point(|t| *t < range.end())
                }
                _ => 1,
            };
            days.push((date, u32::try_from(n).unwrap_or(u32::MAX)));
            rest = rest.get(n..).unwrap_or_default();
        }
        DailyCounts::new(days)
    }

    /// The count of `date` (0 when unknown).
    pub fn get(&self, date: Date) -> u32 {
        self.days
            .binary_search_by_key(&date, |(d, _)| *d)
            .ok()
            .and_then(|i| self.days.get(i))
            .map_or(0, |(_, n)| *n)
    }
}

/// The local date (in `tz`) whose count [`DailyCounts::from_starts`] adds
/// `at` to, with that day's range of instants (from its local midnight to
/// the next, `None` when it cannot be represented). Where the local date
/// runs backwards over midnight, the instant may lie in the neighbouring
/// day's range: that day is the one counted. The booking writes check the
/// daily cap over this range.
pub fn counted_day(tz: &Timezone, at: Timestamp) -> (Date, Option<TimeRange>) {
    let mut date = tz.tz().to_datetime(at).date();
    let mut day = local_day_range(tz, date, date);
    if let Some(range) = day {
        let other = if at < range.start() {
            date.yesterday().ok()
        } else if at >= range.end() {
            date.tomorrow().ok()
        } else {
            None
        };
        if let Some(other) = other {
            date = other;
            day = local_day_range(tz, other, other);
        }
    }
    (date, day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::scheduling::*;
    use crate::{LocalTime, WeekdaySet};

    #[test]
    fn steps_to_reach_is_the_ceiling_of_the_distance_in_steps() {
        let reference = |base: Timestamp, step: u32, target: Timestamp| -> u64 {
            if target <= base {
                return 0;
            }
            let diff = target.duration_since(base).as_nanos();
            let step = i128::from(step) * 60_000_000_000;
            u64::try_from((diff + step - 1) / step).unwrap()
        };
        let base: Timestamp = "2026-03-08T05:00:00Z".parse().unwrap();
        for (step, offsets_ns) in [
            (
                15_u32,
                [0_i64, 1, 899_999_999_999, 900_000_000_000, 900_000_000_001],
            ),
            (
                60,
                [
                    59_999_999_999,
                    60_000_000_000,
                    3_600_000_000_000,
                    3_600_500_000_000,
                    7,
                ],
            ),
            (1, [-5, 0, 59_000_000_000, 60_000_000_001, 123_456_789_012]),
        ] {
            for base in [base, base + SignedDuration::from_nanos(250_000_000)] {
                for ns in offsets_ns {
                    let target = base + SignedDuration::from_nanos(ns);
                    assert_eq!(
                        steps_to_reach(base, step, target),
                        reference(base, step, target),
                        "{base} {step} {target}"
                    );
                }
            }
        }
    }

    pub(super) fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub(super) fn avail(days: &[&str], start: &str, end: &str, tz: &str) -> WeeklyAvailability {
        let all = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ];
        let days = if days.is_empty() { &all[..] } else { days };
        WeeklyAvailability::new(
            WeekdaySet::parse(days).unwrap(),
            LocalTime::parse(start, "start").unwrap(),
            LocalTime::parse(end, "end").unwrap(),
            Timezone::parse(tz).unwrap(),
        )
        .unwrap()
    }

    fn rules(availability: &WeeklyAvailability, duration: u32) -> SlotRules<'_> {
        SlotRules {
            availability,
            duration: Minutes::new(duration),
            buffer_before: Minutes::ZERO,
            buffer_after: Minutes::ZERO,
            minimum_notice: Minutes::ZERO,
            slot_interval: None,
            booking_horizon: None,
            max_bookings_per_day: None,
        }
    }

    fn range(a: &str, b: &str) -> TimeRange {
        TimeRange::new(ts(a), ts(b)).unwrap()
    }

    fn day(a: &WeeklyAvailability, date: &str) -> TimeRange {
        let d: Date = date.parse().unwrap();
        local_day_range(a.timezone(), d, d).unwrap()
    }

    const LONG_AGO: &str = "2000-01-01T00:00:00Z";

    /// Slot starts on one local day, as RFC 3339 UTC strings; checks lengths.
    fn starts_on(a: &WeeklyAvailability, date: &str, duration: u32) -> Vec<String> {
        let r = rules(a, duration);
        let out = slots(&r, day(a, date), ts(LONG_AGO), &BusyTimes::default());
        for s in &out {
            assert_eq!(
                s.end.duration_since(s.start),
                SignedDuration::from_mins(duration.into())
            );
        }
        out.iter().map(|s| s.start.to_string()).collect()
    }

    fn z(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn new_york_spring_gap() {
        let a = avail(&[], "00:00", "05:00", "America/New_York");
        let d = "2024-03-10";
        assert_eq!(
            starts_on(&a, d, 60),
            z(&[
                "2024-03-10T05:00:00Z",
                "2024-03-10T06:00:00Z",
                "2024-03-10T07:00:00Z",
                "2024-03-10T08:00:00Z"
            ])
        );
        assert_eq!(
            starts_on(&a, d, 30),
            z(&[
                "2024-03-10T05:00:00Z",
                "2024-03-10T05:30:00Z",
                "2024-03-10T06:00:00Z",
                "2024-03-10T06:30:00Z",
                "2024-03-10T07:00:00Z",
                "2024-03-10T07:30:00Z",
                "2024-03-10T08:00:00Z",
                "2024-03-10T08:30:00Z"
            ])
        );
        // Grid 00:00, 00:45, 01:30, (02:15 skipped), 03:00, 03:45; 04:30 would end at 05:15.
        assert_eq!(
            starts_on(&a, d, 45),
            z(&[
                "2024-03-10T05:00:00Z",
                "2024-03-10T05:45:00Z",
                "2024-03-10T06:30:00Z",
                "2024-03-10T07:00:00Z",
                "2024-03-10T07:45:00Z"
            ])
        );

        let a = avail(&[], "01:30", "03:30", "America/New_York");
        assert_eq!(
            windows(&a, day(&a, d)),
            vec![range("2024-03-10T06:30:00Z", "2024-03-10T07:30:00Z")]
        );
        assert_eq!(
            starts_on(&a, d, 30),
            z(&["2024-03-10T06:30:00Z", "2024-03-10T07:00:00Z"])
        );
        assert_eq!(starts_on(&a, d, 60), z(&["2024-03-10T06:30:00Z"]));
        assert_eq!(starts_on(&a, d, 45), z(&["2024-03-10T06:30:00Z"]));

        // A window start in the gap moves to the transition (07:00Z), not to
        // 03:30 as jiff's "compatible" rule would; the grid stays wall-clock.
        let a = avail(&[], "02:30", "05:00", "America/New_York");
        assert_eq!(
            windows(&a, day(&a, d)),
            vec![range("2024-03-10T07:00:00Z", "2024-03-10T09:00:00Z")]
        );
        assert_eq!(starts_on(&a, d, 60), z(&["2024-03-10T07:30:00Z"]));
        // Off-grid starts inside the moved window are bookable.
        let r = rules(&a, 60);
        let none = BusyTimes::default();
        assert!(is_bookable(&r, ts("2024-03-10T07:00:00Z"), ts(LONG_AGO), &none).is_ok());
        assert_eq!(
            is_bookable(&r, ts("2024-03-10T06:59:00Z"), ts(LONG_AGO), &none),
            Err(Unbookable::OutsideHours)
        );

        // A window entirely inside the gap is empty.
        let a = avail(&[], "02:00", "02:30", "America/New_York");
        assert!(windows(&a, day(&a, d)).is_empty());
    }

    #[test]
    fn new_york_autumn_fold() {
        let d = "2024-11-03";
        let a = avail(&[], "00:00", "05:00", "America/New_York");
        assert_eq!(
            windows(&a, day(&a, d)),
            vec![range("2024-11-03T04:00:00Z", "2024-11-03T10:00:00Z")]
        );
        // 01:00 is ambiguous: earlier (EDT) instant. The repeated hour gets no grid slot.
        assert_eq!(
            starts_on(&a, d, 60),
            z(&[
                "2024-11-03T04:00:00Z",
                "2024-11-03T05:00:00Z",
                "2024-11-03T07:00:00Z",
                "2024-11-03T08:00:00Z",
                "2024-11-03T09:00:00Z"
            ])
        );

        let a = avail(&[], "01:30", "03:30", "America/New_York");
        assert_eq!(
            windows(&a, day(&a, d)),
            vec![range("2024-11-03T05:30:00Z", "2024-11-03T08:30:00Z")]
        );
        assert_eq!(
            starts_on(&a, d, 30),
            z(&[
                "2024-11-03T05:30:00Z",
                "2024-11-03T07:00:00Z",
                "2024-11-03T07:30:00Z",
                "2024-11-03T08:00:00Z"
            ])
        );
        assert_eq!(
            starts_on(&a, d, 45),
            z(&["2024-11-03T05:30:00Z", "2024-11-03T07:15:00Z"])
        );
        assert_eq!(
            starts_on(&a, d, 60),
            z(&["2024-11-03T05:30:00Z", "2024-11-03T07:30:00Z"])
        );
        // 01:00 EST (the second 01:00) is inside the window, so bookable off-grid.
        let r = rules(&a, 60);
        let slot = is_bookable(
            &r,
            ts("2024-11-03T06:00:00Z"),
            ts(LONG_AGO),
            &BusyTimes::default(),
        );
        assert_eq!(slot.unwrap().end, ts("2024-11-03T07:00:00Z"));
    }

    #[test]
    fn london_both_changes() {
        let a = avail(&[], "00:00", "04:00", "Europe/London");
        assert_eq!(
            starts_on(&a, "2024-03-31", 60),
            z(&[
                "2024-03-31T00:00:00Z",
                "2024-03-31T01:00:00Z",
                "2024-03-31T02:00:00Z"
            ])
        );
        let a = avail(&[], "00:00", "03:00", "Europe/London");
        assert_eq!(
            starts_on(&a, "2024-10-27", 60),
            z(&[
                "2024-10-26T23:00:00Z",
                "2024-10-27T00:00:00Z",
                "2024-10-27T02:00:00Z"
            ])
        );
        // An ordinary winter day: 00:00-03:00 GMT.
        assert_eq!(
            starts_on(&a, "2024-12-02", 90),
            z(&["2024-12-02T00:00:00Z", "2024-12-02T01:30:00Z"])
        );
    }

    #[test]
    fn lord_howe_half_hour_shift() {
        // DST starts 2024-10-06 02:00 (+10:30) -> 02:30 (+11): transition 15:30Z.
        let a = avail(&[], "01:00", "04:00", "Australia/Lord_Howe");
        assert_eq!(
            starts_on(&a, "2024-10-06", 30),
            z(&[
                "2024-10-05T14:30:00Z",
                "2024-10-05T15:00:00Z",
                "2024-10-05T15:30:00Z",
                "2024-10-05T16:00:00Z",
                "2024-10-05T16:30:00Z"
            ])
        );
        assert_eq!(
            starts_on(&a, "2024-10-06", 60),
            z(&["2024-10-05T14:30:00Z", "2024-10-05T16:00:00Z"])
        );
        let a = avail(&[], "02:00", "04:00", "Australia/Lord_Howe");
        assert_eq!(
            windows(&a, day(&a, "2024-10-06")),
            vec![range("2024-10-05T15:30:00Z", "2024-10-05T17:00:00Z")]
        );
        // DST ends 2024-04-07 02:00 (+11) -> 01:30 (+10:30): fold [01:30, 02:00).
        let a = avail(&[], "01:00", "03:00", "Australia/Lord_Howe");
        assert_eq!(
            starts_on(&a, "2024-04-07", 30),
            z(&[
                "2024-04-06T14:00:00Z",
                "2024-04-06T14:30:00Z",
                "2024-04-06T15:30:00Z",
                "2024-04-06T16:00:00Z"
            ])
        );
    }

    #[test]
    fn santiago_midnight_transition() {
        // 2024-09-08 00:00 (-04) does not exist: clocks go to 01:00 (-03) at 04:00Z.
        let a = avail(&[], "00:00", "03:00", "America/Santiago");
        assert_eq!(
            windows(&a, day(&a, "2024-09-08")),
            vec![range("2024-09-08T04:00:00Z", "2024-09-08T06:00:00Z")]
        );
        assert_eq!(
            starts_on(&a, "2024-09-08", 60),
            z(&["2024-09-08T04:00:00Z", "2024-09-08T05:00:00Z"])
        );
        assert_eq!(
            day(&a, "2024-09-08"),
            range("2024-09-08T04:00:00Z", "2024-09-09T03:00:00Z")
        );
        // The day before ends at 24:00 = the same transition instant.
        let a = avail(&[], "22:00", "24:00", "America/Santiago");
        assert_eq!(
            windows(&a, day(&a, "2024-09-07")),
            vec![range("2024-09-08T02:00:00Z", "2024-09-08T04:00:00Z")]
        );
        assert_eq!(
            starts_on(&a, "2024-09-07", 60),
            z(&["2024-09-08T02:00:00Z", "2024-09-08T03:00:00Z"])
        );
        // 2024-04-06 24:00: clocks went back at 00:00 (-03) to 23:00 (-04), so
        // 23:00 is ambiguous and the window is three real hours long.
        assert_eq!(
            windows(&a, day(&a, "2024-04-06")),
            vec![range("2024-04-07T01:00:00Z", "2024-04-07T04:00:00Z")]
        );
        assert_eq!(
            starts_on(&a, "2024-04-06", 60),
            z(&["2024-04-07T01:00:00Z", "2024-04-07T02:00:00Z"])
        );
        let r = rules(&a, 60);
        assert!(
            is_bookable(
                &r,
                ts("2024-04-07T03:00:00Z"),
                ts(LONG_AGO),
                &BusyTimes::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn kathmandu_quarter_hour_offset() {
        let a = avail(&["monday"], "09:00", "12:00", "Asia/Kathmandu");
        assert_eq!(
            starts_on(&a, "2024-06-03", 60),
            z(&[
                "2024-06-03T03:15:00Z",
                "2024-06-03T04:15:00Z",
                "2024-06-03T05:15:00Z"
            ])
        );
        assert!(starts_on(&a, "2024-06-04", 60).is_empty());
    }

    fn seed() -> WeeklyAvailability {
        avail(
            &["monday", "tuesday", "wednesday", "thursday", "friday"],
            "09:00",
            "17:00",
            "America/New_York",
        )
    }

    #[test]
    fn seed_service_two_weeks_around_change() {
        let a = seed();
        let r = rules(&a, 60);
        let two_weeks = local_day_range(
            a.timezone(),
            "2024-03-04".parse().unwrap(),
            "2024-03-15".parse().unwrap(),
        )
        .unwrap();
        let all = slots(&r, two_weeks, ts(LONG_AGO), &BusyTimes::default());
        assert_eq!(all.len(), 80);
        let tz = a.timezone().tz();
        for pair in all.windows(2) {
            assert!(pair[0].start < pair[1].start);
        }
        for d in [4, 5, 6, 7, 8, 11, 12, 13, 14, 15] {
            let date = jiff::civil::date(2024, 3, d);
            let day: Vec<_> = all
                .iter()
                .filter(|s| tz.to_datetime(s.start).date() == date)
                .collect();
            assert_eq!(day.len(), 8, "{date}");
            let hour = if d < 10 { 14 } else { 13 };
            assert_eq!(
                day[0].start,
                date.at(hour, 0, 0, 0)
                    .to_zoned(TimeZone::UTC)
                    .unwrap()
                    .timestamp()
            );
            assert_eq!(
                tz.to_datetime(day[7].start).time(),
                jiff::civil::time(16, 0, 0, 0)
            );
        }
    }

    #[test]
    fn busy_time_and_buffers_block_slots() {
        let a = seed();
        let monday = day(&a, "2024-03-04");
        let busy = BusyTimes::new([range("2024-03-04T15:00:00Z", "2024-03-04T16:00:00Z")]);
        let now = ts(LONG_AGO);
        let starts = |r: &SlotRules<'_>| -> Vec<String> {
            slots(r, monday, now, &busy)
                .iter()
                .map(|s| s.start.to_string())
                .collect()
        };
        let mut r = rules(&a, 60);
        let plain = starts(&r);
        assert_eq!(plain.len(), 7);
        assert!(plain.contains(&"2024-03-04T14:00:00Z".to_string()));
        assert!(!plain.contains(&"2024-03-04T15:00:00Z".to_string()));
        assert!(plain.contains(&"2024-03-04T16:00:00Z".to_string()));

        r.buffer_after = Minutes::new(15);
        let after = starts(&r);
        assert_eq!(after.len(), 6);
        assert!(!after.contains(&"2024-03-04T14:00:00Z".to_string()));
        assert!(after.contains(&"2024-03-04T16:00:00Z".to_string()));

        r.buffer_after = Minutes::ZERO;
        r.buffer_before = Minutes::new(15);
        let before = starts(&r);
        assert_eq!(before.len(), 6);
        assert!(before.contains(&"2024-03-04T14:00:00Z".to_string()));
        assert!(!before.contains(&"2024-03-04T16:00:00Z".to_string()));
        assert_eq!(
            is_bookable(&r, ts("2024-03-04T16:00:00Z"), now, &busy),
            Err(Unbookable::Busy)
        );
        assert!(is_bookable(&r, ts("2024-03-04T16:15:00Z"), now, &busy).is_ok());
    }

    #[test]
    fn minimum_notice() {
        let a = seed();
        let mut r = rules(&a, 60);
        r.minimum_notice = Minutes::new(60);
        let now = ts("2024-03-04T14:30:00Z");
        let got = slots(&r, day(&a, "2024-03-04"), now, &BusyTimes::default());
        assert_eq!(got.len(), 6);
        assert_eq!(got[0].start, ts("2024-03-04T16:00:00Z"));
        assert_eq!(
            is_bookable(&r, ts("2024-03-04T15:00:00Z"), now, &BusyTimes::default()),
            Err(Unbookable::TooSoon)
        );
        assert!(is_bookable(&r, ts("2024-03-04T15:30:00Z"), now, &BusyTimes::default()).is_ok());
    }

    #[test]
    fn is_bookable_off_grid() {
        let a = seed();
        let r = rules(&a, 60);
        let now = ts(LONG_AGO);
        let none = BusyTimes::default();
        // 09:17 local.
        let slot = is_bookable(&r, ts("2024-03-04T14:17:00Z"), now, &none).unwrap();
        assert_eq!(slot.end, ts("2024-03-04T15:17:00Z"));
        // 16:00 fits exactly, 16:30 would end at 17:30.
        assert!(is_bookable(&r, ts("2024-03-04T21:00:00Z"), now, &none).is_ok());
        assert_eq!(
            is_bookable(&r, ts("2024-03-04T21:30:00Z"), now, &none),
            Err(Unbookable::OutsideHours)
        );
        // 08:59 local, a Saturday, and outside hours wins over notice.
        for bad in ["2024-03-04T13:59:00Z", "2024-03-09T15:00:00Z"] {
            assert_eq!(
                is_bookable(&r, ts(bad), now, &none),
                Err(Unbookable::OutsideHours)
            );
            assert_eq!(
                is_bookable(&r, ts(bad), ts("2030-01-01T00:00:00Z"), &none),
                Err(Unbookable::OutsideHours)
            );
        }
        let busy = BusyTimes::new([range("2024-03-04T15:00:00Z", "2024-03-04T15:01:00Z")]);
        assert_eq!(
            is_bookable(&r, ts("2024-03-04T14:17:00Z"), now, &busy),
            Err(Unbookable::Busy)
        );
        assert!(is_bookable(&r, ts("2024-03-04T15:01:00Z"), now, &busy).is_ok());
    }

    #[test]
    fn next_available_skips_busy_and_days_off() {
        let a = seed();
        let r = rules(&a, 60);
        let now = ts(LONG_AGO);
        let horizon = SignedDuration::from_hours(62 * 24);
        // Friday 16:00 local is busy: next is Monday 09:00, after the DST change.
        let busy = BusyTimes::new([range("2024-03-08T21:00:00Z", "2024-03-08T22:00:00Z")]);
        let from = ts("2024-03-08T20:30:00Z");
        assert_eq!(
            next_available(&r, from, now, &busy, horizon).unwrap(),
            Slot {
                start: ts("2024-03-11T13:00:00Z"),
                end: ts("2024-03-11T14:00:00Z")
            }
        );
        // The grid start at `from` counts; an off-grid `from` moves to the next one.
        assert_eq!(
            next_available(&r, ts("2024-03-08T20:00:00Z"), now, &busy, horizon)
                .unwrap()
                .start,
            ts("2024-03-08T20:00:00Z")
        );
        // Horizon: nothing before Monday within two days.
        assert_eq!(
            next_available(&r, from, now, &busy, SignedDuration::from_hours(48)),
            None
        );
        assert_eq!(
            next_available(&r, from, now, &busy, SignedDuration::ZERO),
            None
        );
        // Notice pushes past the weekend too.
        let mut r2 = r;
        r2.minimum_notice = Minutes::new(24 * 60);
        assert_eq!(
            next_available(
                &r2,
                ts("2024-03-07T20:30:00Z"),
                ts("2024-03-07T20:30:00Z"),
                &BusyTimes::default(),
                horizon
            )
            .unwrap()
            .start,
            ts("2024-03-08T21:00:00Z")
        );
        // Fully busy for the horizon: None.
        let wall = BusyTimes::new([range("2024-03-01T00:00:00Z", "2024-06-01T00:00:00Z")]);
        assert_eq!(next_available(&r, from, now, &wall, horizon), None);
    }

    #[test]
    fn end_of_day_windows() {
        let a = avail(&["monday"], "20:00", "24:00", "America/New_York");
        let got = starts_on(&a, "2024-03-04", 60);
        assert_eq!(got.len(), 4);
        assert_eq!(got[3], "2024-03-05T04:00:00Z");
        let a = avail(&[], "00:00", "24:00", "America/New_York");
        assert_eq!(starts_on(&a, "2024-03-10", 60).len(), 23);
        assert_eq!(starts_on(&a, "2024-11-03", 60).len(), 24);
        assert_eq!(starts_on(&a, "2024-03-04", 15).len(), 96);
        // Consecutive 24-hour windows touch but never overlap.
        let w = windows(&a, range("2024-03-09T12:00:00Z", "2024-03-12T12:00:00Z"));
        assert_eq!(w.len(), 4);
        for pair in w.windows(2) {
            assert_eq!(pair[0].end(), pair[1].start());
        }
    }

    #[test]
    fn busy_times_merge_and_search() {
        let b = BusyTimes::new([
            range("2024-01-01T12:00:00Z", "2024-01-01T13:00:00Z"),
            range("2024-01-01T10:00:00Z", "2024-01-01T11:00:00Z"),
            range("2024-01-01T11:00:00Z", "2024-01-01T11:30:00Z"),
            range("2024-01-01T10:15:00Z", "2024-01-01T10:30:00Z"),
        ]);
        assert_eq!(
            b.as_slice(),
            &[
                range("2024-01-01T10:00:00Z", "2024-01-01T11:30:00Z"),
                range("2024-01-01T12:00:00Z", "2024-01-01T13:00:00Z")
            ]
        );
        assert!(b.overlaps(&range("2024-01-01T11:29:00Z", "2024-01-01T12:00:00Z")));
        assert!(!b.overlaps(&range("2024-01-01T11:30:00Z", "2024-01-01T12:00:00Z")));
        assert!(!b.overlaps(&range("2024-01-01T13:00:00Z", "2024-01-01T14:00:00Z")));
        assert!(!b.overlaps(&range("2024-01-01T09:00:00Z", "2024-01-01T10:00:00Z")));
        assert!(b.overlaps(&range("2024-01-01T09:00:00Z", "2024-01-01T14:00:00Z")));
        assert!(
            !BusyTimes::default().overlaps(&range("2024-01-01T09:00:00Z", "2024-01-01T14:00:00Z"))
        );
    }

    #[test]
    fn lookup_range_covers_buffers_and_duration() {
        let a = seed();
        let mut r = rules(&a, 60);
        r.buffer_before = Minutes::new(10);
        r.buffer_after = Minutes::new(5);
        assert_eq!(
            busy_lookup_range(&r, range("2024-03-04T00:00:00Z", "2024-03-05T00:00:00Z")),
            range("2024-03-03T23:50:00Z", "2024-03-05T01:05:00Z")
        );
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        let a = avail(&[], "00:00", "24:00", "America/New_York");
        let mut r = rules(&a, 60);
        r.minimum_notice = Minutes::new(u32::MAX);
        r.buffer_before = Minutes::new(u32::MAX);
        let all = TimeRange::new(Timestamp::MIN, Timestamp::MAX).unwrap();
        let end = range("9999-12-28T00:00:00Z", "9999-12-30T12:00:00Z");
        let start = range("-009999-01-03T00:00:00Z", "-009999-01-05T00:00:00Z");
        let _ = windows(&a, start);
        let _ = windows(&a, end);
        assert!(slots(&r, end, Timestamp::MAX, &BusyTimes::default()).is_empty());
        assert!(slots(&r, start, Timestamp::MIN, &BusyTimes::new([all])).is_empty());
        r.minimum_notice = Minutes::ZERO;
        r.buffer_before = Minutes::ZERO;
        assert!(!slots(&r, end, Timestamp::MIN, &BusyTimes::default()).is_empty());
        // New York's local mean time (-4:56:02) puts every grid start of
        // year -9999 off the whole UTC minute, where no booking can start,
        // so none is listed; a zone with a whole-minute offset lists them.
        assert!(slots(&r, start, Timestamp::MIN, &BusyTimes::default()).is_empty());
        let utc = avail(&[], "00:00", "24:00", "UTC");
        let r_utc = rules(&utc, 60);
        assert!(!slots(&r_utc, start, Timestamp::MIN, &BusyTimes::default()).is_empty());
        let _ = explain(
            &r,
            Timestamp::MAX,
            Timestamp::MIN,
            &Blockers::default(),
            &DailyCounts::default(),
        );
        let _ = explain(
            &r,
            Timestamp::MIN,
            Timestamp::MAX,
            &Blockers::default(),
            &DailyCounts::default(),
        );
        let _ = is_bookable(&r, Timestamp::MAX, Timestamp::MIN, &BusyTimes::default());
        let _ = is_bookable(&r, Timestamp::MIN, Timestamp::MIN, &BusyTimes::default());
        let _ = next_available(
            &r,
            ts("9999-12-29T00:00:00Z"),
            Timestamp::MIN,
            &BusyTimes::default(),
            SignedDuration::MAX,
        );
        let _ = busy_lookup_range(&r, all);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod proptests {
    use super::*;
    use crate::scheduling::*;
    use crate::{LocalTime, Weekday, WeekdaySet};
    use proptest::prelude::*;

    const ZONES: [&str; 5] = [
        "America/New_York",
        "America/Santiago",
        "Australia/Lord_Howe",
        "Asia/Kathmandu",
        "Europe/London",
    ];

    /// Transition dates of the zones above (and neighbours); other dates are random.
    const TRANSITION_DATES: [&str; 14] = [
        "2024-03-10",
        "2024-11-03",
        "2024-03-31",
        "2024-10-27",
        "2024-04-06",
        "2024-09-07",
        "2024-04-07",
        "2024-10-06",
        "2023-03-12",
        "2023-11-05",
        "2023-09-03",
        "2025-04-06",
        "1985-12-31",
        "2022-09-11",
    ];

    #[derive(Debug, Clone)]
    struct Case {
        zone: &'static str,
        days: u8,
        start: u16,
        end: u16,
        duration: u32,
        buffer_before: u32,
        buffer_after: u32,
        notice: u32,
        base: DatePick,
        range_offset_min: i64,
        range_len_min: i64,
        now_offset_s: i64,
        busy: Vec<(i64, i64)>,
        from_offset_min: i64,
        horizon_min: i64,
    }

    #[derive(Debug, Clone)]
    enum DatePick {
        /// The local date of the zone's `index`-th transition after 1 Jan of
        /// `year`, shifted by `shift` days.
        Transition((i16, usize, i8)),
        Fixed(Date),
    }

    impl DatePick {
        fn resolve(&self, tz: &TimeZone) -> Date {
            match *self {
                DatePick::Fixed(d) => d,
                DatePick::Transition((year, index, shift)) => {
                    let jan1 = jiff::civil::date(year, 1, 1)
                        .to_zoned(TimeZone::UTC)
                        .unwrap()
                        .timestamp();
                    let t = tz
                        .following(jan1)
                        .nth(index)
                        .map(|t| t.timestamp())
                        .unwrap_or(jan1);
                    tz.to_datetime(t)
                        .date()
                        .checked_add(SignedDuration::from_hours(24 * i64::from(shift)))
                        .unwrap()
                }
            }
        }
    }

    /// Biased towards the small hours, where transitions happen.
    fn minute_of_day() -> impl Strategy<Value = u16> {
        prop_oneof![
            2 => (0u16..16).prop_map(|q| q * 15),
            1 => (0u16..96).prop_map(|q| q * 15),
            1 => 0u16..1440
        ]
    }

    fn window_length() -> impl Strategy<Value = u16> {
        prop_oneof![Just(1440u16), (1u16..24).prop_map(|h| h * 60), 1u16..=1440]
    }

    fn case() -> impl Strategy<Value = Case> {
        // Mostly dates with a real transition of the chosen zone (picked in the
        // test from (year, index, shift)), sometimes a listed or random date.
        let date = prop_oneof![
            3 => (1980i16..2040, 0usize..3, -1i8..=1).prop_map(DatePick::Transition),
            1 => prop::sample::select(&TRANSITION_DATES[..]).prop_map(|d| DatePick::Fixed(d.parse::<Date>().unwrap())),
            1 => (0i64..20_000).prop_map(|n| DatePick::Fixed(jiff::civil::date(1980, 1, 1)
                .checked_add(SignedDuration::from_hours(24 * n))
                .unwrap())),
        ];
        let duration = prop_oneof![
            prop::sample::select(&[15u32, 30, 45, 60, 90][..]),
            1u32..300,
        ];
        (
            (
                prop::sample::select(&ZONES[..]),
                prop_oneof![Just(127u8), 1u8..128],
                minute_of_day(),
                window_length(),
                duration,
                prop_oneof![Just(0u32), 0u32..90],
                prop_oneof![Just(0u32), 0u32..90],
                prop_oneof![Just(0u32), 0u32..3000],
            ),
            (
                date,
                -2880i64..1440,
                1i64..(8 * 1440),
                -3 * 86_400i64..3 * 86_400,
                prop::collection::vec((-1440i64..(9 * 1440), 1i64..600), 0..25),
                0i64..(8 * 1440),
                1i64..(4 * 1440),
            ),
        )
            .prop_map(
                |(
                    (zone, days, start, len, duration, buffer_before, buffer_after, notice),
                    (base, range_offset_min, range_len_min, now_offset_s, busy, from, horizon),
                )| Case {
                    zone,
                    days,
                    start,
                    end: (start + len).min(1440).max(start + 1),
                    duration,
                    buffer_before,
                    buffer_after,
                    notice,
                    base,
                    range_offset_min,
                    range_len_min,
                    now_offset_s,
                    busy,
                    from_offset_min: from,
                    horizon_min: horizon,
                },
            )
    }

    fn add_mins(t: Timestamp, m: i64) -> Timestamp {
        t.checked_add(SignedDuration::from_mins(m)).unwrap()
    }

    /// Window edge by a different route than the implementation: in a gap, the
    /// transition at or before the "later" reading.
    fn oracle_edge(tz: &TimeZone, dt: DateTime) -> Timestamp {
        let amb = tz.to_ambiguous_timestamp(dt);
        match amb.offset() {
            AmbiguousOffset::Gap { .. } => {
                let later = amb.later().unwrap();
                let probe = later.checked_add(SignedDuration::from_nanos(1)).unwrap();
                tz.preceding(probe).next().unwrap().timestamp()
            }
            _ => amb.earlier().unwrap(),
        }
    }

    fn at_minute(date: Date, minute: u32) -> DateTime {
        date.to_datetime(Time::midnight())
            .checked_add(SignedDuration::from_mins(minute.into()))
            .unwrap()
    }

    /// Every grid start (window, instant) of open days near `range`, by brute force.
    fn oracle_grid(
        a: &WeeklyAvailability,
        dur: u32,
        range: TimeRange,
    ) -> Vec<(TimeRange, Timestamp)> {
        let tz = a.timezone().tz();
        let first = tz.to_datetime(range.start()).date().yesterday().unwrap();
        let last = tz.to_datetime(range.end()).date().tomorrow().unwrap();
        let mut out = Vec::new();
        let mut date = first;
        while date <= last {
            if a.days().contains(Weekday::from_jiff(date.weekday())) {
                let (s, e) = (u32::from(a.start().minutes()), u32::from(a.end().minutes()));
                let ws = oracle_edge(tz, at_minute(date, s));
                let we = oracle_edge(tz, at_minute(date, e));
                if let Some(w) = TimeRange::new(ws, we) {
                    let mut m = s;
                    while m < e {
                        let amb = tz.to_ambiguous_timestamp(at_minute(date, m));
                        if !amb.is_ambiguous()
                            || !matches!(amb.offset(), AmbiguousOffset::Gap { .. })
                        {
                            out.push((w, amb.earlier().unwrap()));
                        }
                        m += dur;
                    }
                }
            }
            date = date.tomorrow().unwrap();
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn slots_follow_the_rules(c in case()) {
            let days: WeekdaySet = Weekday::ALL
                .into_iter()
                .filter(|d| c.days & (1 << d.index()) != 0)
                .collect();
            let a = WeeklyAvailability::new(
                days,
                LocalTime::from_minutes(c.start).unwrap(),
                LocalTime::from_minutes(c.end).unwrap(),
                Timezone::parse(c.zone).unwrap(),
            )
            .unwrap();
            let rules = SlotRules {
                availability: &a,
                duration: Minutes::new(c.duration),
                buffer_before: Minutes::new(c.buffer_before),
                buffer_after: Minutes::new(c.buffer_after),
                minimum_notice: Minutes::new(c.notice),
                ..SlotRules::new(&a, Minutes::new(c.duration))
            };
            let tz = a.timezone().tz();
            let base = c.base.resolve(tz).to_datetime(Time::midnight()).to_zoned(TimeZone::UTC).unwrap().timestamp();
            let rs = add_mins(base, c.range_offset_min);
            let range = TimeRange::new(rs, add_mins(rs, c.range_len_min)).unwrap();
            let now = rs.checked_add(SignedDuration::from_secs(c.now_offset_s)).unwrap();
            let earliest = add_mins(now, c.notice.into());
            let raw_busy: Vec<TimeRange> = c
                .busy
                .iter()
                .map(|&(off, len)| TimeRange::new(add_mins(rs, off), add_mins(rs, off + len)).unwrap())
                .collect();
            let busy = BusyTimes::new(raw_busy.iter().copied());
            let dur = SignedDuration::from_mins(c.duration.into());
            let buffered = |s: &Slot| s.range().widened(rules.buffer_before, rules.buffer_after);

            let got = slots(&rules, range, now, &busy);

            for s in &got {
                prop_assert_eq!(s.end.duration_since(s.start), dur);
                prop_assert!(range.contains_instant(s.start));
                prop_assert!(s.start >= earliest);
                prop_assert!(!raw_busy.iter().any(|b| b.overlaps(&buffered(s))));
                let local_day = tz.to_datetime(s.start).date();
                let day = local_day_range(a.timezone(), local_day, local_day).unwrap();
                prop_assert!(
                    windows(&a, day).iter().any(|w| w.contains(&s.range())),
                    "slot {:?} outside windows {:?}", s, windows(&a, day)
                );
                prop_assert_eq!(is_bookable(&rules, s.start, now, &busy), Ok(*s));
            }
            for pair in got.windows(2) {
                prop_assert!(pair[0].start < pair[1].start);
            }

            // Windows: ascending, disjoint, edges as the oracle resolves them.
            let ws = windows(&a, range);
            for pair in ws.windows(2) {
                prop_assert!(pair[0].end() <= pair[1].start());
            }
            for w in &ws {
                prop_assert!(w.overlaps(&range));
            }

            // Soundness and completeness against a brute-force grid.
            let grid = oracle_grid(&a, c.duration, range);
            let mut expected: Vec<Slot> = grid
                .iter()
                .filter_map(|&(w, t)| {
                    let slot = Slot { start: t, end: t.checked_add(dur).ok()? };
                    let ok = range.contains_instant(t)
                        && t >= earliest
                        && w.contains(&slot.range())
                        && !raw_busy.iter().any(|b| b.overlaps(&buffered(&slot)));
                    ok.then_some(slot)
                })
                .collect();
            expected.sort();
            expected.dedup();
            prop_assert_eq!(&got, &expected);
            for &(_, t) in &grid {
                if range.contains_instant(t) {
                    let in_slots = got.iter().any(|s| s.start == t);
                    prop_assert_eq!(is_bookable(&rules, t, now, &busy).is_ok(), in_slots, "grid start {}", t);
                }
            }

            // Busy time only removes slots.
            let free = slots(&rules, range, now, &BusyTimes::default());
            prop_assert!(got.iter().all(|s| free.contains(s)));

            // Loading only the busy time in busy_lookup_range changes nothing.
            let lookup = busy_lookup_range(&rules, range);
            let loaded = BusyTimes::new(raw_busy.iter().copied().filter(|b| b.overlaps(&lookup)));
            prop_assert_eq!(&slots(&rules, range, now, &loaded), &got);

            // next_available is the first slot from `from` within the horizon.
            let from = add_mins(rs, c.from_offset_min);
            let horizon = SignedDuration::from_mins(c.horizon_min);
            let window = TimeRange::new(from, from.checked_add(horizon).unwrap()).unwrap();
            prop_assert_eq!(
                next_available(&rules, from, now, &busy, horizon),
                slots(&rules, window, now, &busy).first().copied()
            );
            prop_assert_eq!(
                next_available(&rules, rs, now, &busy, range.length()),
                got.first().copied()
            );
        }

        #[test]
        fn window_edges_match_oracle(zone in prop::sample::select(&ZONES[..]),
                                     start in minute_of_day(), len in window_length(),
                                     n in 0i64..20_000, pick in prop::option::of(prop::sample::select(&TRANSITION_DATES[..]))) {
            let end = (start + len).min(1440).max(start + 1);
            let a = WeeklyAvailability::new(
                Weekday::ALL.into_iter().collect(),
                LocalTime::from_minutes(start).unwrap(),
                LocalTime::from_minutes(end).unwrap(),
                Timezone::parse(zone).unwrap(),
            ).unwrap();
            let date = match pick {
                Some(d) => d.parse::<Date>().unwrap(),
                None => jiff::civil::date(1980, 1, 1).checked_add(SignedDuration::from_hours(24 * n)).unwrap(),
            };
            let tz = a.timezone().tz();
            let day = local_day_range(a.timezone(), date, date).unwrap();
            prop_assert_eq!(day.start(), oracle_edge(tz, at_minute(date, 0)));
            prop_assert_eq!(day.end(), oracle_edge(tz, at_minute(date, 1440)));
            let ws = oracle_edge(tz, at_minute(date, start.into()));
            let we = oracle_edge(tz, at_minute(date, end.into()));
            let expected: Vec<TimeRange> = TimeRange::new(ws, we).into_iter().collect();
            prop_assert_eq!(windows(&a, day), expected);
        }
    }

    // ------------------------------------------------------------------
    // Weekly windows, overrides, booking rules and explain.
    // ------------------------------------------------------------------

    /// Up to three windows of one day: consecutive pairs of sorted distinct
    /// minutes, so sorted and neither overlapping nor touching; biased to
    /// the small hours where transitions happen, `24:00` included.
    fn day_windows() -> impl Strategy<Value = Vec<(u16, u16)>> {
        prop::collection::btree_set(prop_oneof![4 => minute_of_day(), 1 => Just(1440u16)], 0..=6)
            .prop_map(|set| {
                let points: Vec<u16> = set.into_iter().collect();
                points.chunks_exact(2).map(|c| (c[0], c[1])).collect()
            })
    }

    #[derive(Debug, Clone)]
    struct HoursCase {
        zone: &'static str,
        week: Vec<Vec<(u16, u16)>>,
        /// Day shift from the base date (unique), and that date's windows.
        overrides: Vec<(i64, Vec<(u16, u16)>)>,
        duration: u32,
        interval: Option<u32>,
        buffer_before: u32,
        buffer_after: u32,
        notice: u32,
        horizon_days: Option<u32>,
        cap: Option<u32>,
        counts: Vec<(i64, u32)>,
        base: DatePick,
        range_offset_min: i64,
        range_len_min: i64,
        now_offset_s: i64,
        /// (kind, offset, length, buffer before, buffer after) in minutes from
        /// the range start; kind 0 booking, 1 time off, 2 external, 3 hold
        /// (buffer after doubles as its expiry offset from now, in minutes).
        busy: Vec<(u8, i64, i64, u32, u32)>,
        /// Probe offsets from the range start, minutes, and a second offset.
        probes: Vec<(i64, i64)>,
    }

    fn hours_case() -> impl Strategy<Value = HoursCase> {
        let date = prop_oneof![
            3 => (1980i16..2040, 0usize..3, -1i8..=1).prop_map(DatePick::Transition),
            1 => prop::sample::select(&TRANSITION_DATES[..]).prop_map(|d| DatePick::Fixed(d.parse::<Date>().unwrap())),
        ];
        (
            (
                prop::sample::select(&ZONES[..]),
                prop::collection::vec(day_windows(), 7),
                prop::collection::btree_map(-2i64..=3, day_windows(), 0..4),
                prop_oneof![prop::sample::select(&[15u32, 30, 60, 90][..]), 5u32..240],
                prop::option::of(prop_oneof![
                    prop::sample::select(&[10u32, 15, 30, 60][..]),
                    5u32..180
                ]),
                prop_oneof![Just(0u32), 0u32..60],
                prop_oneof![Just(0u32), 0u32..60],
                prop_oneof![Just(0u32), 0u32..3000],
            ),
            (
                prop::option::of(1u32..4),
                prop::option::of(1u32..3),
                prop::collection::vec((-2i64..=3, 0u32..4), 0..4),
                date,
                -1440i64..1440,
                60i64..(3 * 1440),
                -2 * 86_400i64..2 * 86_400,
                prop::collection::vec(
                    (0u8..4, -1440i64..(4 * 1440), 1i64..400, 0u32..40, 0u32..40),
                    0..12,
                ),
                prop::collection::vec(
                    (
                        -1440i64..(4 * 1440),
                        prop_oneof![9 => Just(0i64), 1 => 1i64..60],
                    ),
                    0..16,
                ),
            ),
        )
            .prop_map(
                |(
                    (
                        zone,
                        week,
                        overrides,
                        duration,
                        interval,
                        buffer_before,
                        buffer_after,
                        notice,
                    ),
                    (
                        horizon_days,
                        cap,
                        counts,
                        base,
                        range_offset_min,
                        range_len_min,
                        now_offset_s,
                        busy,
                        probes,
                    ),
                )| HoursCase {
                    zone,
                    week,
                    overrides: overrides.into_iter().collect(),
                    duration,
                    interval,
                    buffer_before,
                    buffer_after,
                    notice,
                    horizon_days,
                    cap,
                    counts,
                    base,
                    range_offset_min,
                    range_len_min,
                    now_offset_s,
                    busy,
                    probes,
                },
            )
    }

    fn local_pairs(list: &[(u16, u16)]) -> Vec<(LocalTime, LocalTime)> {
        list.iter()
            .map(|&(a, b)| {
                (
                    LocalTime::from_minutes(a).unwrap(),
                    LocalTime::from_minutes(b).unwrap(),
                )
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn hours_and_explain_agree(c in hours_case()) {
            let timezone = Timezone::parse(c.zone).unwrap();
            let tz = timezone.tz().clone();
            let base_date = c.base.resolve(&tz);
            let shift = |d: i64| base_date.checked_add(jiff::Span::new().days(d)).unwrap();
            let week: [Vec<(LocalTime, LocalTime)>; 7] =
                std::array::from_fn(|i| local_pairs(&c.week[i]));
            let a = WeeklyAvailability::weekly(week, timezone.clone())
                .unwrap()
                .with_overrides(c.overrides.iter().map(|(d, w)| (shift(*d), local_pairs(w))).collect())
                .unwrap();
            // The wall-clock windows of a date, from the case data (not from
            // `hours_on`), as minutes.
            let wall = |date: Date| -> (&[(u16, u16)], bool) {
                match c.overrides.iter().find(|(d, _)| shift(*d) == date) {
                    Some((_, w)) => (w.as_slice(), true),
                    None => (c.week[Weekday::from_jiff(date.weekday()).index()].as_slice(), false),
                }
            };
            // Resolved windows of a date, by the oracle's edge rule.
            let resolved = |date: Date| -> Vec<(u16, u16, TimeRange)> {
                wall(date)
                    .0
                    .iter()
                    .filter_map(|&(s, e)| {
                        let ws = oracle_edge(&tz, at_minute(date, s.into()));
                        let we = oracle_edge(&tz, at_minute(date, e.into()));
                        TimeRange::new(ws, we).map(|w| (s, e, w))
                    })
                    .collect()
            };
            let mut rules = SlotRules::new(&a, Minutes::new(c.duration));
            rules.buffer_before = Minutes::new(c.buffer_before);
            rules.buffer_after = Minutes::new(c.buffer_after);
            rules.minimum_notice = Minutes::new(c.notice);
            rules.slot_interval = c.interval.map(Minutes::new);
            rules.booking_horizon = c.horizon_days;
            rules.max_bookings_per_day = c.cap;
            let interval = c.interval.unwrap_or(c.duration);
            let dur = SignedDuration::from_mins(c.duration.into());

            let base = base_date.to_datetime(Time::midnight()).to_zoned(TimeZone::UTC).unwrap().timestamp();
            let rs = add_mins(base, c.range_offset_min);
            let range = TimeRange::new(rs, add_mins(rs, c.range_len_min)).unwrap();
            let now = rs.checked_add(SignedDuration::from_secs(c.now_offset_s)).unwrap();
            let earliest = add_mins(now, c.notice.into());
            let latest = c.horizon_days.map(|d| add_mins(now, i64::from(d) * 1440));
            let counts = DailyCounts::new(c.counts.iter().map(|&(d, n)| (shift(d), n)));

            // Busy time with identities, and the raw blocked ranges for the oracle.
            let mut sources = BusySources::default();
            let mut raw: Vec<TimeRange> = Vec::new();
            for (i, &(kind, off, len, before, after)) in c.busy.iter().enumerate() {
                let range = TimeRange::new(add_mins(rs, off), add_mins(rs, off + len)).unwrap();
                match kind {
                    0 => {
                        let b = BookedTime {
                            id: crate::BookingId::from_trusted(format!("bk_{i}")),
                            range,
                            buffer_before: Minutes::new(before),
                            buffer_after: Minutes::new(after),
                        };
                        raw.push(b.occupied());
                        sources.bookings.push(b);
                    }
                    1 => {
                        raw.push(range);
                        sources.time_off.push(TimeOffBlock { id: crate::TimeOffId::from_trusted(format!("off_{i}")), range });
                    }
                    2 => {
                        raw.push(range);
                        sources.external.push(ExternalBusy {
                            calendar_id: crate::CalendarId::from_trusted(format!("cal_{i}")),
                            kind: "ics".into(),
                            range,
                        });
                    }
                    _ => {
                        // Expiry from 20 minutes before now to 20 after.
                        let expires_at = add_mins(now, i64::from(after) - 20);
                        if expires_at > now {
                            raw.push(range);
                        }
                        sources.holds.push(HeldTime { id: crate::HoldId::from_trusted(format!("hld_{i}")), range, expires_at });
                    }
                }
            }
            let blockers = Blockers::new(sources, now);
            let busy_at = |t: Timestamp| {
                let wanted = TimeRange::starting_at(t, Minutes::new(c.duration))
                    .widened(rules.buffer_before, rules.buffer_after);
                raw.iter().any(|b| b.overlaps(&wanted))
            };

            let got = available_slots(&rules, range, now, &blockers, &counts);

            // Slots lie inside one of their local day's windows, ascending.
            for s in &got {
                prop_assert_eq!(s.end.duration_since(s.start), dur);
                prop_assert!(range.contains_instant(s.start));
                let date = tz.to_datetime(s.start).date();
                prop_assert!(
                    resolved(date).iter().any(|(_, _, w)| w.contains(&s.range())),
                    "slot {:?} outside the windows of {}: {:?}", s, date, wall(date)
                );
            }
            for pair in got.windows(2) {
                prop_assert!(pair[0].start < pair[1].start);
            }
            // With no cap the older functions give the same slots.
            if c.cap.is_none() {
                prop_assert_eq!(&slots(&rules, range, now, blockers.busy()), &got);
            }

            // Every grid start, by brute force: listed exactly when available.
            let first = tz.to_datetime(range.start()).date().yesterday().unwrap();
            let last = tz.to_datetime(range.end()).date().tomorrow().unwrap();
            let mut date = first;
            let mut grid_checked = 0;
            let mut explained = 0;
            while date <= last {
                for (s, e, w) in resolved(date) {
                    let mut m = u32::from(s);
                    while m < u32::from(e) && grid_checked < 400 {
                        let amb = tz.to_ambiguous_timestamp(at_minute(date, m));
                        m += interval;
                        if matches!(amb.offset(), AmbiguousOffset::Gap { .. }) {
                            continue;
                        }
                        let t = amb.earlier().unwrap();
                        if !w.contains_instant(t) || !range.contains_instant(t) {
                            continue;
                        }
                        grid_checked += 1;
                        let listed = got.iter().any(|s| s.start == t);
                        let ok = check(&rules, t, now, &blockers, &counts).is_ok();
                        prop_assert_eq!(ok, listed, "grid start {} on {}", t, date);
                        if explained < 24 {
                            explained += 1;
                            let e = explain(&rules, t, now, &blockers, &counts);
                            prop_assert!(e.on_grid, "grid start {} not on_grid", t);
                            prop_assert_eq!(e.available, listed);
                        }
                    }
                }
                date = date.tomorrow().unwrap();
            }

            // Probes: each time rule is reported exactly when broken.
            for &(off, secs) in &c.probes {
                let t = add_mins(rs, off).checked_add(SignedDuration::from_secs(secs)).unwrap();
                let e = explain(&rules, t, now, &blockers, &counts);
                let codes: Vec<&str> = e.reasons.iter().map(Reason::code).collect();
                let has = |code: &str| codes.contains(&code);
                let date = tz.to_datetime(t).date();
                let end = t.checked_add(dur).unwrap();
                let slot = TimeRange::new(t, end).unwrap();
                let past = t < now;
                let closed = wall(date).0.is_empty();
                let inside = [date.yesterday().unwrap(), date, date.tomorrow().unwrap()]
                    .into_iter()
                    .any(|d| resolved(d).iter().any(|(_, _, w)| w.contains(&slot)));
                prop_assert_eq!(has("PAST"), past, "{}", t);
                prop_assert_eq!(has("NOTICE"), !past && t < earliest, "{}", t);
                prop_assert_eq!(has("HORIZON"), latest.is_some_and(|l| t >= l), "{}", t);
                prop_assert_eq!(has("CLOSED_DAY"), closed && !inside, "{} {:?}", t, codes);
                prop_assert_eq!(has("OUTSIDE_HOURS"), !closed && !inside, "{} {:?}", t, codes);
                if let Some(Reason::ClosedDay { by_override }) = e.reasons.iter().find(|r| r.code() == "CLOSED_DAY") {
                    prop_assert_eq!(*by_override, wall(date).1);
                }
                prop_assert_eq!(has("NOT_WHOLE_MINUTE"), secs != 0 || t.as_second().rem_euclid(60) != 0);
                let busy = has("BOOKED") || has("TIME_OFF") || has("EXTERNAL_BUSY") || has("HELD");
                prop_assert_eq!(busy, busy_at(t), "{} {:?}", t, codes);
                prop_assert_eq!(
                    has("DAILY_LIMIT"),
                    c.cap.is_some_and(|cap| counts.get(date) >= cap),
                    "{} {:?}", t, codes
                );
                prop_assert_eq!(e.available, e.reasons.is_empty());
                prop_assert_eq!(e.available, check(&rules, t, now, &blockers, &counts).is_ok());
                if c.cap.is_none() && secs == 0 {
                    prop_assert_eq!(e.available, is_bookable(&rules, t, now, blockers.busy()).is_ok());
                }
                if range.contains_instant(t) {
                    prop_assert_eq!(e.available && e.on_grid, got.iter().any(|s| s.start == t), "{}", t);
                }
                let search = SignedDuration::from_hours(24 * NEXT_AVAILABLE_SEARCH_DAYS);
                prop_assert_eq!(
                    e.next_available,
                    first_available(&rules, t, now, &blockers, &counts, search).map(|s| s.start)
                );
                if let Some(next) = e.next_available {
                    let n = explain(&rules, next, now, &blockers, &counts);
                    prop_assert!(n.available && n.on_grid, "next_available {} is not a slot", next);
                }
            }
        }
    }
}
