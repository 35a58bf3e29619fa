//! The holds part of the store contract (`BookingStore`'s hold methods):
//! a hold blocks like an active booking until it expires and never after,
//! whether or not anything removed it; turning it into a booking is atomic
//! and happens once (run by `sqlite.rs` and `postgres.rs`).

use booking_domain::ports::{
    BookingFilter, ConvertHoldError, CreateBookingError, CreateHoldError, UpdateBookingError,
};
use booking_domain::{ApiKeyId, Booking, BookingStatus, EventKind, Hold, HoldId, IdKind, Service};
use jiff::{SignedDuration, Timestamp};

use super::contract::{Store, all, with_service};
use super::fixtures::{booking, event, id, now, plus, range, t};

/// A (not yet stored) hold of `service` at `start`, made at `made` by
/// `key`, lasting `ttl_secs`.
fn hold(service: &Service, start: &str, made: Timestamp, ttl_secs: i64, key: &str) -> Hold {
    Hold {
        id: HoldId::from_trusted(id(IdKind::Hold)),
        account_id: service.account_id.clone(),
        key_id: ApiKeyId::from_trusted(key),
        service_id: service.id.clone(),
        provider_id: service.provider_id.clone(),
        scheduled_at: t(start),
        duration: service.duration,
        buffer_before: service.buffer_before,
        buffer_after: service.buffer_after,
        expires_at: made + SignedDuration::from_secs(ttl_secs),
        created_at: made,
    }
}

/// A confirmed booking of `service` at `start`, made at `made`.
fn booking_made(service: &Service, start: &str, made: Timestamp) -> Booking {
    let mut b = booking(service, t(start), BookingStatus::Confirmed);
    b.created_at = made;
    b.updated_at = made;
    b
}

async fn book<S: Store>(s: &S, b: &Booking) -> Result<(), CreateBookingError> {
    s.insert_booking(b, &[event(EventKind::Created, b, None)])
        .await
}

fn day() -> booking_domain::TimeRange {
    range("2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z")
}

pub async fn holds_block_like_bookings_until_they_expire<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 10, 10).await;
    let h = hold(&svc, "2030-01-07T10:00:00Z", now(), 300, "key_a");
    s.insert_hold(&h, 100).await.unwrap();
    assert_eq!(
        s.get_hold(&a.account, &h.id).await.unwrap(),
        Some(h.clone())
    );
    // Busy time shows its occupied range (buffers included) while it lasts,
    // and nothing from the moment it expires, from any read.
    let before = plus(now(), 4);
    let busy = s
        .busy_times(&a.account, &a.default_provider, day(), None, before)
        .await
        .unwrap();
    assert_eq!(busy, vec![h.occupied()]);
    let sources = s
        .busy_sources(&a.account, &a.default_provider, day(), None)
        .await
        .unwrap();
    assert_eq!(sources.holds, vec![h.held_time()]);
    assert!(sources.bookings.is_empty(), "a hold is not a booking");
    let busy = s
        .busy_times(&a.account, &a.default_provider, day(), None, h.expires_at)
        .await
        .unwrap();
    assert!(busy.is_empty(), "an expired hold blocks nothing: {busy:?}");
    // A hold is no booking in any list.
    let listed = s
        .list_bookings(&a.account, &BookingFilter::default(), all(50))
        .await
        .unwrap();
    assert!(listed.items.is_empty());
    // While it lasts: a booking whose buffer touches it, and another hold,
    // are refused.
    let touching = booking_made(&svc, "2030-01-07T11:15:00Z", before);
    assert!(matches!(
        book(s, &touching).await,
        Err(CreateBookingError::Conflict)
    ));
    let other = hold(&svc, "2030-01-07T10:30:00Z", before, 300, "key_b");
    assert!(matches!(
        s.insert_hold(&other, 100).await,
        Err(CreateHoldError::Conflict)
    ));
    // Once it has expired (nothing removed it), the same booking and hold
    // succeed.
    let after = h.expires_at;
    let late = booking_made(&svc, "2030-01-07T11:15:00Z", after);
    book(s, &late).await.unwrap();
    let later_hold = hold(&svc, "2030-01-07T10:00:00Z", after, 60, "key_b");
    // Overlaps the late booking's buffer before: still a conflict.
    assert!(matches!(
        s.insert_hold(&later_hold, 100).await,
        Err(CreateHoldError::Conflict)
    ));
    let early_hold = hold(&svc, "2030-01-07T09:00:00Z", after, 60, "key_b");
    s.insert_hold(&early_hold, 100).await.unwrap();
}

pub async fn holds_count_per_key_and_are_isolated<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let (b, _) = with_service(s, "globex", 0, 0).await;
    let first = hold(&svc, "2030-01-07T09:00:00Z", now(), 120, "key_one");
    let second = hold(&svc, "2030-01-07T10:00:00Z", now(), 60, "key_one");
    s.insert_hold(&first, 2).await.unwrap();
    s.insert_hold(&second, 2).await.unwrap();
    let third = hold(&svc, "2030-01-07T11:00:00Z", now(), 60, "key_one");
    match s.insert_hold(&third, 2).await {
        Err(CreateHoldError::TooMany { earliest_expiry }) => {
            assert_eq!(earliest_expiry, Some(second.expires_at));
        }
        other => panic!("expected TooMany, got {other:?}"),
    }
    // Another key is not counted; an expired hold is not counted.
    let other_key = hold(&svc, "2030-01-07T11:00:00Z", now(), 60, "key_two");
    s.insert_hold(&other_key, 2).await.unwrap();
    let later = hold(
        &svc,
        "2030-01-07T12:00:00Z",
        second.expires_at,
        60,
        "key_one",
    );
    s.insert_hold(&later, 2).await.unwrap();
    // Another account sees none of them, and cannot delete them.
    assert_eq!(s.get_hold(&b.account, &first.id).await.unwrap(), None);
    assert!(!s.delete_hold(&b.account, &first.id).await.unwrap());
    // Deleting frees the time at once; a second delete finds nothing.
    assert!(s.delete_hold(&a.account, &first.id).await.unwrap());
    assert!(!s.delete_hold(&a.account, &first.id).await.unwrap());
    assert_eq!(s.get_hold(&a.account, &first.id).await.unwrap(), None);
    let freed = booking_made(&svc, "2030-01-07T09:00:00Z", now());
    book(s, &freed).await.unwrap();
}

pub async fn a_hold_becomes_its_booking_once<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 15, 15).await;
    let (b, _) = with_service(s, "globex", 0, 0).await;
    let h = hold(&svc, "2030-01-07T10:00:00Z", now(), 300, "key_a");
    s.insert_hold(&h, 100).await.unwrap();
    let made = plus(now(), 2);
    let booked = booking_made(&svc, "2030-01-07T10:00:00Z", made);
    let events = [event(EventKind::Created, &booked, None)];
    // Another account cannot use it.
    let mut foreign = booked.clone();
    foreign.account_id = b.account.clone();
    let foreign_events = [event(EventKind::Created, &foreign, None)];
    assert!(matches!(
        s.insert_booking_from_hold(&foreign, &foreign_events, &h.id, None)
            .await,
        Err(ConvertHoldError::HoldGone)
    ));
    s.insert_booking_from_hold(&booked, &events, &h.id, None)
        .await
        .unwrap();
    assert_eq!(s.get_hold(&a.account, &h.id).await.unwrap(), None);
    assert_eq!(
        s.get_booking(&a.account, &booked.id).await.unwrap(),
        Some(booked.clone())
    );
    let sources = s
        .busy_sources(&a.account, &a.default_provider, day(), None)
        .await
        .unwrap();
    assert!(sources.holds.is_empty());
    assert_eq!(sources.bookings.len(), 1);
    // Used once: a second booking with it is refused as gone.
    let again = booking_made(&svc, "2030-01-07T10:00:00Z", made);
    assert!(matches!(
        s.insert_booking_from_hold(
            &again,
            &[event(EventKind::Created, &again, None)],
            &h.id,
            None
        )
        .await,
        Err(ConvertHoldError::HoldGone)
    ));
    // An expired hold cannot be used, and its time is free for anyone.
    let short = hold(&svc, "2030-01-07T14:00:00Z", now(), 30, "key_a");
    s.insert_hold(&short, 100).await.unwrap();
    let too_late = booking_made(&svc, "2030-01-07T14:00:00Z", short.expires_at);
    assert!(matches!(
        s.insert_booking_from_hold(
            &too_late,
            &[event(EventKind::Created, &too_late, None)],
            &short.id,
            None
        )
        .await,
        Err(ConvertHoldError::HoldGone)
    ));
    book(s, &too_late).await.unwrap();
    // A conversion refused for another reason keeps the hold.
    let kept = hold(&svc, "2030-01-07T16:00:00Z", now(), 300, "key_a");
    s.insert_hold(&kept, 100).await.unwrap();
    let capped = booking_made(&svc, "2030-01-07T16:00:00Z", made);
    let full_day = booking_domain::ports::DailyCap {
        limit: 2,
        day: range("2030-01-06T23:00:00Z", "2030-01-07T23:00:00Z"),
    };
    assert!(matches!(
        s.insert_booking_from_hold(
            &capped,
            &[event(EventKind::Created, &capped, None)],
            &kept.id,
            Some(full_day)
        )
        .await,
        Err(ConvertHoldError::Conflict)
    ));
    assert_eq!(s.get_hold(&a.account, &kept.id).await.unwrap(), Some(kept));
}

pub async fn the_hold_to_book_is_the_stored_hold<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 5, 10).await;
    let (b, _) = with_service(s, "globex", 0, 0).await;
    // Made between two seconds: the store keeps whole seconds, and the hold
    // to book must be what a read finds, not what was handed in.
    let made = now() + SignedDuration::from_millis(1_250);
    let h = hold(&svc, "2030-01-07T10:00:00Z", made, 300, "key_a");
    s.insert_hold(&h, 100).await.unwrap();
    let stored = s.get_hold(&a.account, &h.id).await.unwrap();
    assert!(stored.is_some());
    assert_eq!(s.hold_for_booking(&a.account, &h.id).await.unwrap(), stored);
    // Not another account's.
    assert_eq!(s.hold_for_booking(&b.account, &h.id).await.unwrap(), None);
    // Gone once converted or deleted here.
    let booked = booking_made(&svc, "2030-01-07T10:00:00Z", plus(now(), 1));
    s.insert_booking_from_hold(
        &booked,
        &[event(EventKind::Created, &booked, None)],
        &h.id,
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.hold_for_booking(&a.account, &h.id).await.unwrap(), None);
    let ended = hold(&svc, "2030-01-07T12:00:00Z", made, 300, "key_a");
    s.insert_hold(&ended, 100).await.unwrap();
    assert!(s.delete_hold(&a.account, &ended.id).await.unwrap());
    assert_eq!(
        s.hold_for_booking(&a.account, &ended.id).await.unwrap(),
        None
    );
    let unknown = HoldId::from_trusted(id(IdKind::Hold));
    assert_eq!(
        s.hold_for_booking(&a.account, &unknown).await.unwrap(),
        None
    );
}

pub async fn moves_respect_live_holds_and_ignore_expired_ones<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let b = booking_made(&svc, "2030-01-07T09:00:00Z", now());
    book(s, &b).await.unwrap();
    let h = hold(&svc, "2030-01-07T13:00:00Z", now(), 300, "key_a");
    s.insert_hold(&h, 100).await.unwrap();
    let moved = b
        .reschedule(t("2030-01-07T13:00:00Z"), plus(now(), 1))
        .unwrap();
    assert!(matches!(
        s.update_booking(&b, &moved, &[]).await,
        Err(UpdateBookingError::Conflict)
    ));
    let after = b
        .reschedule(t("2030-01-07T13:00:00Z"), h.expires_at)
        .unwrap();
    s.update_booking(&b, &after, &[]).await.unwrap();
    assert_eq!(s.get_booking(&a.account, &b.id).await.unwrap(), Some(after));
}

/// `n` holds racing for overlapping times of one provider, spread over
/// `stores` (pools standing for processes): exactly one wins, and a booking
/// of the time is refused while it lasts.
pub async fn racing_holds_have_one_winner<S: Store>(stores: &[S], n: usize) {
    let first = &stores[0];
    let (a, svc) = with_service(first, "acme", 5, 5).await;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let minute = i % 30;
            let h = hold(
                &svc,
                &format!("2030-01-07T10:{minute:02}:00Z"),
                now(),
                300,
                "key_a",
            );
            tokio::spawn(async move { s.insert_hold(&h, 1000).await.map(|()| h) })
        })
        .collect();
    let mut winners = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(h) => winners.push(h),
            Err(CreateHoldError::Conflict) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one hold wins");
    let busy = first
        .busy_times(&a.account, &a.default_provider, day(), None, plus(now(), 1))
        .await
        .unwrap();
    assert_eq!(busy, vec![winners[0].occupied()]);
}

/// `n` (at most 24) holds of one key at `n` separate hours, racing over `stores` with
/// a per-key limit of `max`: exactly `max` are made and the rest are
/// `TooMany`, however the requests interleave.
pub async fn racing_holds_of_one_key_stay_within_its_limit<S: Store>(
    stores: &[S],
    n: usize,
    max: u32,
) {
    assert!(n <= 24, "one hold per hour of one day");
    let first = &stores[0];
    let (a, svc) = with_service(first, "acme", 0, 0).await;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let h = hold(
                &svc,
                &format!("2030-01-07T{i:02}:00:00Z"),
                now(),
                300,
                "key_busy",
            );
            tokio::spawn(async move { s.insert_hold(&h, max).await })
        })
        .collect();
    let (mut made, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => made += 1,
            Err(CreateHoldError::TooMany { .. }) => refused += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((made, refused), (max as usize, n - max as usize));
    let busy = first
        .busy_times(&a.account, &a.default_provider, day(), None, plus(now(), 1))
        .await
        .unwrap();
    assert_eq!(busy.len(), max as usize, "every hold made blocks its time");
}

/// A conversion racing `n` plain bookings of the same time over `stores`:
/// the hold's owner always gets it, and there is exactly one booking.
pub async fn a_conversion_beats_racing_bookings<S: Store>(stores: &[S], n: usize) {
    let first = &stores[0];
    let (a, svc) = with_service(first, "acme", 0, 0).await;
    let h = hold(&svc, "2030-01-07T10:00:00Z", now(), 300, "key_a");
    first.insert_hold(&h, 100).await.unwrap();
    let made = plus(now(), 1);
    let mut tasks = Vec::new();
    for i in 0..=n {
        let s = stores[i % stores.len()].clone();
        let b = booking_made(&svc, "2030-01-07T10:00:00Z", made);
        let hold_id = (i == n / 2).then(|| h.id.clone());
        tasks.push(tokio::spawn(async move {
            let events = [event(EventKind::Created, &b, None)];
            match hold_id {
                Some(id) => s
                    .insert_booking_from_hold(&b, &events, &id, None)
                    .await
                    .map_err(|e| format!("{e:?}"))
                    .map(|()| true),
                None => match s.insert_booking(&b, &events).await {
                    Ok(()) => Ok(false),
                    Err(CreateBookingError::Conflict) => Err("conflict".to_owned()),
                    Err(e) => panic!("unexpected {e:?}"),
                },
            }
        }));
    }
    let mut converted = 0;
    let mut plain = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(true) => converted += 1,
            Ok(false) => plain += 1,
            Err(e) => assert_eq!(e, "conflict"),
        }
    }
    assert_eq!((converted, plain), (1, 0), "only the hold's owner books");
    let listed = first
        .list_bookings(&a.account, &BookingFilter::default(), all(50))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
}
