//! Rate-limit answers the suite did not see: the IETF RateLimit headers on
//! 400 and 409 answers of `POST /v1/bookings`, and `Retry-After` on a 429
//! of `POST /v1/calendar/sync`.

use booking_tests::{TestServer, booking_body, future_monday, ny};
use serde_json::json;

/// `(r, t)` of `RateLimit: "<name>";r=<n>;t=<n>`.
#[track_caller]
#[tokio::test(flavor = "multi_thread")]
async fn bookings_400_and_409_answers_carry_the_ratelimit_headers() {
    // Per hour, so that no request is given back while the test runs.
    let server = TestServer::start_with(&[("BOOKING_RATE_BOOKINGS", "6/hour")]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let monday = future_monday();
    let policy = Some("\"bookings\";q=6;w=3600");

    let created = api
        .book("srv_consultation", &ny(monday, 9, 0))
        .await
        .expect_status(201);
    let conflict = api.book("srv_consultation", &ny(monday, 9, 0)).await;
    conflict.expect_error(409, "BOOKING_CONFLICT");
    let mut bad_email = booking_body("srv_consultation", &ny(monday, 10, 0));
    bad_email["customer"]["email"] = json!("not-an-email");
    let invalid = api.post("/v1/bookings", &bad_email).await;
    assert_eq!(invalid.expect_validation(), "customer.email");
    let malformed = api.post_raw("/v1/bookings", "{\"service\": ").await;
    malformed.expect_error(400, "VALIDATION_ERROR");

    // Every one of them counts, and says so.
    let mut remaining = Vec::new();
    for res in [&created, &conflict, &invalid, &malformed] {
        assert_eq!(
            res.header("ratelimit-policy"),
            policy,
            "{}: {:?}",
            res.status,
            res.headers
        );
        let (r, t) = res.rate_limit("bookings");
        assert!((1..=3600).contains(&t), "{}: t={t}", res.status);
        remaining.push(r);
    }
    assert_eq!(remaining, [5, 4, 3, 2]);

    // Answers given before the limiter is asked (the request never counts)
    // carry both headers too: the key's state as it stands.
    let first = booking_body("srv_consultation", &ny(monday, 11, 0));
    let reused = api.book_idempotent("k", &first).await.expect_status(201);
    assert_eq!(reused.rate_limit("bookings").0, 1);
    let replay = api.book_idempotent("k", &first).await.expect_status(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("ratelimit-policy"), policy);
    assert_eq!(replay.rate_limit("bookings").0, 1);
    let mismatch = api
        .book_idempotent("k", &booking_body("srv_consultation", &ny(monday, 12, 0)))
        .await;
    mismatch.expect_error(409, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(mismatch.header("ratelimit-policy"), policy);
    assert_eq!(mismatch.rate_limit("bookings").0, 1);
    let long_key = api
        .book_idempotent(
            &"k".repeat(256),
            &booking_body("srv_consultation", &ny(monday, 12, 0)),
        )
        .await;
    long_key.expect_validation_of("Idempotency-Key");
    assert_eq!(long_key.header("ratelimit-policy"), policy);
    assert_eq!(long_key.rate_limit("bookings").0, 1);
    // Without a valid key there is no key's state: the policy alone.
    let anonymous = server
        .api_with_key("sk_wrong", "key_wrong")
        .post(
            "/v1/bookings",
            &booking_body("srv_consultation", &ny(monday, 12, 0)),
        )
        .await;
    anonymous.expect_error(401, "UNAUTHORIZED");
    assert_eq!(anonymous.header("ratelimit-policy"), policy);
    assert_eq!(anonymous.header("ratelimit"), None);
    // A hold refused for its body has not counted either.
    let bad_hold = api.post("/v1/holds", &json!({"service": 5})).await;
    bad_hold.expect_validation_of("service");
    assert_eq!(bad_hold.header("ratelimit-policy"), policy);
    assert_eq!(bad_hold.rate_limit("bookings").0, 1);

    // The uncounted answers left the budget as it was: one request left.
    let last = api
        .book("srv_consultation", &ny(monday, 13, 0))
        .await
        .expect_status(201);
    assert_eq!(last.rate_limit("bookings").0, 0);
    let limited = api.book("srv_consultation", &ny(monday, 14, 0)).await;
    limited.expect_error(429, "RATE_LIMITED");
    assert_eq!(limited.header("ratelimit-policy"), policy);
    assert_eq!(limited.rate_limit("bookings").0, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn calendar_sync_429_carries_retry_after() {
    let server = TestServer::start_with(&[("BOOKING_RATE_CALENDAR_SYNC", "1/hour")]);
    let api = server.api("acme");
    let policy = Some("\"calendar_sync\";q=1;w=3600");

    let refused = api.post("/v1/calendar/sync", &json!({"all": true})).await;
    refused.expect_validation_of("all");
    assert_eq!(refused.header("ratelimit-policy"), policy);
    assert_eq!(refused.rate_limit("calendar_sync").0, 1);
    let first = api.post_empty("/v1/calendar/sync").await.expect_status(200);
    assert_eq!(first.json, json!({"data": []}));
    assert_eq!(first.header("ratelimit-policy"), policy);
    assert_eq!(first.rate_limit("calendar_sync").0, 0);

    let limited = api.post_empty("/v1/calendar/sync").await;
    let details = limited.expect_error(429, "RATE_LIMITED");
    let retry_after: u64 = limited
        .header("retry-after")
        .unwrap_or_else(|| panic!("no Retry-After: {:?}", limited.headers))
        .parse()
        .expect("Retry-After is whole seconds");
    // One sync an hour: the next one is allowed about an hour after the first.
    assert!(
        (3500..=3600).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    assert_eq!(details["retry_after"].as_u64(), Some(retry_after));
    assert_eq!(details["limit"], "1/3600s", "{}", limited.text());
    assert_eq!(limited.header("ratelimit-policy"), policy);
    assert_eq!(limited.rate_limit("calendar_sync").0, 0);

    // Per key: another key of the same account may sync.
    let other = server.api("acme");
    other
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200);
}
