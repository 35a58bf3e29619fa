//! Calendly v2: `users/me`, then `scheduled_events` of that user, paged
//! through `pagination.next_page`.

use booking_domain::{CalendarSource, FetchError};
use serde_json::{Value, json};

use crate::mock_api::*;

const USER_URI: &str = "https://api.calendly.com/users/AAAAAAAAAAAAAAAA";
const PAT: &str = "at-valid-0123456789";

fn calendly() -> CalendarSource {
    CalendarSource::Calendly {
        credentials: token_only(PAT),
    }
}

/// `GET /users/me` as Calendly documents it.
fn me() -> Reply {
    Reply::json(
        200,
        json!({
            "resource": {
                "avatar_url": "https://01234567890.cloudfront.net/uploads/user/avatar/0123456/a1b2c3d4.png",
                "created_at": "2019-01-02T03:04:05.678123Z",
                "current_organization": "https://api.calendly.com/organizations/AAAAAAAAAAAAAAAA",
                "email": "test@example.com",
                "name": "John Doe",
                "scheduling_url": "https://calendly.com/acmesales",
                "slug": "acmesales",
                "timezone": "America/New York",
                "updated_at": "2019-08-07T06:05:04.321123Z",
                "uri": USER_URI,
            },
        }),
    )
}

fn event(id: &str, start: &str, end: &str, status: &str) -> Value {
    json!({
        "uri": format!("https://api.calendly.com/scheduled_events/{id}"),
        "name": "15 Minute Meeting",
        "meeting_notes_plain": "Internal meeting notes",
        "meeting_notes_html": "<p>Internal meeting notes</p>",
        "status": status,
        "start_time": start,
        "end_time": end,
        "event_type": "https://api.calendly.com/event_types/GBGBDCAADAEDCRZ2",
        "location": { "type": "physical", "location": "Calendly Office" },
        "invitees_counter": { "total": 1, "active": 1, "limit": 1 },
        "created_at": "2019-01-02T03:04:05.092125Z",
        "updated_at": "2019-01-02T03:04:05.092125Z",
        "event_memberships": [{ "user": USER_URI, "user_email": "user@example.com", "user_name": "John Smith" }],
        "event_guests": [],
    })
}

fn page(events: Vec<Value>, next_page: Option<String>) -> Reply {
    Reply::json(
        200,
        json!({
            "collection": events,
            "pagination": {
                "count": events.len(),
                "next_page": next_page,
                "previous_page": null,
                "next_page_token": next_page.as_ref().map(|_| "sNjq4TvMDfUHEl7zHRR0k0E1PCEJWvdi"),
                "previous_page_token": null,
            },
        }),
    )
}

#[tokio::test]
async fn users_me_then_scheduled_events_over_two_pages() {
    let api = MockApi::start(|request, _| match request.path() {
        "/users/me" => me(),
        "/scheduled_events" if request.param("page_token").is_none() => page(
            vec![
                event("EV1", "2027-01-18T15:00:00.000000Z", "2027-01-18T15:15:00.000000Z", "active"),
                // Started the evening before, runs into the window.
                event("EV2", "2027-01-17T23:30:00.000000Z", "2027-01-18T00:30:00.000000Z", "active"),
                // Over before the window: asked for by the look-back, dropped.
                event("EV3", "2027-01-17T10:00:00.000000Z", "2027-01-17T11:00:00.000000Z", "active"),
            ],
            Some(format!(
                "http://{}/scheduled_events?count=100&page_token=sNjq4TvMDfUHEl7zHRR0k0E1PCEJWvdi&status=active&user=https%3A%2F%2Fapi.calendly.com%2Fusers%2FAAAAAAAAAAAAAAAA",
                request.header("host")
            )),
        ),
        "/scheduled_events" => page(
            vec![
                event("EV4", "2027-01-20T09:00:00.000000Z", "2027-01-20T10:00:00.000000Z", "active"),
                event("EV5", "2027-01-21T09:00:00.000000Z", "2027-01-21T10:00:00.000000Z", "canceled"),
            ],
            None,
        ),
        _ => Reply::status(404),
    })
    .await;
    let outcome = fetch(&calendars(&api), &calendly(), week()).await.unwrap();
    assert_eq!(
        blocks(&outcome),
        [
            range("2027-01-17T23:30:00Z", "2027-01-18T00:30:00Z"),
            range("2027-01-18T15:00:00Z", "2027-01-18T15:15:00Z"),
            range("2027-01-20T09:00:00Z", "2027-01-20T10:00:00Z"),
        ]
    );
    assert_eq!(outcome.refreshed, None);

    let received = api.received();
    let paths: Vec<&str> = received.iter().map(|r| r.path()).collect();
    assert_eq!(
        paths,
        ["/users/me", "/scheduled_events", "/scheduled_events"]
    );
    for request in &received {
        assert_eq!(request.method, "GET");
        assert_eq!(request.header("authorization"), format!("Bearer {PAT}"));
    }
    let first = &received[1];
    assert_eq!(
        first.query(),
        [
            ("user".to_owned(), USER_URI.to_owned()),
            (
                "min_start_time".to_owned(),
                "2027-01-17T00:00:00Z".to_owned()
            ),
            (
                "max_start_time".to_owned(),
                "2027-01-25T00:00:00Z".to_owned()
            ),
            ("status".to_owned(), "active".to_owned()),
            ("count".to_owned(), "100".to_owned()),
        ]
    );
    // The user URI is encoded in the query.
    assert!(
        first
            .raw_query()
            .starts_with("user=https%3A%2F%2Fapi.calendly.com%2Fusers%2FAAAAAAAAAAAAAAAA&"),
        "{}",
        first.raw_query()
    );
    assert_eq!(
        received[2].param("page_token").as_deref(),
        Some("sNjq4TvMDfUHEl7zHRR0k0E1PCEJWvdi")
    );
}

#[tokio::test]
async fn a_next_page_on_another_origin_is_refused() {
    let elsewhere = MockApi::start(|_, _| page(vec![], None)).await;
    let other = elsewhere.url("/scheduled_events?page_token=x");
    let api = MockApi::start(move |request, _| match request.path() {
        "/users/me" => me(),
        _ => page(vec![], Some(other.clone())),
    })
    .await;
    let error = fetch(&calendars(&api), &calendly(), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Refused(
            "Calendly's next-page link leaves the configured API origin".to_owned()
        )
    );
    assert!(elsewhere.received().is_empty());
}

#[tokio::test]
async fn a_401_is_unauthorized_and_never_refreshed() {
    let api = MockApi::start(|_, _| {
        Reply::json(
            401,
            json!({ "title": "Unauthenticated", "message": "The access token is invalid" }),
        )
    })
    .await;
    // Even with a refresh token stored, Calendly tokens are not refreshed.
    let source = CalendarSource::Calendly {
        credentials: fresh_credentials(),
    };
    let error = fetch(&calendars(&api), &source, week()).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::Unauthorized("Calendly refused the access token (Unauthenticated)".to_owned())
    );
    assert_eq!(api.received().len(), 1);
    assert_no_secret(&error);
}

#[tokio::test]
async fn no_token_is_unauthorized_without_a_call() {
    let api = MockApi::start(|_, _| me()).await;
    let source = CalendarSource::Calendly {
        credentials: booking_domain::OAuthCredentials::default(),
    };
    let error = fetch(&calendars(&api), &source, week()).await.unwrap_err();
    assert!(matches!(error, FetchError::Unauthorized(_)), "{error:?}");
    assert!(api.received().is_empty());
}

#[tokio::test]
async fn a_malformed_user_is_upstream() {
    let api =
        MockApi::start(|_, _| Reply::json(200, json!({ "resource": { "name": "John Doe" } })))
            .await;
    let error = fetch(&calendars(&api), &calendly(), week())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Upstream(m) if m.starts_with("Calendly answered JSON of an unexpected shape")),
        "{error:?}"
    );
}

#[tokio::test]
async fn server_errors_are_retried() {
    let api = MockApi::start(|request, index| match (request.path(), index) {
        (_, 0) => Reply::status(502),
        ("/users/me", _) => me(),
        (_, 2) => Reply::json(
            500,
            json!({ "title": "Internal Server Error", "message": "oops" }),
        ),
        _ => page(
            vec![event(
                "EV1",
                "2027-01-18T15:00:00.000000Z",
                "2027-01-18T15:15:00.000000Z",
                "active",
            )],
            None,
        ),
    })
    .await;
    let outcome = fetch(&calendars(&api), &calendly(), week()).await.unwrap();
    assert_eq!(blocks(&outcome).len(), 1);
    let paths: Vec<String> = api.received().iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(
        paths,
        [
            "/users/me",
            "/users/me",
            "/scheduled_events",
            "/scheduled_events"
        ]
    );
}
