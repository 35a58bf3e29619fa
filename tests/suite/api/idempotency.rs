//! `Idempotency-Key` on `POST /v1/bookings`.

use booking_tests::{TestServer, booking_body, future_monday, ny};
use serde_json::json;

use super::setup_seed;

#[tokio::test(flavor = "multi_thread")]
async fn same_key_and_body_replays_the_first_answer_byte_for_byte() {
    let (_server, api) = setup_seed().await;
    let body = booking_body("srv_consultation", &ny(future_monday(), 9, 0));
    let first = api
        .book_idempotent("order-1234", &body)
        .await
        .expect_status(201);
    for _ in 0..3 {
        let again = api
            .book_idempotent("order-1234", &body)
            .await
            .expect_status(201);
        assert_eq!(again.bytes, first.bytes, "replay must be byte-identical");
    }
    // The same JSON with other spacing and key order is the same body.
    let respaced = format!(
        "{{ \"customer\": {{\"name\": \"John Doe\", \"email\": \"customer@example.com\"}},\n  \"scheduled_at\": \"{}\", \"service\": \"srv_consultation\" }}",
        body["scheduled_at"].as_str().expect("at")
    );
    let again = booking_tests::Resp::from(
        api.request(reqwest::Method::POST, "/v1/bookings")
            .header("Idempotency-Key", "order-1234")
            .header("content-type", "application/json")
            .body(respaced),
    )
    .await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.text());
    assert_eq!(again.bytes, first.bytes);

    let list = api.get("/v1/bookings").await.expect_status(200).json;
    let data = list["data"].as_array().expect("data");
    assert_eq!(data.len(), 1, "one booking only: {list}");
    assert_eq!(data[0]["id"], first.json["id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn same_key_with_another_body_is_409_idempotency_key_reused() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let body = booking_body("srv_consultation", &ny(monday, 9, 0));
    api.book_idempotent("k-1", &body).await.expect_status(201);
    let other = booking_body("srv_consultation", &ny(monday, 10, 0));
    api.book_idempotent("k-1", &other)
        .await
        .expect_error(409, "IDEMPOTENCY_KEY_REUSED");
    let mut noted = body.clone();
    noted["notes"] = json!("changed");
    api.book_idempotent("k-1", &noted)
        .await
        .expect_error(409, "IDEMPOTENCY_KEY_REUSED");
    // Still one booking; the other body works under a new key.
    let list = api.get("/v1/bookings").await.expect_status(200).json;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
    api.book_idempotent("k-2", &other).await.expect_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_conflict_answer_is_replayed_too() {
    let (_server, api) = setup_seed().await;
    let at = ny(future_monday(), 9, 0);
    let taken = api.book_ok("srv_consultation", &at).await;
    let body = booking_body("srv_consultation", &at);
    let first = api.book_idempotent("retry-me", &body).await;
    first.expect_error(409, "BOOKING_CONFLICT");

    // Even once the slot is free again, the key answers as it first did.
    let id = taken["id"].as_str().expect("id");
    api.post_empty(&format!("/v1/bookings/{id}/cancel"))
        .await
        .expect_status(200);
    let replay = api.book_idempotent("retry-me", &body).await;
    assert_eq!(replay.status.as_u16(), 409, "{}", replay.text());
    assert_eq!(replay.bytes, first.bytes);
    // A new key books the freed slot.
    api.book_idempotent("fresh", &body).await.expect_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_scoped_per_account() {
    let server = TestServer::start();
    let a = server.api("alpha");
    let b = server.api("beta");
    a.create_seed_service().await;
    b.create_seed_service().await;
    let body = booking_body("srv_consultation", &ny(future_monday(), 9, 0));
    let from_a = a
        .book_idempotent("shared-key", &body)
        .await
        .expect_status(201);
    let from_b = b
        .book_idempotent("shared-key", &body)
        .await
        .expect_status(201);
    assert_ne!(from_a.json["id"], from_b.json["id"]);
    assert_ne!(from_a.json["provider_id"], from_b.json["provider_id"]);
    // B uses a key string with a body of its own; A then uses the same key
    // string with another body: not IDEMPOTENCY_KEY_REUSED and not B's answer
    // replayed, but A's own request (its 09:00 is taken: a conflict).
    let other = booking_body("srv_consultation", &ny(future_monday(), 11, 0));
    let b_answer = b
        .book_idempotent("another-shared", &other)
        .await
        .expect_status(201);
    let a_answer = a.book_idempotent("another-shared", &body).await;
    a_answer.expect_error(409, "BOOKING_CONFLICT");
    assert_ne!(a_answer.bytes, b_answer.bytes);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_longer_than_255_characters_are_refused() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let body = booking_body("srv_consultation", &ny(monday, 9, 0));
    let field = api
        .book_idempotent(&"k".repeat(256), &body)
        .await
        .expect_validation();
    assert!(
        field.eq_ignore_ascii_case("idempotency-key"),
        "field {field}"
    );
    let list = api.get("/v1/bookings").await.expect_status(200).json;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
    let max = "k".repeat(255);
    let first = api.book_idempotent(&max, &body).await.expect_status(201);
    let again = api.book_idempotent(&max, &body).await.expect_status(201);
    assert_eq!(first.bytes, again.bytes);
}

#[tokio::test(flavor = "multi_thread")]
async fn replays_do_not_count_against_the_rate_limit() {
    let server = TestServer::start_with(&[("BOOKING_RATE_BOOKINGS", "2/minute")]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let monday = future_monday();
    let b1 = booking_body("srv_consultation", &ny(monday, 9, 0));
    let b2 = booking_body("srv_consultation", &ny(monday, 10, 0));
    let first = api.book_idempotent("one", &b1).await.expect_status(201);
    let second = api.book_idempotent("two", &b2).await.expect_status(201);
    for _ in 0..3 {
        let r1 = api.book_idempotent("one", &b1).await.expect_status(201);
        let r2 = api.book_idempotent("two", &b2).await.expect_status(201);
        assert_eq!(r1.bytes, first.bytes);
        assert_eq!(r2.bytes, second.bytes);
    }
    let b3 = booking_body("srv_consultation", &ny(monday, 11, 0));
    api.book_idempotent("three", &b3)
        .await
        .expect_error(429, "RATE_LIMITED");
    api.book("srv_consultation", &ny(monday, 12, 0))
        .await
        .expect_error(429, "RATE_LIMITED");
    // A limited request did not burn its key: it is still refused for the limit,
    // not replayed as something else, and nothing was booked.
    api.book_idempotent("three", &b3)
        .await
        .expect_error(429, "RATE_LIMITED");
    let list = api.get("/v1/bookings").await.expect_status(200).json;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(2), "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_may_be_any_string_spaces_included() {
    let (_server, api) = setup_seed().await;
    let body = booking_body("srv_consultation", &ny(future_monday(), 11, 0));
    let key = "order 42 / attempt #1";
    let first = api.book_idempotent(key, &body).await.expect_status(201);
    let again = api.book_idempotent(key, &body).await.expect_status(201);
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(api.list_all("/v1/bookings", 200).await.len(), 1);
}
