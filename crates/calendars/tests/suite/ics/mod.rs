//! The ICS adapter against a real HTTP server on 127.0.0.1: exports shaped
//! like Google's, Outlook's and iCloud's, conditional GET, size limits,
//! retries, redirects and the SSRF guard.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server;

use std::time::{Duration, Instant};

use booking_calendars::ics::{IcsConfig, IcsSource};
use booking_domain::{
    BusySource, CalendarSource, FetchError, FetchRequest, Fetched, TimeRange, Validators,
};
use jiff::Timestamp;

use server::{Body, Reply, Server};

const GOOGLE: &str = include_str!("../../fixtures/ics/google.ics");
const OUTLOOK: &str = include_str!("../../fixtures/ics/outlook.ics");
const ICLOUD: &str = include_str!("../../fixtures/ics/icloud.ics");
const MALFORMED: &str = include_str!("../../fixtures/ics/malformed.ics");

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn window(start: &str, end: &str) -> TimeRange {
    TimeRange::new(ts(start), ts(end)).unwrap()
}

/// Private targets allowed (the server is on loopback), short waits.
fn config() -> IcsConfig {
    IcsConfig {
        backoff: Duration::from_millis(20),
        attempt_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(20),
        ..IcsConfig::new(true)
    }
}

fn source() -> IcsSource {
    IcsSource::with_config(config()).unwrap()
}

/// `start/end` strings of a successful fetch.
fn spans(fetched: &Fetched) -> Vec<String> {
    match fetched {
        Fetched::Busy { blocks, .. } => blocks
            .iter()
            .map(|b| format!("{}/{}", b.start(), b.end()))
            .collect(),
        Fetched::NotModified => panic!("expected busy blocks, got 304"),
    }
}

async fn fetch(source: &IcsSource, url: &str, w: TimeRange) -> Result<Fetched, FetchError> {
    source.fetch_url(url, w, &Validators::default()).await
}

#[tokio::test]
async fn google_secret_address_export() {
    let server = Server::start().await;
    let path = "/calendar/ical/jane.doe%40example.com/private-0123456789abcdef/basic.ics";
    server.always(path, Reply::calendar(GOOGLE));
    let fetched = fetch(
        &source(),
        &server.url(path),
        window("2025-03-01T00:00:00Z", "2025-04-08T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(
        spans(&fetched),
        vec![
            // Daily standup, 08:00 EST, until 7 March.
            "2025-03-01T13:00:00Z/2025-03-01T13:15:00Z",
            "2025-03-02T13:00:00Z/2025-03-02T13:15:00Z",
            "2025-03-03T13:00:00Z/2025-03-03T13:15:00Z",
            // Weekly team sync, 09:00 New York: 14:00 UTC in EST...
            "2025-03-03T14:00:00Z/2025-03-03T15:00:00Z",
            "2025-03-04T13:00:00Z/2025-03-04T13:15:00Z",
            "2025-03-05T13:00:00Z/2025-03-05T13:15:00Z",
            // A UTC event.
            "2025-03-05T17:00:00Z/2025-03-05T17:30:00Z",
            "2025-03-06T13:00:00Z/2025-03-06T13:15:00Z",
            "2025-03-07T13:00:00Z/2025-03-07T13:15:00Z",
            // ... 13:00 UTC from 9 March (EDT).
            "2025-03-10T13:00:00Z/2025-03-10T14:00:00Z",
            // Two-day conference, whole days in the calendar's zone.
            "2025-03-12T04:00:00Z/2025-03-14T04:00:00Z",
            // 17 March: EXDATE. 24 March: moved to 15:00. 31 March: cancelled.
            "2025-03-24T19:00:00Z/2025-03-24T20:00:00Z",
            "2025-04-07T13:00:00Z/2025-04-07T14:00:00Z",
        ]
    );
}

#[tokio::test]
async fn outlook_published_calendar_with_windows_zone_names() {
    let server = Server::start().await;
    let path =
        "/owa/calendar/00000000-1111-2222-3333-444444444444@example.com/0a1b2c3d4e5f/calendar.ics";
    server.always(path, Reply::calendar(OUTLOOK));
    let fetched = fetch(
        &source(),
        &server.url(path),
        window("2025-03-17T00:00:00Z", "2025-03-31T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(
        spans(&fetched),
        vec![
            // Tuesday/Thursday 09:00 "W. Europe Standard Time" (CET).
            "2025-03-18T08:00:00Z/2025-03-18T08:30:00Z",
            // 08:00 "Pacific Standard Time", already PDT.
            "2025-03-19T15:00:00Z/2025-03-19T16:00:00Z",
            // Thursday moved to 14:00.
            "2025-03-20T13:00:00Z/2025-03-20T13:30:00Z",
            // Tentative, in a "Customized Time Zone" defined by its VTIMEZONE.
            "2025-03-21T09:00:00Z/2025-03-21T10:00:00Z",
            // Out of office all day (no X-WR-TIMEZONE: a UTC day).
            "2025-03-24T00:00:00Z/2025-03-25T00:00:00Z",
            "2025-03-25T08:00:00Z/2025-03-25T08:30:00Z",
            // 27 March excluded; the "Free" event is not busy.
        ]
    );
}

#[tokio::test]
async fn icloud_public_calendar_over_webcal_style_lf_text() {
    let server = Server::start().await;
    let path = "/published/2/MTIzNDU2Nzg5MDEyMzQ1Nj";
    server.always(path, Reply::calendar(ICLOUD));
    let fetched = fetch(
        &source(),
        &server.url(path),
        window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(
        spans(&fetched),
        vec![
            "2025-03-10T17:30:00Z/2025-03-10T19:00:00Z",
            "2025-03-11T07:00:00Z/2025-03-11T07:30:00Z",
            // DURATION:PT1H30M.
            "2025-03-13T11:00:00Z/2025-03-13T12:30:00Z",
            // RDATE.
            "2025-03-14T07:00:00Z/2025-03-14T07:30:00Z",
            // All day on 15 March in Paris.
            "2025-03-14T23:00:00Z/2025-03-15T23:00:00Z",
            "2025-03-17T17:30:00Z/2025-03-17T19:00:00Z",
            // The 19 March class moved an hour later.
            "2025-03-19T18:30:00Z/2025-03-19T20:00:00Z",
        ]
    );
}

#[tokio::test]
async fn the_port_fetches_ics_sources_and_returns_validators() {
    let server = Server::start().await;
    server.always(
        "/cal.ics",
        Reply::calendar(GOOGLE)
            .header("etag", "\"v1\"")
            .header("last-modified", "Tue, 01 Apr 2025 12:00:00 GMT"),
    );
    let source: &dyn BusySource = &source();
    let ics = CalendarSource::Ics {
        url: server.url("/cal.ics"),
    };
    let outcome = source
        .fetch(FetchRequest {
            source: &ics,
            window: window("2025-03-05T00:00:00Z", "2025-03-06T00:00:00Z"),
            validators: &Validators::default(),
            now: ts("2025-03-01T00:00:00Z"),
            writes: false,
        })
        .await
        .unwrap();
    assert!(outcome.refreshed.is_none());
    let Fetched::Busy { blocks, validators } = outcome.fetched else {
        panic!("expected blocks");
    };
    assert_eq!(blocks.len(), 2);
    assert_eq!(
        validators,
        Validators {
            etag: Some("\"v1\"".into()),
            last_modified: Some("Tue, 01 Apr 2025 12:00:00 GMT".into()),
        }
    );
}

#[tokio::test]
async fn conditional_get_sends_the_validators_and_maps_304() {
    let server = Server::start().await;
    server.script(
        "/cal.ics",
        [
            Reply::calendar(ICLOUD).header("etag", "W/\"abc\""),
            Reply::status(304).header("etag", "W/\"abc\""),
        ],
    );
    let w = window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z");
    let source = source();
    let first = fetch(&source, &server.url("/cal.ics"), w).await.unwrap();
    let Fetched::Busy { validators, .. } = first else {
        panic!("expected blocks");
    };
    assert_eq!(validators.etag.as_deref(), Some("W/\"abc\""));
    assert_eq!(validators.last_modified, None);

    let validators = Validators {
        etag: validators.etag,
        last_modified: Some("Mon, 10 Mar 2025 08:00:00 GMT".into()),
    };
    let second = source
        .fetch_url(&server.url("/cal.ics"), w, &validators)
        .await
        .unwrap();
    assert_eq!(second, Fetched::NotModified);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("if-none-match"), None);
    assert_eq!(requests[1].header("if-none-match"), Some("W/\"abc\""));
    assert_eq!(
        requests[1].header("if-modified-since"),
        Some("Mon, 10 Mar 2025 08:00:00 GMT")
    );
    assert!(
        requests[1]
            .header("user-agent")
            .unwrap()
            .starts_with("booking-api-calendars/")
    );
}

#[tokio::test]
async fn a_304_to_an_unconditional_request_is_an_error() {
    let server = Server::start().await;
    server.always("/cal.ics", Reply::status(304));
    let error = fetch(
        &source(),
        &server.url("/cal.ics"),
        window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, FetchError::Upstream(_)), "{error:?}");
}

#[tokio::test]
async fn a_malformed_file_is_a_clear_upstream_error() {
    let server = Server::start().await;
    server.always("/broken.ics", Reply::calendar(MALFORMED));
    server.always(
        "/login",
        Reply::status(200)
            .header("content-type", "text/html")
            .body(Body::Bytes(
                b"<!doctype html><title>Sign in</title>".to_vec(),
            )),
    );
    let w = window("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z");
    let error = fetch(&source(), &server.url("/broken.ics"), w)
        .await
        .unwrap_err();
    let FetchError::Upstream(message) = error else {
        panic!("expected an upstream error, got {error:?}");
    };
    assert!(
        message.starts_with("the calendar is not valid iCalendar (near line "),
        "{message}"
    );
    let error = fetch(&source(), &server.url("/login"), w)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("the address did not return an iCalendar file".into())
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_by_its_declared_length() {
    let server = Server::start().await;
    let big = format!("{GOOGLE}{}", " ".repeat(2 * 1024 * 1024));
    server.always("/big.ics", Reply::calendar(&big));
    let source = IcsSource::with_config(IcsConfig {
        max_body_bytes: 1024 * 1024,
        ..config()
    })
    .unwrap();
    let error = fetch(
        &source,
        &server.url("/big.ics"),
        window("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("the calendar is larger than 1 MiB".into())
    );
    // Not retried.
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_streamed_body_is_cut_off_once_it_passes_the_limit() {
    let server = Server::start().await;
    let total = 256 * 1024 * 1024;
    server.always(
        "/endless.ics",
        Reply::status(200).body(Body::Stream { total }),
    );
    let source = IcsSource::with_config(IcsConfig {
        max_body_bytes: 1024 * 1024,
        ..config()
    })
    .unwrap();
    let error = fetch(
        &source,
        &server.url("/endless.ics"),
        window("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("the calendar is larger than 1 MiB".into())
    );
    // The client hung up early: once the server stops writing (its next
    // write fails), it got nowhere near the end (what it managed to write is
    // the limit plus socket buffers). Had the client kept reading, the
    // server would stop only after all 256 MiB.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !server.stream_ended() {
        assert!(Instant::now() < deadline, "the server is still writing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let streamed = server.streamed();
    assert!(streamed < 64 * 1024 * 1024, "{streamed} bytes written");
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after_then_succeeds() {
    let server = Server::start().await;
    server.script(
        "/cal.ics",
        [
            Reply::status(429).header("retry-after", "1"),
            Reply::calendar(ICLOUD),
        ],
    );
    let started = Instant::now();
    let fetched = fetch(
        &source(),
        &server.url("/cal.ics"),
        window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(spans(&fetched).len(), 7);
    assert!(started.elapsed() >= Duration::from_millis(950));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_server_error_is_retried_then_succeeds() {
    let server = Server::start().await;
    server.script(
        "/cal.ics",
        [
            Reply::status(500),
            Reply::status(502),
            Reply::calendar(ICLOUD),
        ],
    );
    let fetched = fetch(
        &source(),
        &server.url("/cal.ics"),
        window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(spans(&fetched).len(), 7);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_last_attempt() {
    let server = Server::start().await;
    server.always("/cal.ics", Reply::status(503));
    let error = fetch(
        &source(),
        &server.url("/cal.ics"),
        window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("the calendar server answered HTTP 503 (3 attempts)".into())
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_long_retry_after_is_not_waited_for() {
    let server = Server::start().await;
    server.always("/cal.ics", Reply::status(429).header("retry-after", "3600"));
    // Waiting the hour would hang the test: the deadline only guards that.
    // One request and the error below show it gave up without waiting.
    let error = tokio::time::timeout(
        Duration::from_secs(60),
        fetch(
            &source(),
            &server.url("/cal.ics"),
            window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
        ),
    )
    .await
    .expect("gave up at once instead of waiting an hour")
    .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "the calendar server answered HTTP 429 and asked to retry in 3600 s".into()
        )
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn refused_and_missing_calendars_are_not_retried() {
    let server = Server::start().await;
    server.always("/revoked.ics", Reply::status(403));
    server.always("/gone.ics", Reply::status(410));
    let w = window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z");
    let error = fetch(&source(), &server.url("/revoked.ics"), w)
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Unauthorized(_)), "{error:?}");
    let error = fetch(&source(), &server.url("/gone.ics"), w)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "the calendar was not found (HTTP 410); the calendar address may have changed".into()
        )
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_slow_server_times_out_and_is_retried() {
    let server = Server::start().await;
    server.script(
        "/slow.ics",
        [Reply::calendar(ICLOUD).after(Duration::from_secs(3))],
    );
    server.always("/slow.ics", Reply::calendar(ICLOUD));
    let source = IcsSource::with_config(IcsConfig {
        attempt_timeout: Duration::from_millis(300),
        ..config()
    })
    .unwrap();
    let fetched = fetch(
        &source,
        &server.url("/slow.ics"),
        window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(spans(&fetched).len(), 7);
    assert_eq!(server.requests().len(), 2);

    server.always(
        "/slower.ics",
        Reply::calendar(ICLOUD).after(Duration::from_secs(3)),
    );
    let error = fetch(
        &source,
        &server.url("/slower.ics"),
        window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "the calendar server did not answer within 300 ms (3 attempts)".into()
        )
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    // Bind and drop: nothing listens on the port any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let error = fetch(
        &source(),
        &format!("http://127.0.0.1:{port}/cal.ics"),
        window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("could not connect to the calendar server (3 attempts)".into())
    );
}

#[tokio::test]
async fn private_targets_are_refused_unless_allowed() {
    let server = Server::start().await;
    server.always("/cal.ics", Reply::calendar(GOOGLE));
    let guarded = IcsSource::new(false).unwrap();
    let port = server.base().rsplit(':').next().unwrap().to_owned();
    let w = window("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z");
    for (url, expected) in [
        (server.url("/cal.ics"), "must use https"),
        (
            format!("https://127.0.0.1:{port}/cal.ics"),
            "resolves to a forbidden address (loopback)",
        ),
        (
            format!("webcal://127.0.0.1:{port}/cal.ics"),
            "resolves to a forbidden address (loopback)",
        ),
        (
            format!("https://[::1]:{port}/cal.ics"),
            "resolves to a forbidden address (loopback)",
        ),
        (
            format!("https://localhost:{port}/cal.ics"),
            "host is not allowed (localhost)",
        ),
        (
            "https://169.254.169.254/latest/meta-data/".to_owned(),
            "resolves to a forbidden address (link-local)",
        ),
        (
            "ftp://example.com/cal.ics".to_owned(),
            "must be an http or https URL",
        ),
    ] {
        let error = fetch(&guarded, &url, w).await.unwrap_err();
        assert_eq!(error, FetchError::Refused(expected.into()), "{url}");
        assert_eq!(
            error.to_string(),
            format!("target refused: {expected}"),
            "{url}"
        );
    }
    assert!(server.requests().is_empty());
    // The same URL with private targets allowed.
    fetch(&source(), &server.url("/cal.ics"), w).await.unwrap();
}

#[tokio::test]
async fn redirects_are_followed_a_few_times_and_every_hop_is_checked() {
    let server = Server::start().await;
    server.always("/a", Reply::redirect(301, "/b"));
    server.always("/b", Reply::redirect(302, &server.url("/cal.ics")));
    server.always("/cal.ics", Reply::calendar(ICLOUD));
    let w = window("2025-03-10T00:00:00Z", "2025-03-20T00:00:00Z");
    let fetched = fetch(&source(), &server.url("/a"), w).await.unwrap();
    assert_eq!(spans(&fetched).len(), 7);
    let visited: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(visited, ["/a", "/b", "/cal.ics"]);

    // Four hops: one too many.
    server.always("/1", Reply::redirect(307, "/2"));
    server.always("/2", Reply::redirect(307, "/3"));
    server.always("/3", Reply::redirect(307, "/4"));
    server.always("/4", Reply::redirect(307, "/cal.ics"));
    let error = fetch(&source(), &server.url("/1"), w).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("the calendar server redirected more than 3 times".into())
    );

    // A hop the guard refuses, even with private targets allowed.
    server.always("/to-ftp", Reply::redirect(302, "ftp://example.com/cal.ics"));
    let error = fetch(&source(), &server.url("/to-ftp"), w)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Refused("must be an http or https URL".into())
    );
    let with_credentials = server.url("/cal.ics").replace("http://", "http://user:pw@");
    server.always("/to-creds", Reply::redirect(302, &with_credentials));
    let error = fetch(&source(), &server.url("/to-creds"), w)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Refused("must not contain credentials".into())
    );

    // With redirects turned off, a 3xx is an error.
    let strict = IcsSource::with_config(IcsConfig {
        max_redirects: 0,
        ..config()
    })
    .unwrap();
    let error = fetch(&strict, &server.url("/a"), w).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "the calendar server answered a redirect (HTTP 301) that could not be followed".into()
        )
    );
}

#[tokio::test]
async fn error_messages_never_contain_the_url() {
    let secret = "private-5ecre7t0ken";
    let server = Server::start().await;
    let w = window("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z");
    let paths = [
        ("/e500", Reply::status(500)),
        ("/e404", Reply::status(404)),
        ("/e401", Reply::status(401)),
        (
            "/html",
            Reply::status(200).body(Body::Bytes(b"<html>".to_vec())),
        ),
        ("/broken", Reply::calendar(MALFORMED)),
        ("/loop", Reply::redirect(302, "/loop")),
    ];
    for (path, reply) in paths.iter().cloned() {
        server.always(&format!("{path}/{secret}/basic.ics"), reply);
    }
    let mut urls: Vec<String> = paths
        .iter()
        .map(|(path, _)| server.url(&format!("{path}/{secret}/basic.ics")))
        .collect();
    urls.push(format!("http://127.0.0.1:1/{secret}/basic.ics"));
    urls.push(format!("https://{secret}.invalid/basic.ics"));
    urls.push(format!("http://user:{secret}@127.0.0.1/basic.ics"));
    for url in urls {
        let error = fetch(&source(), &url, w).await.unwrap_err();
        assert!(!error.to_string().contains(secret), "{url}: {error}");
        assert!(!format!("{error:?}").contains(secret), "{url}: {error:?}");
    }
}
