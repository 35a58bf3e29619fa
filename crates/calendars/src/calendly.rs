//! Calendly: busy time from the API v2 `scheduled_events` of the token's
//! user.
//!
//! Calendly is usually where bookings come *from*, so a provider who takes
//! meetings there must not be double-booked here. Its API has no free/busy
//! query, so the adapter lists the user's active scheduled events:
//!
//! 1. `GET {calendly_api}/users/me` gives the user's URI (`resource.uri`);
//! 2. `GET {calendly_api}/scheduled_events?user=<uri>&min_start_time=…&
//!    max_start_time=…&status=active&count=100`, following
//!    `pagination.next_page` (an absolute URL, followed only while it stays
//!    on the configured origin, since it carries our bearer token).
//!
//! The API filters by *start* time, so an event that began before the
//! window but runs into it would be missed: the query starts
//! [`LOOKBACK`] earlier and the blocks are then cut to those overlapping the
//! window. Only `active` events block time (cancelled ones are also left out
//! by the query itself).
//!
//! Credentials are a personal access token (or an OAuth access token) sent
//! as a Bearer token. There is no refresh here: a 401 is
//! [`FetchError::Unauthorized`] and the account has to connect again.

use async_trait::async_trait;
use booking_domain::{
    BusySource, CalendarSource, FetchError, FetchOutcome, FetchRequest, Fetched, OAuthCredentials,
    TimeRange, Validators,
};
use jiff::{SignedDuration, Timestamp};
use reqwest::Url;
use serde::Deserialize;

use crate::client::{HttpClient, bounded, next_page_url, overlapping, wrong_kind};
use crate::endpoints::{CALENDLY_API_URL_VAR, EndpointError, Endpoints, api_url, parse_origin};
use crate::oauth::Session;

/// The name errors use.
pub const SERVICE: &str = "Calendly";

/// Events asked for per page (`count`, Calendly's maximum).
pub const PAGE_SIZE: u32 = 100;

/// How much earlier than the window the query starts, to catch events that
/// began before the window and are still running in it.
pub const LOOKBACK: SignedDuration = SignedDuration::from_hours(24);

/// The Calendly adapter. It serves [`CalendarSource::Calendly`] only; other
/// kinds are [`FetchError::Refused`].
#[derive(Debug, Clone)]
pub struct CalendlyCalendar {
    http: HttpClient,
    origin: Url,
    users_me: Url,
    scheduled_events: Url,
}

/// `GET /users/me`.
#[derive(Deserialize)]
struct Me {
    resource: User,
}

#[derive(Deserialize)]
struct User {
    uri: String,
}

/// One page of `GET /scheduled_events`.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    collection: Vec<Event>,
    #[serde(default)]
    pagination: Option<Pagination>,
}

#[derive(Deserialize)]
struct Event {
    start_time: String,
    end_time: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct Pagination {
    #[serde(default)]
    next_page: Option<String>,
}

impl CalendlyCalendar {
    /// The adapter on `endpoints.calendly_api`.
    pub fn new(http: HttpClient, endpoints: &Endpoints) -> Result<CalendlyCalendar, EndpointError> {
        let origin = parse_origin(CALENDLY_API_URL_VAR, &endpoints.calendly_api)?;
        Ok(CalendlyCalendar {
            http,
            users_me: api_url(&origin, "/users/me"),
            scheduled_events: api_url(&origin, "/scheduled_events"),
            origin,
        })
    }

    /// The busy blocks of the token's user overlapping `window`. Calendly
    /// tokens are not refreshed, so `refreshed` is always `None`.
    pub async fn busy(
        &self,
        credentials: &OAuthCredentials,
        window: TimeRange,
        now: Timestamp,
    ) -> Result<FetchOutcome, FetchError> {
        let mut session = Session::new(&self.http, SERVICE, None, credentials, now);

        let answer = session
            .send(|client| client.get(self.users_me.clone()))
            .await?;
        if !answer.status.is_success() {
            return Err(answer.unexpected(SERVICE));
        }
        let me: Me = answer.json(SERVICE)?;

        let from = window
            .start()
            .checked_sub(LOOKBACK)
            .unwrap_or(window.start());
        let mut url = self.scheduled_events.clone();
        url.query_pairs_mut()
            .append_pair("user", &me.resource.uri)
            .append_pair("min_start_time", &from.to_string())
            .append_pair("max_start_time", &window.end().to_string())
            .append_pair("status", "active")
            .append_pair("count", &PAGE_SIZE.to_string());

        let mut blocks = Vec::new();
        let mut pages = 0usize;
        loop {
            self.http.count_page(&mut pages, SERVICE)?;
            let answer = session.send(|client| client.get(url.clone())).await?;
            if !answer.status.is_success() {
                return Err(answer.unexpected(SERVICE));
            }
            let page: Page = answer.json(SERVICE)?;
            for event in page.collection {
                if event.status.as_deref().is_some_and(|s| s != "active") {
                    continue;
                }
                let (Ok(start), Ok(end)) = (
                    event.start_time.parse::<Timestamp>(),
                    event.end_time.parse::<Timestamp>(),
                ) else {
                    return Err(FetchError::Upstream(format!(
                        "{SERVICE} answered an event with an unreadable time"
                    )));
                };
                blocks.extend(overlapping(window, start, end));
            }
            match page.pagination.and_then(|p| p.next_page) {
                Some(link) if !link.is_empty() => {
                    url = next_page_url(&self.origin, &link, SERVICE)?;
                }
                _ => break,
            }
        }
        Ok(FetchOutcome {
            fetched: Fetched::Busy {
                blocks,
                validators: Validators::default(),
            },
            refreshed: None,
        })
    }
}

#[async_trait]
impl BusySource for CalendlyCalendar {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        let CalendarSource::Calendly { credentials } = request.source else {
            return Err(wrong_kind(SERVICE, request.source));
        };
        bounded(
            self.http.options().fetch_timeout,
            SERVICE,
            self.busy(credentials, request.window, request.now),
        )
        .await
    }
}
