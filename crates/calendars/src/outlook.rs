//! Outlook (Microsoft 365 and outlook.com): busy time from the Microsoft
//! Graph `calendarView` of the signed-in user.
//!
//! Why `calendarView`: unlike `/me/events` it expands recurring series into
//! the occurrences inside the window, and unlike `getSchedule` it works for
//! personal Microsoft accounts and needs only `Calendars.Read`.
//!
//! The call is `GET {graph_api}/v1.0/me/calendarView?startDateTime=…&
//! endDateTime=…&$select=start,end,showAs,isCancelled&$top=…` with
//! `Prefer: outlook.timezone="UTC"`, so times come back as
//! `{"dateTime": "2027-01-18T15:00:00.0000000", "timeZone": "UTC"}` (a
//! wall-clock time and its zone; other IANA zones are converted too). Graph
//! pages the answer: `@odata.nextLink` is the absolute URL of the next page,
//! followed only while it stays on the configured origin (it carries our
//! bearer token). An event is busy unless it is cancelled or shows as
//! `free` or `workingElsewhere`; `tentative`, `busy`, `oof` and `unknown`
//! block time, as Outlook's own scheduling assistant treats them.

use async_trait::async_trait;
use booking_domain::{
    BusySource, CalendarSource, FetchError, FetchOutcome, FetchRequest, Fetched, OAuthCredentials,
    TimeRange, Validators,
};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use reqwest::Url;
use serde::Deserialize;

use crate::client::{HttpClient, bounded, next_page_url, overlapping, wrong_kind};
use crate::endpoints::{
    EndpointError, Endpoints, GRAPH_API_URL_VAR, MICROSOFT_TOKEN_URL_VAR, api_url, parse_origin,
    parse_url,
};
use crate::oauth::{MICROSOFT_SCOPE, Session, TokenEndpoint};

/// The name errors use.
pub const SERVICE: &str = "Microsoft Graph";

/// Events asked for per page (`$top`).
pub const PAGE_SIZE: u32 = 250;

/// The Outlook adapter. It serves [`CalendarSource::Outlook`] only; other
/// kinds are [`FetchError::Refused`].
#[derive(Debug, Clone)]
pub struct OutlookCalendar {
    http: HttpClient,
    origin: Url,
    calendar_view: Url,
    token: TokenEndpoint,
}

/// One page of `calendarView`.
#[derive(Deserialize)]
struct Page {
    #[serde(default)]
    value: Vec<Event>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
struct Event {
    start: Option<GraphTime>,
    end: Option<GraphTime>,
    #[serde(rename = "showAs", default)]
    show_as: Option<String>,
    #[serde(rename = "isCancelled", default)]
    is_cancelled: Option<bool>,
}

/// Graph's `dateTimeTimeZone`.
#[derive(Deserialize)]
struct GraphTime {
    #[serde(rename = "dateTime")]
    date_time: String,
    #[serde(rename = "timeZone", default)]
    time_zone: Option<String>,
}

impl OutlookCalendar {
    /// The adapter on `endpoints.graph_api` and `endpoints.microsoft_token`.
    pub fn new(http: HttpClient, endpoints: &Endpoints) -> Result<OutlookCalendar, EndpointError> {
        let origin = parse_origin(GRAPH_API_URL_VAR, &endpoints.graph_api)?;
        let token = TokenEndpoint {
            url: parse_url(MICROSOFT_TOKEN_URL_VAR, &endpoints.microsoft_token)?,
            scope: Some(MICROSOFT_SCOPE.to_owned()),
            name: "Microsoft's token endpoint",
        };
        Ok(OutlookCalendar {
            http,
            calendar_view: api_url(&origin, "/v1.0/me/calendarView"),
            origin,
            token,
        })
    }

    /// The busy blocks of the signed-in user's calendar overlapping
    /// `window`, and the credentials to store if the token was refreshed
    /// (at `now`).
    pub async fn busy(
        &self,
        credentials: &OAuthCredentials,
        window: TimeRange,
        now: Timestamp,
    ) -> Result<FetchOutcome, FetchError> {
        let mut session = Session::new(&self.http, SERVICE, Some(&self.token), credentials, now);
        let mut url = self.calendar_view.clone();
        // Written out rather than form-encoded: Graph documents `$select`
        // and `$top` with a literal `$`, and the timestamps need no escaping.
        url.set_query(Some(&format!(
            "startDateTime={}&endDateTime={}&$select=start,end,showAs,isCancelled&$top={PAGE_SIZE}",
            window.start(),
            window.end()
        )));
        let mut blocks = Vec::new();
        let mut pages = 0usize;
        loop {
            pages += 1;
            if pages > self.http.options().max_pages {
                return Err(FetchError::Upstream(format!(
                    "{SERVICE} answered more than {} pages",
                    self.http.options().max_pages
                )));
            }
            let answer = session
                .send(|client| {
                    client
                        .get(url.clone())
                        .header("Prefer", "outlook.timezone=\"UTC\"")
                })
                .await?;
            if !answer.status.is_success() {
                return Err(answer.unexpected(SERVICE));
            }
            let page: Page = answer.json(SERVICE)?;
            for event in page.value {
                if let Some(block) = busy_block(&event, window)? {
                    blocks.push(block);
                }
            }
            match page.next_link.as_deref() {
                Some(link) if !link.is_empty() => {
                    url = next_page_url(&self.origin, link, SERVICE)?;
                }
                _ => break,
            }
        }
        Ok(FetchOutcome {
            fetched: Fetched::Busy {
                blocks,
                validators: Validators::default(),
            },
            refreshed: session.into_refreshed(),
        })
    }
}

/// The event's busy block in `window`, or `None` when it does not block time
/// (cancelled, free, working elsewhere) or lies outside the window.
fn busy_block(event: &Event, window: TimeRange) -> Result<Option<TimeRange>, FetchError> {
    if event.is_cancelled == Some(true) {
        return Ok(None);
    }
    if let Some(show_as) = event.show_as.as_deref()
        && (show_as.eq_ignore_ascii_case("free")
            || show_as.eq_ignore_ascii_case("workingElsewhere"))
    {
        return Ok(None);
    }
    let (Some(start), Some(end)) = (event.start.as_ref(), event.end.as_ref()) else {
        return Err(FetchError::Upstream(format!(
            "{SERVICE} answered an event without start or end"
        )));
    };
    Ok(overlapping(window, instant(start)?, instant(end)?))
}

/// A `dateTimeTimeZone` as an instant.
fn instant(time: &GraphTime) -> Result<Timestamp, FetchError> {
    let unreadable = || FetchError::Upstream(format!("{SERVICE} answered an unreadable time"));
    // An explicit offset (`Z`, `+01:00`) settles it, whatever the zone says.
    if let Ok(instant) = time.date_time.parse::<Timestamp>() {
        return Ok(instant);
    }
    let civil: DateTime = time.date_time.parse().map_err(|_| unreadable())?;
    let zone = time.time_zone.as_deref().unwrap_or("UTC").trim();
    let tz = if is_utc(zone) {
        TimeZone::UTC
    } else {
        TimeZone::get(zone).map_err(|_| {
            FetchError::Upstream(format!("{SERVICE} answered a time in an unknown time zone"))
        })?
    };
    tz.to_timestamp(civil).map_err(|_| unreadable())
}

/// The names Graph may use for UTC.
fn is_utc(zone: &str) -> bool {
    [
        "UTC",
        "Etc/UTC",
        "GMT",
        "Coordinated Universal Time",
        "tzone://Microsoft/Utc",
    ]
    .iter()
    .any(|name| zone.eq_ignore_ascii_case(name))
}

#[async_trait]
impl BusySource for OutlookCalendar {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        let CalendarSource::Outlook { credentials } = request.source else {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn graph_time(date_time: &str, zone: Option<&str>) -> GraphTime {
        GraphTime {
            date_time: date_time.to_owned(),
            time_zone: zone.map(str::to_owned),
        }
    }

    #[test]
    fn graph_times_become_instants() {
        let utc = instant(&graph_time("2027-01-18T15:00:00.0000000", Some("UTC"))).unwrap();
        assert_eq!(utc.to_string(), "2027-01-18T15:00:00Z");
        let missing_zone = instant(&graph_time("2027-01-18T15:00:00.0000000", None)).unwrap();
        assert_eq!(missing_zone, utc);
        let paris = instant(&graph_time(
            "2027-01-18T16:00:00.0000000",
            Some("Europe/Paris"),
        ))
        .unwrap();
        assert_eq!(paris, utc);
        let offset = instant(&graph_time(
            "2027-01-18T15:00:00Z",
            Some("Pacific Standard Time"),
        ))
        .unwrap();
        assert_eq!(offset, utc);
        assert!(matches!(
            instant(&graph_time("2027-01-18T15:00:00", Some("Pacific Standard Time"))),
            Err(FetchError::Upstream(m)) if m.contains("unknown time zone")
        ));
        assert!(instant(&graph_time("yesterday", Some("UTC"))).is_err());
    }

    #[test]
    fn free_working_elsewhere_and_cancelled_block_nothing() {
        let window = TimeRange::new(
            "2027-01-18T00:00:00Z".parse().unwrap(),
            "2027-01-19T00:00:00Z".parse().unwrap(),
        )
        .unwrap();
        let event = |show_as: &str, cancelled: bool| Event {
            start: Some(graph_time("2027-01-18T15:00:00.0000000", Some("UTC"))),
            end: Some(graph_time("2027-01-18T16:00:00.0000000", Some("UTC"))),
            show_as: Some(show_as.to_owned()),
            is_cancelled: Some(cancelled),
        };
        for busy in ["busy", "tentative", "oof", "unknown"] {
            assert!(
                busy_block(&event(busy, false), window).unwrap().is_some(),
                "{busy}"
            );
        }
        for free in ["free", "workingElsewhere"] {
            assert!(
                busy_block(&event(free, false), window).unwrap().is_none(),
                "{free}"
            );
        }
        assert!(busy_block(&event("busy", true), window).unwrap().is_none());
    }
}
