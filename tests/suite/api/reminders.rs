//! Reminders (issue 16): the service field `reminders`, and
//! `booking.reminder` sent at each offset before an active booking's start
//! to the endpoints that subscribe to it: near its time, moved by a
//! reschedule, stopped by a cancel, once across three processes on one
//! Postgres database, and once, late, after a restart across its time.

use std::time::Duration;

use booking_tests::pg::Database;
use booking_tests::receiver::{Received, Receiver};
use booking_tests::{Api, TestServer, ts};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::setup;

/// Servers that deliver to 127.0.0.1 and look for due reminders every second.
const ENV: [(&str, &str); 3] = [
    ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("BOOKING_REMINDER_INTERVAL", "1s"),
    ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s"),
];

/// At most how long a reminder due within the next minute takes to arrive.
const WAIT: Duration = Duration::from_secs(150);

/// A service open around the clock (UTC, 1-minute bookings on a 1-minute
/// grid, no notice) with a reminder 5 minutes before the start.
fn service() -> Value {
    json!({
        "id": "srv_remind",
        "name": "Reminded",
        "duration": 1,
        "slot_interval": 1,
        "price": {"amount": 0, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        },
        "reminders": [5]
    })
}

/// The first whole minute more than 5 minutes and `margin` seconds from
/// now: its 5-minute reminder is due within the next minute, and at least
/// `margin` seconds from now (so after the booking is made).
fn near_start(margin: i64) -> Timestamp {
    let soon = Timestamp::now() + SignedDuration::from_secs(5 * 60 + margin);
    Timestamp::from_second(soon.as_second() - soon.as_second() % 60 + 60).unwrap()
}

fn rfc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An endpoint subscribed to `events` (all defaults when `None`).
async fn endpoint(api: &Api, url: &str, events: Option<&[&str]>) {
    let mut body = json!({"url": url});
    if let Some(events) = events {
        body["events"] = json!(events);
    }
    api.post("/v1/webhooks", &body).await.expect_status(201);
}

fn reminders_of<'a>(got: &'a [Received], booking: &str) -> Vec<&'a Received> {
    got.iter()
        .filter(|r| r.json()["event"] == "booking.reminder" && r.json()["data"]["id"] == booking)
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

async fn book(api: &Api, at: Timestamp) -> String {
    id(&api.book_ok("srv_remind", &rfc(at)).await)
}

/// Waits for the reminder of `booking`, checks its body and that it came
/// no earlier than 5 minutes before `start`; returns it.
async fn reminder_arrives(receiver: &Receiver, booking: &str, start: Timestamp) -> Value {
    let got = receiver
        .wait_for(WAIT, "the reminder", |got| {
            !reminders_of(got, booking).is_empty()
        })
        .await;
    let arrived = Timestamp::now();
    let body = reminders_of(&got, booking)[0].json();
    assert_eq!(body["actor"], "system", "{body}");
    assert_eq!(body["data"]["reminder_offset"], 5, "{body}");
    assert_eq!(body["data"]["scheduled_at"], rfc(start).as_str(), "{body}");
    let due = start - SignedDuration::from_mins(5);
    assert!(ts(body["created_at"].as_str().unwrap()) >= due, "{body}");
    assert!(arrived < start, "arrived after the start: {body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn services_validate_and_return_reminders() {
    let (_server, api) = setup();
    let mut body = service();
    body["reminders"] = json!([1440, 60]);
    let created = api.create_service(&body).await;
    assert_eq!(created["reminders"], json!([60, 1440]));
    let plain = api.create_seed_service().await;
    assert_eq!(plain["reminders"], json!([]));

    for bad in [
        json!([4]),
        json!([43201]),
        json!([-5]),
        json!([60, 60]),
        json!([5, 10, 15, 20, 25, 30]),
        json!("60"),
        json!([60.5]),
    ] {
        let mut body = service();
        body["id"] = json!("srv_bad");
        body["reminders"] = bad;
        // A value that is not a whole number is named by its index.
        let created = api.post("/v1/services", &body).await.expect_validation();
        assert!(created.starts_with("reminders"), "{created}");
        let patched = api
            .patch(
                "/v1/services/srv_remind",
                &json!({"reminders": body["reminders"]}),
            )
            .await
            .expect_validation();
        assert!(patched.starts_with("reminders"), "{patched}");
    }
    let patched = api
        .patch("/v1/services/srv_remind", &json!({"reminders": [5, 43200]}))
        .await
        .expect_status(200)
        .json;
    assert_eq!(patched["reminders"], json!([5, 43200]));
    let cleared = api
        .patch("/v1/services/srv_remind", &json!({"reminders": []}))
        .await
        .expect_status(200)
        .json;
    assert_eq!(cleared["reminders"], json!([]));
    let read = api
        .get("/v1/services/srv_remind")
        .await
        .expect_status(200)
        .json;
    assert_eq!(read["reminders"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_arrives_near_its_time_only_where_subscribed() {
    let server = TestServer::start_with(&ENV);
    let api = server.api("acme");
    let receiver = Receiver::start().await;
    endpoint(&api, &receiver.url("/defaults"), None).await;
    endpoint(
        &api,
        &receiver.url("/reminders"),
        Some(&["booking.reminder"]),
    )
    .await;
    api.create_service(&service()).await;

    let start = near_start(8);
    let booking = book(&api, start).await;
    reminder_arrives(&receiver, &booking, start).await;
    // Once, and never to the endpoint with the default events.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.received();
    let reminders = reminders_of(&got, &booking);
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].path, "/reminders");
    assert!(
        got.iter()
            .any(|r| r.path == "/defaults" && r.json()["event"] == "booking.created")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reschedule_moves_reminders_and_cancel_stops_them() {
    let server = TestServer::start_with(&ENV);
    let api = server.api("acme");
    let receiver = Receiver::start().await;
    endpoint(&api, &receiver.url("/r"), Some(&["booking.reminder"])).await;
    api.create_service(&service()).await;

    let first = near_start(8);
    // Moved away from a near time, and cancelled at a near time: no reminder.
    let moved_away = book(&api, first).await;
    let later = first + SignedDuration::from_mins(1);
    let cancelled = book(&api, later).await;
    // Moved from a far time to a near one (the cancelled booking's, due
    // after the other's).
    let moved_near = book(&api, first + SignedDuration::from_hours(3)).await;
    api.post(
        &format!("/v1/bookings/{moved_away}/reschedule"),
        &json!({"scheduled_at": rfc(first + SignedDuration::from_hours(4))}),
    )
    .await
    .expect_status(200);
    api.post_empty(&format!("/v1/bookings/{cancelled}/cancel"))
        .await
        .expect_status(200);
    api.post(
        &format!("/v1/bookings/{moved_near}/reschedule"),
        &json!({"scheduled_at": rfc(later)}),
    )
    .await
    .expect_status(200);

    let body = reminder_arrives(&receiver, &moved_near, later).await;
    assert_eq!(body["data"]["status"], "pending");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.received();
    assert!(reminders_of(&got, &moved_away).is_empty(), "moved away");
    assert!(reminders_of(&got, &cancelled).is_empty(), "cancelled");
    assert_eq!(reminders_of(&got, &moved_near).len(), 1);
}

/// The server on `url` is stopped across a reminder's time: the next
/// server sends it once, late.
async fn missed_while_stopped_arrives_once_after_restart(url: &str) {
    let receiver = Receiver::start().await;
    let (booking, start) = {
        let mut server = TestServer::start_on(url, tempfile::tempdir().unwrap(), &ENV);
        let (key, key_id) = server.key_for("acme");
        let api = server.api_with_key(&key, &key_id);
        endpoint(&api, &receiver.url("/r"), Some(&["booking.reminder"])).await;
        api.create_service(&service()).await;
        // Due at least 10 s from now: after the server is stopped.
        let start = near_start(10);
        let booking = book(&api, start).await;
        server.kill();
        (booking, start)
    };
    // Stopped across the reminder's time.
    let due = start - SignedDuration::from_mins(5) + SignedDuration::from_secs(2);
    let wait = Timestamp::now().duration_until(due);
    if wait.is_positive() {
        tokio::time::sleep(wait.unsigned_abs()).await;
    }
    assert!(reminders_of(&receiver.received(), &booking).is_empty());

    let _server = TestServer::start_on(url, tempfile::tempdir().unwrap(), &ENV);
    reminder_arrives(&receiver, &booking, start).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(reminders_of(&receiver.received(), &booking).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_missed_while_stopped_arrives_once_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("booking.db").display());
    missed_while_stopped_arrives_once_after_restart(&url).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_reminder_missed_while_stopped_arrives_once_after_restart_on_postgres() {
    let db = Database::create(&booking_tests::pg::admin_url());
    missed_while_stopped_arrives_once_after_restart(&db.url).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn a_reminder_arrives_once_across_three_processes_on_postgres() {
    let db = Database::create(&booking_tests::pg::admin_url());
    let servers: Vec<TestServer> = (0..3)
        .map(|_| TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &ENV))
        .collect();
    let (key, key_id) = servers[0].key_for("acme");
    let api = servers[1].api_with_key(&key, &key_id);
    let receiver = Receiver::start().await;
    endpoint(&api, &receiver.url("/r"), Some(&["booking.reminder"])).await;
    api.create_service(&service()).await;

    let start = near_start(8);
    let booking = book(&api, start).await;
    reminder_arrives(&receiver, &booking, start).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(reminders_of(&receiver.received(), &booking).len(), 1);
}
