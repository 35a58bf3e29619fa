//! External calendars end to end: connecting them, syncing from local
//! servers on 127.0.0.1 shaped like each provider's API, slots disappearing,
//! bookings refused with the right `next_available`, failures keeping the
//! last good blocks, the sync rate limit, and background sync.

use std::time::Duration;

use booking_tests::receiver::{Answer, Receiver};
use booking_tests::{TestServer, fmt_utc, future_monday, ny, ts};
use serde_json::{Value, json};

/// An ICS export with one busy meeting at `start`–`end` (UTC instants), and a
/// transparent event four hours and a cancelled event five hours later, on
/// the same day: inside the synced window, so ignoring them is tested.
fn ics(start: &str, end: &str) -> String {
    let later = |at: &str, hours: i64| {
        compact(&fmt_utc(
            ts(at)
                .checked_add(jiff::SignedDuration::from_hours(hours))
                .unwrap(),
        ))
    };
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
        "BEGIN:VEVENT",
        &format!("DTSTART:{}", compact(start)),
        &format!("DTEND:{}", compact(end)),
        "UID:busy-1@google.com",
        "SUMMARY:Dentist",
        "END:VEVENT",
        "BEGIN:VEVENT",
        &format!("DTSTART:{}", later(start, 4)),
        &format!("DTEND:{}", later(end, 4)),
        "UID:free-1@google.com",
        "TRANSP:TRANSPARENT",
        "END:VEVENT",
        "BEGIN:VEVENT",
        &format!("DTSTART:{}", later(start, 5)),
        &format!("DTEND:{}", later(end, 5)),
        "UID:cancelled-1@google.com",
        "STATUS:CANCELLED",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\r\n")
}

fn compact(ts: &str) -> String {
    ts.replace(['-', ':'], "")
}

fn server(extra: &[(&str, &str)]) -> TestServer {
    let mut env = vec![("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true")];
    env.extend_from_slice(extra);
    TestServer::start_with(&env)
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_are_validated_listed_without_secrets_and_deleted() {
    let server = TestServer::start();
    let api = server.api("acme");
    let prv = api.provider_id().await;
    let path = format!("/v1/providers/{prv}/calendars");
    let google = api
        .post(
            &path,
            &json!({"type": "google", "calendar_id": "primary",
                    "credentials": {"refresh_token": "rt-secret", "client_id": "cid", "client_secret": "cs-secret"}}),
        )
        .await
        .expect_status(201)
        .json;
    assert!(google["id"].as_str().unwrap().starts_with("cal_"));
    assert_eq!(google["type"], "google");
    assert_eq!(google["status"], "pending");
    assert_eq!(google["busy_blocks"], 0);
    assert_eq!(google["last_synced_at"], Value::Null);
    assert_eq!(google["last_error"], Value::Null);
    api.post(
        &path,
        &json!({"type": "calendly", "credentials": {"access_token": "pat-secret"}}),
    )
    .await
    .expect_status(201);
    // A token that is still valid, whatever day the test runs.
    let expires_at = fmt_utc(
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(1))
            .unwrap(),
    );
    api.post(
        &path,
        &json!({"type": "outlook", "credentials": {"access_token": "at-secret", "expires_at": expires_at}}),
    )
    .await
    .expect_status(201);
    for (body, field) in [
        (json!({"type": "ics"}), "url"),
        (
            json!({"type": "nope", "url": "https://x.example/c.ics"}),
            "type",
        ),
        (
            json!({"type": "google", "credentials": {"access_token": "a"}}),
            "calendar_id",
        ),
        (json!({"type": "outlook"}), "credentials"),
        (
            json!({"type": "outlook", "credentials": {"refresh_token": "r"}}),
            "credentials",
        ),
        (
            json!({"type": "calendly", "credentials": {"access_token": "a", "extra": 1}}),
            "credentials.extra",
        ),
        (
            json!({"type": "ics", "url": "https://127.0.0.1/c.ics"}),
            "url",
        ),
        (
            json!({"type": "ics", "url": "http://calendar.example.com/c.ics"}),
            "url",
        ),
    ] {
        api.post(&path, &body).await.expect_validation_of(field);
    }
    let listed = api.get(&path).await.expect_status(200);
    let text = listed.text();
    for secret in ["rt-secret", "cs-secret", "pat-secret", "at-secret"] {
        assert!(!text.contains(secret), "credentials echoed back: {text}");
    }
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 3);
    // (The server logs where its secret key file is: look for the values.)
    let logs = server.logs();
    for secret in ["rt-secret", "cs-secret", "pat-secret", "at-secret"] {
        assert!(!logs.contains(secret), "credentials logged: {logs}");
    }

    let other = server.api("globex");
    other.get(&path).await.expect_error(404, "NOT_FOUND");
    let id = google["id"].as_str().unwrap();
    other
        .delete(&format!("{path}/{id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    api.delete(&format!("{path}/{id}")).await.expect_status(204);
    api.delete(&format!("{path}/{id}"))
        .await
        .expect_error(404, "NOT_FOUND");
    assert_eq!(
        api.get(&path).await.json["data"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_time_from_an_ics_feed_blocks_slots_and_bookings() {
    let host = Receiver::start().await;
    let server = server(&[]);
    let api = server.api("acme");
    // Buffers apply to external busy time exactly as to bookings.
    api.create_service(&booking_tests::seed_with(&json!({"buffer_after": 30})))
        .await;
    let prv = api.provider_id().await;
    let monday = future_monday();
    let (start, end) = (ny(monday, 10, 0), ny(monday, 11, 0));
    host.route(
        "/cal.ics",
        Answer::status(200)
            .with_header("ETag", "\"v1\"")
            .with_body("text/calendar", ics(&start, &end)),
    );
    let path = format!("/v1/providers/{prv}/calendars");
    let conn = api
        .post(&path, &json!({"type": "ics", "url": host.url("/cal.ics")}))
        .await
        .expect_status(201)
        .json;
    let before = api
        .slot_starts("srv_consultation", &monday.to_string(), &monday.to_string())
        .await;
    assert!(before.contains(&ny(monday, 10, 0)));

    let synced = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    assert_eq!(synced["data"][0]["id"], conn["id"]);
    assert_eq!(synced["data"][0]["status"], "synced", "{synced}");
    assert_eq!(synced["data"][0]["busy_blocks"], 1);

    let after = api
        .slot_starts("srv_consultation", &monday.to_string(), &monday.to_string())
        .await;
    // 10:00 is busy; 09:00 would run into it with its 30-minute buffer after.
    assert!(!after.contains(&ny(monday, 10, 0)), "{after:?}");
    assert!(!after.contains(&ny(monday, 9, 0)), "{after:?}");
    assert!(after.contains(&ny(monday, 11, 0)), "{after:?}");
    // The transparent (14:00) and cancelled (15:00) events block nothing.
    for free in [13, 14, 15] {
        assert!(after.contains(&ny(monday, free, 0)), "{after:?}");
    }
    let refused = api.book("srv_consultation", &ny(monday, 10, 0)).await;
    let details = refused.expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["next_available"], ny(monday, 11, 0));

    // The second sync is a conditional GET; an upstream failure keeps the
    // last good blocks and records the error.
    host.route("/cal.ics", Answer::status(500));
    let failed = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    assert_eq!(failed["data"][0]["status"], "error");
    assert!(failed["data"][0]["error"].is_string());
    assert_eq!(failed["data"][0]["busy_blocks"], 1);
    let listed = api.get(&path).await.json;
    assert_eq!(listed["data"][0]["status"], "error");
    assert!(listed["data"][0]["last_error"].is_string());
    assert!(listed["data"][0]["last_synced_at"].is_string());
    api.book("srv_consultation", &ny(monday, 10, 0))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    let requests = host.received();
    let second = requests.iter().rfind(|r| r.path == "/cal.ics").unwrap();
    assert_eq!(second.header("if-none-match"), "\"v1\"");

    // Disconnecting frees the time at once.
    let id = conn["id"].as_str().unwrap();
    api.delete(&format!("{path}/{id}")).await.expect_status(204);
    api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn google_outlook_and_calendly_busy_time_all_count() {
    let host = Receiver::start().await;
    let monday = future_monday();
    let slot = |h: i8| ny(monday, h, 0);
    let end = |h: i8| ny(monday, h + 1, 0);
    host.route(
        "/token",
        Answer::status(200).with_body(
            "application/json",
            json!({"access_token": "fresh-token", "expires_in": 3599, "token_type": "Bearer"})
                .to_string(),
        ),
    );
    host.route(
        "/calendar/v3/freeBusy",
        Answer::status(200).with_body(
            "application/json",
            json!({"kind": "calendar#freeBusy", "timeMin": slot(9), "timeMax": end(16),
                   "calendars": {"primary": {"busy": [{"start": slot(10), "end": end(10)}]}}})
            .to_string(),
        ),
    );
    host.route(
        "/v1.0/me/calendarView",
        Answer::status(200).with_body(
            "application/json",
            json!({"value": [
                {"showAs": "busy", "isCancelled": false,
                 "start": {"dateTime": compact_graph(&slot(12)), "timeZone": "UTC"},
                 "end": {"dateTime": compact_graph(&end(12)), "timeZone": "UTC"}},
                {"showAs": "free", "isCancelled": false,
                 "start": {"dateTime": compact_graph(&slot(13)), "timeZone": "UTC"},
                 "end": {"dateTime": compact_graph(&end(13)), "timeZone": "UTC"}}
            ]})
            .to_string(),
        ),
    );
    host.route(
        "/users/me",
        Answer::status(200).with_body(
            "application/json",
            json!({"resource": {"uri": format!("{}/users/AAAA", host.base_url), "name": "Ada"}})
                .to_string(),
        ),
    );
    host.route(
        "/scheduled_events",
        Answer::status(200).with_body(
            "application/json",
            json!({"collection": [{"uri": "x", "status": "active", "start_time": slot(14), "end_time": end(14)}],
                   "pagination": {"count": 1, "next_page": null}})
            .to_string(),
        ),
    );
    let token_url = host.url("/token");
    let server = server(&[
        ("BOOKING_GOOGLE_API_URL", &host.base_url),
        ("BOOKING_GOOGLE_TOKEN_URL", &token_url),
        ("BOOKING_GRAPH_API_URL", &host.base_url),
        ("BOOKING_MICROSOFT_TOKEN_URL", &token_url),
        ("BOOKING_CALENDLY_API_URL", &host.base_url),
    ]);
    let api = server.api("acme");
    api.create_seed_service().await;
    let prv = api.provider_id().await;
    let path = format!("/v1/providers/{prv}/calendars");
    // Google with only a refresh token: the first sync refreshes it.
    api.post(
        &path,
        &json!({"type": "google", "calendar_id": "primary",
                "credentials": {"refresh_token": "rt", "client_id": "cid", "client_secret": "cs"}}),
    )
    .await
    .expect_status(201);
    api.post(
        &path,
        &json!({"type": "outlook", "credentials": {"access_token": "at"}}),
    )
    .await
    .expect_status(201);
    api.post(
        &path,
        &json!({"type": "calendly", "credentials": {"access_token": "pat"}}),
    )
    .await
    .expect_status(201);
    let synced = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    for entry in synced["data"].as_array().unwrap() {
        assert_eq!(entry["status"], "synced", "{synced}");
        assert_eq!(entry["busy_blocks"], 1, "{synced}");
    }
    let day = monday.to_string();
    let free = api.slot_starts("srv_consultation", &day, &day).await;
    for (h, busy) in [
        (9, false),
        (10, true),
        (11, false),
        (12, true),
        (13, false),
        (14, true),
        (15, false),
    ] {
        assert_eq!(!free.contains(&slot(h)), busy, "{h}:00 in {free:?}");
    }
    let token = host
        .received()
        .into_iter()
        .find(|r| r.path == "/token")
        .expect("token refreshed");
    let form = String::from_utf8(token.body).unwrap();
    assert!(form.contains("grant_type=refresh_token") && form.contains("refresh_token=rt"));
    let free_busy = host
        .received()
        .into_iter()
        .find(|r| r.path.starts_with("/calendar/v3/freeBusy"))
        .unwrap();
    assert_eq!(free_busy.header("authorization"), "Bearer fresh-token");
}

/// Graph's `dateTime` form: local time without offset, seven decimals.
fn compact_graph(rfc3339: &str) -> String {
    format!("{}.0000000", rfc3339.trim_end_matches('Z'))
}

#[tokio::test(flavor = "multi_thread")]
async fn syncing_is_rate_limited_per_key_and_runs_in_the_background() {
    let host = Receiver::start().await;
    let monday = future_monday();
    host.route(
        "/cal.ics",
        Answer::status(200).with_body("text/calendar", ics(&ny(monday, 10, 0), &ny(monday, 11, 0))),
    );
    let server = server(&[
        ("BOOKING_RATE_CALENDAR_SYNC", "2/hour"),
        ("BOOKING_CALENDAR_SYNC_INTERVAL", "2s"),
    ]);
    let api = server.api("acme");
    let prv = api.provider_id().await;
    let path = format!("/v1/providers/{prv}/calendars");
    api.post(&path, &json!({"type": "ics", "url": host.url("/cal.ics")}))
        .await
        .expect_status(201);
    // The background task syncs it without being asked.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let listed = api.get(&path).await.json;
        if listed["data"][0]["status"] == "synced" {
            assert_eq!(listed["data"][0]["busy_blocks"], 1);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never synced: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first = api.post_empty("/v1/calendar/sync").await.expect_status(200);
    assert_eq!(
        first.header("ratelimit-policy"),
        Some("\"calendar_sync\";q=2;w=3600")
    );
    api.post_empty("/v1/calendar/sync").await.expect_status(200);
    let limited = api.post_empty("/v1/calendar/sync").await;
    let details = limited.expect_error(429, "RATE_LIMITED");
    assert!(details["retry_after"].as_u64().unwrap() > 0);
}
