//! `ExternalCalendars` hands each kind of source to its adapter, and each
//! adapter refuses the others.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use booking_calendars::client::HttpOptions;
use booking_calendars::{Endpoints, ExternalCalendars};
use booking_domain::{BusySource, CalendarSource, FetchError, FetchRequest, Fetched, Validators};
use serde_json::json;

use crate::mock_api::*;

#[tokio::test]
async fn ics_goes_to_the_ics_adapter_and_the_rest_to_their_apis() {
    let api = MockApi::start(|request, _| match request.path() {
        "/calendar/v3/freeBusy" => {
            Reply::json(200, json!({ "calendars": { "primary": { "busy": [] } } }))
        }
        "/v1.0/me/calendarView" => Reply::json(200, json!({ "value": [] })),
        "/users/me" => Reply::json(
            200,
            json!({ "resource": { "uri": "https://api.calendly.com/users/A" } }),
        ),
        "/scheduled_events" => Reply::json(
            200,
            json!({ "collection": [], "pagination": { "next_page": null } }),
        ),
        _ => Reply::status(404),
    })
    .await;
    let ics = Arc::new(StubIcs::default());
    let calendars =
        ExternalCalendars::with_options(&endpoints(&api), fast_options(), ics.clone()).unwrap();

    let source = CalendarSource::Ics {
        url: "https://calendar.example.com/secret.ics".to_owned(),
    };
    let outcome = fetch(&calendars, &source, week()).await.unwrap();
    assert_eq!(outcome.fetched, Fetched::NotModified);
    assert_eq!(ics.calls.load(Ordering::SeqCst), 1);
    assert!(api.received().is_empty());

    for source in [
        CalendarSource::Google {
            calendar_id: "primary".to_owned(),
            credentials: fresh_credentials(),
        },
        CalendarSource::Outlook {
            credentials: fresh_credentials(),
        },
        CalendarSource::Calendly {
            credentials: token_only(ACCESS_TOKEN),
        },
    ] {
        let outcome = fetch(&calendars, &source, week()).await.unwrap();
        assert!(blocks(&outcome).is_empty(), "{source:?}");
    }
    let paths: Vec<String> = api.received().iter().map(|r| r.path().to_owned()).collect();
    assert_eq!(
        paths,
        [
            "/calendar/v3/freeBusy",
            "/v1.0/me/calendarView",
            "/users/me",
            "/scheduled_events"
        ]
    );
    assert_eq!(ics.calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_adapter_refuses_other_kinds() {
    let api = MockApi::start(|_, _| Reply::status(500)).await;
    let calendars = calendars(&api);
    let validators = Validators::default();
    let ics = CalendarSource::Ics {
        url: "https://calendar.example.com/secret.ics".to_owned(),
    };
    let request = FetchRequest {
        source: &ics,
        window: week(),
        validators: &validators,
        now: ts(NOW),
        writes: false,
    };
    let error = calendars.google().fetch(request).await.unwrap_err();
    assert_eq!(
        error,
        FetchError::Refused("the Google Calendar adapter cannot fetch a ics calendar".to_owned())
    );
    assert!(matches!(
        calendars.outlook().fetch(request).await,
        Err(FetchError::Refused(_))
    ));
    assert!(matches!(
        calendars.calendly().fetch(request).await,
        Err(FetchError::Refused(_))
    ));
    assert!(api.received().is_empty());
}

#[test]
fn bad_endpoints_are_refused_at_construction() {
    let endpoints = Endpoints {
        graph_api: "https://graph.microsoft.com/v1.0/".to_owned(),
        ..Endpoints::default()
    };
    let error = ExternalCalendars::with_options(
        &endpoints,
        HttpOptions::default(),
        Arc::new(StubIcs::default()),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "BOOKING_GRAPH_API_URL: must be an origin such as https://api.example.com, without path or query"
    );
    assert!(ExternalCalendars::new(&Endpoints::default(), Arc::new(StubIcs::default())).is_ok());
}
