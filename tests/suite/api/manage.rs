//! Customer links as JSON (`/v1/manage/{token}`, issue 16): every booking
//! answer carries `manage_url`; the link views the booking, lists the times
//! it can move to, cancels and moves it with the service's cutoffs (409
//! CUTOFF_PASSED for the customer, the API key is not bound), dies with the
//! cancellation and after the end, opens only its own booking, and wrong
//! tokens count toward the feed tokens' guessing limit. Events carry
//! `actor`. On SQLite and on Postgres.

use std::time::Duration;

use booking_tests::pg::{self, Database};
use booking_tests::receiver::Receiver;
use booking_tests::{
    Resp, TestServer, add_days, backdate_sqlite_booking, future_monday, ny, seed_with,
};
use serde_json::{Value, json};

fn postgres_server(db: &Database, env: &[(&str, &str)]) -> TestServer {
    TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), env)
}

/// Webhooks to 127.0.0.1 allowed, quick retries.
const HOOKS: &[(&str, &str)] = &[
    ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s"),
    ("BOOKING_WEBHOOK_TIMEOUT", "2s"),
];

/// The token of a booking answer's `manage_url` (checked to be under the
/// server's public URL).
fn token(server: &TestServer, booking: &Value) -> String {
    let url = booking["manage_url"].as_str().expect("manage_url");
    let token = url
        .strip_prefix(&server.url("/manage/"))
        .unwrap_or_else(|| panic!("{url} is not under the public URL"));
    assert_eq!(token.len(), 32, "{token}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    token.to_owned()
}

/// A request without any API key.
async fn anon_get(server: &TestServer, path: &str) -> Resp {
    Resp::from(server.client().get(server.url(path))).await
}

async fn anon_post(server: &TestServer, path: &str, body: &Value) -> Resp {
    Resp::from(server.client().post(server.url(path)).json(body)).await
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Every booking answer carries the same link; it views the booking, lists
/// its free times (its own time counted free), moves and cancels it with
/// `actor: customer` on the events, and dies with the cancellation.
async fn the_link_views_moves_and_cancels(server: &TestServer) {
    let receiver = Receiver::start().await;
    let api = server.api("acme");
    api.create_seed_service().await;
    api.post("/v1/webhooks", &json!({"url": receiver.url("/hook")}))
        .await
        .expect_status(201);
    let monday = future_monday();
    let created = api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let bk = id(&created);
    let token = token(server, &created);
    // The same URL in every answer about the booking.
    let got = api
        .get(&format!("/v1/bookings/{bk}"))
        .await
        .expect_status(200);
    assert_eq!(got.json["manage_url"], created["manage_url"]);
    let listed = api.list_all("/v1/bookings", 50).await;
    assert_eq!(listed[0]["manage_url"], created["manage_url"]);
    let confirmed = api
        .post_empty(&format!("/v1/bookings/{bk}/confirm"))
        .await
        .expect_status(200);
    assert_eq!(confirmed.json["manage_url"], created["manage_url"]);

    // View, without a key.
    let view = anon_get(server, &format!("/v1/manage/{token}"))
        .await
        .expect_status(200);
    assert_eq!(view.header("cache-control"), Some("no-store"));
    assert_eq!(view.header("referrer-policy"), Some("no-referrer"));
    let v = &view.json;
    assert_eq!(v["id"], bk);
    assert_eq!(v["status"], "confirmed");
    assert_eq!(v["scheduled_at"], ny(monday, 10, 0));
    assert_eq!(v["service"]["timezone"], "America/New_York");
    assert_eq!(v["service"]["name"], "1-Hour Consultation");
    assert_eq!(v["cancel_deadline"], ny(monday, 10, 0));
    assert!(v.get("metadata").is_none(), "{v}");

    // Availability: the booking's own 10:00 is offered (it would not block
    // itself), the other bookings' times are not.
    api.book_ok("srv_consultation", &ny(monday, 12, 0)).await;
    let slots = anon_get(
        server,
        &format!("/v1/manage/{token}/availability?from={monday}&to={monday}"),
    )
    .await
    .expect_status(200)
    .json;
    assert_eq!(slots["booking_id"], bk);
    let starts: Vec<&str> = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["start"].as_str().unwrap())
        .collect();
    assert!(starts.contains(&ny(monday, 10, 0).as_str()), "{starts:?}");
    assert!(!starts.contains(&ny(monday, 12, 0).as_str()), "{starts:?}");
    assert!(starts.contains(&ny(monday, 14, 0).as_str()), "{starts:?}");
    anon_get(
        server,
        &format!("/v1/manage/{token}/availability?from={monday}"),
    )
    .await
    .expect_validation_of("to");

    // Move: onto a taken time is a conflict, onto a free one works. The
    // refusal says a booking is in the way and when, not whose.
    let taken = anon_post(
        server,
        &format!("/v1/manage/{token}/reschedule"),
        &json!({"scheduled_at": ny(monday, 12, 0)}),
    )
    .await;
    let details = taken.expect_error(409, "BOOKING_CONFLICT");
    let booked = details["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "BOOKED")
        .unwrap_or_else(|| panic!("no BOOKED reason: {details}"));
    assert!(booked.get("booking_id").is_none(), "{details}");
    assert!(booked["start"].is_string(), "{details}");
    let moved = anon_post(
        server,
        &format!("/v1/manage/{token}/reschedule"),
        &json!({"scheduled_at": ny(monday, 15, 0)}),
    )
    .await
    .expect_status(200)
    .json;
    assert_eq!(moved["scheduled_at"], ny(monday, 15, 0));
    assert_eq!(moved["manage_url"], created["manage_url"]);
    let stored = api.get(&format!("/v1/bookings/{bk}")).await.json;
    assert_eq!(stored["scheduled_at"], ny(monday, 15, 0));
    assert_eq!(stored["status"], "confirmed");

    // Cancel; the link is dead at once.
    let cancelled = anon_post(
        server,
        &format!("/v1/manage/{token}/cancel"),
        &json!({"reason": "Can't make it"}),
    )
    .await
    .expect_status(200)
    .json;
    assert_eq!(cancelled["status"], "cancelled");
    let stored = api.get(&format!("/v1/bookings/{bk}")).await.json;
    assert_eq!(stored["status"], "cancelled");
    assert_eq!(stored["cancel_reason"], "Can't make it");
    anon_get(server, &format!("/v1/manage/{token}"))
        .await
        .expect_error(404, "NOT_FOUND");
    anon_post(server, &format!("/v1/manage/{token}/cancel"), &json!({}))
        .await
        .expect_error(404, "NOT_FOUND");

    // Webhooks: the API's events say `api`, the customer's `customer`;
    // bodies leave the link out (their bytes must not depend on the
    // sending instance's public URL).
    let got = receiver
        .wait_for(Duration::from_secs(20), "the customer's cancel", |r| {
            r.iter().any(|x| x.json()["event"] == "booking.cancelled")
        })
        .await;
    let actors: Vec<(String, String)> = got
        .iter()
        .map(|r| r.json())
        .filter(|j| j["data"]["id"] == bk.as_str())
        .map(|j| {
            assert!(j["data"].get("manage_url").is_none(), "{j}");
            (
                j["event"].as_str().unwrap().to_owned(),
                j["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (event, actor) in [
        ("booking.created", "api"),
        ("booking.confirmed", "api"),
        ("booking.rescheduled", "customer"),
        ("booking.cancelled", "customer"),
    ] {
        assert!(
            actors.contains(&(event.to_owned(), actor.to_owned())),
            "{event} by {actor} in {actors:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_link_views_moves_and_cancels_on_sqlite() {
    the_link_views_moves_and_cancels(&TestServer::start_with(HOOKS)).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn the_link_views_moves_and_cancels_on_postgres() {
    let db = Database::create(&pg::admin_url());
    the_link_views_moves_and_cancels(&postgres_server(&db, HOOKS)).await;
}

/// Cutoffs bind the customer (409 CUTOFF_PASSED with the deadline) and not
/// the API key; they are validated and read back.
async fn cutoffs_bind_the_customer_only(server: &TestServer) {
    let api = server.api("acme");
    // A booking two days ahead, at least; a cutoff of 30 days passes for it.
    let svc = api
        .create_service(&seed_with(
            &json!({"id": "srv_strict", "cancel_cutoff": 43200, "reschedule_cutoff": 43200}),
        ))
        .await;
    assert_eq!(
        (
            svc["cancel_cutoff"].as_u64(),
            svc["reschedule_cutoff"].as_u64()
        ),
        (Some(43200), Some(43200))
    );
    let loose = api.create_seed_service().await;
    assert_eq!(loose["cancel_cutoff"], 0);
    assert_eq!(loose["reschedule_cutoff"], 0);
    for bad in [json!(-1), json!(43201), json!(1.5), json!("60")] {
        api.post(
            "/v1/services",
            &seed_with(&json!({"id": "srv_bad", "cancel_cutoff": bad})),
        )
        .await
        .expect_validation_of("cancel_cutoff");
    }
    api.patch(
        "/v1/services/srv_consultation",
        &json!({"reschedule_cutoff": 43201}),
    )
    .await
    .expect_validation_of("reschedule_cutoff");

    let monday = future_monday();
    let strict = api.book_ok("srv_strict", &ny(monday, 10, 0)).await;
    let strict_token = token(server, &strict);
    let view = anon_get(server, &format!("/v1/manage/{strict_token}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(
        view["cancel_deadline"],
        booking_tests::fmt_utc(
            booking_tests::ts(&ny(monday, 10, 0))
                .checked_sub(jiff::SignedDuration::from_hours(720))
                .unwrap()
        )
    );
    let err = anon_post(
        server,
        &format!("/v1/manage/{strict_token}/reschedule"),
        &json!({"scheduled_at": ny(monday, 11, 0)}),
    )
    .await
    .expect_error(409, "CUTOFF_PASSED");
    assert_eq!(err["deadline"], view["reschedule_deadline"]);
    anon_post(
        server,
        &format!("/v1/manage/{strict_token}/cancel"),
        &json!({}),
    )
    .await
    .expect_error(409, "CUTOFF_PASSED");
    // Nothing changed; the API key holder is not bound.
    let bk = id(&strict);
    let stored = api.get(&format!("/v1/bookings/{bk}")).await.json;
    assert_eq!(stored["scheduled_at"], ny(monday, 10, 0));
    api.post(
        &format!("/v1/bookings/{bk}/reschedule"),
        &json!({"scheduled_at": ny(monday, 11, 0)}),
    )
    .await
    .expect_status(200);
    api.post_empty(&format!("/v1/bookings/{bk}/cancel"))
        .await
        .expect_status(200);

    // Lowering the cutoff lets the customer act again (the service's
    // current cutoff counts).
    let second = api
        .book_ok("srv_strict", &ny(add_days(monday, 1), 10, 0))
        .await;
    let second_token = token(server, &second);
    anon_post(
        server,
        &format!("/v1/manage/{second_token}/cancel"),
        &json!({}),
    )
    .await
    .expect_error(409, "CUTOFF_PASSED");
    api.patch("/v1/services/srv_strict", &json!({"cancel_cutoff": 60}))
        .await
        .expect_status(200);
    anon_post(
        server,
        &format!("/v1/manage/{second_token}/cancel"),
        &json!({}),
    )
    .await
    .expect_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn cutoffs_bind_the_customer_only_on_sqlite() {
    cutoffs_bind_the_customer_only(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn cutoffs_bind_the_customer_only_on_postgres() {
    let db = Database::create(&pg::admin_url());
    cutoffs_bind_the_customer_only(&postgres_server(&db, &[])).await;
}

/// A link opens its own booking only: another account's key does not see
/// it, and the link answers the same whatever key (or none) is sent.
async fn links_open_only_their_booking(server: &TestServer) {
    let acme = server.api("acme");
    let globex = server.api("globex");
    acme.create_seed_service().await;
    globex.create_seed_service().await;
    let monday = future_monday();
    let a = acme.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let b = globex.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let (ta, tb) = (token(server, &a), token(server, &b));
    assert_ne!(ta, tb);
    assert_eq!(
        anon_get(server, &format!("/v1/manage/{ta}")).await.json["id"],
        a["id"]
    );
    // Globex's key on acme's link: the link decides, not the key.
    let with_key = globex
        .get(&format!("/v1/manage/{ta}"))
        .await
        .expect_status(200);
    assert_eq!(with_key.json["id"], a["id"]);
    globex
        .get(&format!("/v1/bookings/{}", id(&a)))
        .await
        .expect_error(404, "NOT_FOUND");
    // Globex's customer cancels theirs; acme's is untouched.
    anon_post(server, &format!("/v1/manage/{tb}/cancel"), &json!({}))
        .await
        .expect_status(200);
    assert_eq!(
        acme.get(&format!("/v1/bookings/{}", id(&a))).await.json["status"],
        "pending"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn links_open_only_their_booking_on_sqlite() {
    links_open_only_their_booking(&TestServer::start()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn links_open_only_their_booking_on_postgres() {
    let db = Database::create(&pg::admin_url());
    links_open_only_their_booking(&postgres_server(&db, &[])).await;
}

/// Wrong tokens are 404 and count toward the same per-client limit as
/// wrong feed tokens; a right link is still served over the limit.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_tokens_share_the_feed_guessing_limit() {
    let server = TestServer::start();
    let api = server.api("acme");
    api.create_seed_service().await;
    let b = api
        .book_ok("srv_consultation", &ny(future_monday(), 10, 0))
        .await;
    let right = token(&server, &b);
    // 10 wrong feed tokens, then wrong link tokens: the 21st wrong one in
    // all is refused.
    for i in 0..10 {
        let res = anon_get(&server, &format!("/calendar/feed/{i:0>32}.ics")).await;
        assert_eq!(res.status.as_u16(), 404);
    }
    let mut refused_at = None;
    for i in 10..30 {
        let path = match i % 3 {
            0 => format!("/v1/manage/{i:0>32}"),
            1 => format!("/v1/manage/{i:0>32}/availability?from=2030-01-01&to=2030-01-02"),
            _ => format!("/v1/manage/short{i}"),
        };
        let res = anon_get(&server, &path).await;
        match res.status.as_u16() {
            404 => {
                res.expect_error(404, "NOT_FOUND");
            }
            429 => {
                res.expect_error(429, "RATE_LIMITED");
                assert!(res.header("retry-after").is_some());
                refused_at = Some(i);
                break;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(refused_at, Some(20));
    // Posts with wrong tokens are refused too; the right link still works.
    assert_eq!(
        anon_post(
            &server,
            &format!("/v1/manage/{:0>32}/cancel", 7),
            &json!({})
        )
        .await
        .status
        .as_u16(),
        429
    );
    anon_get(&server, &format!("/v1/manage/{right}"))
        .await
        .expect_status(200);
}

/// The link dies when the booking ends (and stays dead once it is
/// completed); the automatic completion's event says `system`.
#[tokio::test(flavor = "multi_thread")]
async fn the_link_dies_when_the_booking_ends() {
    let receiver = Receiver::start().await;
    let server = TestServer::start_with(&[
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_WEBHOOK_RETRY_DELAYS", "1s,1s"),
        ("BOOKING_COMPLETION_INTERVAL", "1s"),
    ]);
    let api = server.api("acme");
    api.create_seed_service().await;
    api.post("/v1/webhooks", &json!({"url": receiver.url("/hook")}))
        .await
        .expect_status(201);
    let b = api
        .book_ok("srv_consultation", &ny(future_monday(), 10, 0))
        .await;
    let bk = id(&b);
    let t = token(&server, &b);
    anon_get(&server, &format!("/v1/manage/{t}"))
        .await
        .expect_status(200);
    api.post_empty(&format!("/v1/bookings/{bk}/confirm"))
        .await
        .expect_status(200);
    backdate_sqlite_booking(&server.database_url, &bk);
    // Over at once (whether or not the completer has run yet).
    anon_get(&server, &format!("/v1/manage/{t}"))
        .await
        .expect_error(404, "NOT_FOUND");
    let got = receiver
        .wait_for(Duration::from_secs(20), "booking.completed", |r| {
            r.iter().any(|x| x.json()["event"] == "booking.completed")
        })
        .await;
    let completed = got
        .iter()
        .map(|r| r.json())
        .find(|j| j["event"] == "booking.completed")
        .unwrap();
    assert_eq!(completed["actor"], "system");
    assert_eq!(
        api.get(&format!("/v1/bookings/{bk}")).await.json["status"],
        "completed"
    );
    anon_post(&server, &format!("/v1/manage/{t}/cancel"), &json!({}))
        .await
        .expect_error(404, "NOT_FOUND");
}

/// Bodies are validated like the API's.
#[tokio::test(flavor = "multi_thread")]
async fn customer_bodies_are_validated() {
    let server = TestServer::start();
    let api = server.api("acme");
    api.create_seed_service().await;
    let monday = future_monday();
    let b = api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let t = token(&server, &b);
    let path = |what: &str| format!("/v1/manage/{t}/{what}");
    anon_post(&server, &path("reschedule"), &json!({}))
        .await
        .expect_validation_of("scheduled_at");
    anon_post(
        &server,
        &path("reschedule"),
        &json!({"scheduled_at": "2030-01-01T10:00:30Z"}),
    )
    .await
    .expect_validation_of("scheduled_at");
    anon_post(
        &server,
        &path("cancel"),
        &json!({"reason": "x".repeat(1001)}),
    )
    .await
    .expect_validation_of("reason");
    anon_post(&server, &path("cancel"), &json!({"why": "typo"}))
        .await
        .expect_validation();
    // Still pending after all that.
    assert_eq!(
        anon_get(&server, &format!("/v1/manage/{t}")).await.json["status"],
        "pending"
    );
}
