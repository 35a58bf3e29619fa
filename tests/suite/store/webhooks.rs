//! The webhook part of the store contract: every MUST of `WebhookStore`,
//! `DeliveryQueue`, the outbox rule of `insert_booking`/`update_booking`,
//! and `BookingStore::due_for_completion`, written against the port traits
//! only (run by `sqlite.rs` and `postgres.rs`).

use std::collections::HashSet;
use std::time::Duration;

use booking_domain::ports::{
    AttemptResult, ClaimedDelivery, CreateBookingError, DeliveryOutcome, DeliveryQueue,
    PageRequest, UpdateBookingError, WebhookStore,
};
use booking_domain::{
    AccountId, Attempt, Booking, BookingEvent, BookingStatus, Delivery, DeliveryId, DeliveryState,
    EventKind, EventSet, IdKind, Service, WebhookEndpoint, WebhookId,
};
use jiff::{SignedDuration, Timestamp};

use super::contract::{Store, all, walk, with_service};
use super::fixtures::{booking, event, id, now, plus, t, tenant};

/// Everything the webhook contract needs of a store.
pub trait WebhookTestStore: Store + WebhookStore + DeliveryQueue {}

impl<T> WebhookTestStore for T where T: Store + WebhookStore + DeliveryQueue {}

/// How long a test waits for something that should happen at once.
const SOON: Duration = Duration::from_secs(5);

/// A lease long enough to outlast a test.
fn lease() -> SignedDuration {
    SignedDuration::from_mins(5)
}

/// A (not yet stored) endpoint of `account`.
pub fn endpoint(account: &AccountId, events: EventSet, enabled: bool) -> WebhookEndpoint {
    WebhookEndpoint {
        id: WebhookId::from_trusted(id(IdKind::Webhook)),
        account_id: account.clone(),
        url: "https://hooks.example.com/booking?token=t0k3n".to_owned(),
        events,
        description: Some("CRM sync".to_owned()),
        enabled,
        secret: "whsec_c2VjcmV0".to_owned(),
        previous_secret: None,
        previous_secret_expires_at: None,
        created_at: now(),
        updated_at: now(),
    }
}

/// A stored endpoint of `account`.
pub async fn stored_endpoint<S: WebhookTestStore>(
    s: &S,
    account: &AccountId,
    events: EventSet,
    enabled: bool,
) -> WebhookEndpoint {
    let e = endpoint(account, events, enabled);
    s.create_webhook(&e).await.unwrap();
    e
}

/// Start of the `i`-th two-hour slot from 2030-01-07 00:00 (no two overlap).
fn slot(i: i64) -> Timestamp {
    plus(t("2030-01-07T00:00:00Z"), i * 120)
}

/// Inserts a booking of `svc` in slot `i` with its `created` event at `at`
/// (so its deliveries are due at `at`).
pub async fn queue<S: WebhookTestStore>(
    s: &S,
    svc: &Service,
    i: i64,
    at: Timestamp,
) -> (Booking, BookingEvent) {
    let mut b = booking(svc, slot(i), BookingStatus::Pending);
    b.updated_at = at;
    let e = event(EventKind::Created, &b, None);
    s.insert_booking(&b, std::slice::from_ref(&e))
        .await
        .unwrap();
    (b, e)
}

/// Every delivery of an endpoint, newest first.
pub(super) async fn deliveries<S: WebhookTestStore>(s: &S, e: &WebhookEndpoint) -> Vec<Delivery> {
    s.list_deliveries(&e.account_id, &e.id, all(200))
        .await
        .unwrap()
        .items
}

/// The only delivery of an endpoint.
async fn only_delivery<S: WebhookTestStore>(s: &S, e: &WebhookEndpoint) -> Delivery {
    let mut all = deliveries(s, e).await;
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn attempt(at: Timestamp, status_code: Option<u16>) -> Attempt {
    Attempt {
        at,
        status_code,
        error: status_code
            .is_none()
            .then(|| "connection refused".to_owned()),
        duration_ms: 42,
    }
}

fn result(d: &DeliveryId, at: Timestamp, outcome: DeliveryOutcome) -> AttemptResult {
    let status = match outcome {
        DeliveryOutcome::Succeeded => Some(200),
        DeliveryOutcome::RetryAt(_) => Some(503),
        DeliveryOutcome::Failed => None,
    };
    AttemptResult {
        delivery: d.clone(),
        attempt: attempt(at, status),
        outcome,
        disable_endpoint: false,
    }
}

fn ids(claimed: &[ClaimedDelivery]) -> Vec<DeliveryId> {
    claimed.iter().map(|c| c.id.clone()).collect()
}

// ---------------------------------------------------------------- endpoints

pub async fn webhooks_round_trip_and_are_isolated<S: WebhookTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let mut e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    assert_eq!(
        s.get_webhook(&a.account, &e.id).await.unwrap(),
        Some(e.clone())
    );
    // Another account sees nothing of it.
    assert_eq!(s.get_webhook(&b.account, &e.id).await.unwrap(), None);
    assert!(
        s.list_webhooks(&b.account, all(200))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(
        s.get_webhook(&a.account, &WebhookId::from_trusted("wh_missing"))
            .await
            .unwrap(),
        None
    );

    // Updates replace every field, nulls included; only the owner's row.
    let hijack = WebhookEndpoint {
        account_id: b.account.clone(),
        url: "https://evil.example.com/".to_owned(),
        ..e.clone()
    };
    assert!(!s.update_webhook(&hijack).await.unwrap());
    assert!(!s.delete_webhook(&b.account, &e.id).await.unwrap());
    e = e.rotated("whsec_bmV3".to_owned(), plus(now(), 1));
    e.events = EventSet::default().with(EventKind::Cancelled);
    e.description = None;
    e.enabled = false;
    assert!(s.update_webhook(&e).await.unwrap());
    assert_eq!(
        s.get_webhook(&a.account, &e.id).await.unwrap(),
        Some(e.clone())
    );
    e.previous_secret = None;
    e.previous_secret_expires_at = None;
    assert!(s.update_webhook(&e).await.unwrap());
    assert_eq!(
        s.get_webhook(&a.account, &e.id).await.unwrap(),
        Some(e.clone())
    );
    assert!(
        !s.update_webhook(&endpoint(&a.account, EventSet::all(), true))
            .await
            .unwrap()
    );

    // Lists: creation order, every page size.
    let mut expected = vec![e.id.clone()];
    for _ in 0..5 {
        expected.push(
            stored_endpoint(s, &a.account, EventSet::all(), true)
                .await
                .id,
        );
    }
    stored_endpoint(s, &b.account, EventSet::all(), true).await;
    for limit in [1, 2, 5, 6, 200] {
        let pages = walk(limit, |page| {
            let account = a.account.clone();
            async move { s.list_webhooks(&account, page).await.unwrap() }
        })
        .await;
        let listed: Vec<WebhookId> = pages.into_iter().flatten().map(|e| e.id).collect();
        assert_eq!(listed, expected, "limit {limit}");
    }

    // Deleting: Ok(true) once, then Ok(false); gone from reads and lists.
    assert!(s.delete_webhook(&a.account, &e.id).await.unwrap());
    assert!(!s.delete_webhook(&a.account, &e.id).await.unwrap());
    assert_eq!(s.get_webhook(&a.account, &e.id).await.unwrap(), None);
    let listed = s.list_webhooks(&a.account, all(200)).await.unwrap().items;
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|x| x.id != e.id));
}

pub async fn deleting_an_endpoint_deletes_its_deliveries<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    let keep = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    queue(s, &svc, 0, now()).await;
    queue(s, &svc, 1, now()).await;
    assert_eq!(s.pending_deliveries().await.unwrap(), 4);
    // One of them with an attempt in its log.
    let claimed = s.claim_deliveries("w1", now(), lease(), 200).await.unwrap();
    let mine = claimed.iter().find(|c| c.endpoint.id == e.id).unwrap();
    s.record_attempts(
        "w1",
        &[result(
            &mine.id,
            now(),
            DeliveryOutcome::RetryAt(plus(now(), 1)),
        )],
    )
    .await
    .unwrap();

    assert!(s.delete_webhook(&a.account, &e.id).await.unwrap());
    assert_eq!(s.pending_deliveries().await.unwrap(), 2);
    assert_eq!(deliveries(s, &keep).await.len(), 2);
    // An endpoint created again under the same id starts with an empty log.
    s.create_webhook(&e).await.unwrap();
    assert!(deliveries(s, &e).await.is_empty());
    assert!(
        s.redeliver(&a.account, &e.id, &mine.id, now())
            .await
            .unwrap()
            .is_none()
    );
    // Nothing of it can be claimed (the other endpoint's are still leased).
    assert!(
        s.claim_deliveries("w2", plus(now(), 2), lease(), 200)
            .await
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------- fan-out

pub async fn bookings_queue_one_delivery_per_subscribed_enabled_endpoint<S: WebhookTestStore>(
    s: &S,
) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let (other, other_svc) = with_service(s, "globex", 0, 0).await;
    let everything = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    let cancellations = stored_endpoint(
        s,
        &a.account,
        EventSet::default().with(EventKind::Cancelled),
        true,
    )
    .await;
    let disabled = stored_endpoint(s, &a.account, EventSet::all(), false).await;
    let theirs = stored_endpoint(s, &other.account, EventSet::all(), true).await;
    assert_eq!(s.pending_deliveries().await.unwrap(), 0);

    // A new booking: one delivery, to the endpoint subscribed to `created`.
    let before_ms = jiff::Timestamp::now().as_millisecond();
    let (b, created) = queue(s, &svc, 0, now()).await;
    let after_ms = jiff::Timestamp::now().as_millisecond();
    let d = only_delivery(s, &everything).await;
    // Its id: the queuing time in milliseconds (12 hex digits, so ids sort
    // by it), then at least 96 random bits (24 hex digits or more).
    let hex = d.id.as_str().strip_prefix("whd_").expect("whd_ prefix");
    assert!(
        hex.len() >= 36 && hex.chars().all(|c| c.is_ascii_hexdigit()),
        "{}",
        d.id
    );
    let queued_ms = i64::from_str_radix(&hex[..12], 16).unwrap();
    assert!(
        (before_ms..=after_ms).contains(&queued_ms),
        "{} not queued between {before_ms} and {after_ms}",
        d.id
    );
    assert_eq!(d.account_id, a.account);
    assert_eq!(d.endpoint_id, everything.id);
    assert_eq!(d.event_id, created.id);
    assert_eq!(d.event, EventKind::Created);
    assert_eq!(d.state, DeliveryState::Pending);
    assert_eq!(d.next_attempt_at, Some(created.created_at));
    assert_eq!(d.created_at, created.created_at);
    assert!(d.attempts.is_empty());
    assert!(d.id.as_str().starts_with("whd_"), "{}", d.id);
    assert!(deliveries(s, &cancellations).await.is_empty());
    assert!(deliveries(s, &disabled).await.is_empty());
    assert!(deliveries(s, &theirs).await.is_empty());
    assert_eq!(s.pending_deliveries().await.unwrap(), 1);

    // An update: its event goes to both subscribed endpoints.
    let cancelled = b.cancel(Some("ill".to_owned()), plus(now(), 1)).unwrap();
    let cancel_event = event(EventKind::Cancelled, &cancelled, None);
    s.update_booking(&b, &cancelled, std::slice::from_ref(&cancel_event))
        .await
        .unwrap();
    let listed = deliveries(s, &everything).await;
    assert_eq!(
        listed.iter().map(|d| d.event).collect::<Vec<_>>(),
        [EventKind::Cancelled, EventKind::Created],
        "newest first"
    );
    assert_eq!(listed[0].next_attempt_at, Some(plus(now(), 1)));
    let d = only_delivery(s, &cancellations).await;
    assert_eq!(
        (d.event_id, d.event),
        (cancel_event.id.clone(), EventKind::Cancelled)
    );
    assert!(deliveries(s, &disabled).await.is_empty());
    assert_eq!(s.pending_deliveries().await.unwrap(), 3);

    // Several events in one change: one delivery each.
    let mut two = booking(&svc, slot(1), BookingStatus::Confirmed);
    two.updated_at = plus(now(), 2);
    let events = [
        event(EventKind::Created, &two, None),
        event(EventKind::Confirmed, &two, None),
    ];
    s.insert_booking(&two, &events).await.unwrap();
    let listed = deliveries(s, &everything).await;
    assert_eq!(listed.len(), 4);
    let mut queued: Vec<_> = listed[..2].iter().map(|d| d.event_id.clone()).collect();
    queued.sort();
    let mut expected: Vec<_> = events.iter().map(|e| e.id.clone()).collect();
    expected.sort();
    assert_eq!(queued, expected);
    assert_eq!(s.pending_deliveries().await.unwrap(), 5);

    // A refused insert or update queues nothing.
    let clash = booking(&svc, slot(1), BookingStatus::Pending);
    assert!(matches!(
        s.insert_booking(&clash, &[event(EventKind::Created, &clash, None)])
            .await,
        Err(CreateBookingError::Conflict)
    ));
    let again = b.cancel(None, plus(now(), 3)).unwrap();
    assert!(matches!(
        s.update_booking(&b, &again, &[event(EventKind::Cancelled, &again, None)])
            .await,
        Err(UpdateBookingError::Stale)
    ));
    assert_eq!(s.pending_deliveries().await.unwrap(), 5);
    assert_eq!(deliveries(s, &everything).await.len(), 4);

    // The other account's bookings go to its own endpoint only.
    queue(s, &other_svc, 0, now()).await;
    assert_eq!(only_delivery(s, &theirs).await.account_id, other.account);
    assert_eq!(deliveries(s, &everything).await.len(), 4);
    assert_eq!(s.pending_deliveries().await.unwrap(), 6);
}

// ---------------------------------------------------------------- claims

pub async fn claims_carry_the_endpoint_and_the_event<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    let (b, created) = queue(s, &svc, 0, now()).await;
    let claimed = s.claim_deliveries("w1", now(), lease(), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let c = &claimed[0];
    assert_eq!(c.id, only_delivery(s, &e).await.id);
    assert_eq!(c.endpoint, e);
    assert_eq!(c.event, created);
    assert_eq!(c.event.booking, b);
    assert_eq!(c.round_attempts, 0);
    // The endpoint as it stands at the claim, not when the event happened.
    let rotated = e.rotated("whsec_bmV3".to_owned(), plus(now(), 1));
    assert!(s.update_webhook(&rotated).await.unwrap());
    let again = s
        .claim_deliveries("w2", plus(now(), 2), lease(), 10)
        .await
        .unwrap();
    assert!(again.is_empty(), "still leased");
    let after_lease = plus(now(), 6);
    let again = s
        .claim_deliveries("w2", after_lease, lease(), 10)
        .await
        .unwrap();
    assert_eq!(ids(&again), ids(&claimed));
    assert_eq!(again[0].endpoint, rotated);
}

pub async fn claims_take_due_deliveries_earliest_first_once_per_lease<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    // Due at now+3, now+1, now+2 and (not yet) now+18.
    let (_, third) = queue(s, &svc, 0, plus(now(), 3)).await;
    let (_, first) = queue(s, &svc, 1, plus(now(), 1)).await;
    let (_, second) = queue(s, &svc, 2, plus(now(), 2)).await;
    let (_, future) = queue(s, &svc, 3, plus(now(), 18)).await;
    let delivery_of = |listed: &[Delivery], ev: &BookingEvent| {
        listed
            .iter()
            .find(|d| d.event_id == ev.id)
            .map(|d| d.id.clone())
            .unwrap()
    };
    let listed = deliveries(s, &e).await;
    let (d1, d2, d3, d4) = (
        delivery_of(&listed, &first),
        delivery_of(&listed, &second),
        delivery_of(&listed, &third),
        delivery_of(&listed, &future),
    );

    // Nothing is due before the first.
    assert!(
        s.claim_deliveries("w1", now(), lease(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Earliest due first, at most `limit`.
    let at = plus(now(), 10);
    let claimed = s.claim_deliveries("w1", at, lease(), 2).await.unwrap();
    assert_eq!(ids(&claimed), [d1.clone(), d2.clone()]);
    // Claimed ones are not handed out again while the lease lasts.
    let claimed = s.claim_deliveries("w2", at, lease(), 10).await.unwrap();
    assert_eq!(ids(&claimed), std::slice::from_ref(&d3));
    assert!(
        s.claim_deliveries("w3", plus(now(), 14), lease(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Once a lease has passed (its worker died), they are claimable again.
    let expired = plus(now(), 16);
    let claimed = s
        .claim_deliveries("w3", expired, lease(), 10)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), [d1, d2, d3]);
    // The one due later comes when it is due.
    let claimed = s
        .claim_deliveries("w3", plus(now(), 18), lease(), 10)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), [d4]);
    // Still pending all along (claims are not outcomes).
    assert_eq!(s.pending_deliveries().await.unwrap(), 4);
}

pub async fn disabled_endpoints_get_nothing_claimed<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let mut e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    let live = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    queue(s, &svc, 0, now()).await;
    assert_eq!(s.pending_deliveries().await.unwrap(), 2);
    e.enabled = false;
    assert!(s.update_webhook(&e).await.unwrap());
    assert_eq!(s.pending_deliveries().await.unwrap(), 1);
    let claimed = s.claim_deliveries("w1", now(), lease(), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].endpoint.id, live.id);
    // Its queued delivery waits, and goes once the endpoint is enabled again.
    e.enabled = true;
    assert!(s.update_webhook(&e).await.unwrap());
    let claimed = s.claim_deliveries("w1", now(), lease(), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].endpoint.id, e.id);
}

// ---------------------------------------------------------------- attempts

pub async fn attempts_set_outcomes_and_join_the_log<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    for i in 0..3 {
        queue(s, &svc, i, plus(now(), i)).await;
    }
    let claimed = s
        .claim_deliveries("w1", plus(now(), 5), lease(), 10)
        .await
        .unwrap();
    let [ok, retry, failed] = &ids(&claimed)[..] else {
        panic!("{claimed:?}")
    };
    let at = plus(now(), 6);
    let retry_at = plus(now(), 20);
    let mut long_error = attempt(at, None);
    long_error.error = Some("x".repeat(2000));
    s.record_attempts(
        "w1",
        &[
            result(ok, at, DeliveryOutcome::Succeeded),
            result(retry, at, DeliveryOutcome::RetryAt(retry_at)),
            AttemptResult {
                delivery: failed.clone(),
                attempt: long_error,
                outcome: DeliveryOutcome::Failed,
                disable_endpoint: false,
            },
        ],
    )
    .await
    .unwrap();

    let listed = deliveries(s, &e).await;
    let find = |id: &DeliveryId| listed.iter().find(|d| &d.id == id).unwrap().clone();
    let d = find(ok);
    assert_eq!(
        (d.state, d.next_attempt_at),
        (DeliveryState::Succeeded, None)
    );
    assert_eq!(d.attempts, [attempt(at, Some(200))]);
    let d = find(retry);
    assert_eq!(
        (d.state, d.next_attempt_at),
        (DeliveryState::Pending, Some(retry_at))
    );
    assert_eq!(d.attempts, [attempt(at, Some(503))]);
    let d = find(failed);
    assert_eq!((d.state, d.next_attempt_at), (DeliveryState::Failed, None));
    assert_eq!(d.attempts.len(), 1);
    let error = d.attempts[0].error.as_deref().unwrap();
    assert!(
        error.len() <= 500 && error.starts_with("xxx"),
        "{}",
        error.len()
    );
    assert_eq!(s.pending_deliveries().await.unwrap(), 1);

    // Released: the retry is claimable when due (not before), counting one
    // attempt in its round; finished ones never come back.
    assert!(
        s.claim_deliveries("w2", plus(now(), 19), lease(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = s
        .claim_deliveries("w2", retry_at, lease(), 10)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), std::slice::from_ref(retry));
    assert_eq!(claimed[0].round_attempts, 1);
    let at2 = plus(now(), 21);
    s.record_attempts(
        "w2",
        &[result(
            retry,
            at2,
            DeliveryOutcome::RetryAt(plus(now(), 22)),
        )],
    )
    .await
    .unwrap();
    let claimed = s
        .claim_deliveries("w2", plus(now(), 22), lease(), 10)
        .await
        .unwrap();
    assert_eq!(claimed[0].round_attempts, 2);
    assert_eq!(
        find_delivery(s, &e, retry).await.attempts,
        [attempt(at, Some(503)), attempt(at2, Some(503))],
        "oldest first"
    );
    assert!(
        s.claim_deliveries("w3", plus(now(), 60), lease(), 10)
            .await
            .unwrap()
            .iter()
            .all(|c| &c.id == retry)
    );
    // Nothing to record is fine.
    s.record_attempts("w2", &[]).await.unwrap();
}

async fn find_delivery<S: WebhookTestStore>(
    s: &S,
    e: &WebhookEndpoint,
    id: &DeliveryId,
) -> Delivery {
    deliveries(s, e)
        .await
        .into_iter()
        .find(|d| &d.id == id)
        .unwrap()
}

pub async fn a_lost_claim_only_adds_its_attempt<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    queue(s, &svc, 0, now()).await;
    let short = SignedDuration::from_mins(1);
    let first = s.claim_deliveries("w1", now(), short, 10).await.unwrap();
    // w1 is too slow: its lease passes and w2 takes the delivery over.
    let second = s
        .claim_deliveries("w2", plus(now(), 2), lease(), 10)
        .await
        .unwrap();
    assert_eq!(ids(&first), ids(&second));
    let d = &first[0].id;
    s.record_attempts(
        "w1",
        &[result(d, plus(now(), 3), DeliveryOutcome::Succeeded)],
    )
    .await
    .unwrap();
    let listed = find_delivery(s, &e, d).await;
    assert_eq!(listed.attempts, [attempt(plus(now(), 3), Some(200))]);
    assert_eq!(
        listed.state,
        DeliveryState::Pending,
        "w1's result is ignored"
    );
    // w2 still holds it: no one else may claim it; w2's result counts.
    assert!(
        s.claim_deliveries("w3", plus(now(), 4), lease(), 10)
            .await
            .unwrap()
            .is_empty()
    );
    s.record_attempts("w2", &[result(d, plus(now(), 4), DeliveryOutcome::Failed)])
        .await
        .unwrap();
    let listed = find_delivery(s, &e, d).await;
    assert_eq!(listed.state, DeliveryState::Failed);
    assert_eq!(listed.attempts.len(), 2);
    // A second result for the same delivery in one batch finds it released.
    assert!(
        s.redeliver(&a.account, &e.id, d, plus(now(), 5))
            .await
            .unwrap()
            .is_some()
    );
    let claimed = s
        .claim_deliveries("w4", plus(now(), 5), lease(), 10)
        .await
        .unwrap();
    assert_eq!(ids(&claimed), std::slice::from_ref(d));
    s.record_attempts(
        "w4",
        &[
            result(d, plus(now(), 6), DeliveryOutcome::Succeeded),
            result(d, plus(now(), 7), DeliveryOutcome::Failed),
        ],
    )
    .await
    .unwrap();
    let listed = find_delivery(s, &e, d).await;
    assert_eq!(listed.state, DeliveryState::Succeeded);
    assert_eq!(listed.attempts.len(), 4);
}

pub async fn gone_receivers_disable_their_endpoint<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    let other = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    queue(s, &svc, 0, now()).await;
    queue(s, &svc, 1, plus(now(), 1)).await;
    let claimed = s
        .claim_deliveries("w1", plus(now(), 1), lease(), 1)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let gone = claimed[0].clone();
    s.record_attempts(
        "w1",
        &[AttemptResult {
            delivery: gone.id.clone(),
            attempt: attempt(plus(now(), 2), Some(410)),
            outcome: DeliveryOutcome::Failed,
            disable_endpoint: true,
        }],
    )
    .await
    .unwrap();
    let disabled = s
        .get_webhook(&a.account, &gone.endpoint.id)
        .await
        .unwrap()
        .unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.updated_at, plus(now(), 2));
    let still = if gone.endpoint.id == e.id { &other } else { &e };
    assert!(
        s.get_webhook(&a.account, &still.id)
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    // The disabled endpoint's other delivery waits; the other endpoint's go.
    assert_eq!(s.pending_deliveries().await.unwrap(), 2);
    let claimed = s
        .claim_deliveries("w1", plus(now(), 3), lease(), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|c| c.endpoint.id == still.id));
}

// ---------------------------------------------------------------- the log

pub async fn delivery_logs_page_newest_first<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let other = tenant(s, "globex").await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    let noise = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    let mut expected = Vec::new();
    for i in 0..7 {
        let (_, ev) = queue(s, &svc, i, now()).await;
        expected.push(ev.id);
    }
    expected.reverse();
    for limit in [1, 2, 3, 7, 200] {
        let pages = walk(limit, |page| {
            let (account, id) = (a.account.clone(), e.id.clone());
            async move { s.list_deliveries(&account, &id, page).await.unwrap() }
        })
        .await;
        let listed: Vec<_> = pages
            .into_iter()
            .flatten()
            .inspect(|d| assert_eq!(d.endpoint_id, e.id))
            .map(|d| d.event_id)
            .collect();
        assert_eq!(listed, expected, "limit {limit}");
    }
    assert_eq!(deliveries(s, &noise).await.len(), 7);
    // Another account, or an unknown endpoint, has an empty log.
    assert!(
        s.list_deliveries(&other.account, &e.id, all(200))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let page = s
        .list_deliveries(
            &a.account,
            &WebhookId::from_trusted("wh_missing"),
            PageRequest {
                limit: 10,
                after: None,
            },
        )
        .await
        .unwrap();
    assert!(page.items.is_empty() && page.next.is_none());
}

pub async fn redeliver_starts_a_new_round<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let other = tenant(s, "globex").await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    let sibling = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    queue(s, &svc, 0, now()).await;
    let d = only_delivery(s, &e).await.id;
    for round in 0..2 {
        let claimed = s.claim_deliveries("w1", now(), lease(), 10).await.unwrap();
        let mine: Vec<_> = claimed.iter().filter(|c| c.id == d).collect();
        assert_eq!(mine.len(), 1, "round {round}");
        s.record_attempts("w1", &[result(&d, now(), DeliveryOutcome::Failed)])
            .await
            .unwrap();
        let failed = find_delivery(s, &e, &d).await;
        assert_eq!(failed.state, DeliveryState::Failed);
        assert_eq!(failed.attempts.len(), round + 1);
        // Someone else's, or through another endpoint, or unknown: None.
        let later = plus(now(), 30);
        assert_eq!(
            s.redeliver(&other.account, &e.id, &d, later).await.unwrap(),
            None
        );
        assert_eq!(
            s.redeliver(&a.account, &sibling.id, &d, later)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.redeliver(
                &a.account,
                &e.id,
                &DeliveryId::from_trusted("whd_missing"),
                later
            )
            .await
            .unwrap(),
            None
        );
        assert_eq!(find_delivery(s, &e, &d).await.state, DeliveryState::Failed);
        assert!(
            s.claim_deliveries("w1", later, lease(), 10)
                .await
                .unwrap()
                .iter()
                .all(|c| c.id != d)
        );
        // Redelivered: pending, due now, a fresh round, its log kept.
        let again = s
            .redeliver(&a.account, &e.id, &d, now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.id, d);
        assert_eq!(again.state, DeliveryState::Pending);
        assert_eq!(again.next_attempt_at, Some(now()));
        assert_eq!(again.attempts.len(), round + 1);
        assert_eq!(again, find_delivery(s, &e, &d).await);
    }
    let claimed = s.claim_deliveries("w2", now(), lease(), 10).await.unwrap();
    let mine: Vec<_> = claimed.iter().filter(|c| c.id == d).collect();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].round_attempts, 0, "a fresh round");
}

// ---------------------------------------------------------------- waking

pub async fn queueing_wakes_the_waiting_workers<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    stored_endpoint(s, &a.account, EventSet::all(), true).await;
    // A worker already waiting when deliveries are queued: polling its wait
    // once registers it (where sleeping a little only made that likely).
    let mut waiter = s.wait_for_deliveries();
    let leftover = futures_util::poll!(&mut waiter).is_ready();
    queue(s, &svc, 0, now()).await;
    if leftover {
        // A wake-up left from setting up (Postgres' listener wakes the
        // workers when it connects) ended that wait; this one is woken by
        // the insert's, kept for it.
        tokio::time::timeout(SOON, s.wait_for_deliveries())
            .await
            .expect("an insert that queued deliveries wakes the waiter");
    } else {
        tokio::time::timeout(SOON, waiter)
            .await
            .expect("an insert that queued deliveries wakes the waiter");
    }
    // A wake-up that comes before the wait is kept for it.
    let (b, _) = queue(s, &svc, 1, now()).await;
    tokio::time::timeout(SOON, s.wait_for_deliveries())
        .await
        .expect("the wake-up was kept");
    // Updates wake too.
    let cancelled = b.cancel(None, plus(now(), 1)).unwrap();
    s.update_booking(
        &b,
        &cancelled,
        &[event(EventKind::Cancelled, &cancelled, None)],
    )
    .await
    .unwrap();
    tokio::time::timeout(SOON, s.wait_for_deliveries())
        .await
        .expect("an update that queued deliveries wakes");
}

// ---------------------------------------------------------------- completion

pub async fn due_for_completion_lists_ended_confirmed_bookings<S: WebhookTestStore>(s: &S) {
    let (_, svc) = with_service(s, "acme", 0, 0).await;
    let (_, other_svc) = with_service(s, "globex", 0, 0).await;
    let insert = |svc: &Service, i: i64, status: BookingStatus| {
        let b = booking(svc, slot(i), status);
        async move {
            s.insert_booking(&b, &[event(EventKind::Created, &b, None)])
                .await
                .unwrap();
            b
        }
    };
    // Slots 0..: each lasts 60 minutes from its start.
    let ended_third = insert(&svc, 2, BookingStatus::Confirmed).await;
    let ended_first = insert(&other_svc, 0, BookingStatus::Confirmed).await;
    let ended_second = insert(&svc, 1, BookingStatus::Confirmed).await;
    insert(&svc, 0, BookingStatus::Pending).await;
    let cancelled = insert(&svc, 3, BookingStatus::Confirmed).await;
    let c = cancelled.cancel(None, now()).unwrap();
    s.update_booking(&cancelled, &c, &[]).await.unwrap();
    let later = insert(&svc, 10, BookingStatus::Confirmed).await;

    let at = ended_third.end_at();
    let due = s.due_for_completion(at, 10).await.unwrap();
    assert_eq!(
        due,
        [
            ended_first.clone(),
            ended_second.clone(),
            ended_third.clone()
        ],
        "confirmed, ended (at or before now), every account, earliest end first"
    );
    let due = s.due_for_completion(at, 2).await.unwrap();
    assert_eq!(due, [ended_first.clone(), ended_second.clone()]);
    let just_before = ended_first
        .end_at()
        .checked_sub(SignedDuration::from_secs(1))
        .unwrap();
    assert!(
        s.due_for_completion(just_before, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Completed ones are done.
    let done = ended_first.complete(at).unwrap();
    s.update_booking(
        &ended_first,
        &done,
        &[event(EventKind::Completed, &done, None)],
    )
    .await
    .unwrap();
    let due = s.due_for_completion(later.end_at(), 10).await.unwrap();
    assert_eq!(due, [ended_second, ended_third, later]);
}

// ---------------------------------------------------------------- concurrency

/// `stores` all share one database: `loops` concurrent claim loops spread
/// over them drain `n` deliveries; each is claimed exactly once.
pub async fn concurrent_claims_never_overlap<S: WebhookTestStore>(
    stores: &[S],
    n: usize,
    loops: usize,
) {
    let first = &stores[0];
    let (a, svc) = with_service(first, "acme", 0, 0).await;
    // Two endpoints: every booking queues two deliveries.
    stored_endpoint(first, &a.account, EventSet::all(), true).await;
    stored_endpoint(first, &a.account, EventSet::all(), true).await;
    for i in 0..n / 2 {
        queue(first, &svc, i as i64, now()).await;
    }
    assert_eq!(first.pending_deliveries().await.unwrap(), n as u64);

    let tasks: Vec<_> = (0..loops)
        .map(|w| {
            let s = stores[w % stores.len()].clone();
            tokio::spawn(async move {
                let claimant = format!("w{w}");
                let mut mine = Vec::new();
                loop {
                    let claimed = s
                        .claim_deliveries(&claimant, now(), lease(), 7)
                        .await
                        .unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    let results: Vec<_> = claimed
                        .iter()
                        .map(|c| result(&c.id, now(), DeliveryOutcome::Succeeded))
                        .collect();
                    mine.extend(ids(&claimed));
                    // Half the batches are recorded, half left to their lease.
                    if mine.len() % 2 == 0 {
                        s.record_attempts(&claimant, &results).await.unwrap();
                    }
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for id in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(id.clone()), "{id} was claimed twice");
        }
    }
    assert_eq!(total, n);
    assert!(
        first
            .claim_deliveries("late", now(), lease(), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn finished_deliveries_are_purged_and_pending_ones_kept<S: WebhookTestStore>(s: &S) {
    let (a, svc) = with_service(s, "acme", 0, 0).await;
    let e = stored_endpoint(s, &a.account, EventSet::all(), true).await;
    for i in 0..3 {
        queue(s, &svc, i, plus(now(), i)).await;
    }
    let claimed = s
        .claim_deliveries("w1", plus(now(), 5), lease(), 10)
        .await
        .unwrap();
    let [ok, failed, pending] = &ids(&claimed)[..] else {
        panic!("{claimed:?}")
    };
    let at = plus(now(), 6);
    s.record_attempts(
        "w1",
        &[
            result(ok, at, DeliveryOutcome::Succeeded),
            result(failed, at, DeliveryOutcome::Failed),
            result(pending, at, DeliveryOutcome::RetryAt(plus(now(), 60))),
        ],
    )
    .await
    .unwrap();
    // Nothing finished before `at`: nothing goes.
    assert_eq!(s.purge_deliveries(at).await.unwrap(), 0);
    assert_eq!(deliveries(s, &e).await.len(), 3);
    // Later: the finished ones go with their attempts, the pending one stays.
    assert_eq!(s.purge_deliveries(plus(at, 1)).await.unwrap(), 2);
    let left = deliveries(s, &e).await;
    assert_eq!(left.len(), 1);
    assert_eq!(&left[0].id, pending);
    assert_eq!(left[0].state, DeliveryState::Pending);
    assert_eq!(s.purge_deliveries(plus(at, 1000)).await.unwrap(), 0);
}

/// `create_webhook_within`: at most `limit` endpoints per account, also
/// when creates race at `limit - 1`; other accounts count on their own.
pub async fn webhook_creates_stay_within_the_limit_under_concurrency<S: WebhookTestStore>(s: &S) {
    let a = tenant(s, "acme").await;
    let b = tenant(s, "globex").await;
    let limit = 5;
    for _ in 0..limit - 1 {
        let e = endpoint(&a.account, EventSet::all(), true);
        assert!(s.create_webhook_within(&e, limit).await.unwrap());
    }
    let racers: Vec<_> = (0..8)
        .map(|_| endpoint(&a.account, EventSet::all(), true))
        .collect();
    let won =
        futures_util::future::join_all(racers.iter().map(|e| s.create_webhook_within(e, limit)))
            .await;
    let won = won.into_iter().map(Result::unwrap).filter(|w| *w).count();
    assert_eq!(won, 1, "exactly one racing create fits under the limit");
    let page = PageRequest {
        limit: 200,
        after: None,
    };
    assert_eq!(
        s.list_webhooks(&a.account, page).await.unwrap().items.len(),
        limit as usize
    );
    let full = endpoint(&a.account, EventSet::all(), true);
    assert!(!s.create_webhook_within(&full, limit).await.unwrap());
    let other = endpoint(&b.account, EventSet::all(), true);
    assert!(s.create_webhook_within(&other, limit).await.unwrap());
}

/// `claim_deliveries_fairly`: skipped accounts get nothing, others at most
/// `per_account`, every account's first before any account's next, and no
/// delivery is handed out twice while its lease lasts.
pub async fn fair_delivery_claims_share_between_accounts<S: WebhookTestStore>(s: &S) {
    let (a, svc_a) = with_service(s, "acme", 0, 0).await;
    let (b, svc_b) = with_service(s, "globex", 0, 0).await;
    stored_endpoint(s, &a.account, EventSet::all(), true).await;
    stored_endpoint(s, &b.account, EventSet::all(), true).await;
    // A's five are all due before B's one.
    for i in 0..5 {
        queue(s, &svc_a, i, plus(now(), 1)).await;
    }
    queue(s, &svc_b, 0, plus(now(), 2)).await;
    let at = plus(now(), 10);
    let of = |claimed: &[ClaimedDelivery], acc: &AccountId| {
        claimed
            .iter()
            .filter(|c| c.endpoint.account_id == *acc)
            .count()
    };
    // B's one comes in the first three, though A's were due earlier.
    let first = s
        .claim_deliveries_fairly("w1", at, lease(), 3, 2, &[])
        .await
        .unwrap();
    assert_eq!((of(&first, &a.account), of(&first, &b.account)), (2, 1));
    // A skipped (at its share): nothing of A.
    let skipped = s
        .claim_deliveries_fairly("w1", at, lease(), 10, 2, std::slice::from_ref(&a.account))
        .await
        .unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let second = s
        .claim_deliveries_fairly("w2", at, lease(), 10, 2, &[])
        .await
        .unwrap();
    assert_eq!((of(&second, &a.account), of(&second, &b.account)), (2, 0));
    let third = s
        .claim_deliveries_fairly("w2", at, lease(), 10, 5, &[])
        .await
        .unwrap();
    assert_eq!(third.len(), 1);
    let all: HashSet<DeliveryId> = [first, second, third].iter().flat_map(|c| ids(c)).collect();
    assert_eq!(all.len(), 6, "no delivery is claimed twice");
}
