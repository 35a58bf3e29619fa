//! TEMPORARY placeholder with the agreed API; replaced by the real scheduler.
#![allow(missing_docs, unused_variables)]
use crate::{Minutes, TimeRange, Timezone, WeeklyAvailability};
use jiff::{SignedDuration, Timestamp};
#[derive(Debug, Clone, Copy)]
pub struct SlotRules<'a> {
    pub availability: &'a WeeklyAvailability,
    pub duration: Minutes,
    pub buffer_before: Minutes,
    pub buffer_after: Minutes,
    pub minimum_notice: Minutes,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
}
#[derive(Debug, Clone, Default)]
pub struct BusyTimes(Vec<TimeRange>);
impl BusyTimes {
    pub fn new(r: impl IntoIterator<Item = TimeRange>) -> Self {
        BusyTimes(r.into_iter().collect())
    }
    pub fn as_slice(&self) -> &[TimeRange] {
        &self.0
    }
    pub fn overlaps(&self, r: &TimeRange) -> bool {
        self.0.iter().any(|b| b.overlaps(r))
    }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unbookable {
    #[error("outside")]
    OutsideHours,
    #[error("soon")]
    TooSoon,
    #[error("busy")]
    Busy,
}
pub fn windows(a: &WeeklyAvailability, range: TimeRange) -> Vec<TimeRange> {
    vec![]
}
pub fn slots(
    rules: &SlotRules<'_>,
    range: TimeRange,
    now: Timestamp,
    busy: &BusyTimes,
) -> Vec<Slot> {
    vec![]
}
pub fn is_bookable(
    rules: &SlotRules<'_>,
    start: Timestamp,
    now: Timestamp,
    busy: &BusyTimes,
) -> Result<Slot, Unbookable> {
    Err(Unbookable::Busy)
}
pub fn next_available(
    rules: &SlotRules<'_>,
    from: Timestamp,
    now: Timestamp,
    busy: &BusyTimes,
    horizon: SignedDuration,
) -> Option<Slot> {
    None
}
pub fn busy_lookup_range(rules: &SlotRules<'_>, range: TimeRange) -> TimeRange {
    range.widened(
        rules.buffer_before,
        Minutes::new(rules.duration.get() + rules.buffer_after.get()),
    )
}
pub fn local_day_range(
    tz: &Timezone,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> Option<TimeRange> {
    None
}
