//! Benchmarks of the slot computation, the service's hot path.
//!
//! Run with `cargo bench --bench availability`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use booking_domain::scheduling::{self, BusyTimes, SlotRules};
use booking_domain::{LocalTime, Minutes, TimeRange, Timezone, WeekdaySet, WeeklyAvailability};
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

criterion_group!(benches, seed_service, around_the_clock, outside_history);
criterion_main!(benches);
