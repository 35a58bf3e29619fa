//! Token refresh: before the call when the token is missing or expiring,
//! after a 401 (once), the form each token endpoint gets, and what comes
//! back in `refreshed`.

use booking_domain::{CalendarSource, FetchError, OAuthCredentials};
use serde_json::json;

use crate::mock_api::*;

const GOOGLE_TOKEN: &str = "/google/token";
const MICROSOFT_TOKEN: &str = "/common/oauth2/v2.0/token";
const FREE_BUSY: &str = "/calendar/v3/freeBusy";
const CALENDAR_VIEW: &str = "/v1.0/me/calendarView";

fn google(credentials: OAuthCredentials) -> CalendarSource {
    CalendarSource::Google {
        calendar_id: "primary".to_owned(),
        credentials,
    }
}

fn free_busy_answer() -> Reply {
    Reply::json(
        200,
        json!({
            "kind": "calendar#freeBusy",
            "timeMin": "2027-01-18T00:00:00.000Z",
            "timeMax": "2027-01-25T00:00:00.000Z",
            "calendars": { "primary": { "busy": [{ "start": "2027-01-18T15:00:00Z", "end": "2027-01-18T16:00:00Z" }] } },
        }),
    )
}

/// Google's 401 for an invalid or expired token.
fn google_401() -> Reply {
    Reply::json(
        401,
        json!({
            "error": {
                "code": 401,
                "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                "errors": [{ "message": "Invalid Credentials", "domain": "global", "reason": "authError", "location": "Authorization", "locationType": "header" }],
                "status": "UNAUTHENTICATED",
            },
        }),
    )
    .with_header("www-authenticate", "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"")
}

/// An API that accepts only `token` and a Google token endpoint handing out
/// [`NEW_ACCESS_TOKEN`].
async fn google_api(token: &'static str, rotated: Option<&'static str>) -> MockApi {
    MockApi::start(move |request, _| match request.path() {
        GOOGLE_TOKEN => token_answer(NEW_ACCESS_TOKEN, rotated),
        FREE_BUSY if request.header("authorization") == format!("Bearer {token}") => {
            free_busy_answer()
        }
        _ => google_401(),
    })
    .await
}

#[tokio::test]
async fn an_expired_token_is_refreshed_first() {
    let api = google_api(NEW_ACCESS_TOKEN, None).await;
    let outcome = fetch(&calendars(&api), &google(expired_credentials()), week())
        .await
        .unwrap();
    assert_eq!(blocks(&outcome).len(), 1);

    let received = api.received();
    let paths: Vec<&str> = received.iter().map(|r| r.path()).collect();
    assert_eq!(paths, [GOOGLE_TOKEN, FREE_BUSY]);

    let token = &received[0];
    assert_eq!(token.method, "POST");
    assert_eq!(
        token.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        token.form(),
        [
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), REFRESH_TOKEN.to_owned()),
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
        ]
    );
    assert_eq!(token.header("authorization"), "");
    assert_eq!(
        received[1].header("authorization"),
        format!("Bearer {NEW_ACCESS_TOKEN}")
    );

    // Google does not rotate refresh tokens: the stored one stays.
    let refreshed = outcome.refreshed.expect("refreshed credentials");
    assert_eq!(
        refreshed,
        OAuthCredentials {
            access_token: Some(NEW_ACCESS_TOKEN.to_owned()),
            refresh_token: Some(REFRESH_TOKEN.to_owned()),
            client_id: Some(CLIENT_ID.to_owned()),
            client_secret: Some(CLIENT_SECRET.to_owned()),
            expires_at: Some(ts("2027-01-10T00:59:59Z")),
        }
    );
    // And the credentials never show in logs.
    let shown = format!("{refreshed:?}");
    assert!(!shown.contains(NEW_ACCESS_TOKEN) && !shown.contains(REFRESH_TOKEN));
}

#[tokio::test]
async fn a_token_expiring_within_a_minute_is_refreshed_one_valid_longer_is_not() {
    let api = google_api(NEW_ACCESS_TOKEN, None).await;
    let expiring = OAuthCredentials {
        expires_at: Some(ts("2027-01-10T00:01:00Z")),
        ..fresh_credentials()
    };
    fetch(&calendars(&api), &google(expiring), week())
        .await
        .unwrap();
    assert_eq!(api.on(GOOGLE_TOKEN).len(), 1);

    let api = google_api(ACCESS_TOKEN, None).await;
    let valid = OAuthCredentials {
        expires_at: Some(ts("2027-01-10T00:01:01Z")),
        ..fresh_credentials()
    };
    let outcome = fetch(&calendars(&api), &google(valid), week())
        .await
        .unwrap();
    assert_eq!(api.on(GOOGLE_TOKEN).len(), 0);
    assert_eq!(outcome.refreshed, None);
}

#[tokio::test]
async fn a_missing_access_token_is_fetched_with_the_refresh_token() {
    let api = google_api(NEW_ACCESS_TOKEN, None).await;
    let credentials = OAuthCredentials {
        access_token: None,
        expires_at: None,
        ..fresh_credentials()
    };
    let outcome = fetch(&calendars(&api), &google(credentials), week())
        .await
        .unwrap();
    assert_eq!(
        outcome.refreshed.unwrap().access_token.as_deref(),
        Some(NEW_ACCESS_TOKEN)
    );
}

#[tokio::test]
async fn a_401_refreshes_and_retries_once() {
    // The stored expiry says the token is good, but Google revoked it.
    let api = google_api(NEW_ACCESS_TOKEN, None).await;
    let outcome = fetch(&calendars(&api), &google(fresh_credentials()), week())
        .await
        .unwrap();
    assert_eq!(blocks(&outcome).len(), 1);
    let received = api.received();
    let paths: Vec<&str> = received.iter().map(|r| r.path()).collect();
    assert_eq!(paths, [FREE_BUSY, GOOGLE_TOKEN, FREE_BUSY]);
    assert_eq!(
        received[0].header("authorization"),
        format!("Bearer {ACCESS_TOKEN}")
    );
    assert_eq!(
        received[2].header("authorization"),
        format!("Bearer {NEW_ACCESS_TOKEN}")
    );
    assert_eq!(received[0].body, received[2].body);
    assert_eq!(
        outcome.refreshed.unwrap().access_token.as_deref(),
        Some(NEW_ACCESS_TOKEN)
    );
}

#[tokio::test]
async fn a_401_without_a_refresh_token_is_unauthorized() {
    let api = google_api("nothing-is-accepted", None).await;
    let error = fetch(&calendars(&api), &google(token_only(ACCESS_TOKEN)), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Unauthorized(
            "Google Calendar refused the access token (authError) and there is no refresh token to renew it"
                .to_owned()
        )
    );
    assert_eq!(api.received().len(), 1);
    assert_no_secret(&error);
}

#[tokio::test]
async fn a_401_after_a_refresh_is_unauthorized_without_looping() {
    let api = google_api("nothing-is-accepted", None).await;
    let error = fetch(&calendars(&api), &google(fresh_credentials()), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Unauthorized(
            "Google Calendar refused the access token (authError) even after a refresh".to_owned()
        )
    );
    let paths: Vec<String> = api.received().iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(paths, [FREE_BUSY, GOOGLE_TOKEN, FREE_BUSY]);

    // Refreshed up front because expired, then refused: no second refresh.
    let api = google_api("nothing-is-accepted", None).await;
    let error = fetch(&calendars(&api), &google(expired_credentials()), week())
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Unauthorized(_)), "{error:?}");
    let paths: Vec<String> = api.received().iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(paths, [GOOGLE_TOKEN, FREE_BUSY]);
}

#[tokio::test]
async fn no_access_token_and_no_refresh_token_is_unauthorized_without_a_call() {
    let api = google_api(ACCESS_TOKEN, None).await;
    let error = fetch(
        &calendars(&api),
        &google(OAuthCredentials::default()),
        week(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        error,
        FetchError::Unauthorized(
            "no access token for Google Calendar and no refresh token to get one".to_owned()
        )
    );
    assert!(api.received().is_empty());
}

#[tokio::test]
async fn an_expired_token_without_refresh_is_still_tried() {
    // Without a refresh token there is nothing better to send; the API
    // decides.
    let api = google_api(OLD_ACCESS_TOKEN, None).await;
    let credentials = OAuthCredentials {
        access_token: Some(OLD_ACCESS_TOKEN.to_owned()),
        expires_at: Some(ts("2027-01-09T00:00:00Z")),
        ..OAuthCredentials::default()
    };
    let outcome = fetch(&calendars(&api), &google(credentials), week())
        .await
        .unwrap();
    assert_eq!(outcome.refreshed, None);
}

#[tokio::test]
async fn a_refused_refresh_is_unauthorized_with_the_oauth_error() {
    let api = MockApi::start(|request, _| match request.path() {
        GOOGLE_TOKEN => Reply::json(
            400,
            json!({ "error": "invalid_grant", "error_description": "Token has been expired or revoked." }),
        ),
        _ => free_busy_answer(),
    })
    .await;
    let error = fetch(&calendars(&api), &google(expired_credentials()), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Unauthorized(
            "Google's token endpoint refused the refresh token (invalid_grant)".to_owned()
        )
    );
    assert_eq!(api.on(FREE_BUSY).len(), 0);
    assert_no_secret(&error);
}

#[tokio::test]
async fn token_endpoint_failures_are_retried_then_upstream() {
    let api = MockApi::start(|request, index| match (request.path(), index) {
        (GOOGLE_TOKEN, 0) => Reply::status(500),
        (GOOGLE_TOKEN, _) => token_answer(NEW_ACCESS_TOKEN, None),
        _ => free_busy_answer(),
    })
    .await;
    let outcome = fetch(&calendars(&api), &google(expired_credentials()), week())
        .await
        .unwrap();
    assert_eq!(api.on(GOOGLE_TOKEN).len(), 2);
    assert!(outcome.refreshed.is_some());

    let api = MockApi::start(|request, _| match request.path() {
        GOOGLE_TOKEN => Reply::status(503),
        _ => free_busy_answer(),
    })
    .await;
    let error = fetch(&calendars(&api), &google(expired_credentials()), week())
        .await
        .unwrap_err();
    assert_eq!(
        error,
        FetchError::Upstream(
            "Google's token endpoint answered 503 Service Unavailable (3 attempts)".to_owned()
        )
    );
}

#[tokio::test]
async fn a_malformed_token_answer_is_upstream_without_the_token() {
    let api = MockApi::start(|request, _| match request.path() {
        // `expires_in` fine, but `access_token` is not a string: serde
        // would quote the value in its message.
        GOOGLE_TOKEN => Reply::json(
            200,
            json!({ "access_token": [NEW_ACCESS_TOKEN], "expires_in": 3599 }),
        ),
        _ => free_busy_answer(),
    })
    .await;
    let error = fetch(&calendars(&api), &google(expired_credentials()), week())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FetchError::Upstream(m) if m.starts_with("Google's token endpoint answered JSON of an unexpected shape")),
        "{error:?}"
    );
    assert_no_secret(&error);
}

#[tokio::test]
async fn microsoft_refresh_sends_the_scope_and_returns_the_rotated_refresh_token() {
    const ROTATED: &str = "rt-rotated-1212121212";
    let api = MockApi::start(|request, _| match request.path() {
        MICROSOFT_TOKEN => Reply::json(
            200,
            json!({
                "token_type": "Bearer",
                "scope": "https://graph.microsoft.com/Calendars.Read",
                "expires_in": 4186,
                "ext_expires_in": 4186,
                "access_token": NEW_ACCESS_TOKEN,
                "refresh_token": ROTATED,
            }),
        ),
        CALENDAR_VIEW if request.header("authorization") == format!("Bearer {NEW_ACCESS_TOKEN}") => {
            Reply::json(
                200,
                json!({
                    "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users('me')/calendarView(start,end,showAs,isCancelled)",
                    "value": [],
                }),
            )
        }
        _ => Reply::json(
            401,
            json!({ "error": { "code": "InvalidAuthenticationToken", "message": "Lifetime validation failed, the token is expired." } }),
        ),
    })
    .await;
    let source = CalendarSource::Outlook {
        credentials: expired_credentials(),
    };
    let outcome = fetch(&calendars(&api), &source, week()).await.unwrap();
    assert!(blocks(&outcome).is_empty());

    let token = &api.on(MICROSOFT_TOKEN)[0];
    assert_eq!(
        token.form(),
        [
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), REFRESH_TOKEN.to_owned()),
            ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ("client_secret".to_owned(), CLIENT_SECRET.to_owned()),
            (
                "scope".to_owned(),
                "https://graph.microsoft.com/Calendars.Read offline_access".to_owned()
            ),
        ]
    );
    let refreshed = outcome.refreshed.unwrap();
    assert_eq!(refreshed.access_token.as_deref(), Some(NEW_ACCESS_TOKEN));
    assert_eq!(refreshed.refresh_token.as_deref(), Some(ROTATED));
    assert_eq!(refreshed.expires_at, Some(ts("2027-01-10T01:09:46Z")));
}

#[tokio::test]
async fn microsoft_401_refreshes_and_retries() {
    let api = MockApi::start(|request, _| match request.path() {
        MICROSOFT_TOKEN => token_answer(NEW_ACCESS_TOKEN, Some("rt-new")),
        CALENDAR_VIEW if request.header("authorization") == format!("Bearer {NEW_ACCESS_TOKEN}") => {
            Reply::json(200, json!({ "value": [] }))
        }
        _ => Reply::json(
            401,
            json!({ "error": { "code": "InvalidAuthenticationToken", "message": "Access token has expired or is not yet valid." } }),
        ),
    })
    .await;
    let source = CalendarSource::Outlook {
        credentials: fresh_credentials(),
    };
    let outcome = fetch(&calendars(&api), &source, week()).await.unwrap();
    let paths: Vec<String> = api.received().iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(paths, [CALENDAR_VIEW, MICROSOFT_TOKEN, CALENDAR_VIEW]);
    assert_eq!(
        outcome.refreshed.unwrap().refresh_token.as_deref(),
        Some("rt-new")
    );
}

#[tokio::test]
async fn the_refresh_function_is_usable_alone() {
    use booking_calendars::client::HttpClient;
    use booking_calendars::oauth::{TokenEndpoint, refresh};

    let api = MockApi::start(|_, _| {
        // Older Microsoft endpoints send `expires_in` as a string.
        Reply::json(
            200,
            json!({ "access_token": NEW_ACCESS_TOKEN, "expires_in": "3600" }),
        )
    })
    .await;
    let http = HttpClient::new(fast_options()).unwrap();
    let endpoint = TokenEndpoint {
        url: api.url("/token").parse().unwrap(),
        scope: None,
        name: "the token endpoint",
    };
    let updated = refresh(&http, &endpoint, &expired_credentials(), ts(NOW))
        .await
        .unwrap();
    assert_eq!(updated.access_token.as_deref(), Some(NEW_ACCESS_TOKEN));
    assert_eq!(updated.expires_at, Some(ts("2027-01-10T01:00:00Z")));

    let error = refresh(&http, &endpoint, &token_only(ACCESS_TOKEN), ts(NOW))
        .await
        .unwrap_err();
    assert!(matches!(error, FetchError::Unauthorized(_)), "{error:?}");
}
