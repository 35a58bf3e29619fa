//! The time-off part of the store contract: every MUST of `TimeOffStore`,
//! written against the port traits only (run by `sqlite.rs` and
//! `postgres.rs`).

use booking_domain::ports::{PageRequest, TimeOffStore};
use booking_domain::{
    AccountId, BookingEvent, BookingId, BookingStatus, EventKind, IdKind, Minutes, ProviderId,
    TimeOff, TimeOffId,
};
use jiff::Timestamp;

use super::contract::Store;
use super::fixtures::{booking, event, id, now, provider, range, service, t, tenant};

/// Everything the time-off contract needs of a store.
pub trait TimeOffTestStore: Store + TimeOffStore {}

impl<T> TimeOffTestStore for T where T: Store + TimeOffStore {}

/// (Not yet stored) time off of `provider` over `[start, end)`.
fn time_off(account: &AccountId, provider: &ProviderId, start: &str, end: &str) -> TimeOff {
    TimeOff {
        id: TimeOffId::from_trusted(id(IdKind::TimeOff)),
        account_id: account.clone(),
        provider_id: provider.clone(),
        range: range(start, end),
        reason: Some("Conference\nin Berlin".into()),
        created_at: now(),
    }
}

fn page(limit: u32, after: Option<i64>) -> PageRequest {
    PageRequest { limit, after }
}

/// Stores a booking of a new service of `provider` (`minutes` long, with
/// 30-minute buffers) at `start` with `status`; returns its id.
async fn book<S: TimeOffTestStore>(
    s: &S,
    account: &AccountId,
    provider: &ProviderId,
    start: &str,
    minutes: u32,
    status: BookingStatus,
) -> BookingId {
    let mut svc = service(account, provider, 30, 30);
    svc.duration = Minutes::new(minutes);
    s.create_service(&svc).await.unwrap();
    let b = booking(&svc, t(start), status);
    let events: Vec<BookingEvent> = vec![event(EventKind::Created, &b, None)];
    s.insert_booking(&b, &events).await.unwrap();
    b.id
}

pub async fn time_off_answers_only_the_providers_active_bookings_inside_it<S: TimeOffTestStore>(
    s: &S,
) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let p = a.default_provider.clone();
    let other = provider(&a.account, "Other");
    s.create_provider(&other).await.unwrap();
    // Time off from Tuesday 00:00 to Thursday 00:00. Inside it: a booking
    // on Tuesday morning and one on Wednesday evening, and a day-long one
    // from Monday 02:00 reaching into it (from far before its start: the
    // scan must reach back the longest booking).
    let long = book(
        s,
        &a.account,
        &p,
        "2030-01-07T02:00:00Z",
        1440,
        BookingStatus::Confirmed,
    )
    .await;
    let confirmed = book(
        s,
        &a.account,
        &p,
        "2030-01-08T10:00:00Z",
        60,
        BookingStatus::Confirmed,
    )
    .await;
    let pending = book(
        s,
        &a.account,
        &p,
        "2030-01-09T20:00:00Z",
        60,
        BookingStatus::Pending,
    )
    .await;
    // Inside, but not active.
    for status in [BookingStatus::Cancelled, BookingStatus::Completed] {
        book(s, &a.account, &p, "2030-01-08T14:00:00Z", 60, status).await;
    }
    // Starts where the time off ends: only its buffer reaches in, and
    // buffers are not the appointment.
    book(
        s,
        &a.account,
        &p,
        "2030-01-10T00:00:00Z",
        60,
        BookingStatus::Confirmed,
    )
    .await;
    // Another provider's, another account's.
    book(
        s,
        &a.account,
        &other.id,
        "2030-01-08T10:00:00Z",
        60,
        BookingStatus::Confirmed,
    )
    .await;
    book(
        s,
        &b.account,
        &b.default_provider,
        "2030-01-08T10:00:00Z",
        60,
        BookingStatus::Confirmed,
    )
    .await;

    let off = time_off(
        &a.account,
        &p,
        "2030-01-08T00:00:00Z",
        "2030-01-10T00:00:00Z",
    );
    let overlapping = s.create_time_off(&off).await.unwrap();
    // In start order.
    assert_eq!(overlapping, [long, confirmed, pending]);
    // The bookings are untouched.
    for id in &overlapping {
        let stored = s.get_booking(&a.account, id).await.unwrap().unwrap();
        assert!(stored.status.is_active(), "{id}");
    }
    // Time off ending where a booking starts, or starting where it ends,
    // meets only its buffers: nothing to answer. Time off may overlap
    // other time off.
    let before = time_off(
        &a.account,
        &p,
        "2030-01-09T18:00:00Z",
        "2030-01-09T20:00:00Z",
    );
    assert!(s.create_time_off(&before).await.unwrap().is_empty());
    let after = time_off(
        &a.account,
        &p,
        "2030-01-09T21:00:00Z",
        "2030-01-09T23:00:00Z",
    );
    assert!(s.create_time_off(&after).await.unwrap().is_empty());
    let quiet = time_off(
        &a.account,
        &p,
        "2030-02-01T00:00:00Z",
        "2030-02-02T00:00:00Z",
    );
    assert!(s.create_time_off(&quiet).await.unwrap().is_empty());
    let stored = s
        .list_time_off(&a.account, &p, None, None, page(50, None))
        .await
        .unwrap();
    assert_eq!(stored.items, [off, before, after, quiet]);
    assert_eq!(stored.next, None);
}

pub async fn time_off_lists_by_range_and_pages<S: TimeOffTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let p = a.default_provider.clone();
    let other = provider(&a.account, "Other");
    s.create_provider(&other).await.unwrap();
    // Five single days, created out of start order.
    let days = [
        "2030-03-05",
        "2030-03-01",
        "2030-03-03",
        "2030-03-02",
        "2030-03-04",
    ];
    let mut offs = Vec::new();
    for day in days {
        let off = time_off(
            &a.account,
            &p,
            &format!("{day}T00:00:00Z"),
            &format!("{day}T23:59:59Z"),
        );
        s.create_time_off(&off).await.unwrap();
        offs.push(off);
    }
    let mut elsewhere = time_off(
        &a.account,
        &other.id,
        "2030-03-01T00:00:00Z",
        "2030-03-09T00:00:00Z",
    );
    elsewhere.reason = None;
    s.create_time_off(&elsewhere).await.unwrap();

    let list = |from: Option<Timestamp>, to: Option<Timestamp>| {
        let p = p.clone();
        let account = a.account.clone();
        async move {
            s.list_time_off(&account, &p, from, to, page(50, None))
                .await
                .unwrap()
                .items
        }
    };
    assert_eq!(list(None, None).await, offs);
    // [from, to) overlaps: ends after `from`, starts before `to`.
    let from = Some(t("2030-03-02T12:00:00Z"));
    let to = Some(t("2030-03-04T00:00:00Z"));
    assert_eq!(list(from, to).await, [offs[2].clone(), offs[3].clone()]);
    // A range ending where one starts or starting where one ends misses it.
    assert_eq!(
        list(
            Some(t("2030-03-03T23:59:59Z")),
            Some(t("2030-03-04T00:00:00Z"))
        )
        .await,
        []
    );
    assert_eq!(list(from, None).await.len(), 4);
    assert_eq!(list(None, to).await.len(), 3);
    // Sub-second bounds: the second that holds them counts.
    assert_eq!(
        list(
            Some(t("2030-03-05T23:59:58.5Z")),
            Some(t("2030-03-06T00:00:00Z"))
        )
        .await,
        [offs[0].clone()]
    );
    assert_eq!(
        s.list_time_off(&a.account, &other.id, None, None, page(50, None))
            .await
            .unwrap()
            .items,
        [elsewhere]
    );

    // Pages of two, in creation order, each item once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let got = s
            .list_time_off(&a.account, &p, None, None, page(2, after))
            .await
            .unwrap();
        assert!(got.items.len() <= 2);
        seen.extend(got.items);
        match got.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, offs);
}

pub async fn time_off_is_deleted_once_and_isolated_per_account<S: TimeOffTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let p = a.default_provider.clone();
    let other = provider(&a.account, "Other");
    s.create_provider(&other).await.unwrap();
    let off = time_off(
        &a.account,
        &p,
        "2030-04-01T00:00:00Z",
        "2030-04-08T00:00:00Z",
    );
    s.create_time_off(&off).await.unwrap();
    let all = page(50, None);

    // Another account sees nothing, even naming the provider, and cannot
    // delete it.
    assert!(
        s.list_time_off(&b.account, &p, None, None, all)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(!s.delete_time_off(&b.account, &p, &off.id).await.unwrap());
    assert!(
        !s.delete_time_off(&b.account, &b.default_provider, &off.id)
            .await
            .unwrap()
    );
    // Nor through another provider of the same account.
    assert!(
        !s.delete_time_off(&a.account, &other.id, &off.id)
            .await
            .unwrap()
    );
    assert_eq!(
        s.list_time_off(&a.account, &p, None, None, all)
            .await
            .unwrap()
            .items,
        std::slice::from_ref(&off)
    );

    assert!(s.delete_time_off(&a.account, &p, &off.id).await.unwrap());
    assert!(!s.delete_time_off(&a.account, &p, &off.id).await.unwrap());
    assert!(
        s.list_time_off(&a.account, &p, None, None, all)
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let unknown = TimeOffId::from_trusted("off_unknown");
    assert!(!s.delete_time_off(&a.account, &p, &unknown).await.unwrap());
}
