//! Rate limits on `POST /v1/bookings`: 429 with Retry-After, the IETF
//! RateLimit headers, per key.

use booking_tests::{TestServer, future_monday, ny};

#[tokio::test(flavor = "multi_thread")]
async fn over_the_limit_is_429_with_retry_after_and_headers() {
    let server = TestServer::start_with(&[("BOOKING_RATE_BOOKINGS", "3/minute")]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let monday = future_monday();

    // Three answers of any status count: a creation, a conflict, a validation error.
    let answers = [
        api.book("srv_consultation", &ny(monday, 9, 0))
            .await
            .expect_status(201),
        api.book("srv_consultation", &ny(monday, 9, 0)).await,
        api.book("srv_nope", &ny(monday, 10, 0)).await,
    ];
    answers[1].expect_error(409, "BOOKING_CONFLICT");
    answers[2].expect_error(422, "INVALID_SERVICE");
    let mut remaining = Vec::new();
    for res in &answers {
        assert_eq!(
            res.header("ratelimit-policy"),
            Some("\"bookings\";q=3;w=60"),
            "{:?}",
            res.headers
        );
        let (r, t) = res.rate_limit("bookings");
        assert!(t <= 60, "t={t}");
        remaining.push(r);
    }
    assert_eq!(remaining, [2, 1, 0]);

    let limited = api.book("srv_consultation", &ny(monday, 11, 0)).await;
    let details = limited.expect_error(429, "RATE_LIMITED");
    let retry_after: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(
        !details["limit"].is_null(),
        "details.limit: {}",
        limited.text()
    );
    assert_eq!(
        details["retry_after"].as_u64(),
        Some(retry_after),
        "{}",
        limited.text()
    );
    assert_eq!(
        limited.header("ratelimit-policy"),
        Some("\"bookings\";q=3;w=60")
    );
    assert_eq!(limited.rate_limit("bookings").0, 0);

    // Nothing was created by the refused request; other endpoints are not limited.
    let list = api.get("/v1/bookings").await.expect_status(200).json;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
    api.get("/v1/services").await.expect_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_are_per_key() {
    let server = TestServer::start_with(&[("BOOKING_RATE_BOOKINGS", "2/minute")]);
    let first = server.api("acme");
    let second = server.api("acme");
    let other_account = server.api("globex");
    first.create_seed_service().await;
    other_account.create_seed_service().await;
    let monday = future_monday();
    first.book_ok("srv_consultation", &ny(monday, 9, 0)).await;
    first.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    first
        .book("srv_consultation", &ny(monday, 11, 0))
        .await
        .expect_error(429, "RATE_LIMITED");
    // Another key of the same account has its own budget and sees the same data.
    let res = second
        .book("srv_consultation", &ny(monday, 11, 0))
        .await
        .expect_status(201);
    assert_eq!(res.rate_limit("bookings").0, 1);
    second
        .book("srv_consultation", &ny(monday, 9, 0))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    second
        .book("srv_consultation", &ny(monday, 12, 0))
        .await
        .expect_error(429, "RATE_LIMITED");
    other_account
        .book_ok("srv_consultation", &ny(monday, 9, 0))
        .await;
}
