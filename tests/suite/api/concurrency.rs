//! Concurrent bookings of one provider: exactly one wins each overlap.

use booking_tests::{future_monday, ny, overlaps, ts};
use futures_util::future::join_all;

use super::setup_seed;

#[tokio::test(flavor = "multi_thread")]
async fn fifty_requests_for_one_slot_make_exactly_one_booking() {
    let (_server, api) = setup_seed().await;
    let at = ny(future_monday(), 10, 0);
    let answers = join_all((0..50).map(|_| {
        let api = api.clone();
        let at = at.clone();
        async move { api.book("srv_consultation", &at).await }
    }))
    .await;
    let created: Vec<_> = answers
        .iter()
        .filter(|r| r.status.as_u16() == 201)
        .collect();
    assert_eq!(created.len(), 1, "exactly one 201");
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        res.expect_error(409, "BOOKING_CONFLICT");
    }
    let list = api.list_all("/v1/bookings", 200).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], created[0].json["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_requests_never_make_overlapping_bookings() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    // 09:00, 09:15, ... 13:45 local on a 60-minute service: most overlap.
    let starts: Vec<String> = (0..20)
        .map(|i| ny(monday, 9 + i / 4, (i % 4) * 15))
        .collect();
    let answers = join_all(starts.iter().map(|at| {
        let api = api.clone();
        let at = at.clone();
        async move { (at.clone(), api.book("srv_consultation", &at).await) }
    }))
    .await;
    let mut won = Vec::new();
    for (at, res) in &answers {
        if res.status.as_u16() == 201 {
            assert_eq!(res.json["scheduled_at"], at.as_str());
            won.push(ts(at));
        } else {
            res.expect_error(409, "BOOKING_CONFLICT");
        }
    }
    assert!(!won.is_empty(), "at least one request succeeds");
    for (i, a) in won.iter().enumerate() {
        for b in &won[i + 1..] {
            assert!(
                !overlaps(*a, 60, *b, 60),
                "overlapping bookings at {a} and {b}"
            );
        }
    }
    let stored = api.list_all("/v1/bookings", 200).await;
    assert_eq!(stored.len(), won.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_reschedules_onto_one_slot_leave_exactly_one_there() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let mut ids = Vec::new();
    for h in 9..16 {
        let b = api
            .book_ok(
                "srv_consultation",
                &ny(booking_tests::add_days(monday, 1), h, 0),
            )
            .await;
        ids.push(b["id"].as_str().expect("id").to_owned());
    }
    let target = ny(monday, 10, 0);
    let answers = join_all(ids.iter().map(|id| {
        let api = api.clone();
        let path = format!("/v1/bookings/{id}/reschedule");
        let body = serde_json::json!({"scheduled_at": target});
        async move { api.post(&path, &body).await }
    }))
    .await;
    let moved = answers.iter().filter(|r| r.status.as_u16() == 200).count();
    assert_eq!(moved, 1, "exactly one reschedule wins");
    for res in answers.iter().filter(|r| r.status.as_u16() != 200) {
        res.expect_error(409, "BOOKING_CONFLICT");
    }
    let there = api
        .list_all(
            &format!("/v1/bookings?from={target}&to={}", ny(monday, 11, 0)),
            200,
        )
        .await;
    assert_eq!(there.len(), 1, "{there:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_with_one_idempotency_key_make_one_booking() {
    let (_server, api) = setup_seed().await;
    let body = booking_tests::booking_body("srv_consultation", &ny(future_monday(), 9, 0));
    let answers = join_all((0..10).map(|_| {
        let api = api.clone();
        let body = body.clone();
        async move { api.book_idempotent("same-key", &body).await }
    }))
    .await;
    let created: Vec<_> = answers
        .iter()
        .filter(|r| r.status.as_u16() == 201)
        .collect();
    assert!(!created.is_empty(), "at least the first answer is a 201");
    for res in &created {
        assert_eq!(res.bytes, created[0].bytes, "every 201 is the same answer");
    }
    for res in answers.iter().filter(|r| r.status.as_u16() != 201) {
        // Still in flight: retry later. Never a conflict with itself.
        res.expect_error(409, "IDEMPOTENCY_KEY_REUSED");
    }
    let list = api.list_all("/v1/bookings", 200).await;
    assert_eq!(list.len(), 1, "{list:?}");
    // Once settled, the key replays the booking.
    let replay = api
        .book_idempotent("same-key", &body)
        .await
        .expect_status(201);
    assert_eq!(replay.bytes, created[0].bytes);
}
