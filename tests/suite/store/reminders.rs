//! The reminder part of the store contract: `reminder_candidates` and the
//! exactly-once `record_reminder` (run by `sqlite.rs` and `postgres.rs`).

use booking_domain::{
    Actor, Booking, BookingEvent, BookingStatus, EventId, EventKind, EventSet, IdKind, Minutes,
};
use futures_util::future::join_all;

use super::contract::{Store, with_service};
use super::fixtures::{booking, event, id, now, plus};
use super::webhooks::{WebhookTestStore, deliveries, stored_endpoint};

fn reminder(b: &Booking, offset: u32) -> BookingEvent {
    BookingEvent {
        id: EventId::from_trusted(id(IdKind::Event)),
        account_id: b.account_id.clone(),
        kind: EventKind::Reminder,
        actor: Actor::System,
        booking: b.clone(),
        previous_scheduled_at: None,
        reminder_offset: Some(Minutes::new(offset)),
        created_at: now(),
    }
}

async fn insert<S: Store>(s: &S, b: &Booking) {
    s.insert_booking(b, &[event(EventKind::Created, b, None)])
        .await
        .unwrap();
}

pub async fn reminders_are_recorded_once_per_offset_and_start<S: WebhookTestStore>(s: &S) {
    let (a, mut svc) = with_service(s, "acme", 0, 0).await;
    let (_, plain) = with_service(s, "globex", 0, 0).await;
    let subscribed = stored_endpoint(
        s,
        &a.account,
        EventSet::default().with(EventKind::Reminder),
        true,
    )
    .await;
    let defaults = stored_endpoint(s, &a.account, EventSet::defaults(), true).await;
    svc.reminders = vec![Minutes::new(60), Minutes::new(1440)];
    assert!(s.update_service(&svc).await.unwrap());

    let soon = booking(&svc, plus(now(), 30 * 60), BookingStatus::Confirmed);
    let far = booking(&svc, plus(now(), 31 * 24 * 3600), BookingStatus::Confirmed);
    let other = booking(&plain, plus(now(), 30 * 60), BookingStatus::Confirmed);
    for b in [&soon, &far, &other] {
        insert(s, b).await;
    }

    // Only bookings of services with reminders, within 30 days.
    let listed = s.reminder_candidates(now(), None, 10).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].0, soon);
    assert_eq!(listed[0].1, svc.reminders);
    assert!(
        s.reminder_candidates(now(), Some((soon.scheduled_at, soon.id.clone())), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Eight racing senders of one reminder: one records it.
    let sent = join_all((0..8).map(|_| {
        let e = reminder(&soon, 60);
        async move { s.record_reminder(&e, Minutes::new(60)).await.unwrap() }
    }))
    .await;
    assert_eq!(sent.iter().filter(|x| **x).count(), 1, "{sent:?}");
    let got = deliveries(s, &subscribed).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event, EventKind::Reminder);
    assert!(
        deliveries(s, &defaults)
            .await
            .iter()
            .all(|d| d.event == EventKind::Created)
    );
    let events = s.booking_events(&soon.account_id, &soon.id).await.unwrap();
    let kept: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::Reminder)
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].reminder_offset, Some(Minutes::new(60)));
    assert_eq!(kept[0].actor, Actor::System);
    // Another offset is another reminder.
    assert!(
        s.record_reminder(&reminder(&soon, 1440), Minutes::new(1440))
            .await
            .unwrap()
    );

    // Moved: due again at the new start; the stale snapshot records nothing.
    let moved = soon
        .reschedule(plus(now(), 40 * 60), plus(now(), 1))
        .unwrap();
    s.update_booking(&soon, &moved, &[]).await.unwrap();
    assert!(
        !s.record_reminder(&reminder(&soon, 60), Minutes::new(60))
            .await
            .unwrap()
    );
    assert!(
        s.record_reminder(&reminder(&moved, 60), Minutes::new(60))
            .await
            .unwrap()
    );
    // Cancelled: nothing, and no longer a candidate.
    let cancelled = moved.cancel(None, plus(now(), 2)).unwrap();
    s.update_booking(&moved, &cancelled, &[]).await.unwrap();
    assert!(
        !s.record_reminder(&reminder(&cancelled, 1440), Minutes::new(1440))
            .await
            .unwrap()
    );
    assert!(
        s.reminder_candidates(now(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(deliveries(s, &subscribed).await.len(), 3);
}

/// `n` senders of one reminder over `stores` (several pools on one
/// database, like several processes): exactly one records it.
pub async fn racing_reminders_have_one_sender<S: WebhookTestStore + Clone + 'static>(
    stores: &[S],
    n: usize,
) {
    let first = &stores[0];
    let (a, mut svc) = with_service(first, "acme", 0, 0).await;
    let subscribed = stored_endpoint(
        first,
        &a.account,
        EventSet::default().with(EventKind::Reminder),
        true,
    )
    .await;
    svc.reminders = vec![Minutes::new(60)];
    assert!(first.update_service(&svc).await.unwrap());
    let b = booking(&svc, plus(now(), 30 * 60), BookingStatus::Pending);
    insert(first, &b).await;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let e = reminder(&b, 60);
            tokio::spawn(async move { s.record_reminder(&e, Minutes::new(60)).await })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        if task.await.unwrap().unwrap() {
            sent += 1;
        }
    }
    assert_eq!(sent, 1, "exactly one sender");
    assert_eq!(deliveries(first, &subscribed).await.len(), 1);
}
