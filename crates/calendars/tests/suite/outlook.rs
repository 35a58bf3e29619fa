//! Microsoft Graph `calendarView`: the query, paging through
//! `@odata.nextLink`, which events block time, and refusing a next link to
//! another origin.

use booking_domain::{CalendarSource, FetchError};
use serde_json::{Value, json};

use crate::mock_api::*;

const CALENDAR_VIEW: &str = "/v1.0/me/calendarView";

fn outlook() -> CalendarSource {
    CalendarSource::Outlook {
        credentials: fresh_credentials(),
    }
}

/// An event as Graph returns it with `$select=start,end,showAs,isCancelled`
/// and `Prefer: outlook.timezone="UTC"`.
fn event(id: &str, start: &str, end: &str, show_as: &str, cancelled: bool) -> Value {
    json!({
        "@odata.etag": "W/\"ZlnW4RIAV06KYYwlrfNZvQAAKGWwbw==\"",
        "id": id,
        "showAs": show_as,
        "isCancelled": cancelled,
        "start": { "dateTime": start, "timeZone": "UTC" },
        "end": { "dateTime": end, "timeZone": "UTC" },
    })
}

fn page(events: Vec<Value>, next_link: Option<String>) -> Reply {
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('48d31887-5fad-4d73-a9f5-3c356e68a038')/calendarView(start,end,showAs,isCancelled)",
        "value": events,
    });
    if let Some(link) = next_link {
        body["@odata.nextLink"] = Value::String(link);
    }
    Reply::json(200, body)
}

/// Two pages: busy, free and working-elsewhere on the first; tentative,
/// out-of-office and a cancelled busy event on the second.
async fn two_page_api() -> MockApi {
    // The next link must name the server's own origin, known only once it
    // listens: the handler reads it from the Host header.
    MockApi::start(|request, _| {
        if request.param("$skip").is_none() {
            let next = format!(
                "http://{}{CALENDAR_VIEW}?startDateTime=2027-01-18T00%3a00%3a00.0000000Z&endDateTime=2027-01-25T00%3a00%3a00.0000000Z&%24select=start%2cend%2cshowAs%2cisCancelled&%24top=3&%24skip=3",
                request.header("host")
            );
            page(
                vec![
                    event("AAMkA1", "2027-01-18T15:00:00.0000000", "2027-01-18T16:00:00.0000000", "busy", false),
                    event("AAMkA2", "2027-01-18T17:00:00.0000000", "2027-01-18T18:00:00.0000000", "free", false),
                    event("AAMkA3", "2027-01-19T08:00:00.0000000", "2027-01-19T17:00:00.0000000", "workingElsewhere", false),
                ],
                Some(next),
            )
        } else {
            page(
                vec![
                    event("AAMkA4", "2027-01-20T09:00:00.0000000", "2027-01-20T09:30:00.0000000", "tentative", false),
                    event("AAMkA5", "2027-01-21T00:00:00.0000000", "2027-01-23T00:00:00.0000000", "oof", false),
                    event("AAMkA6", "2027-01-22T13:00:00.0000000", "2027-01-22T14:00:00.0000000", "busy", true),
                ],
                None,
            )
        }
    })
    .await
}

#[tokio::test]
async fn calendar_view_pages_and_busy_rules() {
    let api = two_page_api().await;
    let outcome = fetch(&calendars(&api), &outlook(), week()).await.unwrap();
    assert_eq!(
        blocks(&outcome),
        [
            range("2027-01-18T15:00:00Z", "2027-01-18T16:00:00Z"),
            range("2027-01-20T09:00:00Z", "2027-01-20T09:30:00Z"),
            range("2027-01-21T00:00:00Z", "2027-01-23T00:00:00Z"),
        ]
    );
    assert_eq!(outcome.refreshed, None);

    let received = api.received();
    assert_eq!(received.len(), 2);
    let first = &received[0];
    assert_eq!(first.method, "GET");
    assert_eq!(
        first.target,
        "/v1.0/me/calendarView?startDateTime=2027-01-18T00:00:00Z&endDateTime=2027-01-25T00:00:00Z&$select=start,end,showAs,isCancelled,transactionId&$top=250"
    );
    assert_eq!(
        first.param("startDateTime").as_deref(),
        Some("2027-01-18T00:00:00Z")
    );
    assert_eq!(
        first.param("$select").as_deref(),
        Some("start,end,showAs,isCancelled,transactionId")
    );
    // The second page is the next link, as given.
    assert_eq!(received[1].param("$skip").as_deref(), Some("3"));
    for request in &received {
        assert_eq!(request.header("prefer"), "outlook.timezone=\"UTC\"");
        assert_eq!(
            request.header("authorization"),
            format!("Bearer {ACCESS_TOKEN}")
        );
    }
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused() {
    let elsewhere = MockApi::start(|_, _| page(vec![], None)).await;
    let other = elsewhere.url(CALENDAR_VIEW);
    let api = MockApi::start(move |_, _| {
        page(
            vec![event(
                "AAMkA1",
                "2027-01-18T15:00:00.0000000",
                "2027-01-18T16:00:00.0000000",
                "busy",
                false,
            )],
            Some(format!("{other}?$skip=10")),
        )
    })
    .await;
    let error = fetch(&calendars(&api), &outlook(), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Refused(
            "Microsoft Graph's next-page link leaves the configured API origin".to_owned()
        )
    );
    assert!(elsewhere.received().is_empty(), "the token went elsewhere");
    assert_eq!(api.received().len(), 1);
}

#[tokio::test]
async fn a_next_link_on_another_scheme_or_with_credentials_is_refused() {
    for link in [
        "https://{host}/v1.0/me/calendarView?$skip=10",
        "http://user:pw@{host}/v1.0/me/calendarView?$skip=10",
    ] {
        let api = MockApi::start(move |request, _| {
            page(vec![], Some(link.replace("{host}", request.header("host"))))
        })
        .await;
        let error = fetch(&calendars(&api), &outlook(), week())
            .await
            .unwrap_err();
        assert!(matches!(error, FetchError::Refused(_)), "{link}: {error:?}");
    }
}

#[tokio::test]
async fn endless_paging_stops() {
    let options = booking_calendars::client::HttpOptions {
        max_pages: 5,
        ..fast_options()
    };
    let api = MockApi::start(|request, _| {
        page(
            vec![],
            Some(format!(
                "http://{}{CALENDAR_VIEW}?$skip=1",
                request.header("host")
            )),
        )
    })
    .await;
    let error = fetch(&calendars_with(&api, options), &outlook(), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("Microsoft Graph answered more than 5 pages".to_owned())
    );
    assert_eq!(api.received().len(), 5);
}

#[tokio::test]
async fn graph_errors_name_the_code() {
    let api = MockApi::start(|_, _| {
        Reply::json(
            403,
            json!({
                "error": {
                    "code": "ErrorAccessDenied",
                    "message": "Access is denied. Check credentials and try again.",
                    "innerError": { "date": "2027-01-10T00:00:00", "request-id": "a1b2", "client-request-id": "a1b2" },
                },
            }),
        )
    })
    .await;
    let error = fetch(&calendars(&api), &outlook(), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "Microsoft Graph answered 403 Forbidden (ErrorAccessDenied)".to_owned()
        )
    );
}

#[tokio::test]
async fn a_401_without_refresh_is_unauthorized() {
    let api = MockApi::start(|_, _| {
        Reply::json(
            401,
            json!({ "error": { "code": "InvalidAuthenticationToken", "message": "IDX14100: JWT is not well formed." } }),
        )
    })
    .await;
    let source = CalendarSource::Outlook {
        credentials: token_only(ACCESS_TOKEN),
    };
    let error = fetch(&calendars(&api), &source, week()).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::Unauthorized(
            "Microsoft Graph refused the access token (InvalidAuthenticationToken) and there is no refresh token to renew it"
                .to_owned()
        )
    );
    assert_no_secret(&error);
}

#[tokio::test]
async fn throttling_honours_retry_after() {
    let api = MockApi::start(|_, index| match index {
        0 => Reply::json(
            429,
            json!({ "error": { "code": "ApplicationThrottled", "message": "Application is over its MailboxConcurrency limit." } }),
        )
        .with_header("retry-after", "1"),
        _ => page(
            vec![event("AAMkA1", "2027-01-18T15:00:00.0000000", "2027-01-18T16:00:00.0000000", "busy", false)],
            None,
        ),
    })
    .await;
    let started = std::time::Instant::now();
    let outcome = fetch(&calendars(&api), &outlook(), week()).await.unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
    assert_eq!(blocks(&outcome).len(), 1);
}

#[tokio::test]
async fn malformed_pages_are_upstream() {
    let api = MockApi::start(|_, _| Reply::raw(200, "{\"value\": [ {\"start\": ")).await;
    let error = fetch(&calendars(&api), &outlook(), week())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Upstream(m) if m.starts_with("Microsoft Graph answered truncated JSON")),
        "{error:?}"
    );

    let api = MockApi::start(|_, _| {
        page(
            vec![json!({ "showAs": "busy", "isCancelled": false, "start": { "dateTime": "soon", "timeZone": "UTC" }, "end": { "dateTime": "later", "timeZone": "UTC" } })],
            None,
        )
    })
    .await;
    let error = fetch(&calendars(&api), &outlook(), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream("Microsoft Graph answered an unreadable time".to_owned())
    );
}
