//! Benchmarks of the feed: rendering 10,000 bookings and their ETag.
//!
//! Run with `cargo bench -p booking-ical`. Target: a 10,000-booking feed in
//! under 20 ms.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use booking_domain::{
    AccountId, Booking, BookingId, BookingStatus, Currency, Customer, Email, Metadata, Minutes,
    Money, ProviderId, ServiceId,
};
use booking_ical::{CalendarMeta, Entry, etag, render_feed};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jiff::{SignedDuration, Timestamp};

const BOOKINGS: usize = 10_000;

/// A provider's year: 10,000 bookings of 30-90 minutes, every status, a third
/// with notes (some long, multi-byte and needing escapes), some long names.
fn bookings() -> Vec<Booking> {
    let base: Timestamp = "2027-01-04T09:00:00Z".parse().unwrap();
    let usd = Currency::parse("USD").unwrap();
    let statuses = [
        BookingStatus::Confirmed,
        BookingStatus::Pending,
        BookingStatus::Completed,
        BookingStatus::Cancelled,
    ];
    (0..BOOKINGS)
        .map(|i| {
            let n = i64::try_from(i).unwrap();
            let scheduled_at = base + SignedDuration::from_mins(n * 45);
            let notes = match i % 6 {
                0 => Some("Please ring twice; the bell is broken, sorry.".to_owned()),
                3 => Some(format!(
                    "Allergies: latex, penicillin.\nPrefers afternoons; 日本語で話せます 🙂 #{i}\n{}",
                    "Bring the previous X-ray results and the referral letter. ".repeat(3)
                )),
                _ => None,
            };
            let name = if i % 10 == 0 {
                format!("María-José Fernández de la Cruz y Montenegro 山田太郎 #{i}")
            } else {
                format!("Customer {i}")
            };
            Booking {
                id: BookingId::from_trusted(format!("bk_{i:024x}")),
                account_id: AccountId::from_trusted("acc_bench"),
                service_id: ServiceId::from_trusted("srv_consultation"),
                provider_id: ProviderId::from_trusted("prv_bench"),
                provider_ids: Vec::new(),
                duration: Minutes::new(30 + 30 * u32::try_from(i % 3).unwrap()),
                scheduled_at,
                buffer_before: Minutes::new(5),
                buffer_after: Minutes::new(10),
                status: statuses[i % statuses.len()],
                customer: Customer {
                    email: Email::parse(&format!("customer{i}@example.com"), "email").unwrap(),
                    name,
                },
                price: Money::from_minor(15_000, usd).unwrap(),
                notes,
                metadata: Metadata::default(),
                cancel_reason: None,
                sequence: u32::try_from(i % 3).unwrap(),
                created_at: scheduled_at - SignedDuration::from_hours(72),
                updated_at: scheduled_at - SignedDuration::from_hours(24),
                link: None,
            }
        })
        .collect()
}

fn feed(c: &mut Criterion) {
    let bookings = bookings();
    let meta = CalendarMeta::new("Dr. Ada Lovelace, Cardiology");
    let render = || {
        render_feed(
            &meta,
            bookings.iter().map(|booking| Entry {
                booking,
                service_name: "Initial consultation",
            }),
        )
    };
    let body = render();

    let mut group = c.benchmark_group("feed");
    group.throughput(Throughput::Elements(BOOKINGS as u64));
    group.bench_function("render_10k", |b| b.iter(|| black_box(render())));
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("etag_10k", |b| b.iter(|| etag(black_box(body.as_bytes()))));
    group.finish();
}

criterion_group!(benches, feed);
criterion_main!(benches);
