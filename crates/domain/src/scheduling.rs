//! Turning wall-clock opening hours into bookable instants, and explaining
//! why a time is not bookable.
//!
//! Everything here is pure computation over [`Timestamp`](jiff::Timestamp)s: no clock, no I/O.
//! The caller passes `now` and the busy time it loaded (see
//! [`busy_lookup_range`] and [`explain_lookup_range`] for how much it must
//! load).
//!
//! # Rules
//!
//! * Each local day has the windows of its date override, else of its
//!   weekday (see [`WeeklyAvailability`](crate::WeeklyAvailability)): wall-clock `[start, end)` ranges
//!   in the service's zone. Window edges are resolved to instants like this:
//!   an ambiguous local time (in a fold) takes the **earlier** instant; a
//!   local time that does not exist (in a gap) moves to the **transition
//!   instant**, the first instant after the gap. `24:00` is the next local
//!   midnight. Windows of one day, and of different days, never overlap as
//!   instants (resolution is monotonic).
//! * Each window has its own wall-clock grid of slot starts: the window's
//!   start, then `start + slot_interval`, and so on in local time
//!   (`slot_interval` defaults to the duration). A grid time in a gap is
//!   skipped, one in a fold takes the earlier instant.
//! * A slot lasts exactly `duration` real minutes and must end by its
//!   window's end instant.
//! * A slot is free when `[start - buffer_before, end + buffer_after)`
//!   overlaps no busy interval; it respects notice when
//!   `start >= now + minimum_notice`, the horizon when
//!   `start < now + booking_horizon days`, and the daily cap when fewer than
//!   `max_bookings_per_day` active bookings of the service start on its
//!   window's local day.
//! * A booking may start off the grid: any whole-minute start whose
//!   appointment fits inside one window, with the other rules kept.
//!
//! [`explain`] checks every rule for one start and lists each one broken as
//! a [`Reason`]; [`available_slots`], [`check`] and [`first_available`] run
//! on the same rules (and the older [`slots`], [`is_bookable`] and
//! [`next_available`] on the same code with anonymous [`BusyTimes`] and no
//! daily cap), so they cannot disagree: a grid start is in the slot list
//! exactly when [`explain`] calls it available.
//!
//! Team services (several providers) run these rules per provider and
//! combine the answers: see [`team_slots`] (round robin: the union of the
//! providers' lists; collective: their intersection), [`assignment_order`]
//! and [`team_explain`].
//!
//! # Cost
//!
//! [`slots`] is a single sweep, `O(log b + days × windows + slots +
//! b_in_range)` for `b` busy intervals. On windows that contain no offset
//! transition, slot `k` is `window_start + k * slot_interval` in UTC with no
//! time-zone conversion; only windows with a transition inside convert each
//! grid time. [`explain`] resolves the windows of one local day (and its
//! neighbours only when they could reach the time), and binary-searches each
//! kind of busy time.

mod explain;
mod grid;
mod team;

pub use explain::{
    BlockedBy, Blockers, BookedTime, BusySources, Explanation, ExternalBusy, HeldTime,
    NEXT_AVAILABLE_SEARCH_DAYS, Reason, TimeOffBlock, available_slots, check, explain,
    explain_lookup_range, first_available,
};
pub use grid::{
    BusyTimes, DailyCounts, Slot, SlotRules, Unbookable, busy_lookup_range, counted_day,
    is_bookable, local_day_range, next_available, slots, windows,
};
pub use team::{
    ProviderLoad, TeamExplanation, TeamSlot, assignment_order, free_providers, team_explain,
    team_first_available, team_slots,
};
