//! Webhooks end to end: endpoint management, the SSRF guard, signed
//! deliveries to a real receiver on 127.0.0.1, retries, 410, redelivery,
//! secret rotation, automatic completion and durability across SIGKILL.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use booking_tests::receiver::{Answer, Received, Receiver};
use booking_tests::{Api, TestServer, future_monday, ny, seed_with};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

const ALL_EVENTS: [&str; 5] = [
    "booking.created",
    "booking.confirmed",
    "booking.cancelled",
    "booking.rescheduled",
    "booking.completed",
];

/// Verifies a delivery's signature the way the Standard Webhooks
/// specification says, written here independently of the server's code:
/// HMAC-SHA256 keyed with the base64-decoded secret after `whsec_`, over
/// `id.timestamp.body`, base64, `v1,` prefixed, any of the space-separated
/// signatures.
pub(super) fn signed_by(r: &Received, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("whsec_ prefix"))
        .expect("secret is base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac key");
    mac.update(r.header("webhook-id").as_bytes());
    mac.update(b".");
    mac.update(r.header("webhook-timestamp").as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.header("webhook-signature")
        .split(' ')
        .any(|s| s == expected)
}

/// A server that may deliver to 127.0.0.1, with quick retries.
fn server(extra: &[(&str, &str)]) -> TestServer {
    let mut env = vec![
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s"),
        ("BOOKING_WEBHOOK_TIMEOUT", "2s"),
    ];
    env.extend_from_slice(extra);
    TestServer::start_with(&env)
}

async fn endpoint(api: &Api, url: &str, events: Option<&[&str]>) -> Value {
    let mut body = json!({"url": url, "description": "test receiver"});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    api.post("/v1/webhooks", &body)
        .await
        .expect_status(201)
        .json
}

fn of_event<'a>(got: &'a [Received], event: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.json()["event"] == event).collect()
}

const WAIT: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread")]
async fn endpoints_are_managed_and_secrets_shown_once() {
    let server = server(&[]);
    let api = server.api("acme");
    let created = endpoint(&api, "http://127.0.0.1:9/hook", None).await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("wh_"));
    assert_eq!(created["events"], json!(ALL_EVENTS));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["description"], "test receiver");
    assert!(created["created_at"].is_string());
    let secret = created["secret"].as_str().unwrap();
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    assert_eq!(key.len(), 32);

    let got = api
        .get(&format!("/v1/webhooks/{id}"))
        .await
        .expect_status(200)
        .json;
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(got["url"], "http://127.0.0.1:9/hook");
    let list = api.get("/v1/webhooks").await.expect_status(200).json;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert!(list["data"][0].get("secret").is_none());

    let patched = api
        .patch(
            &format!("/v1/webhooks/{id}"),
            &json!({"events": ["booking.cancelled"], "enabled": false, "description": null}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(patched["events"], json!(["booking.cancelled"]));
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["description"], Value::Null);
    assert!(patched.get("secret").is_none());

    let rotated = api
        .post_empty(&format!("/v1/webhooks/{id}/rotate-secret"))
        .await
        .expect_status(200)
        .json;
    let new_secret = rotated["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_") && new_secret != secret);

    for (body, field) in [
        (
            json!({"url": "http://127.0.0.1:9/x", "events": ["booking.nope"]}),
            "events[0]",
        ),
        (
            json!({"url": "http://127.0.0.1:9/x", "events": []}),
            "events",
        ),
        (json!({"url": "ftp://example.com/x"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (
            json!({"url": "http://127.0.0.1:9/x", "description": "d".repeat(501)}),
            "description",
        ),
    ] {
        api.post("/v1/webhooks", &body)
            .await
            .expect_validation_of(field);
    }
    api.post(
        "/v1/webhooks",
        &json!({"url": "https://x.example", "secret": "mine"}),
    )
    .await
    .expect_validation_of("secret");

    api.delete(&format!("/v1/webhooks/{id}"))
        .await
        .expect_status(204);
    api.get(&format!("/v1/webhooks/{id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    api.delete(&format!("/v1/webhooks/{id}"))
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn private_and_plain_http_targets_are_refused_by_default() {
    let server = TestServer::start();
    let api = server.api("acme");
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fd00:ec2::254]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://metadata.google.internal/computeMetadata/v1/",
    ] {
        let resp = api.post("/v1/webhooks", &json!({"url": url})).await;
        let details = resp.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(details["field"], "url", "{url}");
    }
    // A public literal address passes the guard (nothing is sent on save).
    api.post(
        "/v1/webhooks",
        &json!({"url": "https://93.184.216.34/hook"}),
    )
    .await
    .expect_status(201);
    // A name that does not resolve (yet) passes too: nothing private can be
    // reached through it, and every attempt resolves and checks again.
    api.post(
        "/v1/webhooks",
        &json!({"url": "https://no-such-host.invalid/hook"}),
    )
    .await
    .expect_status(201);
    // The same rules on update.
    let id = api.get("/v1/webhooks").await.json["data"][1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.patch(
        &format!("/v1/webhooks/{id}"),
        &json!({"url": "https://127.0.0.1/hook"}),
    )
    .await
    .expect_validation_of("url");
}

/// An auto-confirmed booking's two events reach a receiver in the order
/// they happened, and their ids sort the same way, however many bookings
/// are made at once.
#[tokio::test(flavor = "multi_thread")]
async fn an_auto_confirmed_bookings_events_arrive_created_then_confirmed() {
    let receiver = Receiver::start().await;
    let server = server(&[("BOOKING_RATE_BOOKINGS", "1000/second")]);
    let api = server.api("acme");
    api.create_service(&booking_tests::seed_with(
        &json!({"id": "srv_auto", "auto_confirm": true}),
    ))
    .await;
    endpoint(&api, &receiver.url("/all"), None).await;
    let monday = future_monday();
    let bookings = futures_util::future::join_all((0..8i8).map(|i| {
        let api = api.clone();
        async move { api.book_ok("srv_auto", &ny(monday, 9 + i, 0)).await }
    }))
    .await;
    let got = receiver.wait_count(16, WAIT).await;
    for booking in &bookings {
        let mine: Vec<&Received> = got
            .iter()
            .filter(|r| r.json()["data"]["id"] == booking["id"])
            .collect();
        let kinds: Vec<&str> = mine
            .iter()
            .map(|r| r.json()["event"].as_str().unwrap_or_default().to_owned())
            .map(|k| {
                if k == "booking.created" {
                    "created"
                } else {
                    "confirmed"
                }
            })
            .collect();
        assert_eq!(kinds, ["created", "confirmed"], "{}", booking["id"]);
        assert!(
            mine[0].json()["id"].as_str() < mine[1].json()["id"].as_str(),
            "event ids sort as the events happened"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_lifecycle_event_arrives_signed_with_the_booking() {
    let receiver = Receiver::start().await;
    let server = server(&[]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let hook = endpoint(&api, &receiver.url("/all"), None).await;
    let secret = hook["secret"].as_str().unwrap();
    let only_cancel = endpoint(&api, &receiver.url("/cancel"), Some(&["booking.cancelled"])).await;

    let monday = future_monday();
    let booking = api.book_ok("srv_consultation", &ny(monday, 9, 0)).await;
    let id = booking["id"].as_str().unwrap();
    let got = receiver
        .wait_for(WAIT, "booking.created", |r| !r.is_empty())
        .await;
    let created = &got[0];
    assert_eq!(created.path, "/all");
    assert_eq!(created.header("content-type"), "application/json");
    assert!(signed_by(created, secret), "signature does not verify");
    let body = created.json();
    assert_eq!(body["event"], "booking.created");
    assert_eq!(body["id"], created.header("webhook-id"));
    assert!(body["id"].as_str().unwrap().starts_with("evt_"));
    assert!(body["created_at"].is_string());
    assert_eq!(
        body["data"],
        booking_tests::unlinked(&booking),
        "data is the booking as the API returned it, without its customer link"
    );
    let ts: i64 = created.header("webhook-timestamp").parse().unwrap();
    assert!((ts - jiff::Timestamp::now().as_second()).abs() < 60);

    api.post_empty(&format!("/v1/bookings/{id}/confirm"))
        .await
        .expect_status(200);
    let moved = api
        .post(
            &format!("/v1/bookings/{id}/reschedule"),
            &json!({"scheduled_at": ny(monday, 11, 0)}),
        )
        .await
        .expect_status(200)
        .json;
    let cancelled = api
        .post(
            &format!("/v1/bookings/{id}/cancel"),
            &json!({"reason": "ill"}),
        )
        .await
        .expect_status(200)
        .json;
    let got = receiver
        .wait_for(WAIT, "four events at /all and one at /cancel", |r| {
            r.iter().filter(|r| r.path == "/all").count() >= 4
                && r.iter().any(|r| r.path == "/cancel")
        })
        .await;
    let all: Vec<&Received> = got.iter().filter(|r| r.path == "/all").collect();
    let events: Vec<Value> = all.iter().map(|r| r.json()["event"].clone()).collect();
    for e in [
        "booking.created",
        "booking.confirmed",
        "booking.rescheduled",
        "booking.cancelled",
    ] {
        assert!(events.contains(&json!(e)), "{e} missing from {events:?}");
    }
    for r in &all {
        assert!(signed_by(r, secret));
    }
    let rescheduled = of_event(&got, "booking.rescheduled")[0].json();
    assert_eq!(
        rescheduled["data"]["previous_scheduled_at"],
        booking["scheduled_at"]
    );
    assert_eq!(rescheduled["data"]["scheduled_at"], moved["scheduled_at"]);
    let cancel = got.iter().find(|r| r.path == "/cancel").unwrap();
    assert_eq!(cancel.json()["event"], "booking.cancelled");
    assert_eq!(cancel.json()["data"], booking_tests::unlinked(&cancelled));
    assert!(cancel.json()["data"].get("previous_scheduled_at").is_none());
    assert!(
        !signed_by(cancel, secret),
        "each endpoint has its own secret"
    );
    assert!(signed_by(cancel, only_cancel["secret"].as_str().unwrap()));

    // The log shows each delivery once, succeeded, with its attempt.
    let log = api
        .get(&format!(
            "/v1/webhooks/{}/deliveries",
            hook["id"].as_str().unwrap()
        ))
        .await
        .expect_status(200)
        .json;
    let items = log["data"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["event"], "booking.cancelled", "newest first");
    for d in items {
        assert_eq!(d["state"], "succeeded");
        assert_eq!(d["attempts"].as_array().unwrap().len(), 1);
        assert_eq!(d["attempts"][0]["status_code"], 200);
        assert!(d["attempts"][0]["duration_ms"].is_u64());
        assert!(d["id"].as_str().unwrap().starts_with("whd_"));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt() {
    let receiver = Receiver::start().await;
    receiver.script([Answer::status(500), Answer::status(503)]);
    let server = server(&[]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let hook = endpoint(&api, &receiver.url("/h"), Some(&["booking.created"])).await;
    api.book_ok("srv_consultation", &ny(future_monday(), 9, 0))
        .await;
    let got = receiver.wait_count(3, WAIT).await;
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "same webhook-id on retries: {ids:?}"
    );
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(700),
        "retries wait"
    );
    let hook_id = hook["id"].as_str().unwrap();
    let delivery = wait_delivery(&api, hook_id, "succeeded").await;
    let codes: Vec<&Value> = delivery["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status_code"])
        .collect();
    assert_eq!(codes, [&json!(500), &json!(503), &json!(200)]);
    // Nothing after success: no further attempt is scheduled...
    assert_eq!(delivery["next_attempt_at"], Value::Null, "{delivery}");
    // ...and the next event is delivered with none of the first one's before
    // it (a sentinel, instead of watching for silence for a while).
    api.book_ok("srv_consultation", &ny(future_monday(), 10, 0))
        .await;
    let got = receiver.wait_count(4, WAIT).await;
    assert_eq!(got.len(), 4, "nothing after success");
    assert_ne!(got[3].header("webhook-id"), ids[0], "the sentinel's event");
}

async fn wait_delivery(api: &Api, hook: &str, state: &str) -> Value {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = api
            .get(&format!("/v1/webhooks/{hook}/deliveries"))
            .await
            .expect_status(200)
            .json;
        if let Some(d) = log["data"].as_array().unwrap().first()
            && d["state"] == state
        {
            return d.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {state} delivery: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_never_succeeds_ends_failed_and_can_be_redelivered() {
    let receiver = Receiver::start().await;
    receiver.always(Answer::status(500));
    let server = server(&[]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let hook = endpoint(&api, &receiver.url("/h"), Some(&["booking.created"])).await;
    let hook_id = hook["id"].as_str().unwrap();
    api.book_ok("srv_consultation", &ny(future_monday(), 9, 0))
        .await;
    let failed = wait_delivery(&api, hook_id, "failed").await;
    assert_eq!(
        failed["attempts"].as_array().unwrap().len(),
        3,
        "1 + 2 retries"
    );
    assert_eq!(receiver.received().len(), 3);
    assert_eq!(failed["next_attempt_at"], Value::Null);

    receiver.always(Answer::status(204));
    let delivery_id = failed["id"].as_str().unwrap();
    let queued = api
        .post_empty(&format!(
            "/v1/webhooks/{hook_id}/deliveries/{delivery_id}/redeliver"
        ))
        .await
        .expect_status(202)
        .json;
    assert_eq!(queued["state"], "pending");
    let got = receiver.wait_count(4, WAIT).await;
    assert_eq!(got[3].header("webhook-id"), got[0].header("webhook-id"));
    let done = wait_delivery(&api, hook_id, "succeeded").await;
    assert_eq!(done["attempts"].as_array().unwrap().len(), 4);

    api.post_empty(&format!(
        "/v1/webhooks/{hook_id}/deliveries/whd_nope/redeliver"
    ))
    .await
    .expect_error(404, "NOT_FOUND");
    // Another account cannot see or redeliver it.
    let other = server.api("globex");
    other
        .get(&format!("/v1/webhooks/{hook_id}/deliveries"))
        .await
        .expect_error(404, "NOT_FOUND");
    other
        .post_empty(&format!(
            "/v1/webhooks/{hook_id}/deliveries/{delivery_id}/redeliver"
        ))
        .await
        .expect_error(404, "NOT_FOUND");
    other
        .patch(
            &format!("/v1/webhooks/{hook_id}"),
            &json!({"enabled": false}),
        )
        .await
        .expect_error(404, "NOT_FOUND");
    other
        .post_empty(&format!("/v1/webhooks/{hook_id}/rotate-secret"))
        .await
        .expect_error(404, "NOT_FOUND");
    other
        .delete(&format!("/v1/webhooks/{hook_id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    assert!(
        other.get("/v1/webhooks").await.json["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gone_disables_the_endpoint_and_retry_after_is_honoured() {
    let receiver = Receiver::start().await;
    receiver.script([
        Answer::status(429).with_header("Retry-After", "3"),
        Answer::status(200),
        Answer::status(410),
    ]);
    let server = server(&[]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let hook = endpoint(&api, &receiver.url("/h"), Some(&["booking.created"])).await;
    let hook_id = hook["id"].as_str().unwrap();
    let monday = future_monday();
    api.book_ok("srv_consultation", &ny(monday, 9, 0)).await;
    let got = receiver.wait_count(2, WAIT).await;
    assert!(
        got[1].at - got[0].at >= Duration::from_millis(2900),
        "Retry-After: 3 waited only {:?}",
        got[1].at - got[0].at
    );
    api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    receiver.wait_count(3, WAIT).await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let h = api.get(&format!("/v1/webhooks/{hook_id}")).await.json;
        if h["enabled"] == false {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "410 did not disable: {h}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Disabled: new events are not queued for it. Deliveries are written in
    // the booking's transaction, so the log shows it as soon as the booking
    // is answered; nothing queued is nothing sent.
    api.book_ok("srv_consultation", &ny(monday, 11, 0)).await;
    let log = api
        .get(&format!("/v1/webhooks/{hook_id}/deliveries"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(log["data"].as_array().unwrap().len(), 2, "{log}");
    // The worker records the 410 attempt's metrics as it disables the
    // endpoint: wait for them rather than for a fixed time.
    let expected = [
        "webhook_deliveries_total{outcome=\"succeeded\"} 1",
        "webhook_deliveries_total{outcome=\"retrying\"} 1",
        "webhook_deliveries_total{outcome=\"failed\"} 1",
        "webhook_attempt_duration_seconds_count 3",
        "webhook_queue_depth",
    ];
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let metrics = metrics(&server).await;
        if expected.iter().all(|line| metrics.contains(line)) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(receiver.received().len(), 3);
}

/// The server's `/metrics` text.
async fn metrics(server: &TestServer) -> String {
    server
        .client()
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn during_rotation_both_secrets_sign() {
    let receiver = Receiver::start().await;
    let server = server(&[]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let hook = endpoint(&api, &receiver.url("/h"), Some(&["booking.created"])).await;
    let old = hook["secret"].as_str().unwrap();
    let rotated = api
        .post_empty(&format!(
            "/v1/webhooks/{}/rotate-secret",
            hook["id"].as_str().unwrap()
        ))
        .await
        .expect_status(200)
        .json;
    let new = rotated["secret"].as_str().unwrap();
    api.book_ok("srv_consultation", &ny(future_monday(), 9, 0))
        .await;
    let got = receiver.wait_count(1, WAIT).await;
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    assert!(signed_by(&got[0], new) && signed_by(&got[0], old));
}

#[tokio::test(flavor = "multi_thread")]
async fn confirmed_bookings_past_their_end_complete_automatically() {
    let receiver = Receiver::start().await;
    let server = server(&[("BOOKING_COMPLETION_INTERVAL", "1s")]);
    let api = server.api("acme");
    api.create_seed_service().await;
    api.create_service(&seed_with(&json!({"id": "srv_auto", "auto_confirm": true})))
        .await;
    endpoint(&api, &receiver.url("/h"), Some(&["booking.completed"])).await;
    let monday = future_monday();
    let confirmed = api.book_ok("srv_auto", &ny(monday, 9, 0)).await;
    let pending = api.book_ok("srv_consultation", &ny(monday, 11, 0)).await;
    let future = api.book_ok("srv_auto", &ny(monday, 13, 0)).await;
    for b in [&confirmed, &pending] {
        booking_tests::backdate_sqlite_booking(&server.database_url, b["id"].as_str().unwrap());
    }
    let got = receiver.wait_count(1, WAIT).await;
    let body = got[0].json();
    assert_eq!(body["event"], "booking.completed");
    assert_eq!(body["data"]["id"], confirmed["id"]);
    assert_eq!(body["data"]["status"], "completed");
    let id = confirmed["id"].as_str().unwrap();
    let now = api.get(&format!("/v1/bookings/{id}")).await.json;
    assert_eq!(now["status"], "completed");
    // Pending bookings and bookings that have not ended stay as they are. To
    // know a completion run has looked at them, end one more confirmed
    // booking now (after theirs were backdated) and wait for the run that
    // completes it to finish: a run counts its completions once it is done.
    let sentinel = api.book_ok("srv_auto", &ny(monday, 15, 0)).await;
    booking_tests::backdate_sqlite_booking(&server.database_url, sentinel["id"].as_str().unwrap());
    let deadline = std::time::Instant::now() + WAIT;
    let completed = loop {
        let metrics = metrics(&server).await;
        let completed = metrics
            .lines()
            .find_map(|l| l.strip_prefix("bookings_auto_completed_total "))
            .map(|n| n.trim().parse::<u64>().unwrap());
        if let Some(n) = completed.filter(|n| *n >= 2) {
            break n;
        }
        assert!(std::time::Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(completed, 2, "only the two ended, confirmed bookings");
    let got = receiver.wait_count(2, WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["data"]["id"], sentinel["id"]);
    for (b, status) in [(&pending, "pending"), (&future, "confirmed")] {
        let id = b["id"].as_str().unwrap();
        assert_eq!(
            api.get(&format!("/v1/bookings/{id}")).await.json["status"],
            status
        );
    }
}

/// A service open around the clock in 15-minute slots, for many bookings.
async fn around_the_clock(api: &Api) {
    api.create_service(&json!({
        "id": "srv_quick", "name": "Quick", "duration": 15,
        "price": {"amount": 10, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        }
    }))
    .await;
}

/// Slot starts every 15 minutes from tomorrow, UTC.
fn quarter(i: usize) -> String {
    let start = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap()
        .as_second();
    let start = start - start.rem_euclid(900) + 900 * i64::try_from(i).unwrap();
    booking_tests::fmt_utc(jiff::Timestamp::from_second(start).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_event_is_lost_when_the_server_is_killed_mid_delivery() {
    let receiver = Receiver::start().await;
    // Answers slower than the server's timeout: every attempt before the
    // kill fails, so deliveries are in flight or waiting for a retry when the
    // server dies.
    receiver.always(Answer::status(200).after(Duration::from_secs(3)));
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("booking.db").display());
    let env = [
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s,1s"),
        ("BOOKING_WEBHOOK_TIMEOUT", "1s"),
    ];
    let mut first = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &env);
    let api = first.api("acme");
    around_the_clock(&api).await;
    endpoint(&api, &receiver.url("/h"), Some(&["booking.created"])).await;
    let mut booked = Vec::new();
    for i in 0..30 {
        let b = api.book_ok("srv_quick", &quarter(i)).await;
        booked.push(b["id"].as_str().unwrap().to_owned());
    }
    receiver.wait_count(1, WAIT).await;
    first.kill();
    receiver.always(Answer::status(200));
    let before = receiver.received().len();
    let second = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &env);
    let got = receiver
        .wait_for(
            Duration::from_secs(40),
            "every booking's created event",
            |r| {
                let after = &r[before.min(r.len())..];
                booked
                    .iter()
                    .all(|id| after.iter().any(|x| x.json()["data"]["id"] == id.as_str()))
            },
        )
        .await;
    // Duplicates only as retries of one event: same webhook-id, same body.
    for r in &got {
        let same: Vec<&Received> = got
            .iter()
            .filter(|x| x.header("webhook-id") == r.header("webhook-id"))
            .collect();
        assert!(same.iter().all(|x| x.body == r.body));
    }
    let ids: std::collections::BTreeSet<&str> =
        got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 30, "one event per booking");
    let api = second.api("acme");
    let hook = api.get("/v1/webhooks").await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let log = api
            .list_all(&format!("/v1/webhooks/{hook}/deliveries"), 100)
            .await;
        if log.len() == 30 && log.iter().all(|d| d["state"] == "succeeded") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not all succeeded: {log:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The environment of [`server`], for servers started on a given database.
pub(super) const DELIVERING: [(&str, &str); 3] = [
    ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s"),
    ("BOOKING_WEBHOOK_TIMEOUT", "2s"),
];

/// Delivery ids stored before the contract's `whd_` prefix: a delivery is
/// made, its id turned back into the old `dlv_` spelling and the renaming
/// migration forgotten (`sql` runs statements on the database `start`'s
/// servers use), as in a database of an older version; the next server
/// start migrates it. The delivery is then `whd_` with the same suffix, with
/// its attempt, and can be redelivered under that id; the old id is unknown.
pub(super) async fn old_delivery_ids_take_the_contract_prefix(
    start: impl Fn() -> TestServer,
    sql: impl Fn(&str),
) {
    let receiver = Receiver::start().await;
    let first = start();
    let (key, key_id) = first.key_for("acme");
    let api = first.api_with_key(&key, &key_id);
    api.create_seed_service().await;
    let hook = endpoint(&api, &receiver.url("/h"), Some(&["booking.created"])).await;
    let hook_id = hook["id"].as_str().unwrap().to_owned();
    api.book_ok("srv_consultation", &ny(future_monday(), 9, 0))
        .await;
    receiver.wait_count(1, WAIT).await;
    let delivered = wait_delivery(&api, &hook_id, "succeeded").await;
    let id = delivered["id"].as_str().unwrap().to_owned();
    let suffix = id.strip_prefix("whd_").expect("new deliveries are whd_");
    drop(first);

    sql("UPDATE webhook_deliveries SET id = 'dlv_' || substr(id, 5)");
    sql("DELETE FROM __diesel_schema_migrations WHERE version = '20261128000000'");
    let second = start();
    let api = second.api_with_key(&key, &key_id);
    let log = api
        .get(&format!("/v1/webhooks/{hook_id}/deliveries"))
        .await
        .expect_status(200)
        .json;
    let items = log["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{log}");
    assert_eq!(items[0]["id"], id.as_str(), "dlv_{suffix} renamed back");
    assert_eq!(items[0]["attempts"].as_array().unwrap().len(), 1);
    api.post_empty(&format!("/v1/webhooks/{hook_id}/deliveries/{id}/redeliver"))
        .await
        .expect_status(202);
    let got = receiver.wait_count(2, WAIT).await;
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"));
    api.post_empty(&format!(
        "/v1/webhooks/{hook_id}/deliveries/dlv_{suffix}/redeliver"
    ))
    .await
    .expect_error(404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn old_delivery_ids_take_the_contract_prefix_on_sqlite() {
    use diesel::{Connection, RunQueryDsl, SqliteConnection};
    let dir = tempfile::tempdir().unwrap();
    let url = booking_tests::sqlite_url(dir.path(), "booking.db");
    let path = dir.path().join("booking.db");
    old_delivery_ids_take_the_contract_prefix(
        || TestServer::start_on(&url, tempfile::tempdir().unwrap(), &DELIVERING),
        |statement| {
            let mut conn = SqliteConnection::establish(path.to_str().unwrap()).unwrap();
            let n = diesel::sql_query(statement).execute(&mut conn).unwrap();
            assert!(n > 0, "{statement}: no row");
        },
    )
    .await;
}
