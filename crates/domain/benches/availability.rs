//! Benchmarks of the slot computation, the service's hot path.
//!
//! Run with `cargo bench --bench availability`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use booking_domain::scheduling::{
    self, Blockers, BookedTime, BusySources, BusyTimes, DailyCounts, SlotRules, TimeOffBlock,
};
use booking_domain::{
    Assignment, BookingId, LocalTime, Minutes, TimeOffId, TimeRange, Timezone, WeekdaySet,
    WeeklyAvailability,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};

fn availability(days: &[&str], start: &str, end: &str) -> WeeklyAvailability {
    WeeklyAvailability::new(
        WeekdaySet::parse(days).unwrap(),
        LocalTime::parse(start, "start").unwrap(),
        LocalTime::parse(end, "end").unwrap(),
        Timezone::parse("America/New_York").unwrap(),
    )
    .unwrap()
}

fn rules(availability: &WeeklyAvailability, duration: u32) -> SlotRules<'_> {
    SlotRules {
        availability,
        duration: Minutes::new(duration),
        buffer_before: Minutes::new(5),
        buffer_after: Minutes::new(10),
        minimum_notice: Minutes::new(120),
        ..SlotRules::new(availability, Minutes::new(duration))
    }
}

/// March 2024 in New York: 31 local days, including the DST change.
fn month(availability: &WeeklyAvailability) -> TimeRange {
    scheduling::local_day_range(
        availability.timezone(),
        "2024-03-01".parse().unwrap(),
        "2024-03-31".parse().unwrap(),
    )
    .unwrap()
}

/// `n` pseudo-random busy ranges (15–90 minutes, whole minutes) starting
/// inside `range`. Deterministic (a simple LCG).
fn busy_in(range: TimeRange, n: usize, seed: u64) -> Vec<TimeRange> {
    let span = range.length().as_mins() as u64;
    let mut x = seed;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let offset = (x >> 33) % span;
            let length = 15 + (x >> 17) % 76;
            let start = range.start() + SignedDuration::from_mins(offset as i64);
            TimeRange::new(start, start + SignedDuration::from_mins(length as i64)).unwrap()
        })
        .collect()
}

fn now() -> Timestamp {
    "2024-02-28T12:00:00Z".parse().unwrap()
}

fn seed_service(c: &mut Criterion) {
    let a = availability(
        &["monday", "tuesday", "wednesday", "thursday", "friday"],
        "09:00",
        "17:00",
    );
    let r = rules(&a, 60);
    let range = month(&a);
    let raw = busy_in(range, 1000, 1);
    let busy = BusyTimes::new(raw.iter().copied());
    let mut group = c.benchmark_group("slots_31d_seed_1000_busy");
    group.bench_function("slots", |b| {
        b.iter(|| scheduling::slots(black_box(&r), black_box(range), now(), black_box(&busy)))
    });
    group.bench_function("build_busy_then_slots", |b| {
        b.iter(|| {
            let busy = BusyTimes::new(black_box(&raw).iter().copied());
            scheduling::slots(&r, black_box(range), now(), &busy)
        })
    });
    group.bench_function("slots_no_busy", |b| {
        b.iter(|| scheduling::slots(&r, black_box(range), now(), &BusyTimes::default()))
    });
    // External calendars: 2,000 more busy blocks, merged with the bookings
    // as `provider_busy` does on every availability request.
    let external = busy_in(range, 2000, 3);
    group.bench_function("merge_2000_external_then_slots", |b| {
        b.iter(|| {
            let busy = BusyTimes::new(
                black_box(&raw)
                    .iter()
                    .chain(black_box(&external).iter())
                    .copied(),
            );
            scheduling::slots(&r, black_box(range), now(), &busy)
        })
    });
    group.finish();
}

fn around_the_clock(c: &mut Criterion) {
    let all = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let a = availability(&all, "00:00", "24:00");
    let r = rules(&a, 15);
    let range = month(&a);
    let raw = busy_in(range, 1000, 2);
    let busy = BusyTimes::new(raw.iter().copied());
    let mut group = c.benchmark_group("slots_31d_24x7_15min_1000_busy");
    group.bench_function("slots", |b| {
        b.iter(|| scheduling::slots(black_box(&r), black_box(range), now(), black_box(&busy)))
    });
    group.bench_function("slots_no_busy", |b| {
        b.iter(|| scheduling::slots(&r, black_box(range), now(), &BusyTimes::default()))
    });
    group.bench_function("next_available_62d", |b| {
        b.iter(|| {
            scheduling::next_available(
                &r,
                black_box(range.start()),
                now(),
                &busy,
                SignedDuration::from_hours(62 * 24),
            )
        })
    });
    group.finish();
}

fn outside_history(c: &mut Criterion) {
    let a = availability(
        &["monday", "tuesday", "wednesday", "thursday", "friday"],
        "09:00",
        "17:00",
    );
    let r = rules(&a, 60);
    let range = month(&a);
    let in_window = busy_in(range, 1000, 3);
    // Bookings from the two years before the window: history the store keeps.
    let past = TimeRange::new(
        range.start() - SignedDuration::from_hours(2 * 365 * 24),
        range.start(),
    )
    .unwrap();
    let lookup = scheduling::busy_lookup_range(&r, range);
    let mut group = c.benchmark_group("slots_cost_vs_outside_history");
    for history in [0usize, 10_000, 100_000] {
        let mut everything = busy_in(past, history, 4);
        everything.extend(in_window.iter().copied());
        // What the store returns: only the busy time in the lookup range.
        let loaded = BusyTimes::new(everything.iter().copied().filter(|b| b.overlaps(&lookup)));
        group.bench_with_input(BenchmarkId::new("filtered", history), &loaded, |b, busy| {
            b.iter(|| scheduling::slots(&r, black_box(range), now(), busy))
        });
        if history == 100_000 {
            // Everything passed in: `slots` binary-searches its starting point.
            let unfiltered = BusyTimes::new(everything.iter().copied());
            group.bench_with_input(
                BenchmarkId::new("unfiltered", history),
                &unfiltered,
                |b, busy| b.iter(|| scheduling::slots(&r, black_box(range), now(), busy)),
            );
        }
    }
    group.finish();
}

/// Issue 14's case: March 2024 in New York with three windows every day,
/// 20 date overrides, 30 time-off ranges and 1,000 bookings (with buffers),
/// 30-minute slots every 15 minutes and a daily cap.
fn hours_with_overrides(c: &mut Criterion) {
    let t = |s: &str| LocalTime::parse(s, "t").unwrap();
    let day = vec![
        (t("08:00"), t("11:00")),
        (t("12:00"), t("15:00")),
        (t("16:00"), t("20:00")),
    ];
    let tz = Timezone::parse("America/New_York").unwrap();
    let overrides: Vec<_> = (0..20)
        .map(|i: i64| {
            let date = jiff::civil::date(2024, 2, 20)
                .checked_add(jiff::Span::new().days(i * 2))
                .unwrap();
            let hours = match i % 4 {
                0 => vec![],
                1 => vec![(t("10:00"), t("14:00"))],
                2 => vec![(t("07:00"), t("09:00")), (t("13:00"), t("24:00"))],
                _ => vec![
                    (t("00:00"), t("03:00")),
                    (t("09:00"), t("12:00")),
                    (t("18:00"), t("21:00")),
                ],
            };
            (date, hours)
        })
        .collect();
    let a = WeeklyAvailability::weekly(std::array::from_fn(|_| day.clone()), tz.clone())
        .unwrap()
        .with_overrides(overrides)
        .unwrap();
    assert_eq!(a.overrides().len(), 20);
    let mut r = rules(&a, 30);
    r.slot_interval = Some(Minutes::new(15));
    r.max_bookings_per_day = Some(1000);
    r.booking_horizon = Some(365);
    let range = month(&a);
    let lookup = scheduling::busy_lookup_range(&r, range);
    let bookings: Vec<BookedTime> = busy_in(range, 1000, 5)
        .into_iter()
        .enumerate()
        .map(|(i, range)| BookedTime {
            id: BookingId::from_trusted(format!("bk_{i}")),
            range,
            buffer_before: Minutes::new(5),
            buffer_after: Minutes::new(10),
        })
        .collect();
    let time_off: Vec<TimeOffBlock> = busy_in(range, 30, 6)
        .into_iter()
        .enumerate()
        .map(|(i, r)| TimeOffBlock {
            id: TimeOffId::from_trusted(format!("off_{i}")),
            // 15-90 minutes stretched to 1-6 hours.
            range: TimeRange::new(r.start(), r.start() + r.length() * 4).unwrap(),
        })
        .collect();
    // In start order, as both stores read them (ORDER BY the occupied start).
    let mut bookings = bookings;
    bookings.sort_by_key(|b| b.occupied().start());
    let mut time_off = time_off;
    time_off.sort_by_key(|t| t.range.start());
    let sources = BusySources {
        bookings,
        time_off,
        ..BusySources::default()
    };
    let starts: Vec<Timestamp> = sources.bookings.iter().map(|b| b.range.start()).collect();
    let counts = DailyCounts::from_starts(&tz, starts.iter().copied());
    let blockers = Blockers::new(sources.clone(), now());
    assert!(
        blockers
            .busy()
            .as_slice()
            .iter()
            .all(|b| b.overlaps(&lookup))
    );
    let found = scheduling::available_slots(&r, range, now(), &blockers, &counts);
    assert!(!found.is_empty());

    let mut group = c.benchmark_group("hours_31d_3win_20ovr_30off_1000bk");
    group.bench_function("available_slots", |b| {
        b.iter(|| {
            scheduling::available_slots(
                black_box(&r),
                black_box(range),
                now(),
                black_box(&blockers),
                black_box(&counts),
            )
        })
    });
    group.bench_function("build_blockers_and_counts_then_slots", |b| {
        b.iter(|| {
            let blockers = Blockers::new(black_box(&sources).clone(), now());
            let counts = DailyCounts::from_starts(&tz, black_box(&starts).iter().copied());
            scheduling::available_slots(&r, black_box(range), now(), &blockers, &counts)
        })
    });
    group.bench_function("clone_sources", |b| b.iter(|| black_box(&sources).clone()));
    group.bench_function("build_blockers", |b| {
        b.iter(|| Blockers::new(black_box(&sources).clone(), now()))
    });
    group.bench_function("daily_counts_from_starts", |b| {
        b.iter(|| DailyCounts::from_starts(&tz, black_box(&starts).iter().copied()))
    });
    // A booked time (the first booking's start, with its buffer in the
    // way): every rule is checked, then the next slot is searched.
    let booked = blockers_first_start(&starts, range);
    let free = found[found.len() / 2].start;
    group.bench_function("explain_booked_time", |b| {
        b.iter(|| scheduling::explain(&r, black_box(booked), now(), &blockers, &counts))
    });
    group.bench_function("explain_free_grid_time", |b| {
        b.iter(|| scheduling::explain(&r, black_box(free), now(), &blockers, &counts))
    });
    // A time on a closed override day: the next slot is a day away.
    let christmas_like: Timestamp = "2024-02-26T15:00:00Z".parse().unwrap();
    group.bench_function("explain_closed_day", |b| {
        b.iter(|| scheduling::explain(&r, black_box(christmas_like), now(), &blockers, &counts))
    });
    group.bench_function("check_free_off_grid_time", |b| {
        b.iter(|| {
            scheduling::check(
                &r,
                black_box(free + SignedDuration::from_mins(7)),
                now(),
                &blockers,
                &counts,
            )
        })
    });
    group.finish();
}

/// The first booking start inside `range` (whole minutes, so explainable).
fn blockers_first_start(starts: &[Timestamp], range: TimeRange) -> Timestamp {
    let mut inside: Vec<Timestamp> = starts
        .iter()
        .copied()
        .filter(|t| range.contains_instant(*t))
        .collect();
    inside.sort();
    inside[inside.len() / 2]
}

/// A team service (issue 15): 10 providers, the seed's hours over 31 days,
/// 1,000 bookings spread over them (100 each). What the availability use
/// case computes after its reads: each provider's busy time as blockers,
/// then the team's slots with their free providers (the union for round
/// robin, the intersection for collective).
fn team_service(c: &mut Criterion) {
    let a = availability(
        &["monday", "tuesday", "wednesday", "thursday", "friday"],
        "09:00",
        "17:00",
    );
    let r = rules(&a, 60);
    let range = month(&a);
    let per_provider: Vec<Vec<TimeRange>> = (0..10)
        .map(|i| {
            let mut busy = busy_in(range, 100, 11 + i);
            busy.sort_by_key(|b| b.start());
            busy
        })
        .collect();
    let blockers = |busy: &[Vec<TimeRange>]| -> Vec<Blockers> {
        busy.iter()
            .map(|b| Blockers::from_busy(BusyTimes::from_ascending(b.clone())))
            .collect()
    };
    let built = blockers(&per_provider);
    let counts = DailyCounts::default();
    let mut group = c.benchmark_group("roundrobin_10_providers_31d_1000_bookings");
    group.bench_function("build_blockers_then_team_slots", |b| {
        b.iter(|| {
            let built = blockers(black_box(&per_provider));
            scheduling::team_slots(
                &r,
                black_box(range),
                now(),
                &built,
                &counts,
                Assignment::RoundRobin,
            )
        })
    });
    group.bench_function("team_slots", |b| {
        b.iter(|| {
            scheduling::team_slots(
                &r,
                black_box(range),
                now(),
                black_box(&built),
                &counts,
                Assignment::RoundRobin,
            )
        })
    });
    group.bench_function("collective_team_slots", |b| {
        b.iter(|| {
            scheduling::team_slots(
                &r,
                black_box(range),
                now(),
                black_box(&built),
                &counts,
                Assignment::Collective,
            )
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    seed_service,
    around_the_clock,
    outside_history,
    hours_with_overrides,
    team_service
);
criterion_main!(benches);
