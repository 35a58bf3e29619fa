//! CalDAV (RFC 4791) calendar collections: iCloud, Fastmail, Nextcloud,
//! Radicale. Busy time is read with a `calendar-query` REPORT and a
//! `time-range` filter; bookings are written as one `{booking id}.ics`
//! resource each.
//!
//! - **Reading.** `REPORT {url}` with `Depth: 1` asks for the `calendar-data`
//!   of every event overlapping the window. The server returns each
//!   resource whole (a recurring series with its overrides), so each one is
//!   read with the ICS adapter's parser and expansion (RRULE, EXDATE,
//!   RECURRENCE-ID, TZID, all-day, transparent and cancelled events: the
//!   rules of [`crate::ics`]). Resources whose `UID` is in the server's
//!   domain (`…@booking-api`) are the bookings it wrote: left out.
//! - **Writing.** `PUT {url}{booking id}.ics` with `If-None-Match: *` when
//!   the event is not known to exist (a 412 there means a lost answer of an
//!   earlier create: its `ETag` is read and the update below runs), and
//!   `If-Match: <ETag>` on updates (a 412 there means the resource changed
//!   on the server since: its `ETag` is read again and the booking's state
//!   written once more; a second 412 is an error). `DELETE` removes it (404
//!   is success).
//! - **Errors.** 401, 403, 404, 412 and 507 become messages that say what
//!   to fix; nothing quotes the URL, the username or the password.
//! - **Safety.** URLs are chosen by API clients: no redirect is ever
//!   followed, and unless private targets are allowed
//!   (`BOOKING_WEBHOOK_ALLOW_PRIVATE`), only `https://` to public addresses
//!   (the SSRF guard's resolver).

use async_trait::async_trait;
use booking_domain::{
    BookingId, BusySource, CalendarSource, CalendarWriter, EVENT_UID_DOMAIN, EventDraft,
    FetchError, FetchOutcome, FetchRequest, Fetched, RemoteEvent, TimeRange, Validators,
    WriteOutcome, WriteRequest, event_uid,
};
use booking_netguard::check_url_syntax;
use jiff::Timestamp;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_MATCH, IF_NONE_MATCH};
use reqwest::{Method, StatusCode, Url};

use crate::client::{Answer, ClientError, HttpClient, HttpOptions, bounded, wrong_kind};

/// The name errors use.
pub const SERVICE: &str = "The CalDAV server";

/// The CalDAV adapter. It serves [`CalendarSource::Caldav`] only.
#[derive(Debug, Clone)]
pub struct CaldavCalendar {
    http: HttpClient,
    allow_private: bool,
}

/// One collection and its account.
struct Collection<'a> {
    url: Url,
    username: &'a str,
    password: &'a str,
}

impl CaldavCalendar {
    /// The adapter; `allow_private` allows `http://` and private targets.
    pub fn new(options: HttpOptions, allow_private: bool) -> Result<CaldavCalendar, ClientError> {
        Ok(CaldavCalendar {
            http: HttpClient::guarded(options, allow_private)?,
            allow_private,
        })
    }

    fn collection<'a>(
        &self,
        url: &str,
        username: &'a str,
        password: &'a str,
    ) -> Result<Collection<'a>, FetchError> {
        let url = check_url_syntax(url, self.allow_private)
            .map_err(|refused| FetchError::Refused(refused.to_string()))?;
        Ok(Collection {
            url,
            username,
            password,
        })
    }

    /// Sends the request `build` makes, with the account's Basic
    /// credentials.
    async fn send(
        &self,
        collection: &Collection<'_>,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, FetchError> {
        self.http
            .send(SERVICE, |client| {
                build(client).basic_auth(collection.username, Some(collection.password))
            })
            .await
    }

    /// The busy blocks of the collection at `url` overlapping `window`.
    pub async fn busy(
        &self,
        url: &str,
        username: &str,
        password: &str,
        window: TimeRange,
    ) -> Result<FetchOutcome, FetchError> {
        let collection = self.collection(url, username, password)?;
        let body = calendar_query(window);
        let report = Method::from_bytes(b"REPORT")
            .map_err(|_| FetchError::Upstream("REPORT is not a method".to_owned()))?;
        let answer = self
            .send(&collection, |client| {
                client
                    .request(report.clone(), collection.url.clone())
                    .header("Depth", "1")
                    .header(CONTENT_TYPE, "application/xml; charset=utf-8")
                    .body(body.clone())
            })
            .await?;
        if answer.status != StatusCode::MULTI_STATUS && !answer.status.is_success() {
            return Err(refusal(&answer, "read the calendar"));
        }
        let xml = String::from_utf8_lossy(&answer.body).into_owned();
        let blocks = tokio::task::spawn_blocking(move || -> Result<Vec<TimeRange>, FetchError> {
            let mut blocks = Vec::new();
            for data in calendar_data(&xml) {
                if written_by_us(&data) {
                    continue;
                }
                blocks.extend(crate::ics::busy_blocks(&data, window)?);
            }
            Ok(blocks)
        })
        .await
        .map_err(|_| FetchError::Upstream("the calendar could not be read".to_owned()))??;
        Ok(FetchOutcome {
            fetched: Fetched::Busy {
                blocks,
                validators: Validators::default(),
            },
            refreshed: None,
        })
    }

    /// Makes the booking's resource `{booking id}.ics` in the collection
    /// match `event` (`None`: removes it); see the module documentation.
    pub async fn write_event(
        &self,
        url: &str,
        username: &str,
        password: &str,
        booking: &BookingId,
        event: Option<&EventDraft>,
        remote: &RemoteEvent,
    ) -> Result<WriteOutcome, FetchError> {
        let collection = self.collection(url, username, password)?;
        let resource = resource_url(&collection.url, booking)?;
        let Some(event) = event else {
            let answer = self
                .send(&collection, |client| client.delete(resource.clone()))
                .await?;
            if !(answer.status.is_success() || answer.status == StatusCode::NOT_FOUND) {
                return Err(refusal(&answer, "remove the booking's event"));
            }
            return Ok(WriteOutcome {
                remote: RemoteEvent::default(),
                refreshed: None,
            });
        };
        let body = render_event(booking, event);
        let mut precondition = if remote.written {
            Precondition::Matches(remote.etag.clone())
        } else {
            Precondition::Absent
        };
        for _ in 0..3 {
            let answer = self
                .send(&collection, |client| {
                    let request = client
                        .put(resource.clone())
                        .header(CONTENT_TYPE, "text/calendar; charset=utf-8")
                        .body(body.clone());
                    match &precondition {
                        Precondition::Absent => request.header(IF_NONE_MATCH, "*"),
                        Precondition::Matches(Some(etag)) => request.header(IF_MATCH, etag),
                        Precondition::Matches(None) => request.header(IF_MATCH, "*"),
                    }
                })
                .await?;
            if answer.status.is_success() {
                return Ok(WriteOutcome {
                    remote: RemoteEvent {
                        written: true,
                        id: None,
                        etag: etag_of(&answer),
                    },
                    refreshed: None,
                });
            }
            if answer.status != StatusCode::PRECONDITION_FAILED {
                return Err(refusal(&answer, "write the booking's event"));
            }
            // The resource is not as we left it: see what is there now.
            precondition = match self.current_etag(&collection, &resource).await? {
                Some(etag) => Precondition::Matches(Some(etag)),
                None => Precondition::Absent,
            };
        }
        Err(FetchError::Upstream(format!(
            "{SERVICE} answered 412 Precondition Failed: the booking's event keeps changing \
             on the server"
        )))
    }

    /// The `ETag` of `resource` now, `None` when it does not exist.
    async fn current_etag(
        &self,
        collection: &Collection<'_>,
        resource: &Url,
    ) -> Result<Option<String>, FetchError> {
        let answer = self
            .send(collection, |client| client.get(resource.clone()))
            .await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(refusal(&answer, "read the booking's event"));
        }
        // Without an ETag, `If-Match: *` (it exists) is the best left.
        Ok(Some(etag_of(&answer).unwrap_or_else(|| "*".to_owned())))
    }
}

/// The condition a `PUT` is sent with.
enum Precondition {
    /// `If-None-Match: *`: create only.
    Absent,
    /// `If-Match`: this ETag (or `*` when none is known).
    Matches(Option<String>),
}

fn etag_of(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `{collection}{booking id}.ics`.
fn resource_url(collection: &Url, booking: &BookingId) -> Result<Url, FetchError> {
    let mut url = collection.clone();
    {
        let mut segments = url.path_segments_mut().map_err(|()| {
            FetchError::Refused("the CalDAV URL cannot hold a calendar".to_owned())
        })?;
        segments.pop_if_empty();
        segments.push(&format!("{}.ics", booking.as_str()));
    }
    Ok(url)
}

/// A clear error for an answer `what` could not use.
fn refusal(answer: &Answer, what: &str) -> FetchError {
    match answer.status {
        StatusCode::UNAUTHORIZED => FetchError::Unauthorized(format!(
            "{SERVICE} refused the username and password (401 Unauthorized); \
             check them (iCloud and Fastmail need an app-specific password)"
        )),
        StatusCode::FORBIDDEN => FetchError::Unauthorized(format!(
            "{SERVICE} does not let this account {what} (403 Forbidden)"
        )),
        StatusCode::NOT_FOUND => FetchError::Upstream(format!(
            "{SERVICE} has no calendar at this URL (404 Not Found); use the calendar \
             collection's URL"
        )),
        StatusCode::PRECONDITION_FAILED => FetchError::Upstream(format!(
            "{SERVICE} answered 412 Precondition Failed: the event changed on the server"
        )),
        StatusCode::INSUFFICIENT_STORAGE => FetchError::Upstream(format!(
            "{SERVICE} has no room left for the event (507 Insufficient Storage)"
        )),
        status if status.is_redirection() => FetchError::Refused(format!(
            "{SERVICE} answered a redirect ({}), which is not followed; use the final URL",
            status.as_u16()
        )),
        _ => answer.unexpected(SERVICE),
    }
}

/// The `calendar-query` REPORT body for `window`.
fn calendar_query(window: TimeRange) -> String {
    let at = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter>
    <C:comp-filter name="VCALENDAR">
      <C:comp-filter name="VEVENT">
        <C:time-range start="{}" end="{}"/>
      </C:comp-filter>
    </C:comp-filter>
  </C:filter>
</C:calendar-query>"#,
        at(window.start()),
        at(window.end())
    )
}

/// The text of every `calendar-data` element of a multistatus answer (any
/// namespace prefix), unescaped.
pub(crate) fn calendar_data(xml: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('>') else {
            break;
        };
        let tag = &rest[..close];
        rest = &rest[close + 1..];
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        let local = name.rsplit(':').next().unwrap_or(name);
        if local != "calendar-data" || tag.ends_with('/') {
            continue;
        }
        let end = format!("</{name}");
        let Some(at) = rest.find(&end) else {
            break;
        };
        found.push(unescape(&rest[..at]));
        rest = &rest[at..];
    }
    found
}

/// XML text to plain text: CDATA sections kept as they are, the five named
/// entities and numeric character references replaced.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(cdata) = rest.strip_prefix("<![CDATA[") {
            let end = cdata.find("]]>").unwrap_or(cdata.len());
            out.push_str(&cdata[..end]);
            rest = cdata.get(end + 3..).unwrap_or_default();
            continue;
        }
        let Some(c) = rest.chars().next() else {
            break;
        };
        if c == '&'
            && let Some(semi) = rest.find(';')
        {
            let entity = &rest[1..semi];
            let decoded = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            if let Some(decoded) = decoded {
                out.push(decoded);
                rest = &rest[semi + 1..];
                continue;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Whether an iCalendar resource is one the server wrote: a `UID` in its
/// domain (lines unfolded first).
fn written_by_us(text: &str) -> bool {
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    let suffix = format!("@{EVENT_UID_DOMAIN}");
    unfolded.lines().any(|line| {
        let line = line.trim_end_matches('\r');
        line.split_once(':').is_some_and(|(name, value)| {
            let name = name.split(';').next().unwrap_or_default();
            name.eq_ignore_ascii_case("UID") && value.trim().ends_with(&suffix)
        })
    })
}

/// The booking's event as an iCalendar object (RFC 5545: escaped text,
/// lines folded at 75 octets, CRLF).
fn render_event(booking: &BookingId, event: &EventDraft) -> String {
    let at = |t: Timestamp| t.strftime("%Y%m%dT%H%M%SZ").to_string();
    let lines = [
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//booking-api//bookings//EN".to_owned(),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", event_uid(booking)),
        format!("DTSTAMP:{}", at(event.stamp)),
        format!("DTSTART:{}", at(event.range.start())),
        format!("DTEND:{}", at(event.range.end())),
        format!("SEQUENCE:{}", event.sequence),
        format!(
            "STATUS:{}",
            if event.tentative {
                "TENTATIVE"
            } else {
                "CONFIRMED"
            }
        ),
        "TRANSP:OPAQUE".to_owned(),
        format!("SUMMARY:{}", escape_text(&event.summary)),
        format!("DESCRIPTION:{}", escape_text(&event.description)),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    let mut out = String::new();
    for line in lines {
        fold_into(&mut out, &line);
    }
    out
}

/// RFC 5545 TEXT escaping.
fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded at 75 octets (never inside a character), CRLF.
fn fold_into(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

#[async_trait]
impl BusySource for CaldavCalendar {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        let CalendarSource::Caldav {
            url,
            username,
            password,
        } = request.source
        else {
            return Err(wrong_kind(SERVICE, request.source));
        };
        bounded(
            self.http.options().fetch_timeout,
            SERVICE,
            self.busy(url, username, password, request.window),
        )
        .await
    }
}

#[async_trait]
impl CalendarWriter for CaldavCalendar {
    async fn write(&self, request: WriteRequest<'_>) -> Result<WriteOutcome, FetchError> {
        let CalendarSource::Caldav {
            url,
            username,
            password,
        } = request.source
        else {
            return Err(wrong_kind(SERVICE, request.source));
        };
        bounded(
            self.http.options().fetch_timeout,
            SERVICE,
            self.write_event(
                url,
                username,
                password,
                request.booking,
                request.event,
                request.remote,
            ),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_data_is_found_under_any_prefix_and_unescaped() {
        let xml = "<?xml version=\"1.0\"?><multistatus xmlns=\"DAV:\" \
            xmlns:C=\"urn:ietf:params:xml:ns:caldav\"><response><propstat><prop>\
            <C:calendar-data>BEGIN:VCALENDAR&#13;\nSUMMARY:a &amp; b &lt;c&gt;\nEND:VCALENDAR\
            </C:calendar-data></prop></propstat></response><response><propstat><prop>\
            <cal:calendar-data xmlns:cal=\"urn:ietf:params:xml:ns:caldav\">\
            <![CDATA[BEGIN:VCALENDAR\nX:<&>\nEND:VCALENDAR]]></cal:calendar-data>\
            <C:calendar-data/></prop></propstat></response></multistatus>";
        assert_eq!(
            calendar_data(xml),
            [
                "BEGIN:VCALENDAR\r\nSUMMARY:a & b <c>\nEND:VCALENDAR",
                "BEGIN:VCALENDAR\nX:<&>\nEND:VCALENDAR"
            ]
        );
    }

    #[test]
    fn our_own_events_are_recognised_by_their_uid() {
        assert!(written_by_us(
            "BEGIN:VEVENT\r\nUID:bk_abc@booking\r\n -api\r\nEND:VEVENT\r\n"
        ));
        assert!(!written_by_us(
            "BEGIN:VEVENT\r\nUID:meeting@example.com\r\n"
        ));
        assert!(!written_by_us("SUMMARY:x@booking-api\r\nUID:other\r\n"));
    }

    #[test]
    fn events_are_escaped_and_folded() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let event = EventDraft {
            range: TimeRange::new(t("2027-01-18T15:00:00Z"), t("2027-01-18T16:00:00Z")).unwrap(),
            summary: "Consultation with Ada; Lovelace, Jr.".to_owned(),
            description: format!("line one\nline two {}", "é".repeat(60)),
            tentative: true,
            sequence: 2,
            stamp: t("2027-01-01T00:00:00Z"),
        };
        let text = render_event(&BookingId::from_trusted("bk_1".to_owned()), &event);
        assert!(text.contains("UID:bk_1@booking-api\r\n"));
        assert!(text.contains("DTSTART:20270118T150000Z\r\n"));
        assert!(text.contains("STATUS:TENTATIVE\r\n"));
        assert!(text.contains("SUMMARY:Consultation with Ada\\; Lovelace\\, Jr.\r\n"));
        assert!(text.contains("DESCRIPTION:line one\\nline two"));
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{line:?}");
        }
        let blocks = crate::ics::busy_blocks(&text, event.range).unwrap();
        assert_eq!(blocks, vec![event.range]);
    }

    #[test]
    fn resources_are_named_after_the_booking() {
        let base = Url::parse("https://dav.example.com/cal/ada/work/").unwrap();
        let url = resource_url(&base, &BookingId::from_trusted("bk_9".to_owned())).unwrap();
        assert_eq!(
            url.as_str(),
            "https://dav.example.com/cal/ada/work/bk_9.ics"
        );
    }
}
