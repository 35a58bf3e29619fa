//! Operating safely for strangers (issue 13): the request timeout over the
//! whole request, feed-token guessing that never locks out a right token,
//! per-tenant count limits, and fairness between tenants.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use booking_tests::receiver::{Answer, Receiver};
use booking_tests::{Api, TestServer};
use serde_json::{Value, json};

// ------------------------------------------------------------ request timeout

/// Sends `POST path` with a declared body of `len` bytes, then one byte
/// every `every` until the server answers; returns the raw answer and how
/// long it took from the first byte sent.
fn trickle(
    server: &TestServer,
    key: &str,
    path: &str,
    len: usize,
    every: Duration,
) -> (String, Duration) {
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    let started = Instant::now();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {len}\r\n\r\n{{"
    )
    .unwrap();
    stream.flush().unwrap();
    let mut writer = stream.try_clone().unwrap();
    std::thread::spawn(move || {
        for _ in 1..len {
            std::thread::sleep(every);
            if writer.write_all(b" ").is_err() {
                break;
            }
        }
    });
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&answer);
                // The whole JSON answer is in once its body closes.
                if let Some((_, body)) = text.split_once("\r\n\r\n")
                    && body.trim_end().ends_with("}}")
                {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    (
        String::from_utf8_lossy(&answer).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_sent_a_byte_at_a_time_times_out_with_408() {
    let server = TestServer::start_with(&[("BOOKING_REQUEST_TIMEOUT", "2s")]);
    let api = server.api("acme");
    let (answer, took) = trickle(
        &server,
        &api.key,
        "/v1/webhooks",
        200,
        Duration::from_millis(400),
    );
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a trickled body gets 408, got:\n{answer}"
    );
    let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1.trim())
        .unwrap_or_else(|e| panic!("{e}: {answer}"));
    assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT", "{body}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(6),
        "answered after {took:?}, the timeout is 2s"
    );
    // The server is fine, and a body that arrives in time is read.
    api.post("/v1/providers", &json!({"name": "Second chair"}))
        .await
        .expect_status(201);
    let (answer, _) = trickle(
        &server,
        &api.key,
        "/v1/providers",
        3,
        Duration::from_millis(100),
    );
    assert!(
        !answer.starts_with("HTTP/1.1 408"),
        "a slow but timely body is read:\n{answer}"
    );
}

// ------------------------------------------------------------ feed guessing

async fn feed_path(api: &Api) -> String {
    let prv = api.get("/v1/providers").await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = api.get(&format!("/v1/providers/{prv}/feed")).await.json["url"]
        .as_str()
        .unwrap()
        .to_owned();
    format!("/calendar/{}", url.split_once("/calendar/").unwrap().1)
}

async fn status(server: &TestServer, path: &str, forwarded: Option<&str>) -> u16 {
    let mut req = server.client().get(server.url(path));
    if let Some(f) = forwarded {
        req = req.header("X-Forwarded-For", f);
    }
    req.send().await.unwrap().status().as_u16()
}

fn wrong(i: usize) -> String {
    format!("/calendar/feed/{i:0>32}.ics")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_right_token_is_served_after_25_wrong_ones() {
    let server = TestServer::start();
    let api = server.api("acme");
    let real = feed_path(&api).await;
    let mut statuses = Vec::new();
    for i in 0..25 {
        statuses.push(status(&server, &wrong(i), None).await);
    }
    assert_eq!(&statuses[..20], &[404; 20], "{statuses:?}");
    assert_eq!(&statuses[20..], &[429; 5], "{statuses:?}");
    assert_eq!(status(&server, &real, None).await, 200);
    assert_eq!(status(&server, &wrong(99), None).await, 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_is_ignored_without_trusted_proxies() {
    let server = TestServer::start();
    // Each guess claims another client: without trusted proxies the claim
    // is worthless, and the peer (127.0.0.1) is counted.
    let mut statuses = Vec::new();
    for i in 0..21 {
        statuses.push(status(&server, &wrong(i), Some(&format!("203.0.113.{i}"))).await);
    }
    assert_eq!(statuses[19], 404, "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn forwarded_for_is_honoured_from_trusted_proxies() {
    let server = TestServer::start_with(&[("BOOKING_TRUSTED_PROXIES", "127.0.0.1/32")]);
    let api = server.api("acme");
    let real = feed_path(&api).await;
    // The rightmost untrusted address is the client: "1.1.1.1" was written
    // by the client itself and changes nothing.
    let mut statuses = Vec::new();
    for i in 0..21 {
        let chain = format!("1.1.1.{i}, 203.0.113.7");
        statuses.push(status(&server, &wrong(i), Some(&chain)).await);
    }
    assert_eq!(statuses[19], 404, "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
    // Another client behind the same proxy is not limited, and neither is
    // the limited one with a right token.
    assert_eq!(status(&server, &wrong(50), Some("203.0.113.8")).await, 404);
    assert_eq!(status(&server, &real, Some("203.0.113.7")).await, 200);
    // Another address of the same IPv6 /64 is the same client.
    for i in 0..20 {
        let ip = format!("2001:db8:5:6::{:x}", i + 1);
        assert_eq!(status(&server, &wrong(100 + i), Some(&ip)).await, 404);
    }
    assert_eq!(
        status(&server, &wrong(200), Some("2001:db8:5:6:ffff::1")).await,
        429
    );
    assert_eq!(
        status(&server, &wrong(201), Some("2001:db8:5:7::1")).await,
        404
    );
}

// ------------------------------------------------------------ count limits

#[tokio::test(flavor = "multi_thread")]
async fn webhook_endpoints_stop_at_the_limit_even_when_created_at_once() {
    let server = TestServer::start_with(&[
        ("BOOKING_MAX_WEBHOOKS", "3"),
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
    ]);
    let api = server.api("acme");
    let hook = |i: usize| json!({"url": format!("https://hooks.example.com/{i}")});
    for i in 0..2 {
        api.post("/v1/webhooks", &hook(i)).await.expect_status(201);
    }
    // Eight racing creates at limit - 1: exactly one fits.
    let racers = (0..8).map(|i| {
        let api = api.clone();
        let body = hook(10 + i);
        tokio::spawn(async move { api.post("/v1/webhooks", &body).await })
    });
    let mut created = 0;
    for racer in racers {
        let res = racer.await.unwrap();
        match res.status.as_u16() {
            201 => created += 1,
            _ => {
                let err = res.expect_error(409, "LIMIT_REACHED");
                assert_eq!(err["limit"], 3, "{err}");
            }
        }
    }
    assert_eq!(created, 1);
    let list = api.get("/v1/webhooks").await.json;
    assert_eq!(list["data"].as_array().unwrap().len(), 3);
    // Another account has its own count; deleting one makes room.
    let other = server.api("globex");
    other
        .post("/v1/webhooks", &hook(1))
        .await
        .expect_status(201);
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    api.delete(&format!("/v1/webhooks/{id}"))
        .await
        .expect_status(204);
    api.post("/v1/webhooks", &hook(99)).await.expect_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn calendar_connections_stop_at_the_limit_per_provider() {
    let server = TestServer::start_with(&[
        ("BOOKING_MAX_CALENDARS", "2"),
        ("BOOKING_CALENDAR_SYNC_INTERVAL", "1h"),
    ]);
    let api = server.api("acme");
    let prv = api.get("/v1/providers").await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let google = json!({"type": "google", "calendar_id": "primary",
        "credentials": {"access_token": "at"}});
    let path = format!("/v1/providers/{prv}/calendars");
    api.post(&path, &google).await.expect_status(201);
    let racers = (0..6).map(|_| {
        let (api, path, body) = (api.clone(), path.clone(), google.clone());
        tokio::spawn(async move { api.post(&path, &body).await })
    });
    let mut created = 0;
    for racer in racers {
        let res = racer.await.unwrap();
        if res.status.as_u16() == 201 {
            created += 1;
        } else {
            let err = res.expect_error(409, "LIMIT_REACHED");
            assert_eq!(err["limit"], 2, "{err}");
        }
    }
    assert_eq!(created, 1);
    // Another provider of the account has its own count.
    let second = api
        .post("/v1/providers", &json!({"name": "Second chair"}))
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(&format!("/v1/providers/{second}/calendars"), &google)
        .await
        .expect_status(201);
}

// ------------------------------------------------------------ calendar syncs

/// An ICS export with one busy hour on a future Monday.
fn one_busy_hour() -> String {
    let monday = booking_tests::future_monday();
    let compact = |t: String| t.replace(['-', ':'], "");
    [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//Test//Slow calendar//EN".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("DTSTART:{}", compact(booking_tests::ny(monday, 10, 0))),
        format!("DTEND:{}", compact(booking_tests::ny(monday, 11, 0))),
        "UID:busy-1@example.com".to_owned(),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
        String::new(),
    ]
    .join("\r\n")
}

/// A calendar host whose `/{name}.ics` answers after `delay`.
fn serve_ics(host: &Receiver, name: &str, delay: Duration) -> String {
    host.route(
        &format!("/{name}.ics"),
        Answer::status(200)
            .with_body("text/calendar", one_busy_hour())
            .after(delay),
    );
    host.url(&format!("/{name}.ics"))
}

async fn connect_ics(api: &Api, url: &str) -> String {
    let prv = api.get("/v1/providers").await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(
        &format!("/v1/providers/{prv}/calendars"),
        &json!({"type": "ics", "url": url}),
    )
    .await
    .expect_status(201)
    .json["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn connection_status(api: &Api, id: &str) -> String {
    let prv = api.get("/v1/providers").await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let list = api
        .get(&format!("/v1/providers/{prv}/calendars"))
        .await
        .json;
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["status"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_sync_runs_calendars_side_by_side_under_one_deadline() {
    let host = Receiver::start().await;
    let slow_a = serve_ics(&host, "a", Duration::from_millis(1500));
    let slow_b = serve_ics(&host, "b", Duration::from_millis(1500));
    let stuck = serve_ics(&host, "stuck", Duration::from_secs(5));
    // A 3 s request timeout: the sync answers within two thirds of it.
    let server = TestServer::start_with(&[
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("BOOKING_CALENDAR_SYNC_INTERVAL", "1h"),
        ("BOOKING_REQUEST_TIMEOUT", "3s"),
    ]);
    let api = server.api("acme");
    let a = connect_ics(&api, &slow_a).await;
    let b = connect_ics(&api, &slow_b).await;
    let s = connect_ics(&api, &stuck).await;
    let started = Instant::now();
    let res = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    let took = started.elapsed();
    // One after another the two slow hosts alone would take 3 s.
    assert!(
        took < Duration::from_millis(2800),
        "the sync took {took:?}: not side by side under a 2 s deadline"
    );
    let data = res["data"].as_array().unwrap();
    let by_id = |id: &str| data.iter().find(|r| r["id"] == id).unwrap().clone();
    assert_eq!(by_id(&a)["status"], "synced", "{res}");
    assert_eq!(by_id(&b)["status"], "synced", "{res}");
    assert_eq!(by_id(&a)["busy_blocks"], 1, "{res}");
    let late = by_id(&s);
    assert_eq!(late["status"], "error", "{res}");
    assert!(
        late["error"].as_str().unwrap().contains("background"),
        "{late}"
    );
    // The late one finishes in the background.
    let deadline = Instant::now() + Duration::from_secs(10);
    while connection_status(&api, &s).await != "synced" {
        assert!(Instant::now() < deadline, "the late sync never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn background_sync_does_not_make_one_tenant_wait_for_anothers_slow_calendars() {
    let host = Receiver::start().await;
    let server = TestServer::start_with(&[
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        // Background rounds every second; a synced calendar is due again
        // after 30 s.
        ("BOOKING_CALENDAR_SYNC_INTERVAL", "30s"),
    ]);
    // Account A: eight calendars whose host takes 3 s each. One after
    // another they would hold the background sync for 24 s.
    let slow = server.api("slowcorp");
    for i in 0..8 {
        let url = serve_ics(&host, &format!("slow{i}"), Duration::from_secs(3));
        connect_ics(&slow, &url).await;
    }
    let fast = server.api("fastcorp");
    let url = serve_ics(&host, "fast", Duration::ZERO);
    let created = Instant::now();
    let id = connect_ics(&fast, &url).await;
    // B's calendar waits for one round of A's at most (3 s), plus a tick.
    let deadline = created + Duration::from_secs(8);
    while connection_status(&fast, &id).await != "synced" {
        assert!(
            Instant::now() < deadline,
            "the fast tenant's calendar waited for the slow tenant's: {}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------ webhook fairness

#[tokio::test(flavor = "multi_thread")]
async fn one_accounts_slow_backlog_does_not_delay_another_accounts_delivery() {
    // A's receiver takes 4 s per delivery; B's answers at once.
    let slow = Receiver::start().await;
    slow.always(Answer::status(200).after(Duration::from_secs(4)));
    let fast = Receiver::start().await;
    let server = TestServer::start_with(&[("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true")]);
    let a = server.api("noisy");
    a.create_seed_service().await;
    for i in 0..20 {
        a.post(
            "/v1/webhooks",
            &json!({"url": slow.url(&format!("/hook/{i}"))}),
        )
        .await
        .expect_status(201);
    }
    // 14 bookings x 20 endpoints: 280 deliveries, more than the worker's
    // 256 send slots.
    let monday = booking_tests::future_monday();
    for hour in 9..16 {
        for day in 0..2 {
            let date = monday.checked_add(jiff::ToSpan::days(day)).unwrap();
            a.book_ok("srv_consultation", &booking_tests::ny(date, hour, 0))
                .await;
        }
    }
    // Wait until A's sends fill what A may hold.
    let deadline = Instant::now() + Duration::from_secs(10);
    while slow.count() < 40 {
        assert!(Instant::now() < deadline, "A's deliveries never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let b = server.api("quiet");
    b.create_seed_service().await;
    b.post("/v1/webhooks", &json!({"url": fast.url("/hook")}))
        .await
        .expect_status(201);
    let booked = Instant::now();
    b.book_ok("srv_consultation", &booking_tests::ny(monday, 10, 0))
        .await;
    let deadline = booked + Duration::from_secs(10);
    while fast.count() == 0 {
        assert!(Instant::now() < deadline, "B's delivery never came");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let waited = booked.elapsed();
    assert!(
        waited < Duration::from_millis(1500),
        "B's delivery waited {waited:?} behind A's backlog"
    );
}
