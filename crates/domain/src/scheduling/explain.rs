//! Busy time with identities, day counts, and the one function that says
//! why a time is (not) bookable.
//!
//! [`Blockers`] indexes what can block a time — bookings with their
//! buffers, time off, external busy blocks, holds — keeping who each one is,
//! so [`explain`] can name them, and merges them into one [`BusyTimes`] for
//! the slot sweep. [`explain`], [`check`], [`available_slots`] and
//! [`first_available`] all evaluate the same rules on the same inputs.

use jiff::{SignedDuration, Timestamp};

use super::grid::{
    BusyTimes, DailyCounts, Hours, Slot, SlotRules, busy_lookup_range, collect_slots, first_slot,
    is_whole_minute, on_grid, time_verdict,
};
use crate::{Booking, BookingId, CalendarId, HoldId, Minutes, TimeOff, TimeOffId, TimeRange};

/// How far ahead [`explain`] looks for `next_available` (as the booking
/// conflict answer does).
pub const NEXT_AVAILABLE_SEARCH_DAYS: i64 = 62;

/// An active booking of the provider, as busy time: its appointment and its
/// own buffers (copied from its service when it was made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookedTime {
    /// The booking.
    pub id: BookingId,
    /// Its appointment `[scheduled_at, end_at)`, without buffers.
    pub range: TimeRange,
    /// Its buffer before.
    pub buffer_before: Minutes,
    /// Its buffer after.
    pub buffer_after: Minutes,
}

impl BookedTime {
    /// From a booking (the caller passes only active ones).
    pub fn from_booking(booking: &Booking) -> BookedTime {
        BookedTime {
            id: booking.id.clone(),
            range: TimeRange::starting_at(booking.scheduled_at, booking.duration),
            buffer_before: booking.buffer_before,
            buffer_after: booking.buffer_after,
        }
    }

    /// What it occupies: the appointment widened by its buffers.
    pub fn occupied(&self) -> TimeRange {
        self.range.widened(self.buffer_before, self.buffer_after)
    }
}

/// A provider's time off, as busy time (no buffers of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeOffBlock {
    /// The time off.
    pub id: TimeOffId,
    /// When.
    pub range: TimeRange,
}

impl From<&TimeOff> for TimeOffBlock {
    fn from(off: &TimeOff) -> Self {
        TimeOffBlock {
            id: off.id.clone(),
            range: off.range,
        }
    }
}

/// A busy block read from one of the provider's external calendars.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalBusy {
    /// The calendar connection.
    pub calendar_id: CalendarId,
    /// Its type (`ics`, `google`, `outlook`, `calendly`, …).
    pub kind: String,
    /// When.
    pub range: TimeRange,
}

/// A hold on a time: blocks it for everyone else until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldTime {
    /// The hold.
    pub id: HoldId,
    /// What it blocks: the held appointment widened by its service's
    /// buffers, as the booking it stands for would occupy.
    pub range: TimeRange,
    /// When it ends by itself.
    pub expires_at: Timestamp,
}

/// Everything that can block a provider's time, as loaded by the caller for
/// (at least) the lookup range of the call: see [`busy_lookup_range`] and
/// [`explain_lookup_range`]. Any order; the booking being rescheduled must be
/// left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusySources {
    /// The provider's active (pending or confirmed) bookings, any service.
    pub bookings: Vec<BookedTime>,
    /// The provider's time off.
    pub time_off: Vec<TimeOffBlock>,
    /// The provider's external calendars' busy blocks.
    pub external: Vec<ExternalBusy>,
    /// Holds on the provider (expired ones are ignored).
    pub holds: Vec<HeldTime>,
}

/// Items sorted by the start of what they block, with the longest blocked
/// length, so the ones overlapping a range are found by binary search.
#[derive(Debug, Clone)]
struct Indexed<T> {
    items: Vec<(TimeRange, T)>,
    longest: SignedDuration,
}

impl<T> Default for Indexed<T> {
    fn default() -> Self {
        Indexed {
            items: Vec::new(),
            longest: SignedDuration::ZERO,
        }
    }
}

impl<T> Indexed<T> {
    fn new(items: impl IntoIterator<Item = T>, blocks: impl Fn(&T) -> TimeRange) -> Self {
        let mut items: Vec<(TimeRange, T)> = items.into_iter().map(|t| (blocks(&t), t)).collect();
        // Stores read busy time in start order: then checking is all it costs.
        if !items.is_sorted_by_key(|(r, _)| r.start()) {
            items.sort_unstable_by_key(|(r, _)| r.start());
        }
        let longest = items
            .iter()
            .map(|(r, _)| r.length())
            .max()
            .unwrap_or(SignedDuration::ZERO);
        Indexed { items, longest }
    }

    /// The items whose blocked range overlaps `range`, ascending by start.
    fn overlapping(&self, range: TimeRange) -> impl Iterator<Item = &T> {
        // An item starting at or before `range.start - longest` ends at or
        // before `range.start`: none of those can overlap.
        let from = range
            .start()
            .checked_sub(self.longest)
            .unwrap_or(Timestamp::MIN);
        let lo = self.items.partition_point(|(r, _)| r.start() <= from);
        let hi = self.items.partition_point(|(r, _)| r.start() < range.end());
        self.items
            .get(lo..hi.max(lo))
            .unwrap_or_default()
            .iter()
            .filter(move |(r, _)| r.overlaps(&range))
            .map(|(_, t)| t)
    }

    fn ranges(&self) -> impl Iterator<Item = TimeRange> + '_ {
        self.items.iter().map(|(r, _)| *r)
    }
}

/// Two sequences of ranges ascending by start, merged into one.
fn merge_ascending(
    a: impl IntoIterator<Item = TimeRange>,
    b: impl IntoIterator<Item = TimeRange>,
) -> Vec<TimeRange> {
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    let mut out = Vec::with_capacity(a.size_hint().0 + b.size_hint().0);
    loop {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if y.start() < x.start() => b.next(),
            (Some(_), _) => a.next(),
            (None, _) => b.next(),
        };
        match next {
            Some(range) => out.push(range),
            None => return out,
        }
    }
}

/// [`BusySources`] indexed for [`explain`] (binary search per kind) and
/// merged for the slot sweep. Built once per request in `O(n log n)`.
#[derive(Debug, Clone, Default)]
pub struct Blockers {
    bookings: Indexed<BookedTime>,
    time_off: Indexed<TimeOffBlock>,
    external: Indexed<ExternalBusy>,
    holds: Indexed<HeldTime>,
    busy: BusyTimes,
}

impl Blockers {
    /// Indexes the sources; holds that expired by `now` are dropped.
    pub fn new(sources: BusySources, now: Timestamp) -> Blockers {
        let BusySources {
            bookings,
            time_off,
            external,
            holds,
        } = sources;
        let bookings = Indexed::new(bookings, BookedTime::occupied);
        let time_off = Indexed::new(time_off, |t| t.range);
        let external = Indexed::new(external, |e| e.range);
        let holds = Indexed::new(holds.into_iter().filter(|h| h.expires_at > now), |h| {
            h.range
        });
        // Each kind is in start order: merging them is linear, where sorting
        // their concatenation was most of the cost of building.
        let busy = BusyTimes::from_ascending(merge_ascending(
            merge_ascending(bookings.ranges(), time_off.ranges()),
            merge_ascending(external.ranges(), holds.ranges()),
        ));
        Blockers {
            bookings,
            time_off,
            external,
            holds,
            busy,
        }
    }

    /// Busy time without identities, for listing slots only: what
    /// [`available_slots`] and [`first_available`] read is the same, but
    /// [`explain`] and [`check`] with it name no blocker. Availability lists
    /// use it so a read does not copy every booking id (the ranges are the
    /// ones [`Blockers::new`] merges from the same sources).
    pub fn from_busy(busy: BusyTimes) -> Blockers {
        Blockers {
            busy,
            ..Blockers::default()
        }
    }

    /// All of it merged, anonymous: what [`super::slots`] and
    /// [`super::is_bookable`] take.
    pub fn busy(&self) -> &BusyTimes {
        &self.busy
    }

    /// Every blocker whose blocked range overlaps `range`, bookings first,
    /// then time off, external busy and holds, each ascending.
    pub fn overlapping(&self, range: TimeRange) -> Vec<BlockedBy<'_>> {
        let mut out = Vec::new();
        out.extend(self.bookings.overlapping(range).map(BlockedBy::Booking));
        out.extend(self.time_off.overlapping(range).map(BlockedBy::TimeOff));
        out.extend(self.external.overlapping(range).map(BlockedBy::External));
        out.extend(self.holds.overlapping(range).map(BlockedBy::Hold));
        out
    }
}

/// One blocker found by [`Blockers::overlapping`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockedBy<'a> {
    /// A booking (with its buffers).
    Booking(&'a BookedTime),
    /// Time off.
    TimeOff(&'a TimeOffBlock),
    /// An external calendar's busy block.
    External(&'a ExternalBusy),
    /// An unexpired hold.
    Hold(&'a HeldTime),
}

/// One rule a time breaks. Wire codes by [`Reason::code`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The start is not a whole minute.
    NotWholeMinute,
    /// The start is before `now`.
    Past,
    /// The start is at or after `now` but before `earliest`
    /// (`now + minimum_notice`).
    Notice {
        /// The first start the notice allows.
        earliest: Timestamp,
    },
    /// The start is at or after `latest` (`now + booking_horizon`).
    Horizon {
        /// Starts must be before this instant.
        latest: Timestamp,
    },
    /// The start's local day has no windows.
    ClosedDay {
        /// Whether a date override closed it (else its weekday is closed).
        by_override: bool,
    },
    /// The day is open but the appointment does not fit inside a window.
    OutsideHours {
        /// The day's window nearest to the start, as instants (`None` when
        /// every window of the day lies in a daylight-saving gap).
        window: Option<TimeRange>,
    },
    /// The day already has `limit` active bookings of the service.
    DailyLimit {
        /// The service's `max_bookings_per_day`.
        limit: u32,
    },
    /// An active booking of the provider is in the way.
    Booked {
        /// The booking.
        booking_id: BookingId,
        /// Its appointment start (without buffers).
        start: Timestamp,
        /// Its appointment end (without buffers).
        end: Timestamp,
        /// Whether only buffers overlap (this service's around the time, or
        /// the booking's own), not the two appointments themselves.
        buffer: bool,
    },
    /// The provider's time off.
    TimeOff {
        /// The time off.
        time_off_id: TimeOffId,
        /// Its start.
        start: Timestamp,
        /// Its end.
        end: Timestamp,
    },
    /// A busy block of an external calendar.
    ExternalBusy {
        /// The calendar connection.
        calendar_id: CalendarId,
        /// Its type.
        kind: String,
        /// The block's start.
        start: Timestamp,
        /// The block's end.
        end: Timestamp,
    },
    /// Someone else's hold.
    Held {
        /// The hold.
        hold_id: HoldId,
        /// When it ends.
        expires_at: Timestamp,
    },
}

impl Reason {
    /// The wire code (`PAST`, `NOTICE`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NotWholeMinute => "NOT_WHOLE_MINUTE",
            Reason::Past => "PAST",
            Reason::Notice { .. } => "NOTICE",
            Reason::Horizon { .. } => "HORIZON",
            Reason::ClosedDay { .. } => "CLOSED_DAY",
            Reason::OutsideHours { .. } => "OUTSIDE_HOURS",
            Reason::DailyLimit { .. } => "DAILY_LIMIT",
            Reason::Booked { .. } => "BOOKED",
            Reason::TimeOff { .. } => "TIME_OFF",
            Reason::ExternalBusy { .. } => "EXTERNAL_BUSY",
            Reason::Held { .. } => "HELD",
        }
    }
}

/// Why a time is (not) available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The start asked about.
    pub at: Timestamp,
    /// `at + duration` (saturating at the end of time).
    pub end: Timestamp,
    /// Whether a booking at `at` would succeed now: `reasons` is empty.
    pub available: bool,
    /// Whether `at` is a start of its window's slot grid (so it is in the
    /// availability list exactly when `available`).
    pub on_grid: bool,
    /// Every rule broken, in a fixed order: NOT_WHOLE_MINUTE, PAST, NOTICE,
    /// HORIZON, CLOSED_DAY or OUTSIDE_HOURS, DAILY_LIMIT, then each BOOKED,
    /// TIME_OFF, EXTERNAL_BUSY and HELD ascending by start.
    pub reasons: Vec<Reason>,
    /// The first slot at or after `at` within [`NEXT_AVAILABLE_SEARCH_DAYS`].
    pub next_available: Option<Timestamp>,
}

/// Every rule that a booking starting at `at` breaks.
fn reasons(
    rules: &SlotRules<'_>,
    at: Timestamp,
    now: Timestamp,
    blockers: &Blockers,
    counts: &DailyCounts,
) -> (Vec<Reason>, super::grid::TimeVerdict) {
    let verdict = time_verdict(rules, at, now);
    let mut out = Vec::new();
    if !is_whole_minute(at) {
        out.push(Reason::NotWholeMinute);
    }
    if verdict.past {
        out.push(Reason::Past);
    }
    if let Some(earliest) = verdict.notice {
        out.push(Reason::Notice { earliest });
    }
    if let Some(latest) = verdict.horizon {
        out.push(Reason::Horizon { latest });
    }
    match verdict.hours {
        Hours::Inside => {}
        Hours::Closed { overridden } => out.push(Reason::ClosedDay {
            by_override: overridden,
        }),
        Hours::Outside { nearest } => out.push(Reason::OutsideHours { window: nearest }),
    }
    if let Some(limit) = rules.max_bookings_per_day
        && counts.get(verdict.day) >= limit
    {
        out.push(Reason::DailyLimit { limit });
    }
    if let Some(core) = verdict.end.and_then(|end| TimeRange::new(at, end)) {
        let wanted = core.widened(rules.buffer_before, rules.buffer_after);
        for blocker in blockers.overlapping(wanted) {
            out.push(match blocker {
                BlockedBy::Booking(b) => Reason::Booked {
                    booking_id: b.id.clone(),
                    start: b.range.start(),
                    end: b.range.end(),
                    buffer: !b.range.overlaps(&core),
                },
                BlockedBy::TimeOff(t) => Reason::TimeOff {
                    time_off_id: t.id.clone(),
                    start: t.range.start(),
                    end: t.range.end(),
                },
                BlockedBy::External(e) => Reason::ExternalBusy {
                    calendar_id: e.calendar_id.clone(),
                    kind: e.kind.clone(),
                    start: e.range.start(),
                    end: e.range.end(),
                },
                BlockedBy::Hold(h) => Reason::Held {
                    hold_id: h.id.clone(),
                    expires_at: h.expires_at,
                },
            });
        }
    }
    (out, verdict)
}

/// Explains a start: every rule it breaks, whether it is on the slot grid,
/// and the next available slot at or after it.
///
/// `blockers` must cover [`explain_lookup_range`]`(rules, at)` and `counts`
/// the local days of `[at, at + 62 days]` (only when the service has a daily
/// cap). `available` is true exactly when [`check`] accepts `at`, and for a
/// grid start exactly when [`available_slots`] lists it.
pub fn explain(
    rules: &SlotRules<'_>,
    at: Timestamp,
    now: Timestamp,
    blockers: &Blockers,
    counts: &DailyCounts,
) -> Explanation {
    let (reasons, verdict) = reasons(rules, at, now, blockers, counts);
    let on_grid = verdict
        .start_window
        .is_some_and(|w| on_grid(rules, &w, at, verdict.local));
    let available = reasons.is_empty();
    let next_available = if available && on_grid {
        Some(at)
    } else {
        first_available(
            rules,
            at,
            now,
            blockers,
            counts,
            SignedDuration::from_hours(24 * NEXT_AVAILABLE_SEARCH_DAYS),
        )
        .map(|s| s.start)
    };
    Explanation {
        at,
        end: verdict.end.unwrap_or(Timestamp::MAX),
        available,
        on_grid,
        reasons,
        next_available,
    }
}

/// Whether a booking may start at `at` (on the grid or not): the slot, or
/// every reason it may not. The same rules as [`explain`], without looking
/// for the next slot.
pub fn check(
    rules: &SlotRules<'_>,
    at: Timestamp,
    now: Timestamp,
    blockers: &Blockers,
    counts: &DailyCounts,
) -> Result<Slot, Vec<Reason>> {
    let (reasons, verdict) = reasons(rules, at, now, blockers, counts);
    match verdict.end {
        Some(end) if reasons.is_empty() => Ok(Slot { start: at, end }),
        _ => Err(reasons),
    }
}

/// Every available slot starting in `range`, ascending: every rule,
/// the daily cap included (a day at the cap offers none). `blockers` must
/// cover [`busy_lookup_range`]`(rules, range)` and `counts` the local days
/// of `range` (only when the service has a daily cap).
pub fn available_slots(
    rules: &SlotRules<'_>,
    range: TimeRange,
    now: Timestamp,
    blockers: &Blockers,
    counts: &DailyCounts,
) -> Vec<Slot> {
    collect_slots(rules, range, now, blockers.busy(), Some(counts))
}

/// The first available slot starting in `[from, from + search)`: the first
/// element of [`available_slots`] over that range.
pub fn first_available(
    rules: &SlotRules<'_>,
    from: Timestamp,
    now: Timestamp,
    blockers: &Blockers,
    counts: &DailyCounts,
    search: SignedDuration,
) -> Option<Slot> {
    first_slot(rules, from, now, blockers.busy(), Some(counts), search)
}

/// The busy time (and, with a daily cap, the local days for the counts) to
/// load for [`explain`] at `at`: the time itself and the
/// [`NEXT_AVAILABLE_SEARCH_DAYS`] after it, widened as
/// [`busy_lookup_range`] does.
pub fn explain_lookup_range(rules: &SlotRules<'_>, at: Timestamp) -> TimeRange {
    let search = TimeRange::starting_at(
        at,
        Minutes::new(u32::try_from(24 * 60 * NEXT_AVAILABLE_SEARCH_DAYS).unwrap_or(u32::MAX)),
    );
    busy_lookup_range(rules, search)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::scheduling::*;
    use crate::scheduling::{Unbookable, is_bookable, slots};
    use crate::{LocalTime, Timezone, WeeklyAvailability};
    use jiff::civil::Date;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn t(s: &str) -> LocalTime {
        LocalTime::parse(s, "t").unwrap()
    }

    fn r(a: &str, b: &str) -> TimeRange {
        TimeRange::new(ts(a), ts(b)).unwrap()
    }

    fn windows(list: &[(&str, &str)]) -> Vec<(LocalTime, LocalTime)> {
        list.iter().map(|(a, b)| (t(a), t(b))).collect()
    }

    /// A clinic in New York: weekdays 09:00-12:00 and 13:00-17:00 (lunch
    /// break), Saturday 10:00-14:00, Sunday closed; closed on Christmas
    /// (Friday 2026-12-25), open 10:00-12:00 on Sunday 2026-12-27, and two
    /// windows on the DST Sundays of 2026 (8 March, 1 November).
    fn clinic() -> WeeklyAvailability {
        let weekday = windows(&[("09:00", "12:00"), ("13:00", "17:00")]);
        let mut week: [Vec<(LocalTime, LocalTime)>; 7] = Default::default();
        for day in &mut week[..5] {
            *day = weekday.clone();
        }
        week[5] = windows(&[("10:00", "14:00")]);
        let dst = windows(&[("01:00", "03:30"), ("04:00", "06:00")]);
        WeeklyAvailability::weekly(week, Timezone::parse("America/New_York").unwrap())
            .unwrap()
            .with_overrides(vec![
                ("2026-12-25".parse().unwrap(), vec![]),
                (
                    "2026-12-27".parse().unwrap(),
                    windows(&[("10:00", "12:00")]),
                ),
                ("2026-03-08".parse().unwrap(), dst.clone()),
                ("2026-11-01".parse().unwrap(), dst),
            ])
            .unwrap()
    }

    const LONG_AGO: &str = "2026-01-01T00:00:00Z";

    fn day_slots(rules: &SlotRules<'_>, date: &str, counts: &DailyCounts) -> Vec<String> {
        let d: Date = date.parse().unwrap();
        let day = local_day_range(rules.availability.timezone(), d, d).unwrap();
        available_slots(rules, day, ts(LONG_AGO), &Blockers::default(), counts)
            .iter()
            .map(|s| s.start.to_string())
            .collect()
    }

    fn codes(e: &Explanation) -> Vec<&'static str> {
        e.reasons.iter().map(Reason::code).collect()
    }

    fn why(rules: &SlotRules<'_>, at: &str) -> Explanation {
        explain(
            rules,
            ts(at),
            ts(LONG_AGO),
            &Blockers::default(),
            &DailyCounts::default(),
        )
    }

    #[test]
    fn lunch_break() {
        let a = clinic();
        let rules = SlotRules::new(&a, Minutes::new(60));
        // Monday 2026-12-21, EST (-05:00): 09, 10, 11, then 13 to 16.
        assert_eq!(
            day_slots(&rules, "2026-12-21", &DailyCounts::default()),
            [
                "2026-12-21T14:00:00Z",
                "2026-12-21T15:00:00Z",
                "2026-12-21T16:00:00Z",
                "2026-12-21T18:00:00Z",
                "2026-12-21T19:00:00Z",
                "2026-12-21T20:00:00Z",
                "2026-12-21T21:00:00Z"
            ]
        );
        // 11:30 would run into lunch; the nearest window is the morning's.
        let e = why(&rules, "2026-12-21T16:30:00Z");
        assert!(!e.available && !e.on_grid);
        assert_eq!(
            e.reasons,
            [Reason::OutsideHours {
                window: Some(r("2026-12-21T14:00:00Z", "2026-12-21T17:00:00Z"))
            }]
        );
        assert_eq!(e.next_available, Some(ts("2026-12-21T18:00:00Z")));
        // 12:40 is nearer the afternoon window.
        let e = why(&rules, "2026-12-21T17:40:00Z");
        assert_eq!(
            e.reasons,
            [Reason::OutsideHours {
                window: Some(r("2026-12-21T18:00:00Z", "2026-12-21T22:00:00Z"))
            }]
        );
        // Off the grid inside a window: bookable, not listed.
        let e = why(&rules, "2026-12-21T14:17:00Z");
        assert!(e.available && !e.on_grid);
        assert_eq!(e.next_available, Some(ts("2026-12-21T15:00:00Z")));
        let e = why(&rules, "2026-12-21T18:00:00Z");
        assert!(e.available && e.on_grid);
        assert_eq!(e.next_available, Some(e.at));
        assert_eq!(e.end, ts("2026-12-21T19:00:00Z"));
    }

    #[test]
    fn saturday_hours_and_closed_sunday() {
        let a = clinic();
        let rules = SlotRules::new(&a, Minutes::new(60));
        assert_eq!(
            day_slots(&rules, "2026-12-19", &DailyCounts::default()),
            [
                "2026-12-19T15:00:00Z",
                "2026-12-19T16:00:00Z",
                "2026-12-19T17:00:00Z",
                "2026-12-19T18:00:00Z"
            ]
        );
        assert!(day_slots(&rules, "2026-12-20", &DailyCounts::default()).is_empty());
        let e = why(&rules, "2026-12-20T15:00:00Z");
        assert_eq!(e.reasons, [Reason::ClosedDay { by_override: false }]);
        assert_eq!(e.next_available, Some(ts("2026-12-21T14:00:00Z")));
    }

    #[test]
    fn override_opens_a_closed_sunday() {
        let a = clinic();
        let rules = SlotRules::new(&a, Minutes::new(60));
        assert_eq!(
            day_slots(&rules, "2026-12-27", &DailyCounts::default()),
            ["2026-12-27T15:00:00Z", "2026-12-27T16:00:00Z"]
        );
        assert!(why(&rules, "2026-12-27T16:00:00Z").available);
        let e = why(&rules, "2026-12-27T17:00:00Z");
        assert_eq!(
            e.reasons,
            [Reason::OutsideHours {
                window: Some(r("2026-12-27T15:00:00Z", "2026-12-27T17:00:00Z"))
            }]
        );
    }

    #[test]
    fn override_closes_christmas() {
        let a = clinic();
        let rules = SlotRules::new(&a, Minutes::new(60));
        assert!(day_slots(&rules, "2026-12-25", &DailyCounts::default()).is_empty());
        assert_eq!(
            day_slots(&rules, "2026-12-24", &DailyCounts::default()).len(),
            7
        );
        let e = why(&rules, "2026-12-25T15:00:00Z");
        assert_eq!(e.reasons, [Reason::ClosedDay { by_override: true }]);
        assert!(!e.on_grid);
        // Saturday 26th, 10:00 EST.
        assert_eq!(e.next_available, Some(ts("2026-12-26T15:00:00Z")));
        assert_eq!(
            is_bookable(
                &rules,
                ts("2026-12-25T15:00:00Z"),
                ts(LONG_AGO),
                &BusyTimes::default()
            ),
            Err(Unbookable::OutsideHours)
        );
    }

    #[test]
    fn dst_days_with_two_windows() {
        let a = clinic();
        let rules = SlotRules::new(&a, Minutes::new(30));
        // 2026-03-08: 02:00-03:00 does not exist. Morning window 01:00 EST
        // (06:00Z) to 03:30 EDT (07:30Z): 01:00, 01:30, (02:00, 02:30
        // skipped), 03:00; afternoon 04:00-06:00 EDT.
        assert_eq!(
            day_slots(&rules, "2026-03-08", &DailyCounts::default()),
            [
                "2026-03-08T06:00:00Z",
                "2026-03-08T06:30:00Z",
                "2026-03-08T07:00:00Z",
                "2026-03-08T08:00:00Z",
                "2026-03-08T08:30:00Z",
                "2026-03-08T09:00:00Z",
                "2026-03-08T09:30:00Z"
            ]
        );
        let e = why(&rules, "2026-03-08T07:00:00Z");
        assert!(e.available && e.on_grid);
        // 03:30-04:00 EDT is the gap between the windows.
        let e = why(&rules, "2026-03-08T07:30:00Z");
        assert_eq!(codes(&e), ["OUTSIDE_HOURS"]);
        assert_eq!(e.next_available, Some(ts("2026-03-08T08:00:00Z")));
        // 60 minutes: 01:00 EST ends at 03:00 EDT and fits; 03:00 EDT would end after 03:30.
        let hour = SlotRules::new(&a, Minutes::new(60));
        assert_eq!(
            day_slots(&hour, "2026-03-08", &DailyCounts::default()),
            [
                "2026-03-08T06:00:00Z",
                "2026-03-08T08:00:00Z",
                "2026-03-08T09:00:00Z"
            ]
        );
        // 2026-11-01: 01:00-02:00 happens twice. Morning window 01:00 EDT
        // (05:00Z) to 03:30 EST (08:30Z); the repeated hour has no grid
        // starts of its own but is bookable off the grid.
        assert_eq!(
            day_slots(&hour, "2026-11-01", &DailyCounts::default()),
            [
                "2026-11-01T05:00:00Z",
                "2026-11-01T07:00:00Z",
                "2026-11-01T09:00:00Z",
                "2026-11-01T10:00:00Z"
            ]
        );
        let e = why(&hour, "2026-11-01T06:00:00Z");
        assert!(e.available && !e.on_grid);
        assert_eq!(e.next_available, Some(ts("2026-11-01T07:00:00Z")));
    }

    #[test]
    fn slot_interval_spaces_the_grid() {
        let a = clinic();
        let mut rules = SlotRules::new(&a, Minutes::new(60));
        rules.slot_interval = Some(Minutes::new(30));
        let got = day_slots(&rules, "2026-12-19", &DailyCounts::default());
        // Saturday 10:00-14:00: 10:00 to 13:00 every half hour.
        assert_eq!(got.len(), 7);
        assert_eq!(got[1], "2026-12-19T15:30:00Z");
        assert!(why(&rules, "2026-12-19T15:30:00Z").on_grid);
        assert!(!why(&rules, "2026-12-19T15:15:00Z").on_grid);
    }

    #[test]
    fn daily_cap() {
        let a = clinic();
        let mut rules = SlotRules::new(&a, Minutes::new(60));
        rules.max_bookings_per_day = Some(2);
        let tz = a.timezone();
        // Two bookings on Monday 21st (one at 23:30 local, 04:30Z on the
        // 22nd), one on Tuesday 22nd.
        let counts = DailyCounts::from_starts(
            tz,
            [
                ts("2026-12-22T14:00:00Z"),
                ts("2026-12-21T14:00:00Z"),
                ts("2026-12-22T04:30:00Z"),
            ],
        );
        assert_eq!(counts.get("2026-12-21".parse().unwrap()), 2);
        assert_eq!(counts.get("2026-12-22".parse().unwrap()), 1);
        assert!(day_slots(&rules, "2026-12-21", &counts).is_empty());
        assert_eq!(day_slots(&rules, "2026-12-22", &counts).len(), 7);
        let e = explain(
            &rules,
            ts("2026-12-21T15:00:00Z"),
            ts(LONG_AGO),
            &Blockers::default(),
            &counts,
        );
        assert_eq!(e.reasons, [Reason::DailyLimit { limit: 2 }]);
        assert!(e.on_grid);
        assert_eq!(e.next_available, Some(ts("2026-12-22T14:00:00Z")));
        // The older functions know no counts.
        assert_eq!(
            slots(
                &rules,
                r("2026-12-21T05:00:00Z", "2026-12-22T05:00:00Z"),
                ts(LONG_AGO),
                &BusyTimes::default()
            )
            .len(),
            7
        );
        assert_eq!(
            DailyCounts::new([
                ("2026-12-21".parse().unwrap(), 1),
                ("2026-12-21".parse().unwrap(), 2)
            ])
            .get("2026-12-21".parse().unwrap()),
            3
        );
    }

    fn booking(id: &str, start: &str, end: &str, before: u32, after: u32) -> BookedTime {
        BookedTime {
            id: BookingId::from_trusted(id),
            range: r(start, end),
            buffer_before: Minutes::new(before),
            buffer_after: Minutes::new(after),
        }
    }

    #[test]
    fn every_reason_code() {
        let a = clinic();
        let mut rules = SlotRules::new(&a, Minutes::new(60));
        rules.buffer_after = Minutes::new(15);
        rules.minimum_notice = Minutes::new(120);
        rules.booking_horizon = Some(30);
        let now = ts("2026-12-21T15:00:00Z"); // Monday 10:00 EST
        let sources = BusySources {
            bookings: vec![
                // Tuesday 09:00-10:00 local.
                booking(
                    "bk_core",
                    "2026-12-22T14:00:00Z",
                    "2026-12-22T15:00:00Z",
                    0,
                    0,
                ),
                // Tuesday 11:00-12:00 local with a 10-minute buffer before.
                booking(
                    "bk_buffered",
                    "2026-12-22T16:00:00Z",
                    "2026-12-22T17:00:00Z",
                    10,
                    0,
                ),
            ],
            time_off: vec![TimeOffBlock {
                id: TimeOffId::from_trusted("off_dentist"),
                range: r("2026-12-23T14:00:00Z", "2026-12-23T15:30:00Z"),
            }],
            external: vec![ExternalBusy {
                calendar_id: CalendarId::from_trusted("cal_google"),
                kind: "google".into(),
                range: r("2026-12-23T18:00:00Z", "2026-12-23T18:30:00Z"),
            }],
            holds: vec![
                HeldTime {
                    id: HoldId::from_trusted("hld_live"),
                    range: r("2026-12-24T14:00:00Z", "2026-12-24T15:00:00Z"),
                    expires_at: ts("2026-12-21T15:05:00Z"),
                },
                HeldTime {
                    id: HoldId::from_trusted("hld_gone"),
                    range: r("2026-12-24T15:00:00Z", "2026-12-24T16:00:00Z"),
                    expires_at: now,
                },
            ],
        };
        let blockers = Blockers::new(sources, now);
        let counts = DailyCounts::default();
        let at = |s: &str| explain(&rules, ts(s), now, &blockers, &counts);

        assert_eq!(at("2026-12-21T14:00:00Z").reasons, [Reason::Past]);
        assert_eq!(
            at("2026-12-21T16:00:00Z").reasons,
            [Reason::Notice {
                earliest: ts("2026-12-21T17:00:00Z")
            }]
        );
        assert!(at("2026-12-21T18:00:00Z").available);
        let latest = ts("2027-01-20T15:00:00Z");
        assert_eq!(
            at("2027-01-20T15:00:00Z").reasons,
            [Reason::Horizon { latest }]
        );
        assert!(at("2027-01-20T14:00:00Z").available);
        assert_eq!(
            at("2026-12-22T14:00:00Z").reasons,
            [Reason::Booked {
                booking_id: BookingId::from_trusted("bk_core"),
                start: ts("2026-12-22T14:00:00Z"),
                end: ts("2026-12-22T15:00:00Z"),
                buffer: false
            }]
        );
        // 10:00-11:00 only touches bk_core, but its 15-minute buffer after
        // (11:00-11:15) overlaps bk_buffered (and its own buffer before).
        let e = at("2026-12-22T15:00:00Z");
        assert_eq!(
            e.reasons,
            [Reason::Booked {
                booking_id: BookingId::from_trusted("bk_buffered"),
                start: ts("2026-12-22T16:00:00Z"),
                end: ts("2026-12-22T17:00:00Z"),
                buffer: true
            }]
        );
        assert!(e.on_grid);
        assert_eq!(
            at("2026-12-23T15:00:00Z").reasons,
            [Reason::TimeOff {
                time_off_id: TimeOffId::from_trusted("off_dentist"),
                start: ts("2026-12-23T14:00:00Z"),
                end: ts("2026-12-23T15:30:00Z")
            }]
        );
        assert_eq!(
            at("2026-12-23T18:00:00Z").reasons,
            [Reason::ExternalBusy {
                calendar_id: CalendarId::from_trusted("cal_google"),
                kind: "google".into(),
                start: ts("2026-12-23T18:00:00Z"),
                end: ts("2026-12-23T18:30:00Z")
            }]
        );
        assert_eq!(
            at("2026-12-24T14:00:00Z").reasons,
            [Reason::Held {
                hold_id: HoldId::from_trusted("hld_live"),
                expires_at: ts("2026-12-21T15:05:00Z")
            }]
        );
        // An expired hold blocks nothing.
        assert!(at("2026-12-24T15:00:00Z").available);
        let e = at("2026-12-22T14:00:30Z");
        assert_eq!(codes(&e), ["NOT_WHOLE_MINUTE", "BOOKED"]);
        assert!(!e.on_grid);
        // Everything at once: past, closed (Christmas), booked.
        let mut many = rules;
        many.max_bookings_per_day = Some(1);
        let all = explain(
            &many,
            ts("2026-12-25T15:00:00Z"),
            ts("2026-12-26T00:00:00Z"),
            &Blockers::new(
                BusySources {
                    bookings: vec![booking(
                        "bk_x",
                        "2026-12-25T15:30:00Z",
                        "2026-12-25T16:00:00Z",
                        0,
                        0,
                    )],
                    ..BusySources::default()
                },
                now,
            ),
            &DailyCounts::new([("2026-12-25".parse().unwrap(), 1)]),
        );
        assert_eq!(codes(&all), ["PAST", "CLOSED_DAY", "DAILY_LIMIT", "BOOKED"]);
        // The old check names the first rule broken, horizon included.
        assert_eq!(
            is_bookable(&rules, latest, now, blockers.busy()),
            Err(Unbookable::BeyondHorizon)
        );
        assert!(check(&rules, ts("2026-12-21T18:00:00Z"), now, &blockers, &counts).is_ok());
        assert_eq!(
            check(&rules, ts("2026-12-21T14:00:00Z"), now, &blockers, &counts),
            Err(vec![Reason::Past])
        );
    }

    #[test]
    fn lookup_range_covers_the_next_available_search() {
        let a = clinic();
        let mut rules = SlotRules::new(&a, Minutes::new(60));
        rules.buffer_before = Minutes::new(10);
        let at = ts("2026-12-21T14:00:00Z");
        let range = explain_lookup_range(&rules, at);
        assert_eq!(range.start(), ts("2026-12-21T13:50:00Z"));
        assert_eq!(range.end(), ts("2027-02-21T15:00:00Z"));
    }
}
