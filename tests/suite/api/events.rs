//! Events the contract promises and the suite did not see end to end: a
//! manual `complete` after `end_at` with its `booking.completed`, and an
//! idempotent replay that writes no second event and sends no second webhook.

use std::time::{Duration, Instant};

use booking_tests::receiver::{Received, Receiver};
use booking_tests::{Api, TestServer, booking_body, future_monday, ny};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

/// A server that delivers to 127.0.0.1 and completes nothing by itself for
/// an hour (so only the API call can complete a booking).
fn server() -> TestServer {
    TestServer::start_with(&[
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s"),
        ("BOOKING_WEBHOOK_TIMEOUT", "2s"),
        ("BOOKING_COMPLETION_INTERVAL", "1h"),
    ])
}

/// A webhook endpoint to the receiver for every event; its id.
async fn endpoint(api: &Api, receiver: &Receiver) -> String {
    api.post("/v1/webhooks", &json!({"url": receiver.url("/hook")}))
        .await
        .expect_status(201)
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The endpoint's delivery log once every delivery in it has succeeded and
/// it holds `n` of them.
async fn settled_deliveries(api: &Api, hook: &str, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let log = api
            .list_all(&format!("/v1/webhooks/{hook}/deliveries"), 100)
            .await;
        if log.len() >= n && log.iter().all(|d| d["state"] == "succeeded") {
            return log;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} succeeded deliveries: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn of_event<'a>(got: &'a [Received], event: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.json()["event"] == event).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_complete_after_end_at_completes_and_sends_booking_completed() {
    let receiver = Receiver::start().await;
    let server = server();
    let api = server.api("acme");
    api.create_seed_service().await;
    let hook = endpoint(&api, &receiver).await;
    let booking = api
        .book_ok("srv_consultation", &ny(future_monday(), 9, 0))
        .await;
    let id = booking["id"].as_str().unwrap();
    api.post_empty(&format!("/v1/bookings/{id}/confirm"))
        .await
        .expect_status(200);
    booking_tests::backdate_sqlite_booking(&server.database_url, id);
    let ended = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(ended["status"], "confirmed", "not completed by itself");
    assert!(
        booking_tests::ts(ended["end_at"].as_str().unwrap()) < jiff::Timestamp::now(),
        "{ended}"
    );

    let completed = api
        .post_empty(&format!("/v1/bookings/{id}/complete"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(completed["id"], id);
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["scheduled_at"], ended["scheduled_at"]);
    assert_eq!(completed["end_at"], ended["end_at"]);
    assert_eq!(completed["created_at"], booking["created_at"]);
    let got = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(got, completed);
    let listed = api.list_all("/v1/bookings?status=completed", 50).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id);

    // Once only.
    let details = api
        .post_empty(&format!("/v1/bookings/{id}/complete"))
        .await
        .expect_error(409, "INVALID_STATE");
    assert_eq!(details["status"], "completed");

    // booking.created, booking.confirmed, then booking.completed carrying the
    // booking exactly as the API answered it.
    let got = receiver
        .wait_for(WAIT, "booking.completed", |r| {
            !of_event(r, "booking.completed").is_empty()
        })
        .await;
    let done = of_event(&got, "booking.completed");
    assert_eq!(done.len(), 1);
    let body = done[0].json();
    assert!(body["id"].as_str().unwrap().starts_with("evt_"), "{body}");
    assert_eq!(done[0].header("webhook-id"), body["id"].as_str().unwrap());
    assert_eq!(body["data"], booking_tests::unlinked(&completed));
    let log = settled_deliveries(&api, &hook, 3).await;
    let events: Vec<&str> = log.iter().map(|d| d["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        ["booking.completed", "booking.confirmed", "booking.created"],
        "newest first"
    );
    assert_eq!(log[0]["event_id"], body["id"]);
    assert_eq!(receiver.count(), 3, "one request per event");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotent_replay_writes_no_second_event_and_sends_no_second_webhook() {
    let receiver = Receiver::start().await;
    let server = server();
    let api = server.api("acme");
    api.create_seed_service().await;
    let hook = endpoint(&api, &receiver).await;
    let monday = future_monday();
    let body = booking_body("srv_consultation", &ny(monday, 9, 0));

    let first = api
        .book_idempotent("replay-me", &body)
        .await
        .expect_status(201);
    let replay = api
        .book_idempotent("replay-me", &body)
        .await
        .expect_status(201);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.bytes, first.bytes);
    // The same JSON spelled differently is the same request.
    let respelled = booking_tests::Resp::from(
        api.request(reqwest::Method::POST, "/v1/bookings")
            .header("Idempotency-Key", "replay-me")
            .header("content-type", "application/json")
            .body(format!(
                "{{ \"customer\": {{\"name\": \"John Doe\", \"email\": \"customer@example.com\"}},\n  \
                 \"scheduled_at\": \"{}\", \"service\": \"srv_consultation\" }}",
                ny(monday, 9, 0)
            )),
    )
    .await
    .expect_status(201);
    assert_eq!(respelled.header("idempotent-replayed"), Some("true"));
    assert_eq!(respelled.bytes, first.bytes);
    let id = first.json["id"].as_str().unwrap();

    // A later booking, as a marker: once its event is delivered, the replays'
    // events (had there been any) were written before it.
    let marker = api
        .book_idempotent(
            "another-key",
            &booking_body("srv_consultation", &ny(monday, 11, 0)),
        )
        .await
        .expect_status(201)
        .json;
    let log = settled_deliveries(&api, &hook, 2).await;
    let got = receiver
        .wait_for(WAIT, "the marker's booking.created", |r| {
            r.iter().any(|x| x.json()["data"]["id"] == marker["id"])
        })
        .await;

    let created_for_first: Vec<&Received> = of_event(&got, "booking.created")
        .into_iter()
        .filter(|r| r.json()["data"]["id"] == id)
        .collect();
    assert_eq!(created_for_first.len(), 1, "one booking.created webhook");
    assert_eq!(
        created_for_first[0].json()["data"],
        booking_tests::unlinked(&first.json)
    );
    assert_eq!(got.len(), 2, "nothing but the two bookings' events");
    assert_eq!(log.len(), 2, "one delivery per booking: {log:?}");
    assert!(log.iter().all(|d| d["event"] == "booking.created"));
    assert_ne!(log[0]["event_id"], log[1]["event_id"]);
    assert_eq!(api.list_all("/v1/bookings", 50).await.len(), 2);
}
