//! Team services: several providers, each with their own busy time, behind
//! one slot list.
//!
//! * **Round robin**: a slot is offered when at least one provider is free
//!   for it; the slot list is the union of the providers' own lists
//!   ([`available_slots`] per provider). A booking goes to a free provider
//!   chosen by [`assignment_order`].
//! * **Collective**: a slot is offered only when every provider is free; the
//!   list is the intersection of the providers' lists.
//!
//! Service-wide rules (hours, notice, horizon, the daily cap) are the same
//! for every provider; only busy time differs, so one grid start has the
//! same end for everyone and lists merge by start.

use jiff::{SignedDuration, Timestamp};

use super::explain::{
    Blockers, Explanation, NEXT_AVAILABLE_SEARCH_DAYS, Reason, available_slots, explain,
};
use super::grid::{DailyCounts, Slot, SlotRules};
use crate::{Assignment, TimeRange};

/// A slot of a team service and the providers free for it (indices into
/// the team, ascending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamSlot {
    /// The slot.
    pub slot: Slot,
    /// Indices of the providers free for it, ascending.
    pub free: Vec<usize>,
}

/// Every slot of a team service starting in `range`, ascending, each with
/// its free providers: the union of the providers' own slot lists (round
/// robin) or their intersection (collective). `blockers` holds one entry per
/// provider, each covering [`super::busy_lookup_range`]`(rules, range)`;
/// `counts` is the service's, as for [`available_slots`].
pub fn team_slots(
    rules: &SlotRules<'_>,
    range: TimeRange,
    now: Timestamp,
    blockers: &[Blockers],
    counts: &DailyCounts,
    assignment: Assignment,
) -> Vec<TeamSlot> {
    // The service's own slots (hours, notice, horizon, the daily cap) once,
    // then each provider's busy time per slot: a provider's own list is
    // exactly the grid slots whose occupied range (buffers included)
    // overlaps none of their busy time, so this is the union (or the
    // intersection) of the lists, without resolving the grid per provider.
    let grid = available_slots(rules, range, now, &Blockers::default(), counts);
    let needed = match assignment {
        Assignment::RoundRobin => 1,
        Assignment::Collective => blockers.len().max(1),
    };
    let mut out = Vec::with_capacity(grid.len());
    for slot in grid {
        let wanted = slot
            .range()
            .widened(rules.buffer_before, rules.buffer_after);
        let free: Vec<usize> = blockers
            .iter()
            .enumerate()
            .filter(|(_, b)| !b.busy().overlaps(&wanted))
            .map(|(i, _)| i)
            .collect();
        if free.len() >= needed {
            out.push(TeamSlot { slot, free });
        }
    }
    out
}

/// Which providers' busy time leaves a booking starting at `at` free: its
/// occupied range (`rules`' duration and buffers) overlaps none of their
/// busy time (the providers' part of the rules; the service's own, such as
/// hours and notice, are the same for everyone and checked apart).
/// `blockers` as for [`team_slots`], merged busy time being enough.
pub fn free_providers(rules: &SlotRules<'_>, at: Timestamp, blockers: &[Blockers]) -> Vec<bool> {
    let wanted =
        TimeRange::starting_at(at, rules.duration).widened(rules.buffer_before, rules.buffer_after);
    blockers
        .iter()
        .map(|b| !b.busy().overlaps(&wanted))
        .collect()
}

/// The first slot of a team service starting in `[from, from + search)`:
/// the first element of [`team_slots`] over that range.
pub fn team_first_available(
    rules: &SlotRules<'_>,
    from: Timestamp,
    now: Timestamp,
    blockers: &[Blockers],
    counts: &DailyCounts,
    assignment: Assignment,
    search: SignedDuration,
) -> Option<Slot> {
    let end = from.checked_add(search).unwrap_or(Timestamp::MAX);
    let range = TimeRange::new(from, end)?;
    match assignment {
        // The union's first slot is the earliest of each provider's first.
        Assignment::RoundRobin => blockers
            .iter()
            .filter_map(|b| super::first_available(rules, from, now, b, counts, search))
            .min(),
        Assignment::Collective => team_slots(rules, range, now, blockers, counts, assignment)
            .into_iter()
            .next()
            .map(|s| s.slot),
    }
}

/// How loaded a team's provider is, for [`assignment_order`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProviderLoad {
    /// Active bookings of the service on the local day of the requested
    /// start.
    pub on_day: u32,
    /// When the provider was last booked for the service (`None`: never).
    pub last_booked: Option<Timestamp>,
}

/// The order in which a round-robin booking tries the team's providers
/// (indices into `loads`, which has one entry per provider in team order):
/// the free ones (`free[i]`) first, each group by fewest active bookings of
/// the service on that local day, then least recently booked (never booked
/// first), then team order. The first of the order is the contract's
/// choice; the rest are who to try next when a concurrent booking takes it.
pub fn assignment_order(free: &[bool], loads: &[ProviderLoad]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..loads.len()).collect();
    order.sort_by_key(|&i| {
        let load = loads.get(i).copied().unwrap_or_default();
        (
            !free.get(i).copied().unwrap_or(false),
            load.on_day,
            load.last_booked,
            i,
        )
    });
    order
}

/// Why a time of a team service is (not) available, per provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamExplanation {
    /// The service's answer: `available` when one provider (round robin) or
    /// every provider (collective) is free; `reasons` every rule broken by
    /// the providers that keep it from being available (none when it is),
    /// each listed once; `next_available` the team's next slot.
    pub overall: Explanation,
    /// Each provider's own explanation, in team order (its
    /// `next_available` is that provider's own).
    pub providers: Vec<Explanation>,
}

/// Explains a start of a team service: [`explain`] per provider, combined
/// by the assignment. Inputs as for [`explain`], `blockers` one per provider.
pub fn team_explain(
    rules: &SlotRules<'_>,
    at: Timestamp,
    now: Timestamp,
    blockers: &[Blockers],
    counts: &DailyCounts,
    assignment: Assignment,
) -> TeamExplanation {
    let providers: Vec<Explanation> = blockers
        .iter()
        .map(|b| explain(rules, at, now, b, counts))
        .collect();
    let available = match assignment {
        Assignment::RoundRobin => providers.iter().any(|e| e.available),
        Assignment::Collective => !providers.is_empty() && providers.iter().all(|e| e.available),
    };
    let mut reasons: Vec<Reason> = Vec::new();
    if !available {
        for r in providers.iter().flat_map(|e| e.reasons.iter()) {
            if !reasons.contains(r) {
                reasons.push(r.clone());
            }
        }
    }
    let on_grid = providers.first().is_some_and(|e| e.on_grid);
    let next_available = if available && on_grid {
        Some(at)
    } else {
        team_first_available(
            rules,
            at,
            now,
            blockers,
            counts,
            assignment,
            SignedDuration::from_hours(24 * NEXT_AVAILABLE_SEARCH_DAYS),
        )
        .map(|s| s.start)
    };
    let end = providers.first().map_or(at, |e| e.end);
    TeamExplanation {
        overall: Explanation {
            at,
            end,
            available,
            on_grid,
            reasons,
            next_available,
        },
        providers,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;
    use crate::scheduling::{BookedTime, BusySources, check};
    use crate::{BookingId, LocalTime, Minutes, Timezone, Weekday, WeekdaySet, WeeklyAvailability};

    fn availability() -> WeeklyAvailability {
        let days: WeekdaySet = [
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
            Weekday::Thursday,
            Weekday::Friday,
        ]
        .into_iter()
        .collect();
        WeeklyAvailability::new(
            days,
            LocalTime::parse("09:00", "start").unwrap(),
            LocalTime::parse("17:00", "end").unwrap(),
            Timezone::parse("America/New_York").unwrap(),
        )
        .unwrap()
    }

    fn base() -> Timestamp {
        "2026-01-05T00:00:00Z".parse().unwrap()
    }

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    /// Bookings as (start minute after `base`, length in minutes), with
    /// identities (so explain and check name them).
    fn blockers_of(busy: &[(u32, u32)]) -> Blockers {
        let bookings = busy
            .iter()
            .enumerate()
            .map(|(i, &(start, len))| BookedTime {
                id: BookingId::from_trusted(format!("bk_{i}")),
                range: TimeRange::starting_at(
                    base() + SignedDuration::from_mins(i64::from(start)),
                    Minutes::new(len),
                ),
                buffer_before: Minutes::new(0),
                buffer_after: Minutes::new(0),
            })
            .collect();
        Blockers::new(
            BusySources {
                bookings,
                ..BusySources::default()
            },
            now(),
        )
    }

    fn week() -> TimeRange {
        TimeRange::new(base(), base() + SignedDuration::from_hours(24 * 7)).unwrap()
    }

    fn busy_sets() -> impl Strategy<Value = Vec<Vec<(u32, u32)>>> {
        prop::collection::vec(
            prop::collection::vec((0u32..7 * 1440, 1u32..240), 0..12),
            2..5,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn round_robin_is_the_union_and_collective_the_intersection(
            busy in busy_sets(),
            duration in prop::sample::select(vec![30u32, 45, 60]),
            before in 0u32..30,
            after in 0u32..30,
        ) {
            let availability = availability();
            let mut rules = SlotRules::new(&availability, Minutes::new(duration));
            rules.buffer_before = Minutes::new(before);
            rules.buffer_after = Minutes::new(after);
            let blockers: Vec<Blockers> = busy.iter().map(|b| blockers_of(b)).collect();
            let counts = DailyCounts::default();
            let own: Vec<BTreeSet<Slot>> = blockers
                .iter()
                .map(|b| available_slots(&rules, week(), now(), b, &counts).into_iter().collect())
                .collect();
            let union: BTreeSet<Slot> = own.iter().flatten().copied().collect();
            let intersection: BTreeSet<Slot> = union
                .iter()
                .copied()
                .filter(|s| own.iter().all(|o| o.contains(s)))
                .collect();
            let rr = team_slots(&rules, week(), now(), &blockers, &counts, Assignment::RoundRobin);
            let listed: Vec<Slot> = rr.iter().map(|s| s.slot).collect();
            prop_assert!(listed.windows(2).all(|w| w[0].start < w[1].start));
            prop_assert_eq!(listed.iter().copied().collect::<BTreeSet<_>>(), union);
            for s in &rr {
                let expected: Vec<usize> =
                    (0..own.len()).filter(|&i| own[i].contains(&s.slot)).collect();
                prop_assert_eq!(&s.free, &expected);
            }
            let collective =
                team_slots(&rules, week(), now(), &blockers, &counts, Assignment::Collective);
            prop_assert_eq!(
                collective.iter().map(|s| s.slot).collect::<BTreeSet<_>>(),
                intersection
            );
            // The first slot agrees with the lists.
            let search = SignedDuration::from_hours(24 * 7);
            prop_assert_eq!(
                team_first_available(&rules, base(), now(), &blockers, &counts,
                    Assignment::RoundRobin, search),
                listed.first().copied()
            );
            prop_assert_eq!(
                team_first_available(&rules, base(), now(), &blockers, &counts,
                    Assignment::Collective, search),
                collective.first().map(|s| s.slot)
            );
        }

        #[test]
        fn every_assigned_provider_was_free(
            busy in busy_sets(),
            minute in 0u32..7 * 96,
            on_day in prop::collection::vec(0u32..4, 5),
            last in prop::collection::vec(prop::option::of(0i64..1000), 5),
        ) {
            let availability = availability();
            let rules = SlotRules::new(&availability, Minutes::new(30));
            let blockers: Vec<Blockers> = busy.iter().map(|b| blockers_of(b)).collect();
            let counts = DailyCounts::default();
            let at = base() + SignedDuration::from_mins(i64::from(minute) * 15);
            let open = check(&rules, at, now(), &Blockers::default(), &counts).is_ok();
            let free: Vec<bool> = free_providers(&rules, at, &blockers)
                .into_iter()
                .map(|f| f && open)
                .collect();
            // The same as checking every rule with the provider's blockers.
            for (i, b) in blockers.iter().enumerate() {
                prop_assert_eq!(free[i], check(&rules, at, now(), b, &counts).is_ok());
            }
            let loads: Vec<ProviderLoad> = (0..blockers.len())
                .map(|i| ProviderLoad {
                    on_day: on_day[i],
                    last_booked: last[i].map(|s| Timestamp::from_second(s).unwrap()),
                })
                .collect();
            let order = assignment_order(&free, &loads);
            // A permutation of the team.
            prop_assert_eq!(order.iter().copied().collect::<BTreeSet<_>>(),
                (0..blockers.len()).collect::<BTreeSet<_>>());
            let n_free = free.iter().filter(|f| **f).count();
            // The free providers come first, and each of them really is free.
            let wanted = TimeRange::starting_at(at, Minutes::new(30));
            for &i in &order[..n_free] {
                prop_assert!(check(&rules, at, now(), &blockers[i], &counts).is_ok());
                // Against the raw busy set too: nothing of theirs overlaps.
                for &(start, len) in &busy[i] {
                    let b = TimeRange::starting_at(
                        base() + SignedDuration::from_mins(i64::from(start)),
                        Minutes::new(len),
                    );
                    prop_assert!(!b.overlaps(&wanted), "provider {} busy {:?}", i, b);
                }
            }
            // The chosen one has the least load among the free ones.
            if let Some(&chosen) = order.first().filter(|_| n_free > 0) {
                for (i, load) in loads.iter().enumerate().filter(|(i, _)| free[*i]) {
                    let key = (load.on_day, load.last_booked, i);
                    prop_assert!((loads[chosen].on_day, loads[chosen].last_booked, chosen) <= key);
                }
            }
            // The explanation agrees: available exactly when someone is free
            // (round robin) or everyone is (collective).
            let rr = team_explain(&rules, at, now(), &blockers, &counts, Assignment::RoundRobin);
            prop_assert_eq!(rr.overall.available, n_free > 0);
            let all = team_explain(&rules, at, now(), &blockers, &counts, Assignment::Collective);
            prop_assert_eq!(all.overall.available, n_free == blockers.len());
            prop_assert_eq!(all.overall.reasons.is_empty(), all.overall.available);
        }
    }

    #[test]
    fn fewest_on_the_day_then_least_recently_booked_then_team_order() {
        let t = |s: i64| Some(Timestamp::from_second(s).unwrap());
        let loads = [
            ProviderLoad {
                on_day: 1,
                last_booked: t(10),
            },
            ProviderLoad {
                on_day: 0,
                last_booked: t(20),
            },
            ProviderLoad {
                on_day: 0,
                last_booked: t(5),
            },
            ProviderLoad {
                on_day: 0,
                last_booked: None,
            },
            ProviderLoad {
                on_day: 0,
                last_booked: None,
            },
        ];
        assert_eq!(assignment_order(&[true; 5], &loads), vec![3, 4, 2, 1, 0]);
        // Busy providers go last whatever their load.
        assert_eq!(
            assignment_order(&[true, true, true, false, true], &loads),
            vec![4, 2, 1, 0, 3]
        );
    }
}
