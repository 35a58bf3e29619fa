//! The calendar-feed part of the store contract: every MUST of `FeedStore`,
//! written against the port traits only (run by `sqlite.rs` and
//! `postgres.rs`).

use booking_domain::BookingStatus;
use booking_domain::ports::FeedStore;

use super::contract::{Store, with_service};
use super::fixtures::{booking, event, plus, t, tenant};
use booking_domain::EventKind;

/// Everything the feed contract needs of a store.
pub trait FeedTestStore: Store + FeedStore {}

impl<T> FeedTestStore for T where T: Store + FeedStore {}

pub async fn feed_tokens_are_compare_and_set_and_die_when_replaced<S: FeedTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let prv = &a.default_provider;
    assert_eq!(
        s.feed_state(&a.account, prv).await.unwrap(),
        Some((0, None))
    );
    assert_eq!(
        s.feed_state(&b.account, prv).await.unwrap(),
        None,
        "other tenant"
    );
    assert!(s.provider_by_feed_token("h0").await.unwrap().is_none());

    assert!(s.set_feed_token(&a.account, prv, 0, 0, "h0").await.unwrap());
    assert_eq!(
        s.feed_state(&a.account, prv).await.unwrap(),
        Some((0, Some("h0".to_owned())))
    );
    let found = s.provider_by_feed_token("h0").await.unwrap().unwrap();
    assert_eq!((&found.id, &found.account_id), (prv, &a.account));

    // A stale generation changes nothing; another tenant changes nothing.
    assert!(!s.set_feed_token(&a.account, prv, 5, 6, "hx").await.unwrap());
    assert!(!s.set_feed_token(&b.account, prv, 0, 1, "hx").await.unwrap());
    assert!(s.provider_by_feed_token("hx").await.unwrap().is_none());

    // Rotation: the old hash is dead as soon as the call returns.
    assert!(s.set_feed_token(&a.account, prv, 0, 1, "h1").await.unwrap());
    assert!(s.provider_by_feed_token("h0").await.unwrap().is_none());
    assert_eq!(
        s.provider_by_feed_token("h1").await.unwrap().unwrap().id,
        *prv
    );
    assert_eq!(
        s.feed_state(&a.account, prv).await.unwrap(),
        Some((1, Some("h1".to_owned())))
    );
    // Only one of two racing rotations from the same generation wins.
    let (x, y) = tokio::join!(
        s.set_feed_token(&a.account, prv, 1, 2, "h2a"),
        s.set_feed_token(&a.account, prv, 1, 2, "h2b"),
    );
    assert!(x.unwrap() ^ y.unwrap());
}

pub async fn feed_bookings_are_the_providers_from_an_instant_with_service_names<
    S: FeedTestStore,
>(
    s: &S,
) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let (b, other) = with_service(s, "globex", 0, 0).await;
    let base = t("2030-01-07T09:00:00Z");
    let mut ids = Vec::new();
    for (i, status) in [
        BookingStatus::Pending,
        BookingStatus::Confirmed,
        BookingStatus::Cancelled,
        BookingStatus::Completed,
    ]
    .into_iter()
    .enumerate()
    {
        let bk = booking(&svc, plus(base, 120 * i64::try_from(i).unwrap()), status);
        s.insert_booking(&bk, &[event(EventKind::Created, &bk, None)])
            .await
            .unwrap();
        ids.push(bk.id.clone());
    }
    let old = booking(&svc, plus(base, -60 * 24 * 400), BookingStatus::Completed);
    s.insert_booking(&old, &[event(EventKind::Created, &old, None)])
        .await
        .unwrap();
    let theirs = booking(&other, base, BookingStatus::Confirmed);
    s.insert_booking(&theirs, &[event(EventKind::Created, &theirs, None)])
        .await
        .unwrap();

    let rows = s
        .feed_bookings(&a.account, &a.default_provider, plus(base, -60))
        .await
        .unwrap();
    let got: Vec<_> = rows.iter().map(|r| r.booking.id.clone()).collect();
    assert_eq!(got, ids, "every status, start order, nothing before `from`");
    assert!(rows.iter().all(|r| r.service_name == svc.name));
    assert_eq!(rows[1].booking.status, BookingStatus::Confirmed);
    // From a later instant, the earlier ones are left out.
    let later = s
        .feed_bookings(&a.account, &a.default_provider, plus(base, 1))
        .await
        .unwrap();
    assert_eq!(later.len(), 3);
    // Another tenant's provider id shows nothing of theirs.
    let none = s
        .feed_bookings(&a.account, &b.default_provider, plus(base, -60))
        .await
        .unwrap();
    assert!(none.is_empty());
}

pub async fn server_secrets_are_created_once<S: FeedTestStore>(s: &S) {
    let first = s.server_secret("feed_key", "one").await.unwrap();
    assert_eq!(first, "one");
    assert_eq!(s.server_secret("feed_key", "two").await.unwrap(), "one");
    assert_eq!(s.server_secret("other", "three").await.unwrap(), "three");
    let racing = futures_util::future::join_all(
        (0..8).map(|i| async move { s.server_secret("raced", &format!("v{i}")).await.unwrap() }),
    )
    .await;
    assert!(racing.iter().all(|v| *v == racing[0]), "{racing:?}");
}
