//! SIGTERM: the server stops accepting connections, finishes the requests in
//! flight with their normal answers, and exits 0.

use std::time::{Duration, Instant};

use booking_tests::receiver::{Answer, Receiver};
use booking_tests::{TestServer, future_monday, ny};
use serde_json::json;

/// An ICS export with one busy hour, `start`/`end` in the compact UTC form.
fn one_busy_hour(start: &str, end: &str) -> String {
    [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Test//Slow calendar//EN",
        "BEGIN:VEVENT",
        &format!("DTSTART:{start}"),
        &format!("DTEND:{end}"),
        "UID:busy-1@example.com",
        "SUMMARY:Busy",
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    .join("\r\n")
}

fn compact(ts: &str) -> String {
    ts.replace(['-', ':'], "")
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    // The slow request: a calendar sync whose ICS host answers after a delay,
    // so the server is in the middle of handling it when SIGTERM arrives.
    const UPSTREAM_DELAY: Duration = Duration::from_secs(3);
    let host = Receiver::start().await;
    let monday = future_monday();
    host.route(
        "/slow.ics",
        Answer::status(200)
            .with_body(
                "text/calendar",
                one_busy_hour(&compact(&ny(monday, 10, 0)), &compact(&ny(monday, 11, 0))),
            )
            .after(UPSTREAM_DELAY),
    );
    let mut server = TestServer::start_with(&[
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
        // Only the request below syncs.
        ("BOOKING_CALENDAR_SYNC_INTERVAL", "1h"),
    ]);
    let api = server.api("acme");
    let prv = api.get("/v1/providers").await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.post(
        &format!("/v1/providers/{prv}/calendars"),
        &json!({"type": "ics", "url": host.url("/slow.ics")}),
    )
    .await
    .expect_status(201);

    let in_flight = tokio::spawn({
        let api = api.clone();
        async move { api.post_empty("/v1/calendar/sync").await }
    });
    // The server has started the request once the ICS host sees its fetch.
    let deadline = Instant::now() + Duration::from_secs(15);
    while host.count() == 0 {
        assert!(
            Instant::now() < deadline,
            "the sync never reached the ICS host; server log:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let signalled = Instant::now();
    server.sigterm();

    // New connections are refused while the request is still being worked on.
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(2);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections 2 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !in_flight.is_finished(),
        "the slow request ended before the listener closed; the test proves nothing"
    );

    // The request in flight gets its normal answer...
    let res = in_flight.await.unwrap().expect_status(200);
    assert!(
        signalled.elapsed() >= UPSTREAM_DELAY - Duration::from_millis(500),
        "answered before the upstream did"
    );
    assert_eq!(res.json["data"][0]["status"], "synced", "{}", res.text());
    assert_eq!(res.json["data"][0]["busy_blocks"], 1, "{}", res.text());

    // ...then the process exits with status 0.
    let status = server
        .wait(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("still running 20 s after SIGTERM:\n{}", server.logs()));
    assert_eq!(status.code(), Some(0), "{status}; log:\n{}", server.logs());
    // The log reader may still be draining the last lines.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.logs().contains("shut down cleanly") {
        assert!(Instant::now() < deadline, "{}", server.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A SIGTERM sent the moment the server says it is listening stops it: the
/// signal listener exists before the server does (it used to be lost when it
/// arrived before actix had set up its own).
#[test]
fn sigterm_right_after_listening_stops_the_server() {
    for _ in 0..5 {
        let mut server = TestServer::start();
        server.sigterm();
        let status = server.wait(Duration::from_secs(20));
        assert!(
            status.is_some_and(|s| s.success()),
            "{status:?}; logs:\n{}",
            server.logs()
        );
    }
}
