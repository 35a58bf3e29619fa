//! The external-calendar part of the store contract: every MUST of
//! `CalendarStore`, written against the port traits only (run by
//! `sqlite.rs` and `postgres.rs`).

use std::collections::HashSet;

use booking_domain::ports::{CalendarStore, SyncResult};
use booking_domain::{
    AccountId, CalendarConnection, CalendarId, CalendarSource, IdKind, OAuthCredentials,
    ProviderId, SyncStatus, TimeRange, Validators,
};
use jiff::SignedDuration;

use super::contract::Store;
use super::fixtures::{id, now, plus, t, tenant};

/// Everything the calendar contract needs of a store.
pub trait CalendarTestStore: Store + CalendarStore {}

impl<T> CalendarTestStore for T where T: Store + CalendarStore {}

pub fn connection(
    account: &AccountId,
    provider: &ProviderId,
    source: CalendarSource,
) -> CalendarConnection {
    CalendarConnection {
        id: CalendarId::from_trusted(id(IdKind::Calendar)),
        account_id: account.clone(),
        provider_id: provider.clone(),
        source,
        status: SyncStatus::Pending,
        last_synced_at: None,
        last_error: None,
        last_error_at: None,
        busy_blocks: 0,
        validators: Validators::default(),
        write: false,
        last_write_error: None,
        created_at: now(),
    }
}

pub fn google() -> CalendarSource {
    CalendarSource::Google {
        calendar_id: "primary".into(),
        credentials: OAuthCredentials {
            access_token: Some("at".into()),
            refresh_token: Some("rt".into()),
            client_id: Some("cid".into()),
            client_secret: Some("cs".into()),
            expires_at: Some(t("2030-01-01T00:00:00Z")),
        },
    }
}

fn r(a: &str, b: &str) -> TimeRange {
    TimeRange::new(t(a), t(b)).unwrap()
}

pub async fn connections_round_trip_and_are_isolated<S: CalendarTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let g = connection(&a.account, &a.default_provider, google());
    let ics = connection(
        &a.account,
        &a.default_provider,
        CalendarSource::Ics {
            url: "https://calendar.example.com/private-abc/basic.ics".into(),
        },
    );
    s.create_calendar(&g).await.unwrap();
    s.create_calendar(&ics).await.unwrap();
    assert_eq!(
        s.list_calendars(&a.account, &a.default_provider)
            .await
            .unwrap(),
        [g.clone(), ics.clone()]
    );
    assert_eq!(s.account_calendars(&a.account).await.unwrap().len(), 2);
    assert!(
        s.list_calendars(&b.account, &a.default_provider)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.account_calendars(&b.account).await.unwrap().is_empty());
    assert!(
        !s.delete_calendar(&b.account, &a.default_provider, &g.id)
            .await
            .unwrap()
    );
    assert!(
        !s.record_calendar_sync(&b.account, &g.id, &SyncResult::Unchanged, None, now())
            .await
            .unwrap()
    );
    assert!(
        s.delete_calendar(&a.account, &a.default_provider, &g.id)
            .await
            .unwrap()
    );
    assert!(
        !s.delete_calendar(&a.account, &a.default_provider, &g.id)
            .await
            .unwrap()
    );
    assert!(
        !s.record_calendar_sync(&a.account, &g.id, &SyncResult::Unchanged, None, now())
            .await
            .unwrap()
    );
    assert_eq!(
        s.list_calendars(&a.account, &a.default_provider)
            .await
            .unwrap(),
        [ics]
    );
}

pub async fn syncs_replace_blocks_and_failures_keep_them<S: CalendarTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let c = connection(&a.account, &a.default_provider, google());
    s.create_calendar(&c).await.unwrap();
    let day = r("2030-01-07T00:00:00Z", "2030-01-08T00:00:00Z");
    let first = SyncResult::Busy {
        blocks: vec![
            r("2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z"),
            r("2030-01-07T14:00:00Z", "2030-01-07T15:00:00Z"),
        ],
        validators: Validators {
            etag: Some("\"v1\"".into()),
            last_modified: None,
        },
    };
    let at = t("2030-01-01T12:00:00Z");
    let refreshed = OAuthCredentials {
        access_token: Some("new-at".into()),
        expires_at: Some(t("2030-01-01T13:00:00Z")),
        ..OAuthCredentials::default()
    };
    assert!(
        s.record_calendar_sync(&a.account, &c.id, &first, Some(refreshed), at)
            .await
            .unwrap()
    );
    assert_eq!(
        s.busy_times(
            &a.account,
            &a.default_provider,
            day,
            None,
            jiff::Timestamp::now()
        )
        .await
        .unwrap()
        .len(),
        2
    );
    assert!(
        s.busy_times(
            &b.account,
            &a.default_provider,
            day,
            None,
            jiff::Timestamp::now()
        )
        .await
        .unwrap()
        .is_empty()
    );
    let stored = &s
        .list_calendars(&a.account, &a.default_provider)
        .await
        .unwrap()[0];
    assert_eq!(stored.status, SyncStatus::Synced);
    assert_eq!(stored.busy_blocks, 2);
    assert_eq!(stored.last_synced_at, Some(at));
    assert_eq!(stored.validators.etag.as_deref(), Some("\"v1\""));
    let creds = stored.source.credentials().unwrap();
    assert_eq!(creds.access_token.as_deref(), Some("new-at"));
    assert_eq!(
        creds.client_secret.as_deref(),
        Some("cs"),
        "the client stays"
    );

    // A failure keeps the blocks and records why.
    let later = plus(at, 60);
    s.record_calendar_sync(
        &a.account,
        &c.id,
        &SyncResult::Failed("503 from upstream".into()),
        None,
        later,
    )
    .await
    .unwrap();
    let stored = &s
        .list_calendars(&a.account, &a.default_provider)
        .await
        .unwrap()[0];
    assert_eq!(stored.status, SyncStatus::Error);
    assert_eq!(stored.last_error.as_deref(), Some("503 from upstream"));
    assert_eq!(stored.last_error_at, Some(later));
    assert_eq!(stored.last_synced_at, Some(at));
    assert_eq!(
        s.busy_times(
            &a.account,
            &a.default_provider,
            day,
            None,
            jiff::Timestamp::now()
        )
        .await
        .unwrap()
        .len(),
        2
    );

    // Unchanged upstream: synced again, same blocks.
    s.record_calendar_sync(
        &a.account,
        &c.id,
        &SyncResult::Unchanged,
        None,
        plus(later, 1),
    )
    .await
    .unwrap();
    let stored = &s
        .list_calendars(&a.account, &a.default_provider)
        .await
        .unwrap()[0];
    assert_eq!(
        (stored.status, stored.last_error.as_deref()),
        (SyncStatus::Synced, None)
    );
    assert_eq!(
        s.busy_times(
            &a.account,
            &a.default_provider,
            day,
            None,
            jiff::Timestamp::now()
        )
        .await
        .unwrap()
        .len(),
        2
    );

    // A new set replaces the old one whole.
    let second = SyncResult::Busy {
        blocks: vec![r("2030-01-07T16:00:00Z", "2030-01-07T17:00:00Z")],
        validators: Validators::default(),
    };
    s.record_calendar_sync(&a.account, &c.id, &second, None, plus(later, 2))
        .await
        .unwrap();
    assert_eq!(
        s.busy_times(
            &a.account,
            &a.default_provider,
            day,
            None,
            jiff::Timestamp::now()
        )
        .await
        .unwrap(),
        [r("2030-01-07T16:00:00Z", "2030-01-07T17:00:00Z")]
    );
}

pub async fn busy_times_find_long_external_blocks_from_anywhere_in_them<S: CalendarTestStore>(
    s: &S,
) {
    let a = tenant(s, "acme").await;
    let c = connection(&a.account, &a.default_provider, google());
    s.create_calendar(&c).await.unwrap();
    // A two-week holiday and an overlapping meeting.
    let busy = SyncResult::Busy {
        blocks: vec![
            r("2030-01-01T00:00:00Z", "2030-01-15T00:00:00Z"),
            r("2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z"),
            r("2030-02-01T10:00:00Z", "2030-02-01T11:00:00Z"),
        ],
        validators: Validators::default(),
    };
    s.record_calendar_sync(&a.account, &c.id, &busy, None, now())
        .await
        .unwrap();
    let inside = s
        .busy_times(
            &a.account,
            &a.default_provider,
            r("2030-01-10T09:00:00Z", "2030-01-10T10:00:00Z"),
            None,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(inside.len(), 1);
    assert!(
        inside[0].start() <= t("2030-01-10T09:00:00Z")
            && inside[0].end() >= t("2030-01-10T10:00:00Z")
    );
    let around = s
        .busy_times(
            &a.account,
            &a.default_provider,
            r("2030-01-14T12:00:00Z", "2030-02-02T00:00:00Z"),
            None,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(around.len(), 2, "{around:?}");
    assert!(around.windows(2).all(|w| w[0].start() <= w[1].start()));
    let none = s
        .busy_times(
            &a.account,
            &a.default_provider,
            r("2030-01-20T00:00:00Z", "2030-01-21T00:00:00Z"),
            None,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    assert!(none.is_empty());
}

pub async fn background_claims_are_exclusive_and_lease_bound<S: CalendarTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let mut ids = HashSet::new();
    for _ in 0..6 {
        let c = connection(&a.account, &a.default_provider, google());
        s.create_calendar(&c).await.unwrap();
        ids.insert(c.id);
    }
    let at = t("2030-01-01T12:00:00Z");
    let lease = SignedDuration::from_mins(5);
    let (x, y) = tokio::join!(
        s.claim_calendar_syncs(at, at, lease, 4),
        s.claim_calendar_syncs(at, at, lease, 4)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.len() + y.len(), 6, "every due connection, once");
    let claimed: HashSet<_> = x.iter().chain(&y).map(|c| c.id.clone()).collect();
    assert_eq!(claimed, ids);
    // Claimed and just attempted: nothing more until the interval passes.
    assert!(
        s.claim_calendar_syncs(at, plus(at, 1), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Recording releases a claim; an unrecorded claim returns after its lease.
    let done = &x[0];
    s.record_calendar_sync(
        &a.account,
        &done.id,
        &SyncResult::Unchanged,
        None,
        plus(at, 1),
    )
    .await
    .unwrap();
    let after_lease = plus(at, 6);
    let again = s
        .claim_calendar_syncs(plus(at, 2), after_lease, lease, 10)
        .await
        .unwrap();
    assert_eq!(
        again.len(),
        6,
        "attempted before the cutoff and no live claim"
    );
}

/// `insert_booking` refuses an active booking whose occupied range (buffers
/// included) meets a busy block of the provider's external calendars, and
/// writes nothing; inactive bookings, adjacent times and other providers
/// are not affected.
pub async fn inserts_refuse_times_blocked_by_external_calendars<S: CalendarTestStore>(s: &S) {
    use booking_domain::ports::{BookingFilter, CreateBookingError, PageRequest};
    use booking_domain::{BookingStatus, EventKind};

    use super::fixtures::{booking, event, provider, service};

    let a = tenant(s, "acme").await;
    let c = connection(&a.account, &a.default_provider, google());
    s.create_calendar(&c).await.unwrap();
    let busy = SyncResult::Busy {
        blocks: vec![r("2030-01-07T10:00:00Z", "2030-01-07T11:00:00Z")],
        validators: Validators::default(),
    };
    s.record_calendar_sync(&a.account, &c.id, &busy, None, now())
        .await
        .unwrap();
    // 60 minutes with 15 before and 15 after.
    let svc = service(&a.account, &a.default_provider, 15, 15);
    s.create_service(&svc).await.unwrap();
    let insert = async |b: &booking_domain::Booking| {
        s.insert_booking(b, &[event(EventKind::Created, b, None)])
            .await
    };

    // Inside, overlapping an edge, and touching it only through a buffer.
    for start in [
        "2030-01-07T10:15:00Z",
        "2030-01-07T09:30:00Z",
        "2030-01-07T11:10:00Z",
    ] {
        let b = booking(&svc, t(start), BookingStatus::Confirmed);
        let result = insert(&b).await;
        assert!(
            matches!(result, Err(CreateBookingError::Conflict)),
            "{start}: {result:?}"
        );
        assert!(s.get_booking(&a.account, &b.id).await.unwrap().is_none());
        assert!(
            s.booking_events(&a.account, &b.id)
                .await
                .unwrap()
                .is_empty()
        );
    }
    // Pending bookings hold time too.
    let pending = booking(&svc, t("2030-01-07T10:00:00Z"), BookingStatus::Pending);
    assert!(matches!(
        insert(&pending).await,
        Err(CreateBookingError::Conflict)
    ));
    // Buffers end exactly where the block starts or ends: free.
    let before = booking(&svc, t("2030-01-07T08:45:00Z"), BookingStatus::Confirmed);
    let after = booking(&svc, t("2030-01-07T11:15:00Z"), BookingStatus::Confirmed);
    insert(&before).await.unwrap();
    insert(&after).await.unwrap();
    // An inactive booking holds no time, so nothing blocks it.
    let cancelled = booking(&svc, t("2030-01-07T10:00:00Z"), BookingStatus::Cancelled);
    insert(&cancelled).await.unwrap();
    // Another provider's time is its own.
    let other = provider(&a.account, "Other");
    s.create_provider(&other).await.unwrap();
    let other_svc = service(&a.account, &other.id, 15, 15);
    s.create_service(&other_svc).await.unwrap();
    insert(&booking(
        &other_svc,
        t("2030-01-07T10:00:00Z"),
        BookingStatus::Confirmed,
    ))
    .await
    .unwrap();

    let listed = s
        .list_bookings(
            &a.account,
            &BookingFilter::default(),
            PageRequest {
                after: None,
                limit: 200,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 4);
}

/// `create_calendar_within`: at most `limit` connections per provider, also
/// when creates race at `limit - 1`; other providers and accounts count on
/// their own.
pub async fn calendar_creates_stay_within_the_limit_under_concurrency<S: CalendarTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let limit = 4;
    for _ in 0..limit - 1 {
        let c = connection(&a.account, &a.default_provider, google());
        assert!(s.create_calendar_within(&c, limit).await.unwrap());
    }
    let racers: Vec<_> = (0..8)
        .map(|_| connection(&a.account, &a.default_provider, google()))
        .collect();
    let won =
        futures_util::future::join_all(racers.iter().map(|c| s.create_calendar_within(c, limit)))
            .await;
    let won = won.into_iter().map(Result::unwrap).filter(|w| *w).count();
    assert_eq!(won, 1, "exactly one racing create fits under the limit");
    assert_eq!(
        s.list_calendars(&a.account, &a.default_provider)
            .await
            .unwrap()
            .len(),
        limit as usize
    );
    let full = connection(&a.account, &a.default_provider, google());
    assert!(!s.create_calendar_within(&full, limit).await.unwrap());
    let other = connection(&b.account, &b.default_provider, google());
    assert!(s.create_calendar_within(&other, limit).await.unwrap());
}

/// `claim_calendar_syncs_fairly`: at most `per_account` of one account,
/// every account's first before any account's next, never a connection
/// that another claim holds.
pub async fn fair_claims_share_between_accounts<S: CalendarTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    for _ in 0..5 {
        s.create_calendar(&connection(&a.account, &a.default_provider, google()))
            .await
            .unwrap();
    }
    let lone = connection(&b.account, &b.default_provider, google());
    s.create_calendar(&lone).await.unwrap();
    let lease = SignedDuration::from_mins(5);
    let first = s
        .claim_calendar_syncs_fairly(now(), now(), lease, 3, 2)
        .await
        .unwrap();
    let of = |claimed: &[CalendarConnection], acc: &AccountId| {
        claimed.iter().filter(|c| c.account_id == *acc).count()
    };
    assert_eq!(first.len(), 3);
    assert_eq!((of(&first, &a.account), of(&first, &b.account)), (2, 1));
    let second = s
        .claim_calendar_syncs_fairly(now(), now(), lease, 10, 2)
        .await
        .unwrap();
    assert_eq!((of(&second, &a.account), of(&second, &b.account)), (2, 0));
    let ids: HashSet<_> = first.iter().chain(&second).map(|c| c.id.clone()).collect();
    assert_eq!(ids.len(), 5, "no connection is claimed twice");
    let third = s
        .claim_calendar_syncs_fairly(now(), now(), lease, 10, 2)
        .await
        .unwrap();
    assert_eq!(third.len(), 1);
    assert!(
        s.claim_calendar_syncs_fairly(now(), now(), lease, 10, 2)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The calendar write outbox: a writing connection made after a booking
/// queues it (the backfill); a booking insert queues one write per writing
/// connection of its provider (none for others); claims are exclusive while
/// their lease lasts; a change of the booking during a claim leaves the row
/// due with a new version; a failure is retried at its time and shows on
/// the connection; removing the event drops the row.
pub async fn booking_writes_are_queued_claimed_once_and_versioned<S: CalendarTestStore>(s: &S) {
    use booking_domain::ports::WriteResult;
    use booking_domain::{BookingStatus, EventKind, RemoteEvent};

    use super::fixtures::{booking, event, service};

    let a = tenant(s, "acme").await;
    let svc = service(&a.account, &a.default_provider, 0, 0);
    s.create_service(&svc).await.unwrap();
    let early = booking(&svc, t("2030-01-07T09:00:00Z"), BookingStatus::Confirmed);
    s.insert_booking(&early, &[event(EventKind::Created, &early, None)])
        .await
        .unwrap();
    let ended = booking(&svc, t("2020-01-07T09:00:00Z"), BookingStatus::Confirmed);
    s.insert_booking(&ended, &[]).await.unwrap();
    let mut reader = connection(&a.account, &a.default_provider, google());
    reader.created_at = now();
    s.create_calendar_within(&reader, 10).await.unwrap();
    let mut writer = connection(&a.account, &a.default_provider, google());
    writer.write = true;
    assert!(s.create_calendar_within(&writer, 10).await.unwrap());
    let b = booking(&svc, t("2030-01-07T11:00:00Z"), BookingStatus::Pending);
    s.insert_booking(&b, &[event(EventKind::Created, &b, None)])
        .await
        .unwrap();
    let other = tenant(s, "globex").await;
    let other_svc = service(&other.account, &other.default_provider, 0, 0);
    s.create_service(&other_svc).await.unwrap();
    let theirs = booking(
        &other_svc,
        t("2030-01-07T11:00:00Z"),
        BookingStatus::Pending,
    );
    s.insert_booking(&theirs, &[]).await.unwrap();

    let at = plus(now(), 1);
    let lease = SignedDuration::from_secs(60);
    let claimed = s.claim_calendar_writes(at, lease, 10).await.unwrap();
    let mut ids: Vec<&str> = claimed.iter().map(|c| c.booking_id.as_str()).collect();
    ids.sort_unstable();
    let mut want = vec![early.id.as_str(), b.id.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want, "the backfill and the insert, nothing else");
    for c in &claimed {
        assert_eq!(c.connection.id, writer.id);
        assert!(c.connection.write);
        assert_eq!(c.connection.source, google(), "credentials opened");
        assert_eq!(c.remote, RemoteEvent::default());
        assert_eq!(c.attempts, 0);
    }
    assert!(
        s.claim_calendar_writes(at, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let for_b = claimed
        .iter()
        .find(|c| c.booking_id == b.id)
        .unwrap()
        .clone();
    let for_early = claimed
        .iter()
        .find(|c| c.booking_id == early.id)
        .unwrap()
        .clone();

    // The booking moves while its write is claimed.
    let moved = reschedule(s, &b, "2030-01-07T13:00:00Z").await;
    let written = RemoteEvent {
        written: true,
        id: Some("evt-1".into()),
        etag: Some("\"1\"".into()),
    };
    for c in [&for_b, &for_early] {
        s.record_calendar_write(
            c,
            &WriteResult::Done {
                remote: written.clone(),
                refreshed: None,
            },
            at,
        )
        .await
        .unwrap();
    }
    let again = s
        .claim_calendar_writes(plus(now(), 2), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "only the moved booking is due again");
    let again = &again[0];
    assert_eq!(again.booking_id, b.id);
    assert!(again.version > for_b.version);
    assert_eq!(again.remote, written, "what the first write left");

    // A failure: retried at its time, shown on the connection.
    s.record_calendar_write(
        again,
        &WriteResult::Failed {
            error: "Google Calendar answered 403 Forbidden".into(),
            retry_at: Some(plus(now(), 10)),
        },
        plus(now(), 2),
    )
    .await
    .unwrap();
    let listed = s
        .list_calendars(&a.account, &a.default_provider)
        .await
        .unwrap();
    let shown = listed.iter().find(|c| c.id == writer.id).unwrap();
    assert_eq!(
        shown.last_write_error.as_deref(),
        Some("Google Calendar answered 403 Forbidden")
    );
    assert!(
        listed
            .iter()
            .find(|c| c.id == reader.id)
            .unwrap()
            .last_write_error
            .is_none()
    );
    assert!(
        s.claim_calendar_writes(plus(now(), 9), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let retry = s
        .claim_calendar_writes(plus(now(), 10), lease, 10)
        .await
        .unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].attempts, 1);

    // Removed: the row goes, the error clears.
    s.record_calendar_write(
        &retry[0],
        &WriteResult::Done {
            remote: RemoteEvent::default(),
            refreshed: None,
        },
        plus(now(), 10),
    )
    .await
    .unwrap();
    assert!(
        s.claim_calendar_writes(plus(now(), 100), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let listed = s
        .list_calendars(&a.account, &a.default_provider)
        .await
        .unwrap();
    assert!(listed.iter().all(|c| c.last_write_error.is_none()));
    // Deleting the connection drops its queue.
    let mut cancelled = moved.clone();
    cancelled.status = BookingStatus::Cancelled;
    cancelled.updated_at = plus(now(), 20);
    s.update_booking(&moved, &cancelled, &[]).await.unwrap();
    assert!(
        s.delete_calendar(&a.account, &a.default_provider, &writer.id)
            .await
            .unwrap()
    );
    assert!(
        s.claim_calendar_writes(plus(now(), 100), lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// One claim of writes for two writing connections (two tenants, each
/// with its own credentials): every claimed write carries its own
/// connection, opened, however the batch interleaves them (a claim opens
/// each connection's credentials once and shares them within the batch).
pub async fn one_claim_gives_each_write_its_own_connection<S: CalendarTestStore>(s: &S) {
    use super::fixtures::{booking, event, service};
    use booking_domain::{BookingStatus, EventKind};

    let mut writers = Vec::new();
    let mut bookings = Vec::new();
    for (name, token) in [("acme", "token-acme"), ("globex", "token-globex")] {
        let tenant = tenant(s, name).await;
        let svc = service(&tenant.account, &tenant.default_provider, 0, 0);
        s.create_service(&svc).await.unwrap();
        let mut source = google();
        if let CalendarSource::Google { credentials, .. } = &mut source {
            credentials.access_token = Some(token.into());
        }
        let mut writer = connection(&tenant.account, &tenant.default_provider, source);
        writer.write = true;
        assert!(s.create_calendar_within(&writer, 10).await.unwrap());
        writers.push(writer);
        for hour in 9..12 {
            let at = t(&format!("2030-01-07T{hour:02}:00:00Z"));
            let b = booking(&svc, at, BookingStatus::Confirmed);
            s.insert_booking(&b, &[event(EventKind::Created, &b, None)])
                .await
                .unwrap();
            bookings.push((b.id.clone(), writers.len() - 1));
        }
    }
    let lease = SignedDuration::from_secs(60);
    let claimed = s
        .claim_calendar_writes(plus(now(), 1), lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), bookings.len());
    for (booking, writer) in &bookings {
        let write = claimed
            .iter()
            .find(|c| &c.booking_id == booking)
            .unwrap_or_else(|| panic!("{booking} claimed"));
        assert_eq!(write.connection, writers[*writer], "{booking}");
    }
}

/// A batch of results stored at once (`record_calendar_writes`, as the
/// worker stores them; on Postgres the writes that made an event go in one
/// statement): each row ends as its own result alone would leave it. An
/// event written for a booking that moved since its claim leaves the row
/// due with the written event remembered; a failure is retried at its
/// time; a removal drops the row.
pub async fn a_batch_of_results_leaves_each_row_as_its_result<S: CalendarTestStore>(s: &S) {
    use booking_domain::ports::WriteResult;
    use booking_domain::{BookingStatus, EventKind, RemoteEvent};

    use super::fixtures::{booking, event, service};

    let a = tenant(s, "acme").await;
    let svc = service(&a.account, &a.default_provider, 0, 0);
    s.create_service(&svc).await.unwrap();
    let mut writer = connection(&a.account, &a.default_provider, google());
    writer.write = true;
    assert!(s.create_calendar_within(&writer, 10).await.unwrap());
    let mut bookings = Vec::new();
    for hour in 9..13 {
        let b = booking(
            &svc,
            t(&format!("2030-01-07T{hour:02}:00:00Z")),
            BookingStatus::Confirmed,
        );
        s.insert_booking(&b, &[event(EventKind::Created, &b, None)])
            .await
            .unwrap();
        bookings.push(b);
    }
    // An hour (the fixtures' `plus` counts minutes): no lease ends
    // before the last claim but one.
    let lease = SignedDuration::from_secs(3600);
    let claimed = s
        .claim_calendar_writes(plus(now(), 1), lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4);
    let of = |b: &booking_domain::Booking| {
        claimed
            .iter()
            .find(|c| c.booking_id == b.id)
            .unwrap()
            .clone()
    };
    // The second booking moves while its write is out.
    reschedule(s, &bookings[1], "2030-01-08T15:00:00Z").await;
    let written = |n: u32| RemoteEvent {
        written: true,
        id: Some(format!("evt-{n}")),
        etag: Some(format!("\"{n}\"")),
    };
    let results = vec![
        (
            of(&bookings[0]),
            WriteResult::Done {
                remote: written(0),
                refreshed: None,
            },
        ),
        (
            of(&bookings[1]),
            WriteResult::Done {
                remote: written(1),
                refreshed: None,
            },
        ),
        (
            of(&bookings[2]),
            WriteResult::Failed {
                error: "CalDAV server answered 507 Insufficient Storage".into(),
                retry_at: Some(plus(now(), 10)),
            },
        ),
        (
            of(&bookings[3]),
            WriteResult::Done {
                remote: RemoteEvent::default(),
                refreshed: None,
            },
        ),
    ];
    s.record_calendar_writes(&results, plus(now(), 1))
        .await
        .unwrap();

    let again = s
        .claim_calendar_writes(plus(now(), 2), lease, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1, "only the moved booking is due: {again:?}");
    assert_eq!(again[0].booking_id, bookings[1].id);
    assert_eq!(again[0].remote, written(1), "its event remembered");
    assert_eq!(again[0].attempts, 0);
    let retry = s
        .claim_calendar_writes(plus(now(), 10), lease, 10)
        .await
        .unwrap();
    assert_eq!(retry.len(), 1, "the failure at its time: {retry:?}");
    assert_eq!(retry[0].booking_id, bookings[2].id);
    assert_eq!(retry[0].attempts, 1);
    assert_eq!(retry[0].remote, RemoteEvent::default());
    let listed = s
        .list_calendars(&a.account, &a.default_provider)
        .await
        .unwrap();
    assert_eq!(
        listed[0].last_write_error.as_deref(),
        None,
        "the batch's last result for the connection succeeded"
    );
    // The first booking's row stays (its event exists) but is not due;
    // cancelling it makes it due again with what the batch stored.
    let mut cancelled = bookings[0].clone();
    cancelled.status = BookingStatus::Cancelled;
    cancelled.updated_at = plus(now(), 20);
    s.update_booking(&bookings[0], &cancelled, &[])
        .await
        .unwrap();
    let removal = s
        .claim_calendar_writes(plus(now(), 400), lease, 10)
        .await
        .unwrap();
    let first = removal
        .iter()
        .find(|c| c.booking_id == bookings[0].id)
        .expect("the cancelled booking's row due");
    assert_eq!(first.remote, written(0));
    assert!(
        removal.iter().all(|c| c.booking_id != bookings[3].id),
        "the removed event's row is gone"
    );
}

/// Moves `b` to `to` (one minute after the fixtures' now, its first
/// reschedule), as a booking write with its event; returns it moved.
async fn reschedule<S: CalendarTestStore>(
    s: &S,
    b: &booking_domain::Booking,
    to: &str,
) -> booking_domain::Booking {
    use booking_domain::EventKind;

    use super::fixtures::event;

    let mut moved = b.clone();
    moved.scheduled_at = t(to);
    moved.updated_at = plus(now(), 1);
    moved.sequence = 1;
    s.update_booking(
        b,
        &moved,
        &[event(EventKind::Rescheduled, &moved, Some(b.scheduled_at))],
    )
    .await
    .unwrap();
    moved
}
