//! Google Calendar: busy time from the API v3 `freeBusy` query.
//!
//! Why `freeBusy` rather than listing events: it answers exactly what
//! availability needs (busy intervals, already expanded from recurrences,
//! with free/transparent and declined events left out), it needs only the
//! `calendar.freebusy` (or read-only) scope, and it never returns event
//! titles or attendees we would then have to keep out of logs.
//!
//! The call is `POST {google_api}/calendar/v3/freeBusy` with
//! `{"timeMin", "timeMax", "items": [{"id": calendar_id}]}` (RFC 3339) and a
//! Bearer token; the answer's `calendars.<id>.busy[]` holds `{start, end}`
//! and `calendars.<id>.errors[]` reports a calendar Google could not read
//! (`notFound`, `internalError`), which is an [`FetchError::Upstream`] rather
//! than "no busy time". Google refuses ranges longer than 90 days ("The
//! requested time range is too long"), so a longer window is asked for in
//! consecutive parts of at most [`MAX_QUERY_SPAN`].
//!
//! A connection that also writes bookings (`write`) is read with
//! `events.list` instead (`singleEvents=true`, so Google expands
//! recurrences), which names each event: the ones the server wrote (the
//! `booking_id` private extended property) are left out, as are cancelled,
//! transparent and declined ones. Its events are inserted, patched and
//! deleted at ids derived from the booking ([`event_id`]), so a retry never
//! makes a second event.

use std::collections::HashMap;

use async_trait::async_trait;
use booking_domain::{
    BookingId, BusySource, CalendarSource, CalendarWriter, EventDraft, FetchError, FetchOutcome,
    FetchRequest, Fetched, OAuthCredentials, RemoteEvent, TimeRange, Validators, WriteOutcome,
    WriteRequest, event_uid,
};
use jiff::{SignedDuration, Timestamp};
use reqwest::StatusCode;
use reqwest::Url;
use serde::Deserialize;

use crate::client::{HttpClient, bounded, overlapping, safe_code, wrong_kind};
use crate::endpoints::{
    EndpointError, Endpoints, GOOGLE_API_URL_VAR, GOOGLE_TOKEN_URL_VAR, api_url, parse_origin,
    parse_url,
};
use crate::oauth::{Session, TokenEndpoint};

/// The name errors use.
pub const SERVICE: &str = "Google Calendar";

/// The longest range one `freeBusy` query may cover.
pub const MAX_QUERY_SPAN: SignedDuration = SignedDuration::from_hours(90 * 24);

/// The Google Calendar adapter. It serves [`CalendarSource::Google`] only;
/// other kinds are [`FetchError::Refused`].
#[derive(Debug, Clone)]
pub struct GoogleCalendar {
    http: HttpClient,
    origin: Url,
    free_busy: Url,
    token: TokenEndpoint,
}

/// The `freeBusy` answer (only what is read).
#[derive(Deserialize)]
struct FreeBusyAnswer {
    #[serde(default)]
    calendars: HashMap<String, CalendarBusy>,
}

#[derive(Deserialize)]
struct CalendarBusy {
    #[serde(default)]
    busy: Vec<Period>,
    #[serde(default)]
    errors: Vec<CalendarError>,
}

#[derive(Deserialize)]
struct Period {
    start: String,
    end: String,
}

#[derive(Deserialize)]
struct CalendarError {
    #[serde(default)]
    reason: Option<String>,
}

impl GoogleCalendar {
    /// The adapter on `endpoints.google_api` and `endpoints.google_token`.
    pub fn new(http: HttpClient, endpoints: &Endpoints) -> Result<GoogleCalendar, EndpointError> {
        let origin = parse_origin(GOOGLE_API_URL_VAR, &endpoints.google_api)?;
        let token = TokenEndpoint {
            url: parse_url(GOOGLE_TOKEN_URL_VAR, &endpoints.google_token)?,
            scope: None,
            name: "Google's token endpoint",
        };
        Ok(GoogleCalendar {
            http,
            free_busy: api_url(&origin, "/calendar/v3/freeBusy"),
            origin,
            token,
        })
    }

    /// The busy blocks of calendar `calendar_id` overlapping `window`, and
    /// the credentials to store if the token was refreshed (at `now`).
    pub async fn busy(
        &self,
        calendar_id: &str,
        credentials: &OAuthCredentials,
        window: TimeRange,
        now: Timestamp,
    ) -> Result<FetchOutcome, FetchError> {
        let mut session = Session::new(&self.http, SERVICE, Some(&self.token), credentials, now);
        let mut blocks = Vec::new();
        for part in split_window(window, MAX_QUERY_SPAN) {
            let query = serde_json::json!({
                "timeMin": part.start().to_string(),
                "timeMax": part.end().to_string(),
                "items": [{ "id": calendar_id }],
            });
            let answer = session
                .send(|client| client.post(self.free_busy.clone()).json(&query))
                .await?;
            if !answer.status.is_success() {
                return Err(answer.unexpected(SERVICE));
            }
            let parsed: FreeBusyAnswer = answer.json(SERVICE)?;
            read_calendar(parsed, calendar_id, window, &mut blocks)?;
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

impl GoogleCalendar {
    /// `{api}/calendar/v3/calendars/{calendar_id}/events[/{event_id}]`,
    /// each segment escaped.
    fn events_url(&self, calendar_id: &str, event_id: Option<&str>) -> Url {
        let mut url = api_url(&self.origin, "/");
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.clear();
            segments.extend(["calendar", "v3", "calendars", calendar_id, "events"]);
            segments.extend(event_id);
        }
        url
    }

    /// Makes the booking's event in calendar `calendar_id` match `event`
    /// (`None`: removes it), at the id derived from the booking.
    ///
    /// An event not known to exist is inserted with its id; a 409 (the
    /// id exists: a retry of an insert whose answer was lost, or an event
    /// deleted before) is success, after a patch that brings it to the
    /// booking's state (and back from cancelled). A known event is patched;
    /// a 404 or 410 there inserts it again. Removing answers success when
    /// the event is already gone.
    pub async fn write_event(
        &self,
        calendar_id: &str,
        credentials: &OAuthCredentials,
        booking: &BookingId,
        event: Option<&EventDraft>,
        remote: &RemoteEvent,
        now: jiff::Timestamp,
    ) -> Result<WriteOutcome, FetchError> {
        let mut session = Session::new(&self.http, SERVICE, Some(&self.token), credentials, now);
        let id = event_id(booking);
        let one = self.events_url(calendar_id, Some(&id));
        let Some(event) = event else {
            let answer = session
                .send(|client| client.delete(one.clone()).query(&[("sendUpdates", "none")]))
                .await?;
            if !(answer.status.is_success()
                || answer.status == StatusCode::NOT_FOUND
                || answer.status == StatusCode::GONE)
            {
                return Err(answer.unexpected(SERVICE));
            }
            return Ok(WriteOutcome {
                remote: RemoteEvent::default(),
                refreshed: session.into_refreshed(),
            });
        };
        let mut body = event_body(booking, event);
        let mut insert = !remote.written;
        if !insert {
            let answer = patch_event(&mut session, &one, &body).await?;
            if answer.status == StatusCode::NOT_FOUND || answer.status == StatusCode::GONE {
                insert = true;
            } else if !answer.status.is_success() {
                return Err(answer.unexpected(SERVICE));
            }
        }
        if insert {
            body["id"] = serde_json::Value::String(id.clone());
            let all = self.events_url(calendar_id, None);
            let answer = session
                .send(|client| {
                    client
                        .post(all.clone())
                        .query(&[("sendUpdates", "none")])
                        .json(&body)
                })
                .await?;
            if answer.status == StatusCode::CONFLICT {
                // The id is taken: the event exists (perhaps cancelled).
                if let Some(fields) = body.as_object_mut() {
                    fields.remove("id");
                }
                let answer = patch_event(&mut session, &one, &body).await?;
                if !answer.status.is_success() {
                    return Err(answer.unexpected(SERVICE));
                }
            } else if !answer.status.is_success() {
                return Err(answer.unexpected(SERVICE));
            }
        }
        Ok(WriteOutcome {
            remote: RemoteEvent {
                written: true,
                id: Some(id),
                etag: None,
            },
            refreshed: session.into_refreshed(),
        })
    }
}

/// `PATCH`es the event at `url` with `body`.
async fn patch_event(
    session: &mut Session<'_>,
    url: &Url,
    body: &serde_json::Value,
) -> Result<crate::client::Answer, FetchError> {
    session
        .send(|client| {
            client
                .patch(url.clone())
                .query(&[("sendUpdates", "none")])
                .json(body)
        })
        .await
}

/// The Google event id of a booking's event: the booking id in base32hex
/// (RFC 4648 "extended hex", lower case, no padding), after a fixed `bk`
/// marker, so it only uses the characters Google allows (`a-v`, `0-9`,
/// 5-1024 long) and is the same on every retry.
pub fn event_id(booking: &BookingId) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let bytes = booking.as_str().as_bytes();
    let mut out = String::from("bk");
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The event resource Google Calendar v3 takes (the fields we set).
fn event_body(booking: &BookingId, event: &EventDraft) -> serde_json::Value {
    serde_json::json!({
        "summary": event.summary,
        "description": event.description,
        "start": {"dateTime": event.range.start().to_string(), "timeZone": "UTC"},
        "end": {"dateTime": event.range.end().to_string(), "timeZone": "UTC"},
        "status": if event.tentative { "tentative" } else { "confirmed" },
        "transparency": "opaque",
        "iCalUID": event_uid(booking),
        "extendedProperties": {"private": {"booking_id": booking.as_str()}},
    })
}

/// Adds the busy periods of `calendar_id` in `answer` to `blocks`.
fn read_calendar(
    mut answer: FreeBusyAnswer,
    calendar_id: &str,
    window: TimeRange,
    blocks: &mut Vec<TimeRange>,
) -> Result<(), FetchError> {
    // The answer is keyed by the id as asked; if Google normalised it (a
    // case change), a single calendar is still unambiguous.
    let calendar = match answer.calendars.remove(calendar_id) {
        Some(calendar) => calendar,
        None if answer.calendars.len() == 1 => answer
            .calendars
            .into_values()
            .next()
            .ok_or_else(missing_calendar)?,
        None => return Err(missing_calendar()),
    };
    if let Some(error) = calendar.errors.first() {
        let reason = error
            .reason
            .as_deref()
            .and_then(safe_code)
            .unwrap_or_else(|| "unknown".to_owned());
        return Err(FetchError::Upstream(format!(
            "{SERVICE} could not read the calendar ({reason})"
        )));
    }
    for period in calendar.busy {
        let (Ok(start), Ok(end)) = (
            period.start.parse::<Timestamp>(),
            period.end.parse::<Timestamp>(),
        ) else {
            return Err(FetchError::Upstream(format!(
                "{SERVICE} answered a busy period with an unreadable time"
            )));
        };
        blocks.extend(overlapping(window, start, end));
    }
    Ok(())
}

fn missing_calendar() -> FetchError {
    FetchError::Upstream(format!("{SERVICE} answered without the calendar asked for"))
}

/// `window` cut into consecutive ranges of at most `span`, in order.
pub(crate) fn split_window(window: TimeRange, span: SignedDuration) -> Vec<TimeRange> {
    let mut parts = Vec::new();
    let mut start = window.start();
    while start < window.end() {
        let end = start
            .checked_add(span)
            .map_or(window.end(), |end| end.min(window.end()));
        match TimeRange::new(start, end) {
            Some(part) => parts.push(part),
            // Only a non-positive span gets here; ask for the rest at once.
            None => {
                parts.extend(TimeRange::new(start, window.end()));
                break;
            }
        }
        start = end;
    }
    parts
}

/// One page of `events.list` (only what is read).
#[derive(Deserialize)]
struct EventsPage {
    #[serde(default)]
    items: Vec<ListedEvent>,
    #[serde(rename = "nextPageToken", default)]
    next_page_token: Option<String>,
    #[serde(rename = "timeZone", default)]
    time_zone: Option<String>,
}

#[derive(Deserialize)]
struct ListedEvent {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    transparency: Option<String>,
    #[serde(default)]
    start: Option<EventTime>,
    #[serde(default)]
    end: Option<EventTime>,
    #[serde(default)]
    attendees: Vec<Attendee>,
    #[serde(rename = "extendedProperties", default)]
    extended: Option<ExtendedProperties>,
}

#[derive(Deserialize)]
struct EventTime {
    #[serde(rename = "dateTime", default)]
    date_time: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

#[derive(Deserialize)]
struct Attendee {
    #[serde(rename = "self", default)]
    is_self: bool,
    #[serde(rename = "responseStatus", default)]
    response_status: Option<String>,
}

#[derive(Deserialize)]
struct ExtendedProperties {
    #[serde(default)]
    private: HashMap<String, String>,
}

impl GoogleCalendar {
    /// The busy time of a calendar the server also writes into, from
    /// `events.list` rather than `freeBusy` (which cannot tell our events
    /// from others): occurrences expanded by Google (`singleEvents`),
    /// without cancelled, transparent and declined events, nor the events
    /// the server wrote (the `booking_id` private extended property).
    /// All-day events block their days in the calendar's zone.
    pub async fn busy_without_ours(
        &self,
        calendar_id: &str,
        credentials: &OAuthCredentials,
        window: TimeRange,
        now: Timestamp,
    ) -> Result<FetchOutcome, FetchError> {
        let mut session = Session::new(&self.http, SERVICE, Some(&self.token), credentials, now);
        let url = self.events_url(calendar_id, None);
        let mut blocks = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..self.http.options().max_pages {
            let mut query = vec![
                ("timeMin", window.start().to_string()),
                ("timeMax", window.end().to_string()),
                ("singleEvents", "true".to_owned()),
                ("maxResults", "2500".to_owned()),
            ];
            if let Some(token) = &page_token {
                query.push(("pageToken", token.clone()));
            }
            let answer = session
                .send(|client| client.get(url.clone()).query(&query))
                .await?;
            if !answer.status.is_success() {
                return Err(answer.unexpected(SERVICE));
            }
            let page: EventsPage = answer.json(SERVICE)?;
            let zone = page
                .time_zone
                .as_deref()
                .and_then(|z| jiff::tz::TimeZone::get(z).ok())
                .unwrap_or(jiff::tz::TimeZone::UTC);
            for event in &page.items {
                if let Some(block) = listed_busy(event, &zone, window)? {
                    blocks.push(block);
                }
            }
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(token) => page_token = Some(token),
                None => {
                    return Ok(FetchOutcome {
                        fetched: Fetched::Busy {
                            blocks,
                            validators: Validators::default(),
                        },
                        refreshed: session.into_refreshed(),
                    });
                }
            }
        }
        Err(self.http.too_many_pages(SERVICE))
    }
}

/// The busy block of a listed event inside `window`, if it blocks time.
fn listed_busy(
    event: &ListedEvent,
    zone: &jiff::tz::TimeZone,
    window: TimeRange,
) -> Result<Option<TimeRange>, FetchError> {
    let ours = event
        .extended
        .as_ref()
        .is_some_and(|e| e.private.contains_key("booking_id"));
    let declined = event
        .attendees
        .iter()
        .any(|a| a.is_self && a.response_status.as_deref() == Some("declined"));
    if ours
        || declined
        || event.status.as_deref() == Some("cancelled")
        || event.transparency.as_deref() == Some("transparent")
    {
        return Ok(None);
    }
    let (Some(start), Some(end)) = (&event.start, &event.end) else {
        return Ok(None);
    };
    let (Some(start), Some(end)) = (instant_of(start, zone)?, instant_of(end, zone)?) else {
        return Ok(None);
    };
    Ok(overlapping(window, start, end))
}

/// An event time: `dateTime` (with its offset), or an all-day `date` at
/// midnight in `zone`.
fn instant_of(
    time: &EventTime,
    zone: &jiff::tz::TimeZone,
) -> Result<Option<Timestamp>, FetchError> {
    let unreadable = || {
        FetchError::Upstream(format!(
            "{SERVICE} answered an event with an unreadable time"
        ))
    };
    if let Some(at) = &time.date_time {
        return at.parse::<Timestamp>().map(Some).map_err(|_| unreadable());
    }
    if let Some(day) = &time.date {
        let day: jiff::civil::Date = day.parse().map_err(|_| unreadable())?;
        let at = zone
            .to_timestamp(day.to_datetime(jiff::civil::Time::midnight()))
            .map_err(|_| unreadable())?;
        return Ok(Some(at));
    }
    Ok(None)
}

#[async_trait]
impl BusySource for GoogleCalendar {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        let CalendarSource::Google {
            calendar_id,
            credentials,
        } = request.source
        else {
            return Err(wrong_kind(SERVICE, request.source));
        };
        let timeout = self.http.options().fetch_timeout;
        if request.writes {
            bounded(
                timeout,
                SERVICE,
                self.busy_without_ours(calendar_id, credentials, request.window, request.now),
            )
            .await
        } else {
            bounded(
                timeout,
                SERVICE,
                self.busy(calendar_id, credentials, request.window, request.now),
            )
            .await
        }
    }
}

#[async_trait]
impl CalendarWriter for GoogleCalendar {
    async fn write(&self, request: WriteRequest<'_>) -> Result<WriteOutcome, FetchError> {
        let CalendarSource::Google {
            calendar_id,
            credentials,
        } = request.source
        else {
            return Err(wrong_kind(SERVICE, request.source));
        };
        bounded(
            self.http.options().fetch_timeout,
            SERVICE,
            self.write_event(
                calendar_id,
                credentials,
                request.booking,
                request.event,
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

    #[test]
    fn event_ids_are_base32hex_of_the_booking_id() {
        let id = event_id(&BookingId::from_trusted("bk_Zz9".to_owned()));
        // "bk_Zz9" = 62 6b 5f 5a 7a 39 in base32hex, lower case.
        assert_eq!(id, "bkc9llumjq74");
        assert!(id.len() >= 5 && id.len() <= 1024);
        assert!(id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')));
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn windows_split_at_ninety_days() {
        let window =
            TimeRange::new(ts("2027-01-01T00:00:00Z"), ts("2027-07-20T00:00:00Z")).unwrap();
        let parts = split_window(window, MAX_QUERY_SPAN);
        let shown: Vec<(String, String)> = parts
            .iter()
            .map(|p| (p.start().to_string(), p.end().to_string()))
            .collect();
        assert_eq!(
            shown,
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
        let exact = TimeRange::new(ts("2027-01-01T00:00:00Z"), ts("2027-04-01T00:00:00Z")).unwrap();
        assert_eq!(split_window(exact, MAX_QUERY_SPAN), vec![exact]);
        let short = TimeRange::new(ts("2027-01-01T00:00:00Z"), ts("2027-01-01T00:01:00Z")).unwrap();
        assert_eq!(split_window(short, MAX_QUERY_SPAN), vec![short]);
        assert_eq!(split_window(short, SignedDuration::ZERO), vec![short]);
    }
}
