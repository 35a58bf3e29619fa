//! Google Calendar `freeBusy`: request shape, reading the answer, the
//! 90-day split, and the shared client's retries and limits.

use std::time::{Duration, Instant};

use booking_calendars::client::HttpOptions;
use booking_domain::{CalendarSource, FetchError};
use serde_json::json;

use crate::mock_api::*;

const FREE_BUSY: &str = "/calendar/v3/freeBusy";

/// Far longer than anything here should take: a deadline against hangs
/// (waiting out an hour-long Retry-After), never a speed claim.
const HANG: Duration = Duration::from_secs(60);

fn google(calendar_id: &str) -> CalendarSource {
    CalendarSource::Google {
        calendar_id: calendar_id.to_owned(),
        credentials: fresh_credentials(),
    }
}

/// A `freeBusy` answer as Google documents it, for `id` with these busy
/// periods.
fn free_busy(id: &str, time_min: &str, time_max: &str, busy: &[(&str, &str)]) -> Reply {
    let busy: Vec<_> = busy
        .iter()
        .map(|(start, end)| json!({ "start": start, "end": end }))
        .collect();
    Reply::json(
        200,
        json!({
            "kind": "calendar#freeBusy",
            "timeMin": time_min,
            "timeMax": time_max,
            "calendars": { id: { "busy": busy } },
        }),
    )
}

fn week_answer() -> Reply {
    free_busy(
        "primary",
        "2027-01-18T00:00:00.000Z",
        "2027-01-25T00:00:00.000Z",
        &[
            ("2027-01-18T15:00:00Z", "2027-01-18T16:00:00Z"),
            ("2027-01-19T09:30:00-05:00", "2027-01-19T10:00:00-05:00"),
        ],
    )
}

#[tokio::test]
async fn free_busy_query_and_answer() {
    let api = MockApi::start(|_, _| week_answer()).await;
    let outcome = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap();

    assert_eq!(
        blocks(&outcome),
        [
            range("2027-01-18T15:00:00Z", "2027-01-18T16:00:00Z"),
            range("2027-01-19T14:30:00Z", "2027-01-19T15:00:00Z"),
        ]
    );
    assert_eq!(outcome.refreshed, None);

    let received = api.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, FREE_BUSY);
    assert_eq!(
        request.header("authorization"),
        format!("Bearer {ACCESS_TOKEN}")
    );
    assert!(
        request
            .header("content-type")
            .starts_with("application/json")
    );
    assert_eq!(
        request.json(),
        json!({
            "timeMin": "2027-01-18T00:00:00Z",
            "timeMax": "2027-01-25T00:00:00Z",
            "items": [{ "id": "primary" }],
        })
    );
}

#[tokio::test]
async fn a_calendar_address_is_the_answer_key() {
    let id = "team.room+1@group.calendar.google.com";
    let api = MockApi::start(move |_, _| {
        Reply::json(
            200,
            json!({
                "kind": "calendar#freeBusy",
                "timeMin": "2027-01-18T00:00:00.000Z",
                "timeMax": "2027-01-25T00:00:00.000Z",
                "calendars": {
                    "someone.else@example.com": { "busy": [] },
                    id: { "busy": [{ "start": "2027-01-20T08:00:00Z", "end": "2027-01-20T09:00:00Z" }] },
                },
            }),
        )
    })
    .await;
    let outcome = fetch(&calendars(&api), &google(id), week()).await.unwrap();
    assert_eq!(
        blocks(&outcome),
        [range("2027-01-20T08:00:00Z", "2027-01-20T09:00:00Z")]
    );
    assert_eq!(api.received()[0].json()["items"][0]["id"], id);
}

#[tokio::test]
async fn a_200_day_window_is_three_queries() {
    let api = MockApi::start(|request, _| {
        let body = request.json();
        let min = body["timeMin"].as_str().unwrap().to_owned();
        let max = body["timeMax"].as_str().unwrap().to_owned();
        // One busy hour at the start of each part.
        let start = min.clone();
        let end = ts(&min)
            .checked_add(jiff::SignedDuration::from_hours(1))
            .unwrap()
            .to_string();
        free_busy("primary", &min, &max, &[(&start, &end)])
    })
    .await;
    let window = range("2027-01-01T00:00:00Z", "2027-07-20T00:00:00Z");
    let outcome = fetch(&calendars(&api), &google("primary"), window)
        .await
        .unwrap();

    let asked: Vec<(String, String)> = api
        .received()
        .iter()
        .map(|r| {
            let body = r.json();
            (
                body["timeMin"].as_str().unwrap().to_owned(),
                body["timeMax"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        asked,
        [
            (
                "2027-01-01T00:00:00Z".to_owned(),
                "2027-04-01T00:00:00Z".to_owned()
            ),
            (
                "2027-04-01T00:00:00Z".to_owned(),
                "2027-06-30T00:00:00Z".to_owned()
            ),
            (
                "2027-06-30T00:00:00Z".to_owned(),
                "2027-07-20T00:00:00Z".to_owned()
            ),
        ]
    );
    assert_eq!(
        blocks(&outcome),
        [
            range("2027-01-01T00:00:00Z", "2027-01-01T01:00:00Z"),
            range("2027-04-01T00:00:00Z", "2027-04-01T01:00:00Z"),
            range("2027-06-30T00:00:00Z", "2027-06-30T01:00:00Z"),
        ]
    );
}

#[tokio::test]
async fn busy_time_outside_the_window_and_empty_periods_are_dropped() {
    let api = MockApi::start(|_, _| {
        free_busy(
            "primary",
            "2027-01-18T00:00:00.000Z",
            "2027-01-25T00:00:00.000Z",
            &[
                ("2027-01-17T10:00:00Z", "2027-01-17T11:00:00Z"),
                ("2027-01-17T23:00:00Z", "2027-01-18T01:00:00Z"),
                ("2027-01-19T10:00:00Z", "2027-01-19T10:00:00Z"),
            ],
        )
    })
    .await;
    let outcome = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap();
    assert_eq!(
        blocks(&outcome),
        [range("2027-01-17T23:00:00Z", "2027-01-18T01:00:00Z")]
    );
}

#[tokio::test]
async fn calendar_errors_are_upstream() {
    let api = MockApi::start(|_, _| {
        Reply::json(
            200,
            json!({
                "kind": "calendar#freeBusy",
                "timeMin": "2027-01-18T00:00:00.000Z",
                "timeMax": "2027-01-25T00:00:00.000Z",
                "calendars": {
                    "nobody@example.com": {
                        "errors": [{ "domain": "global", "reason": "notFound" }],
                        "busy": [],
                    },
                },
            }),
        )
    })
    .await;
    let error = fetch(&calendars(&api), &google("nobody@example.com"), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("Google Calendar could not read the calendar (notFound)".to_owned())
    );
}

#[tokio::test]
async fn an_answer_without_the_calendar_is_upstream() {
    let api = MockApi::start(|_, _| {
        Reply::json(200, json!({ "kind": "calendar#freeBusy", "calendars": {} }))
    })
    .await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Upstream(m) if m.contains("without the calendar")),
        "{error:?}"
    );
}

#[tokio::test]
async fn malformed_json_is_upstream_with_a_short_reason() {
    let api = MockApi::start(|_, _| Reply::raw(200, "{\"calendars\": {\"primary\": ")).await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "Google Calendar answered truncated JSON (line 1, column 26)".to_owned()
        )
    );

    let api = MockApi::start(|_, _| Reply::raw(200, "<html>Service Unavailable</html>")).await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Upstream(m) if m.starts_with("Google Calendar answered malformed JSON")),
        "{error:?}"
    );

    let api = MockApi::start(|_, _| {
        Reply::json(
            200,
            json!({ "calendars": { "primary": { "busy": [{ "start": 1, "end": 2 }] } } }),
        )
    })
    .await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Upstream(m) if m.starts_with("Google Calendar answered JSON of an unexpected shape")),
        "{error:?}"
    );
}

#[tokio::test]
async fn unreadable_busy_times_are_upstream() {
    let api = MockApi::start(|_, _| {
        free_busy(
            "primary",
            "",
            "",
            &[("next tuesday", "2027-01-19T10:00:00Z")],
        )
    })
    .await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Upstream(m) if m.contains("unreadable time")),
        "{error:?}"
    );
}

#[tokio::test]
async fn oversized_answers_are_upstream() {
    let big = vec![b' '; 6 * 1024 * 1024];
    // With a Content-Length over the limit: refused before reading.
    let body = big.clone();
    let api = MockApi::start(move |_, _| Reply::raw(200, body.clone())).await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("Google Calendar answered more than 5242880 bytes".to_owned())
    );

    // Without a length (the body ends when the connection closes): refused
    // while reading.
    let api = MockApi::start(move |_, _| Reply::raw(200, big.clone()).unframed()).await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("Google Calendar answered more than 5242880 bytes".to_owned())
    );
}

#[tokio::test]
async fn a_body_just_under_the_limit_is_read() {
    let options = HttpOptions {
        max_body_bytes: 4096,
        ..fast_options()
    };
    let api = MockApi::start(|_, _| {
        // Pad a real answer with whitespace to exactly the limit.
        let mut body = json!({
            "calendars": { "primary": { "busy": [{ "start": "2027-01-18T15:00:00Z", "end": "2027-01-18T16:00:00Z" }] } },
        })
        .to_string()
        .into_bytes();
        body.resize(4096, b' ');
        Reply::raw(200, body).unframed()
    })
    .await;
    let outcome = fetch(&calendars_with(&api, options), &google("primary"), week())
        .await
        .unwrap();
    assert_eq!(blocks(&outcome).len(), 1);
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_that_wait() {
    let api = MockApi::start(|_, index| match index {
        0 => Reply::json(
            429,
            json!({ "error": { "code": 429, "message": "Rate Limit Exceeded", "errors": [{ "domain": "usageLimits", "reason": "rateLimitExceeded" }] } }),
        )
        .with_header("retry-after", "1"),
        _ => week_answer(),
    })
    .await;
    let started = Instant::now();
    let outcome = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert_eq!(blocks(&outcome).len(), 2);
    let received = api.received();
    assert_eq!(received.len(), 2);
    // At least the Retry-After; how much longer depends on the machine, so
    // only the lower bound is asserted.
    assert!(elapsed >= Duration::from_secs(1), "waited only {elapsed:?}");
    // The retry is the same request.
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(
        received[1].header("authorization"),
        format!("Bearer {ACCESS_TOKEN}")
    );
}

#[tokio::test]
async fn a_500_is_retried() {
    let api = MockApi::start(|_, index| match index {
        0 => Reply::json(
            500,
            json!({ "error": { "code": 500, "message": "Backend Error" } }),
        ),
        _ => week_answer(),
    })
    .await;
    let outcome = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap();
    assert_eq!(blocks(&outcome).len(), 2);
    assert_eq!(api.received().len(), 2);
}

#[tokio::test]
async fn three_5xx_answers_give_up() {
    let api = MockApi::start(|_, _| Reply::status(503)).await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "Google Calendar answered 503 Service Unavailable (3 attempts)".to_owned()
        )
    );
    assert_eq!(api.received().len(), 3);
}

#[tokio::test]
async fn a_retry_after_past_the_budget_gives_up_at_once() {
    let api = MockApi::start(|_, _| Reply::status(429).with_header("retry-after", "3600")).await;
    // Waiting the hour would hang the test: the deadline only guards that.
    // One request and the error below show it gave up without waiting.
    let error = tokio::time::timeout(HANG, fetch(&calendars(&api), &google("primary"), week()))
        .await
        .expect("gave up at once instead of waiting an hour")
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "Google Calendar answered 429 Too Many Requests and asked to retry after 3600 s"
                .to_owned()
        )
    );
    assert_eq!(api.received().len(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_name_the_reason() {
    let api = MockApi::start(|_, _| {
        Reply::json(
            403,
            json!({
                "error": {
                    "code": 403,
                    "message": "Request had insufficient authentication scopes.",
                    "errors": [{ "message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions" }],
                    "status": "PERMISSION_DENIED",
                },
            }),
        )
    })
    .await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "Google Calendar answered 403 Forbidden (insufficientPermissions)".to_owned()
        )
    );
    assert_eq!(api.received().len(), 1);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let api = MockApi::start(|_, _| {
        Reply::status(302).with_header("location", "http://127.0.0.1:9/steal")
    })
    .await;
    let error = fetch(&calendars(&api), &google("primary"), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("Google Calendar answered 302 Found".to_owned())
    );
    assert_eq!(api.received().len(), 1);
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let options = HttpOptions {
        request_timeout: Duration::from_millis(300),
        max_attempts: 1,
        ..fast_options()
    };
    let api = MockApi::start(|_, _| week_answer().after(Duration::from_secs(3))).await;
    let error = fetch(&calendars_with(&api, options), &google("primary"), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("Google Calendar did not answer in time".to_owned())
    );
}

#[tokio::test]
async fn the_whole_fetch_is_bounded() {
    let options = HttpOptions {
        fetch_timeout: Duration::from_millis(500),
        ..fast_options()
    };
    // Every part answers quickly, but a 200-day window with 300 ms parts
    // takes longer than the fetch may.
    let api = MockApi::start(|_, _| week_answer().after(Duration::from_millis(300))).await;
    let window = range("2027-01-01T00:00:00Z", "2027-07-20T00:00:00Z");
    let error = fetch(&calendars_with(&api, options), &google("primary"), window)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("Google Calendar did not finish within 500 ms".to_owned())
    );
}

#[tokio::test]
async fn connection_failures_are_upstream_without_the_url() {
    // Bind, then drop, to get a port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let endpoints = booking_calendars::Endpoints {
        google_api: origin.clone(),
        ..booking_calendars::Endpoints::default()
    };
    let calendars = booking_calendars::ExternalCalendars::with_options(
        &endpoints,
        fast_options(),
        std::sync::Arc::new(StubIcs::default()),
    )
    .unwrap();
    let error = fetch(&calendars, &google("primary"), week())
        .await
        .unwrap_err();
    let FetchError::Upstream(message) = &error else {
        panic!("{error:?}");
    };
    assert!(
        message.starts_with("could not connect to Google Calendar"),
        "{message}"
    );
    assert!(message.ends_with("(3 attempts)"), "{message}");
    assert!(!message.contains("127.0.0.1"), "{message}");
    assert_no_secret(&error);
}
