//! The store contract: every MUST of `booking_domain::ports`, written against
//! the port traits only, so any store can run it (see `sqlite.rs`).

use booking_domain::ports::{
    AccountStore, BookingFilter, BookingStore, CreateBookingError, CreateServiceError, HealthCheck,
    IdempotencyBegin, IdempotencyStore, PageRequest, ProviderStore, ServiceStore, StoredResponse,
    UpdateBookingError,
};
use booking_domain::{
    AccountId, ApiKeyId, Booking, BookingId, BookingStatus, EventKind, Minutes, ProviderId,
    Service, TimeRange,
};
use jiff::SignedDuration;

use super::fixtures::{
    DAY, Tenant, booking, event, new_key, now, plus, provider, range, service, t, tenant,
};

/// Everything a full store implements.
pub trait Store:
    AccountStore
    + ProviderStore
    + ServiceStore
    + BookingStore
    + IdempotencyStore
    + HealthCheck
    + Clone
    + 'static
{
}

impl<T> Store for T where
    T: AccountStore
        + ProviderStore
        + ServiceStore
        + BookingStore
        + IdempotencyStore
        + HealthCheck
        + Clone
        + 'static
{
}

fn at(hhmm: &str) -> jiff::Timestamp {
    t(&format!("2030-01-07T{hhmm}:00Z"))
}

pub(super) fn all(limit: u32) -> PageRequest {
    PageRequest { limit, after: None }
}

/// A tenant with a stored service (buffers in minutes) on its default provider.
pub(super) async fn with_service<S: Store>(
    s: &S,
    name: &str,
    before: u32,
    after: u32,
) -> (Tenant, Service) {
    let tenant = tenant(s, name).await;
    let svc = service(&tenant.account, &tenant.default_provider, before, after);
    s.create_service(&svc).await.unwrap();
    (tenant, svc)
}

/// Inserts an active booking with its `created` event.
async fn insert<S: Store>(
    s: &S,
    svc: &Service,
    start: jiff::Timestamp,
    status: BookingStatus,
) -> Result<Booking, CreateBookingError> {
    let b = booking(svc, start, status);
    s.insert_booking(&b, &[event(EventKind::Created, &b, None)])
        .await
        .map(|()| b)
}

// ---------------------------------------------------------------- accounts

pub async fn key_creates_account_and_default_provider<S: Store>(s: &S) {
    let mut first = new_key("acme");
    // The store substitutes the new account's id in the default provider.
    first.new_default_provider.account_id = AccountId::from_trusted("acc_placeholder");
    let provider_id = first.new_default_provider.id.clone();
    let record = s.create_key(first.clone()).await.unwrap();
    assert_eq!(record.id, first.key_id);
    assert_eq!(record.account_id, first.new_account_id);
    assert_eq!(record.account_name, "acme");
    assert_eq!(record.lookup, first.lookup);
    assert_eq!(record.hash, first.hash);
    assert_eq!(record.revoked_at, None);
    assert_eq!(record.created_at, first.created_at);

    let default = s
        .default_provider(&record.account_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(default.id, provider_id);
    assert_eq!(default.account_id, record.account_id);
    assert!(default.is_default);
    assert_eq!(default.name, "acme");

    // A second key for the same name reuses the account and its provider.
    let second = new_key("acme");
    let record2 = s.create_key(second.clone()).await.unwrap();
    assert_eq!(record2.account_id, record.account_id);
    assert_eq!(record2.account_name, "acme");
    assert_eq!(record2.id, second.key_id);
    let providers = s
        .list_providers(&record.account_id, all(200))
        .await
        .unwrap();
    assert_eq!(providers.items.len(), 1);
    assert_eq!(providers.items[0].id, provider_id);
    assert!(
        s.get_provider(&second.new_account_id, &second.new_default_provider.id)
            .await
            .unwrap()
            .is_none()
    );

    // Another name is another account.
    let other = s.create_key(new_key("globex")).await.unwrap();
    assert_ne!(other.account_id, record.account_id);
    assert_eq!(other.account_name, "globex");
}

pub async fn keys_by_lookup_returns_every_match<S: Store>(s: &S) {
    let a = s.create_key(new_key("acme")).await.unwrap();
    let mut colliding = new_key("globex");
    colliding.lookup = a.lookup.clone();
    let b = s.create_key(colliding).await.unwrap();
    assert!(s.revoke_key(&a.id, now()).await.unwrap());

    let mut found = s.keys_by_lookup(&a.lookup).await.unwrap();
    found.sort_by(|x, y| x.id.cmp(&y.id));
    let mut expected = vec![
        booking_domain::ports::ApiKeyRecord {
            revoked_at: Some(now()),
            ..a.clone()
        },
        b.clone(),
    ];
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(found, expected, "revoked keys are included");
    assert!(
        s.keys_by_lookup("ffffffffffffffff")
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn revoke_key_reports_existence_and_keeps_first_instant<S: Store>(s: &S) {
    let key = s.create_key(new_key("acme")).await.unwrap();
    let first = plus(now(), 5);
    assert!(s.revoke_key(&key.id, first).await.unwrap());
    assert!(s.revoke_key(&key.id, plus(now(), 10)).await.unwrap());
    let stored = s.keys_by_lookup(&key.lookup).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].revoked_at, Some(first));
    assert!(
        !s.revoke_key(&ApiKeyId::from_trusted("key_missing"), now())
            .await
            .unwrap()
    );
}

// ---------------------------------------------------------------- providers

pub async fn providers_are_isolated_per_account<S: Store>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let mut p = provider(&a.account, "Dr. Who");
    s.create_provider(&p).await.unwrap();

    assert_eq!(
        s.get_provider(&a.account, &p.id).await.unwrap(),
        Some(p.clone())
    );
    assert_eq!(s.get_provider(&b.account, &p.id).await.unwrap(), None);
    assert_eq!(
        s.get_provider(&a.account, &ProviderId::from_trusted("prv_missing"))
            .await
            .unwrap(),
        None
    );
    let b_list = s.list_providers(&b.account, all(200)).await.unwrap();
    assert_eq!(
        b_list.items.iter().map(|p| &p.id).collect::<Vec<_>>(),
        vec![&b.default_provider]
    );
    assert_eq!(
        s.default_provider(&b.account).await.unwrap().unwrap().id,
        b.default_provider
    );
    assert_eq!(
        s.default_provider(&AccountId::from_trusted("acc_missing"))
            .await
            .unwrap(),
        None
    );

    // Another account cannot update it.
    let hijack = booking_domain::Provider {
        account_id: b.account.clone(),
        name: "Hijacked".to_owned(),
        ..p.clone()
    };
    assert!(!s.update_provider(&hijack).await.unwrap());
    assert_eq!(
        s.get_provider(&a.account, &p.id).await.unwrap(),
        Some(p.clone())
    );

    // The owner can.
    p.name = "Dr. Watson".to_owned();
    p.email = None;
    p.updated_at = plus(now(), 1);
    assert!(s.update_provider(&p).await.unwrap());
    assert_eq!(
        s.get_provider(&a.account, &p.id).await.unwrap(),
        Some(p.clone())
    );
    let missing = provider(&a.account, "Nobody");
    assert!(!s.update_provider(&missing).await.unwrap());
}

// ---------------------------------------------------------------- services

/// The service as `get_service` and `get_service_cached` both read it
/// (twice, so a cache is filled and then answers): they must agree, and a
/// store's own writes must show in both at once.
async fn read_service<S: Store>(
    s: &S,
    account: &booking_domain::AccountId,
    id: &booking_domain::ServiceId,
) -> Option<Service> {
    let fresh = s.get_service(account, id).await.unwrap();
    for _ in 0..2 {
        assert_eq!(s.get_service_cached(account, id).await.unwrap(), fresh);
    }
    fresh
}

pub async fn services_round_trip_and_are_isolated<S: Store>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let mut svc = service(&a.account, &a.default_provider, 15, 5);
    s.create_service(&svc).await.unwrap();
    assert_eq!(
        read_service(s, &a.account, &svc.id).await,
        Some(svc.clone())
    );
    assert_eq!(read_service(s, &b.account, &svc.id).await, None);
    assert!(
        s.list_services(&b.account, all(200))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    // Same id in the same account: AlreadyExists; in another account: fine.
    assert!(matches!(
        s.create_service(&svc).await,
        Err(CreateServiceError::AlreadyExists)
    ));
    let theirs = Service {
        account_id: b.account.clone(),
        provider_id: b.default_provider.clone(),
        name: "Theirs".to_owned(),
        ..svc.clone()
    };
    s.create_service(&theirs).await.unwrap();
    assert_eq!(
        read_service(s, &b.account, &svc.id).await,
        Some(theirs.clone())
    );
    assert_eq!(
        read_service(s, &a.account, &svc.id).await,
        Some(svc.clone())
    );

    // Updates only touch the account's own row.
    let hijack = Service {
        name: "Hijacked".to_owned(),
        ..theirs.clone()
    };
    let missing = service(&a.account, &a.default_provider, 0, 0);
    assert!(!s.update_service(&missing).await.unwrap());
    svc.name = "Renamed".to_owned();
    svc.description = None;
    svc.duration = Minutes::new(45);
    svc.updated_at = plus(now(), 1);
    assert!(s.update_service(&svc).await.unwrap());
    assert_eq!(
        read_service(s, &a.account, &svc.id).await,
        Some(svc.clone())
    );
    assert_eq!(read_service(s, &b.account, &svc.id).await, Some(theirs));
    assert!(s.update_service(&hijack).await.unwrap());
    assert_eq!(
        read_service(s, &a.account, &svc.id).await,
        Some(svc.clone())
    );

    // Archived: excluded from lists, still readable, and its id stays taken.
    svc.archived = true;
    assert!(s.update_service(&svc).await.unwrap());
    assert!(
        s.list_services(&a.account, all(200))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        read_service(s, &a.account, &svc.id).await,
        Some(svc.clone())
    );
    assert!(matches!(
        s.create_service(&Service {
            archived: false,
            ..svc.clone()
        })
        .await,
        Err(CreateServiceError::AlreadyExists)
    ));
}

// ---------------------------------------------------------------- paging

/// Walks every page of size `limit`, checking `next`.
pub(super) async fn walk<T, F, Fut>(limit: u32, mut fetch: F) -> Vec<Vec<T>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = booking_domain::ports::Page<T>>,
{
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = fetch(PageRequest { limit, after }).await;
        assert!(page.items.len() <= limit as usize);
        let done = page.next.is_none();
        if !done {
            assert_eq!(
                page.items.len(),
                limit as usize,
                "only the last page is short"
            );
        }
        pages.push(page.items);
        if done {
            return pages;
        }
        after = page.next;
        assert!(pages.len() < 100, "paging does not end");
    }
}

pub async fn paging_is_stable_and_complete<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let account = &a.account;
    let other = tenant(s, "globex").await;
    s.create_provider(&provider(&other.account, "Noise"))
        .await
        .unwrap();

    // Providers: the default one, then 6 more, in creation order.
    let mut expected = vec![a.default_provider.clone()];
    for i in 0..6 {
        let p = provider(&a.account, &format!("P{i}"));
        s.create_provider(&p).await.unwrap();
        expected.push(p.id);
    }
    for limit in [1, 3, 6, 7, 200] {
        let pages = walk(limit, |page| async move {
            s.list_providers(account, page).await.unwrap()
        })
        .await;
        let ids: Vec<ProviderId> = pages.into_iter().flatten().map(|p| p.id).collect();
        assert_eq!(ids, expected, "limit {limit}");
    }
    let exact = s.list_providers(&a.account, all(7)).await.unwrap();
    assert_eq!((exact.items.len(), exact.next), (7, None));

    // Services: archived ones are skipped, the rest in creation order.
    let mut services = vec![svc.id.clone()];
    for i in 0..6 {
        let mut x = service(&a.account, &a.default_provider, 0, 0);
        x.name = format!("S{i}");
        s.create_service(&x).await.unwrap();
        if i % 3 == 1 {
            x.archived = true;
            assert!(s.update_service(&x).await.unwrap());
        } else {
            services.push(x.id);
        }
    }
    for limit in [1, 2, 5] {
        let pages = walk(limit, |page| async move {
            s.list_services(account, page).await.unwrap()
        })
        .await;
        let ids: Vec<_> = pages.into_iter().flatten().map(|x| x.id).collect();
        assert_eq!(ids, services, "limit {limit}");
    }

    // Bookings: in creation order, not start order.
    let mut bookings = Vec::new();
    for i in [4, 1, 3, 0, 2] {
        let b = insert(s, &svc, plus(at("09:00"), i * 60), BookingStatus::Pending)
            .await
            .unwrap();
        bookings.push(b.id);
    }
    for limit in [1, 2, 5, 6] {
        let pages = walk(limit, |page| async move {
            s.list_bookings(account, &BookingFilter::default(), page)
                .await
                .unwrap()
        })
        .await;
        let ids: Vec<_> = pages.into_iter().flatten().map(|b| b.id).collect();
        assert_eq!(ids, bookings, "limit {limit}");
    }
}

// ---------------------------------------------------------------- bookings

pub async fn bookings_round_trip_and_are_isolated<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 10, 20).await;
    let b = tenant(s, "globex").await;
    let mut bk = booking(&svc, at("10:00"), BookingStatus::Pending);
    bk.notes = None;
    let created = event(EventKind::Created, &bk, None);
    let confirmed_booking = Booking {
        status: BookingStatus::Confirmed,
        ..bk.clone()
    };
    let confirmed = event(EventKind::Confirmed, &confirmed_booking, None);
    s.insert_booking(&confirmed_booking, &[created.clone(), confirmed.clone()])
        .await
        .unwrap();

    assert_eq!(
        s.get_booking(&a.account, &bk.id).await.unwrap(),
        Some(confirmed_booking.clone())
    );
    assert_eq!(s.get_booking(&b.account, &bk.id).await.unwrap(), None);
    assert_eq!(
        s.get_booking(&a.account, &BookingId::from_trusted("bk_missing"))
            .await
            .unwrap(),
        None
    );
    // Many at once: those of the account that exist.
    let missing = BookingId::from_trusted("bk_missing");
    assert_eq!(
        s.get_bookings(&a.account, &[missing.clone(), bk.id.clone()])
            .await
            .unwrap(),
        vec![confirmed_booking.clone()]
    );
    assert!(
        s.get_bookings(&b.account, std::slice::from_ref(&bk.id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.get_bookings(&a.account, &[]).await.unwrap().is_empty());
    // Events: both, oldest first, each with the booking as it stood.
    assert_eq!(
        s.booking_events(&a.account, &bk.id).await.unwrap(),
        vec![created, confirmed]
    );
    assert!(
        s.booking_events(&b.account, &bk.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.list_bookings(&b.account, &BookingFilter::default(), all(200))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let busy = s
        .busy_times(
            &b.account,
            &a.default_provider,
            range(DAY, "2030-01-08T00:00:00Z"),
            None,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    assert!(busy.is_empty());

    // Another account's update of the same id is stale and changes nothing.
    let theirs = Booking {
        account_id: b.account.clone(),
        ..confirmed_booking.clone()
    };
    let cancelled = theirs.cancel(None, plus(now(), 1)).unwrap();
    assert!(matches!(
        s.update_booking(&theirs, &cancelled, &[]).await,
        Err(UpdateBookingError::Stale)
    ));
    assert_eq!(
        s.get_booking(&a.account, &bk.id).await.unwrap(),
        Some(confirmed_booking)
    );
}

pub async fn insert_refuses_overlaps_of_active_bookings<S: Store>(s: &S) {
    // 60 minutes with 15-minute buffers: 10:00 occupies [09:45, 11:15).
    let (a, svc) = with_service(s, "acme", 15, 15).await;
    let x = insert(s, &svc, at("10:00"), BookingStatus::Confirmed)
        .await
        .unwrap();

    // 11:05-12:05 does not overlap 10:00-11:00, but the buffers do.
    let z = booking(&svc, at("11:05"), BookingStatus::Pending);
    let result = s
        .insert_booking(&z, &[event(EventKind::Created, &z, None)])
        .await;
    assert!(
        matches!(result, Err(CreateBookingError::Conflict)),
        "{result:?}"
    );
    // Nothing of it was stored, its events included.
    assert_eq!(s.get_booking(&a.account, &z.id).await.unwrap(), None);
    assert!(
        s.booking_events(&a.account, &z.id)
            .await
            .unwrap()
            .is_empty()
    );
    // The exact same time conflicts too.
    assert!(matches!(
        insert(s, &svc, at("10:00"), BookingStatus::Pending).await,
        Err(CreateBookingError::Conflict)
    ));
    // A service without buffers still meets the other booking's buffers.
    let bare = service(&a.account, &a.default_provider, 0, 0);
    s.create_service(&bare).await.unwrap();
    assert!(matches!(
        insert(s, &bare, at("11:00"), BookingStatus::Pending).await,
        Err(CreateBookingError::Conflict)
    ));
    assert!(matches!(
        insert(s, &bare, at("08:50"), BookingStatus::Pending).await,
        Err(CreateBookingError::Conflict)
    ));

    // Adjacent occupied ranges are fine, before and after.
    insert(s, &svc, at("11:30"), BookingStatus::Pending)
        .await
        .unwrap();
    insert(s, &svc, at("08:30"), BookingStatus::Pending)
        .await
        .unwrap();
    insert(s, &bare, at("12:45"), BookingStatus::Pending)
        .await
        .unwrap();

    // Cancelled and completed bookings neither block nor are checked.
    insert(s, &svc, at("10:00"), BookingStatus::Cancelled)
        .await
        .unwrap();
    insert(s, &svc, at("10:30"), BookingStatus::Completed)
        .await
        .unwrap();
    let c = insert(s, &svc, at("14:00"), BookingStatus::Pending)
        .await
        .unwrap();
    let cancelled = c.cancel(Some("ill".to_owned()), plus(now(), 1)).unwrap();
    s.update_booking(
        &c,
        &cancelled,
        &[event(EventKind::Cancelled, &cancelled, None)],
    )
    .await
    .unwrap();
    insert(s, &svc, at("14:00"), BookingStatus::Pending)
        .await
        .unwrap();

    // Other providers (of this or another account) are independent.
    let p2 = provider(&a.account, "Second");
    s.create_provider(&p2).await.unwrap();
    let svc2 = service(&a.account, &p2.id, 15, 15);
    s.create_service(&svc2).await.unwrap();
    insert(s, &svc2, at("10:00"), BookingStatus::Pending)
        .await
        .unwrap();
    let (_b, other) = with_service(s, "globex", 15, 15).await;
    insert(s, &other, at("10:00"), BookingStatus::Pending)
        .await
        .unwrap();

    let x_events = s.booking_events(&a.account, &x.id).await.unwrap();
    assert_eq!(x_events.len(), 1);
}

pub async fn conflicts_see_the_longest_bookings<S: Store>(s: &S) {
    // The longest possible occupied range: a day plus a week on each side.
    let a = tenant(s, "acme").await;
    let mut long = service(&a.account, &a.default_provider, 10080, 10080);
    long.duration = Minutes::new(1440);
    s.create_service(&long).await.unwrap();
    let start = t("2030-01-14T10:00:00Z");
    let bk = insert(s, &long, start, BookingStatus::Confirmed)
        .await
        .unwrap();
    let occupied = bk.occupied();
    assert_eq!(occupied.start(), t("2030-01-07T10:00:00Z"));
    assert_eq!(occupied.end(), t("2030-01-22T10:00:00Z"));

    // A short booking at the very end of its after-buffer conflicts…
    let bare = service(&a.account, &a.default_provider, 0, 0);
    s.create_service(&bare).await.unwrap();
    assert!(matches!(
        insert(s, &bare, t("2030-01-22T09:30:00Z"), BookingStatus::Pending).await,
        Err(CreateBookingError::Conflict)
    ));
    // …and right after it does not.
    insert(s, &bare, t("2030-01-22T10:00:00Z"), BookingStatus::Pending)
        .await
        .unwrap();

    // busy_times finds it from the far end of its range.
    let near_end = range("2030-01-22T09:00:00Z", "2030-01-22T09:30:00Z");
    assert_eq!(
        s.busy_times(
            &a.account,
            &a.default_provider,
            near_end,
            None,
            jiff::Timestamp::now()
        )
        .await
        .unwrap(),
        vec![occupied]
    );
}

pub async fn update_checks_staleness_and_conflicts<S: Store>(s: &S) {
    // 10:00 occupies [09:45, 11:15); 12:00 occupies [11:45, 13:15).
    let (a, svc) = with_service(s, "acme", 15, 15).await;
    let x = insert(s, &svc, at("10:00"), BookingStatus::Pending)
        .await
        .unwrap();
    let y = insert(s, &svc, at("12:00"), BookingStatus::Pending)
        .await
        .unwrap();

    // Moving within its own range is fine: it does not conflict with itself.
    let x1 = x.reschedule(at("10:30"), plus(now(), 1)).unwrap();
    s.update_booking(
        &x,
        &x1,
        &[event(EventKind::Rescheduled, &x1, Some(x.scheduled_at))],
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_booking(&a.account, &x.id).await.unwrap(),
        Some(x1.clone())
    );

    // `previous` no longer matches: stale (start, status or updated_at).
    let confirm_old = x.confirm(plus(now(), 2)).unwrap();
    assert!(matches!(
        s.update_booking(&x, &confirm_old, &[]).await,
        Err(UpdateBookingError::Stale)
    ));
    let wrong_updated_at = Booking {
        updated_at: plus(now(), 7),
        ..x1.clone()
    };
    assert!(matches!(
        s.update_booking(&wrong_updated_at, &x1.confirm(plus(now(), 8)).unwrap(), &[])
            .await,
        Err(UpdateBookingError::Stale)
    ));
    let wrong_status = Booking {
        status: BookingStatus::Confirmed,
        ..x1.clone()
    };
    assert!(matches!(
        s.update_booking(
            &wrong_status,
            &x1.cancel(None, plus(now(), 8)).unwrap(),
            &[]
        )
        .await,
        Err(UpdateBookingError::Stale)
    ));
    // A booking that does not exist is stale too.
    let ghost = booking(&svc, at("16:00"), BookingStatus::Pending);
    assert!(matches!(
        s.update_booking(&ghost, &ghost.confirm(plus(now(), 1)).unwrap(), &[])
            .await,
        Err(UpdateBookingError::Stale)
    ));
    assert_eq!(s.get_booking(&a.account, &ghost.id).await.unwrap(), None);

    // Moving into y's buffered range conflicts and changes nothing.
    let x2 = x1.reschedule(at("11:00"), plus(now(), 3)).unwrap();
    let moved = event(EventKind::Rescheduled, &x2, Some(x1.scheduled_at));
    assert!(matches!(
        s.update_booking(&x1, &x2, std::slice::from_ref(&moved))
            .await,
        Err(UpdateBookingError::Conflict)
    ));
    assert_eq!(
        s.get_booking(&a.account, &x.id).await.unwrap(),
        Some(x1.clone())
    );
    assert_eq!(s.booking_events(&a.account, &x.id).await.unwrap().len(), 2);

    // Once y is cancelled, the same move goes through.
    let y1 = y.cancel(Some("moved".to_owned()), plus(now(), 4)).unwrap();
    s.update_booking(&y, &y1, &[event(EventKind::Cancelled, &y1, None)])
        .await
        .unwrap();
    s.update_booking(&x1, &x2, std::slice::from_ref(&moved))
        .await
        .unwrap();
    assert_eq!(
        s.get_booking(&a.account, &x.id).await.unwrap(),
        Some(x2.clone())
    );

    // A change to an inactive booking is never a conflict, even overlapping.
    let y2 = Booking {
        cancel_reason: Some("edited".to_owned()),
        updated_at: plus(now(), 5),
        ..y1.clone()
    };
    s.update_booking(&y1, &y2, &[]).await.unwrap();
    assert_eq!(s.get_booking(&a.account, &y.id).await.unwrap(), Some(y2));

    // The events of x, oldest first, with their snapshots.
    let events = s.booking_events(&a.account, &x.id).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::Created,
            EventKind::Rescheduled,
            EventKind::Rescheduled
        ]
    );
    assert_eq!(events[2], moved);
    assert_eq!(events[2].previous_scheduled_at, Some(at("10:30")));
    assert_eq!(events[2].booking.sequence, 2);
}

pub async fn list_bookings_applies_filters<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let p2 = provider(&a.account, "Second");
    s.create_provider(&p2).await.unwrap();
    let svc2 = service(&a.account, &p2.id, 0, 0);
    s.create_service(&svc2).await.unwrap();
    let (_b, theirs) = with_service(s, "globex", 0, 0).await;
    insert(s, &theirs, at("10:00"), BookingStatus::Pending)
        .await
        .unwrap();

    let b9 = insert(s, &svc, at("09:00"), BookingStatus::Pending)
        .await
        .unwrap();
    let b10 = insert(s, &svc, at("10:00"), BookingStatus::Confirmed)
        .await
        .unwrap();
    let b11 = insert(s, &svc2, at("11:00"), BookingStatus::Pending)
        .await
        .unwrap();
    let b12 = insert(s, &svc, at("12:00"), BookingStatus::Cancelled)
        .await
        .unwrap();

    let account = &a.account;
    let list = |filter: BookingFilter| async move {
        s.list_bookings(account, &filter, all(200))
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|b| b.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        list(BookingFilter::default()).await,
        vec![
            b9.id.clone(),
            b10.id.clone(),
            b11.id.clone(),
            b12.id.clone()
        ]
    );
    assert_eq!(
        list(BookingFilter {
            status: Some(BookingStatus::Pending),
            ..Default::default()
        })
        .await,
        vec![b9.id.clone(), b11.id.clone()]
    );
    assert_eq!(
        list(BookingFilter {
            service_id: Some(svc2.id.clone()),
            ..Default::default()
        })
        .await,
        vec![b11.id.clone()]
    );
    assert_eq!(
        list(BookingFilter {
            provider_id: Some(a.default_provider.clone()),
            ..Default::default()
        })
        .await,
        vec![b9.id.clone(), b10.id.clone(), b12.id.clone()]
    );
    // `from` is inclusive, `to` exclusive.
    assert_eq!(
        list(BookingFilter {
            from: Some(at("10:00")),
            to: Some(at("12:00")),
            ..Default::default()
        })
        .await,
        vec![b10.id.clone(), b11.id.clone()]
    );
    assert_eq!(
        list(BookingFilter {
            to: Some(at("09:00")),
            ..Default::default()
        })
        .await,
        Vec::<BookingId>::new()
    );
    assert_eq!(
        list(BookingFilter {
            status: Some(BookingStatus::Pending),
            provider_id: Some(a.default_provider.clone()),
            from: Some(at("09:00")),
            ..Default::default()
        })
        .await,
        vec![b9.id.clone()]
    );
}

pub async fn busy_times_are_bounded_sorted_and_exclusive<S: Store>(s: &S) {
    // 60 minutes with 15-minute buffers.
    let (a, svc) = with_service(s, "acme", 15, 15).await;
    let later = insert(s, &svc, at("13:00"), BookingStatus::Confirmed)
        .await
        .unwrap();
    let early = insert(s, &svc, at("10:00"), BookingStatus::Pending)
        .await
        .unwrap();
    insert(s, &svc, at("15:00"), BookingStatus::Cancelled)
        .await
        .unwrap();
    insert(s, &svc, at("16:00"), BookingStatus::Completed)
        .await
        .unwrap();
    let p2 = provider(&a.account, "Second");
    s.create_provider(&p2).await.unwrap();
    let svc2 = service(&a.account, &p2.id, 0, 0);
    s.create_service(&svc2).await.unwrap();
    insert(s, &svc2, at("10:00"), BookingStatus::Pending)
        .await
        .unwrap();
    let (b, theirs) = with_service(s, "globex", 0, 0).await;
    insert(s, &theirs, at("10:00"), BookingStatus::Pending)
        .await
        .unwrap();

    let busy = |r: TimeRange, excluding: Option<BookingId>| {
        let account = a.account.clone();
        let provider = a.default_provider.clone();
        async move {
            s.busy_times(&account, &provider, r, excluding, jiff::Timestamp::now())
                .await
                .unwrap()
        }
    };
    let whole_day = range(DAY, "2030-01-08T00:00:00Z");
    assert_eq!(
        busy(whole_day, None).await,
        vec![early.occupied(), later.occupied()],
        "active only, buffers included, sorted by start"
    );
    assert_eq!(
        early.occupied(),
        range("2030-01-07T09:45:00Z", "2030-01-07T11:15:00Z")
    );
    // Ranges that only touch are not busy.
    assert!(
        busy(range("2030-01-07T11:15:00Z", "2030-01-07T12:45:00Z"), None)
            .await
            .is_empty()
    );
    assert!(
        busy(range(DAY, "2030-01-07T09:45:00Z"), None)
            .await
            .is_empty()
    );
    assert_eq!(
        busy(range("2030-01-07T11:14:00Z", "2030-01-07T12:46:00Z"), None).await,
        vec![early.occupied(), later.occupied()]
    );
    assert_eq!(
        busy(range("2030-01-07T10:20:00Z", "2030-01-07T10:21:00Z"), None).await,
        vec![early.occupied()]
    );
    assert_eq!(
        busy(whole_day, Some(early.id.clone())).await,
        vec![later.occupied()]
    );
    // Another day, another account: nothing.
    assert!(
        busy(range("2030-01-08T00:00:00Z", "2030-01-09T00:00:00Z"), None)
            .await
            .is_empty()
    );
    assert!(
        s.busy_times(
            &b.account,
            &a.default_provider,
            whole_day,
            None,
            jiff::Timestamp::now()
        )
        .await
        .unwrap()
        .is_empty()
    );
}

// ---------------------------------------------------------------- idempotency

pub async fn idempotency_keys_follow_their_lifecycle<S: Store>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let ttl = SignedDuration::from_hours(24);
    let begin = |account: AccountId, key: &'static str, hash: &'static str, at| async move {
        s.begin(&account, key, hash, at, ttl).await.unwrap()
    };
    let acc = a.account.clone();

    assert_eq!(
        begin(acc.clone(), "k1", "h1", now()).await,
        IdempotencyBegin::Started
    );
    assert_eq!(
        begin(acc.clone(), "k1", "h1", now()).await,
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        begin(acc.clone(), "k1", "h2", now()).await,
        IdempotencyBegin::Mismatch
    );
    // Keys are per account.
    assert_eq!(
        begin(b.account.clone(), "k1", "h2", now()).await,
        IdempotencyBegin::Started
    );

    let response = StoredResponse {
        status: 201,
        body: b"{\"id\":\"bk_1\"}\x00\xff".to_vec(),
    };
    s.complete(&acc, "k1", &response).await.unwrap();
    assert_eq!(
        begin(acc.clone(), "k1", "h1", plus(now(), 60)).await,
        IdempotencyBegin::Replay(response.clone())
    );
    assert_eq!(
        begin(acc.clone(), "k1", "h2", plus(now(), 60)).await,
        IdempotencyBegin::Mismatch
    );
    // Abandoning a completed key keeps its answer.
    s.abandon(&acc, "k1").await.unwrap();
    assert_eq!(
        begin(acc.clone(), "k1", "h1", plus(now(), 60)).await,
        IdempotencyBegin::Replay(response.clone())
    );
    // Still there at the ttl, gone after it.
    assert_eq!(
        begin(acc.clone(), "k1", "h1", plus(now(), 24 * 60)).await,
        IdempotencyBegin::Replay(response.clone())
    );
    let expired = plus(now(), 24 * 60 + 1);
    assert_eq!(
        begin(acc.clone(), "k1", "h2", expired).await,
        IdempotencyBegin::Started
    );
    assert_eq!(
        begin(acc.clone(), "k1", "h2", expired).await,
        IdempotencyBegin::InProgress
    );

    // Abandoning an unanswered key frees it for a retry.
    assert_eq!(
        begin(acc.clone(), "k2", "h1", now()).await,
        IdempotencyBegin::Started
    );
    s.abandon(&acc, "k2").await.unwrap();
    assert_eq!(
        begin(acc.clone(), "k2", "h1", now()).await,
        IdempotencyBegin::Started
    );
    // An unanswered claim lapses after the claim timeout (its process died),
    // so a retry is not blocked for the whole ttl.
    assert_eq!(
        begin(acc.clone(), "k3", "h1", now()).await,
        IdempotencyBegin::Started
    );
    assert_eq!(
        begin(acc.clone(), "k3", "h1", now()).await,
        IdempotencyBegin::InProgress
    );
    assert_eq!(
        begin(acc.clone(), "k3", "h1", plus(now(), 2)).await,
        IdempotencyBegin::Started
    );
    let empty = StoredResponse {
        status: 204,
        body: Vec::new(),
    };
    s.complete(&acc, "k2", &empty).await.unwrap();
    assert_eq!(
        begin(acc.clone(), "k2", "h1", now()).await,
        IdempotencyBegin::Replay(empty)
    );
    // The other account's key is untouched by all of this.
    assert_eq!(
        begin(b.account.clone(), "k1", "h2", now()).await,
        IdempotencyBegin::InProgress
    );
}

pub async fn idempotency_keys_are_purged_after_their_ttl<S: Store>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let ttl = jiff::SignedDuration::from_hours(24);
    let response = StoredResponse {
        status: 201,
        body: b"{}".to_vec(),
    };
    // An old answered key, an old unanswered claim, and a fresh key.
    assert_eq!(
        s.begin(&a.account, "old", "h", now(), ttl).await.unwrap(),
        IdempotencyBegin::Started
    );
    s.complete(&a.account, "old", &response).await.unwrap();
    assert_eq!(
        s.begin(&b.account, "old-claim", "h", now(), ttl)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    let later = plus(now(), 120);
    assert_eq!(
        s.begin(&a.account, "fresh", "h", later, ttl).await.unwrap(),
        IdempotencyBegin::Started
    );
    s.complete(&a.account, "fresh", &response).await.unwrap();

    // Purging before `later - 1 min` removes the two old rows, of both accounts.
    assert_eq!(s.purge_idempotency_keys(plus(later, -1)).await.unwrap(), 2);
    assert_eq!(s.purge_idempotency_keys(plus(later, -1)).await.unwrap(), 0);
    // The fresh key still replays; the purged one starts over.
    assert_eq!(
        s.begin(&a.account, "fresh", "h", later, ttl).await.unwrap(),
        IdempotencyBegin::Replay(response.clone())
    );
    assert_eq!(
        s.begin(&a.account, "old", "other", later, ttl)
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
}

pub async fn idempotency_begin_is_exclusive<S: Store>(s: &S) {
    let a = tenant(s, "acme").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            let account = a.account.clone();
            tokio::spawn(async move {
                s.begin(&account, "same", "h", now(), SignedDuration::from_hours(24))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut started = 0;
    for task in tasks {
        match task.await.unwrap() {
            IdempotencyBegin::Started => started += 1,
            IdempotencyBegin::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1);
}

// ---------------------------------------------------------------- health

pub async fn ping_answers<S: Store>(s: &S) {
    s.ping().await.unwrap();
}

// ---------------------------------------------------------------- concurrency

/// `stores` all share one database; `n` tasks spread over them insert
/// overlapping bookings for one provider: exactly one may win.
pub async fn concurrent_overlapping_inserts_have_one_winner<S: Store>(stores: &[S], n: usize) {
    let first = &stores[0];
    let (a, svc) = with_service(first, "acme", 5, 5).await;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let s = stores[i % stores.len()].clone();
            let start = plus(at("10:00"), (i % 30) as i64);
            let b = booking(&svc, start, BookingStatus::Confirmed);
            tokio::spawn(async move {
                let events = [event(EventKind::Created, &b, None)];
                s.insert_booking(&b, &events).await.map(|()| b)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(b) => winners.push(b),
            Err(CreateBookingError::Conflict) => conflicts += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one insert wins");
    assert_eq!(conflicts, n - 1);
    let winner = &winners[0];
    let listed = first
        .list_bookings(&a.account, &BookingFilter::default(), all(200))
        .await
        .unwrap();
    assert_eq!(listed.items, vec![winner.clone()]);
    let busy = first
        .busy_times(
            &a.account,
            &a.default_provider,
            range(DAY, "2030-01-08T00:00:00Z"),
            None,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(busy, vec![winner.occupied()]);
    assert_eq!(
        first
            .booking_events(&a.account, &winner.id)
            .await
            .unwrap()
            .len(),
        1
    );
}

/// `booking_by_link` finds a booking by its link's hash in any account,
/// whatever its status, and nothing for an unknown hash or a booking without
/// a link; events keep their actor.
pub async fn bookings_are_found_by_their_link_and_events_keep_their_actor<S: Store>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let bk = booking(&svc, at("10:00"), BookingStatus::Pending);
    let hash = bk.link.clone().expect("the fixture has a link").hash;
    let created = event(EventKind::Created, &bk, None);
    s.insert_booking(&bk, &[created]).await.unwrap();
    assert_eq!(s.booking_by_link(&hash).await.unwrap(), Some(bk.clone()));
    assert_eq!(
        s.booking_by_link("0".repeat(64).as_str()).await.unwrap(),
        None
    );

    // A booking without a link is never found by one.
    let bare = Booking {
        link: None,
        ..booking(&svc, at("12:00"), BookingStatus::Pending)
    };
    s.insert_booking(&bare, &[event(EventKind::Created, &bare, None)])
        .await
        .unwrap();
    assert_eq!(
        s.get_booking(&a.account, &bare.id).await.unwrap(),
        Some(bare)
    );
    assert_eq!(s.booking_by_link("").await.unwrap(), None);

    // Cancelled by the customer: still found (the use case decides the link
    // is dead), and the event says who.
    let cancelled = bk.cancel(None, plus(now(), 1)).unwrap();
    let mut by_customer = event(EventKind::Cancelled, &cancelled, None);
    by_customer.actor = booking_domain::Actor::Customer;
    s.update_booking(&bk, &cancelled, &[by_customer.clone()])
        .await
        .unwrap();
    assert_eq!(s.booking_by_link(&hash).await.unwrap(), Some(cancelled));
    let events = s.booking_events(&a.account, &bk.id).await.unwrap();
    assert_eq!(
        events.iter().map(|e| e.actor).collect::<Vec<_>>(),
        [booking_domain::Actor::Api, booking_domain::Actor::Customer]
    );
    assert_eq!(events[1], by_customer);
}
