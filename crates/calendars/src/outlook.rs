//! Outlook (Microsoft 365 and outlook.com): busy time from the Microsoft
//! Graph `calendarView` of the signed-in user.
//!
//! Why `calendarView`: unlike `/me/events` it expands recurring series into
//! the occurrences inside the window, and unlike `getSchedule` it works for
//! personal Microsoft accounts and needs only `Calendars.Read`.
//!
//! The call is `GET {graph_api}/v1.0/me/calendarView?startDateTime=…&
//! endDateTime=…&$select=start,end,showAs,isCancelled,transactionId&$top=…` with
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
    BookingId, BusySource, CalendarSource, CalendarWriter, EventDraft, FetchError, FetchOutcome,
    FetchRequest, Fetched, OAuthCredentials, RemoteEvent, TimeRange, Validators, WriteOutcome,
    WriteRequest,
};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use reqwest::Url;
use serde::Deserialize;

use crate::client::{HttpClient, bounded, next_page_url, overlapping, wrong_kind};
use crate::endpoints::{
    EndpointError, Endpoints, GRAPH_API_URL_VAR, MICROSOFT_TOKEN_URL_VAR, api_url, parse_origin,
    parse_url,
};
use crate::oauth::{MICROSOFT_SCOPE, MICROSOFT_WRITE_SCOPE, Session, TokenEndpoint};

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
    write_token: TokenEndpoint,
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
    #[serde(default)]
    id: Option<String>,
    start: Option<GraphTime>,
    end: Option<GraphTime>,
    #[serde(rename = "showAs", default)]
    show_as: Option<String>,
    #[serde(rename = "isCancelled", default)]
    is_cancelled: Option<bool>,
    #[serde(rename = "transactionId", default)]
    transaction_id: Option<String>,
}

/// The prefix of the `transactionId` of every event the server creates
/// (followed by the booking id): such events are not read back as busy.
pub const TRANSACTION_PREFIX: &str = "booking-api-";

/// A created event (only what is read). Graph answers a repeated
/// `transactionId` with the event made first, as it was made.
#[derive(Deserialize)]
struct Created {
    id: String,
    start: Option<GraphTime>,
    end: Option<GraphTime>,
    #[serde(rename = "showAs", default)]
    show_as: Option<String>,
}

impl Created {
    /// Whether the answer shows the event as `draft` wants it (what the
    /// answer leaves out is taken as it was sent). An earlier attempt whose
    /// answer was lost may have made it for an older state of the booking
    /// (moved or confirmed since), and a retry with its `transactionId`
    /// gets that event back unchanged.
    fn matches(&self, draft: &EventDraft) -> bool {
        let at = |time: &Option<GraphTime>, want: Timestamp| {
            time.as_ref()
                .is_none_or(|t| instant(t).is_ok_and(|got| got == want))
        };
        at(&self.start, draft.range.start())
            && at(&self.end, draft.range.end())
            && self.show_as.as_deref().is_none_or(|s| s == show_as(draft))
    }
}

/// Graph's `showAs` of the booking's event.
fn show_as(draft: &EventDraft) -> &'static str {
    if draft.tentative { "tentative" } else { "busy" }
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
        let write_token = TokenEndpoint {
            scope: Some(MICROSOFT_WRITE_SCOPE.to_owned()),
            ..token.clone()
        };
        Ok(OutlookCalendar {
            http,
            calendar_view: api_url(&origin, "/v1.0/me/calendarView"),
            origin,
            token,
            write_token,
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
        self.busy_of(credentials, window, now, false).await
    }

    /// [`OutlookCalendar::busy`]; for a connection that `writes`, its token
    /// is refreshed with write access and the events the server created
    /// (their `transactionId` starts with [`TRANSACTION_PREFIX`]) are left
    /// out.
    pub async fn busy_of(
        &self,
        credentials: &OAuthCredentials,
        window: TimeRange,
        now: Timestamp,
        writes: bool,
    ) -> Result<FetchOutcome, FetchError> {
        let endpoint = if writes {
            &self.write_token
        } else {
            &self.token
        };
        let mut session = Session::new(&self.http, SERVICE, Some(endpoint), credentials, now);
        let mut blocks = Vec::new();
        self.view_pages(
            &mut session,
            window,
            "start,end,showAs,isCancelled,transactionId",
            |events| {
                for event in events {
                    if event
                        .transaction_id
                        .as_deref()
                        .is_some_and(|t| t.starts_with(TRANSACTION_PREFIX))
                    {
                        continue;
                    }
                    if let Some(block) = busy_block(&event, window)? {
                        blocks.push(block);
                    }
                }
                Ok(None::<()>)
            },
        )
        .await?;
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
            self.busy_of(credentials, request.window, request.now, request.writes),
        )
        .await
    }
}

impl OutlookCalendar {
    /// Makes the booking's event in the signed-in user's default calendar
    /// match `event` (`None`: removes it).
    ///
    /// An event not known to exist is created with `POST /v1.0/me/calendar/
    /// events` and the `transactionId` derived from the booking, so a retry
    /// of a creation whose answer was lost gets the same event back rather
    /// than a second one; its id is kept. A known event is updated with
    /// `PATCH /v1.0/me/events/{id}` (a 404 creates it again), as is a
    /// created one that Graph answers as an earlier attempt made it (for a
    /// time the booking has left since), and removed
    /// with `DELETE` (a 404 is success: already gone). A removal with no id
    /// known (a creation whose answer was lost, then a cancellation) first
    /// looks for the event by its `transactionId` in the `calendarView` of
    /// the booking's time (`span`), so it is not left behind.
    pub async fn write_event(
        &self,
        credentials: &OAuthCredentials,
        booking: &BookingId,
        event: Option<&EventDraft>,
        span: Option<TimeRange>,
        remote: &RemoteEvent,
        now: Timestamp,
    ) -> Result<WriteOutcome, FetchError> {
        let mut session = Session::new(
            &self.http,
            SERVICE,
            Some(&self.write_token),
            credentials,
            now,
        );
        let known = remote.id.as_deref().filter(|_| remote.written);
        let Some(event) = event else {
            // No id known: an attempt may have made the event and lost the
            // answer. Look for it by its `transactionId` where the booking
            // is (Graph keeps no other index of it).
            let found = match (known, span) {
                (Some(id), _) => Some(id.to_owned()),
                (None, Some(span)) => self.find_event(&mut session, booking, span).await?,
                (None, None) => None,
            };
            if let Some(id) = found.as_deref() {
                let url = self.event_url(id);
                let answer = session.send(|client| client.delete(url.clone())).await?;
                if !(answer.status.is_success() || answer.status == StatusCode::NOT_FOUND) {
                    return Err(answer.unexpected(SERVICE));
                }
            }
            return Ok(WriteOutcome {
                remote: RemoteEvent::default(),
                refreshed: session.into_refreshed(),
            });
        };
        let mut body = serde_json::json!({
            "subject": event.summary,
            "body": {"contentType": "text", "content": event.description},
            "start": {"dateTime": graph_date_time(event.range.start()), "timeZone": "UTC"},
            "end": {"dateTime": graph_date_time(event.range.end()), "timeZone": "UTC"},
            "showAs": show_as(event),
        });
        if let Some(id) = known {
            let url = self.event_url(id);
            let answer = session
                .send(|client| client.patch(url.clone()).json(&body))
                .await?;
            if answer.status.is_success() {
                return Ok(WriteOutcome {
                    remote: remote.clone(),
                    refreshed: session.into_refreshed(),
                });
            }
            if answer.status != StatusCode::NOT_FOUND {
                return Err(answer.unexpected(SERVICE));
            }
        }
        body["transactionId"] = serde_json::Value::String(transaction_id(booking));
        let url = api_url(&self.origin, "/v1.0/me/calendar/events");
        let answer = session
            .send(|client| client.post(url.clone()).json(&body))
            .await?;
        if !answer.status.is_success() {
            return Err(answer.unexpected(SERVICE));
        }
        let created: Created = answer.json(SERVICE)?;
        if !created.matches(event) {
            // Made by an attempt whose answer was lost, for an older state:
            // bring it up to date (the body without the transactionId).
            if let Some(fields) = body.as_object_mut() {
                fields.remove("transactionId");
            }
            let url = self.event_url(&created.id);
            let answer = session
                .send(|client| client.patch(url.clone()).json(&body))
                .await?;
            if !answer.status.is_success() {
                return Err(answer.unexpected(SERVICE));
            }
        }
        Ok(WriteOutcome {
            remote: RemoteEvent {
                written: true,
                id: Some(created.id),
                etag: None,
            },
            refreshed: session.into_refreshed(),
        })
    }

    /// The id of the booking's event (its `transactionId`) among the
    /// events of `calendarView` over `span`, if any.
    async fn find_event(
        &self,
        session: &mut Session<'_>,
        booking: &BookingId,
        span: TimeRange,
    ) -> Result<Option<String>, FetchError> {
        let wanted = transaction_id(booking);
        self.view_pages(session, span, "id,transactionId", |events| {
            Ok(events
                .into_iter()
                .find(|e| e.transaction_id.as_deref() == Some(wanted.as_str()))
                .and_then(|e| e.id))
        })
        .await
    }

    /// Walks the pages of `calendarView` over `window` (with `$select` of
    /// `select`), handing each page's events to `on_page` until it answers
    /// `Some`, which is returned; `None` after the last page.
    async fn view_pages<T>(
        &self,
        session: &mut Session<'_>,
        window: TimeRange,
        select: &str,
        mut on_page: impl FnMut(Vec<Event>) -> Result<Option<T>, FetchError>,
    ) -> Result<Option<T>, FetchError> {
        let mut url = self.calendar_view.clone();
        // Written out rather than form-encoded: Graph documents `$select`
        // and `$top` with a literal `$`, and the timestamps need no escaping.
        url.set_query(Some(&format!(
            "startDateTime={}&endDateTime={}&$select={select}&$top={PAGE_SIZE}",
            window.start(),
            window.end()
        )));
        let mut pages = 0usize;
        loop {
            self.http.count_page(&mut pages, SERVICE)?;
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
            let Page { value, next_link } = answer.json(SERVICE)?;
            if let Some(found) = on_page(value)? {
                return Ok(Some(found));
            }
            match next_link.as_deref() {
                Some(link) if !link.is_empty() => {
                    url = next_page_url(&self.origin, link, SERVICE)?;
                }
                _ => return Ok(None),
            }
        }
    }

    /// `{graph}/v1.0/me/events/{id}`, the id escaped.
    fn event_url(&self, id: &str) -> Url {
        let mut url = api_url(&self.origin, "/");
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.clear();
            segments.extend(["v1.0", "me", "events", id]);
        }
        url
    }
}

/// The `transactionId` of a booking's event: the same on every retry.
pub fn transaction_id(booking: &BookingId) -> String {
    format!("{TRANSACTION_PREFIX}{}", booking.as_str())
}

/// An instant as Graph's `dateTime` with `timeZone` UTC.
fn graph_date_time(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

#[async_trait]
impl CalendarWriter for OutlookCalendar {
    async fn write(&self, request: WriteRequest<'_>) -> Result<WriteOutcome, FetchError> {
        let CalendarSource::Outlook { credentials } = request.source else {
            return Err(wrong_kind(SERVICE, request.source));
        };
        bounded(
            self.http.options().fetch_timeout,
            SERVICE,
            self.write_event(
                credentials,
                request.booking,
                request.event,
                request.span,
                request.remote,
                request.now,
            ),
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
            id: None,
            start: Some(graph_time("2027-01-18T15:00:00.0000000", Some("UTC"))),
            end: Some(graph_time("2027-01-18T16:00:00.0000000", Some("UTC"))),
            show_as: Some(show_as.to_owned()),
            is_cancelled: Some(cancelled),
            transaction_id: None,
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
