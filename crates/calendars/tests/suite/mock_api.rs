//! A stand-in for the provider APIs: a real HTTP/1.1 server on 127.0.0.1
//! that records every request and answers with whatever the test's handler
//! returns, plus the helpers the Google, Outlook, Calendly and OAuth tests
//! share (an `ExternalCalendars` pointed at the server, credentials, times).

// Test support: a failed expectation is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use booking_calendars::client::HttpOptions;
use booking_calendars::{Endpoints, ExternalCalendars};
use booking_domain::{
    BusySource, CalendarSource, FetchError, FetchOutcome, FetchRequest, Fetched, OAuthCredentials,
    TimeRange, Validators,
};
use jiff::Timestamp;
use reqwest::Url;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query as sent (`/v1.0/me/calendarView?startDateTime=…`).
    pub target: String,
    /// Header values by lower-cased name.
    pub headers: HashMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Request {
    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The raw query string (after `?`), or "".
    pub fn raw_query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// The decoded query parameters, in order.
    pub fn query(&self) -> Vec<(String, String)> {
        decode_form(self.raw_query())
    }

    /// One decoded query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// A header, or "".
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("request body is JSON")
    }

    /// The body as a form, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        decode_form(std::str::from_utf8(&self.body).expect("form body is UTF-8"))
    }
}

fn decode_form(text: &str) -> Vec<(String, String)> {
    let url = Url::parse(&format!("http://x/?{text}")).expect("query parses");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Without `Content-Length`: the body ends when the connection closes.
    unframed: bool,
    delay: Duration,
}

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::raw(status, body.to_string().into_bytes())
            .with_header("content-type", "application/json; charset=utf-8")
    }

    /// `status` with these bytes as the body.
    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            unframed: false,
            delay: Duration::ZERO,
        }
    }

    /// `status` with an empty body.
    pub fn status(status: u16) -> Reply {
        Reply::raw(status, Vec::new())
    }

    /// With a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sent without `Content-Length`, the connection closed after the body.
    pub fn unframed(mut self) -> Reply {
        self.unframed = true;
        self
    }

    /// Sent after `delay`.
    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Request, usize) -> Reply + Send + Sync;

/// The server; dropping it stops it.
pub struct MockApi {
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    received: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockApi {
    /// Starts a server that answers each request with
    /// `handler(request, index)`, `index` counting requests from 0.
    pub async fn start(
        handler: impl Fn(&Request, usize) -> Reply + Send + Sync + 'static,
    ) -> MockApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let origin = format!("http://{}", listener.local_addr().expect("addr"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let counter = Arc::new(AtomicUsize::new(0));
        let shared = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (received, handler, counter) = (
                    Arc::clone(&shared),
                    Arc::clone(&handler),
                    Arc::clone(&counter),
                );
                tokio::spawn(async move {
                    let _ = serve(stream, received, handler, counter).await;
                });
            }
        });
        MockApi {
            origin,
            received,
            task,
        }
    }

    /// `origin` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Request> {
        self.received.lock().unwrap().clone()
    }

    /// What was received on `path`.
    pub fn on(&self, path: &str) -> Vec<Request> {
        self.received()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Request>>>,
    handler: Arc<Handler>,
    counter: Arc<AtomicUsize>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let target = parts.next().unwrap_or("/").to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await?;
        let request = Request {
            method,
            target,
            headers,
            body,
        };
        let index = counter.fetch_add(1, Ordering::SeqCst);
        let reply = handler(&request, index);
        received.lock().unwrap().push(request);
        if !reply.delay.is_zero() {
            tokio::time::sleep(reply.delay).await;
        }
        let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
        if reply.unframed {
            head.push_str("connection: close\r\n");
        } else {
            head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
        }
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        write.write_all(head.as_bytes()).await?;
        write.write_all(&reply.body).await?;
        if reply.unframed {
            write.shutdown().await?;
            return Ok(());
        }
    }
}

/// Fast retries, otherwise the production limits.
pub fn fast_options() -> HttpOptions {
    HttpOptions {
        first_backoff: Duration::from_millis(20),
        ..HttpOptions::default()
    }
}

/// Every endpoint on `api`: the API origins, and the token URLs at
/// `/google/token` and `/microsoft/token`.
pub fn endpoints(api: &MockApi) -> Endpoints {
    Endpoints {
        google_api: api.origin.clone(),
        google_token: api.url("/google/token"),
        graph_api: api.origin.clone(),
        microsoft_token: api.url("/common/oauth2/v2.0/token"),
        calendly_api: api.origin.clone(),
    }
}

/// The dispatcher pointed at `api`, with [`fast_options`] and [`StubIcs`].
pub fn calendars(api: &MockApi) -> ExternalCalendars {
    calendars_with(api, fast_options())
}

/// The dispatcher pointed at `api`, with these options.
pub fn calendars_with(api: &MockApi, options: HttpOptions) -> ExternalCalendars {
    ExternalCalendars::with_options(&endpoints(api), options, Arc::new(StubIcs::default()))
        .expect("calendars build")
}

/// An ICS adapter that answers `NotModified` and counts its calls.
#[derive(Default)]
pub struct StubIcs {
    /// Calls so far.
    pub calls: AtomicUsize,
}

#[async_trait]
impl BusySource for StubIcs {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        assert!(matches!(request.source, CalendarSource::Ics { .. }));
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(FetchOutcome {
            fetched: Fetched::NotModified,
            refreshed: None,
        })
    }
}

/// The `now` of every test.
pub const NOW: &str = "2027-01-10T00:00:00Z";

/// An instant.
pub fn ts(text: &str) -> Timestamp {
    text.parse().expect("timestamp")
}

/// `[start, end)`.
pub fn range(start: &str, end: &str) -> TimeRange {
    TimeRange::new(ts(start), ts(end)).expect("range")
}

/// The window most tests ask for: the week of 2027-01-18.
pub fn week() -> TimeRange {
    range("2027-01-18T00:00:00Z", "2027-01-25T00:00:00Z")
}

/// Secrets every test uses, so errors can be checked for them.
pub const ACCESS_TOKEN: &str = "at-valid-0123456789";
/// A stale access token.
pub const OLD_ACCESS_TOKEN: &str = "at-stale-9876543210";
/// The access token a refresh hands out.
pub const NEW_ACCESS_TOKEN: &str = "at-fresh-ABCDEFGHIJ";
/// The stored refresh token.
pub const REFRESH_TOKEN: &str = "rt-stored-5555555555";
/// The OAuth client secret.
pub const CLIENT_SECRET: &str = "cs-secret-7777777777";
/// The OAuth client id.
pub const CLIENT_ID: &str = "client-123.apps.example";

/// A valid access token expiring in an hour, with a refresh token.
pub fn fresh_credentials() -> OAuthCredentials {
    OAuthCredentials {
        access_token: Some(ACCESS_TOKEN.to_owned()),
        refresh_token: Some(REFRESH_TOKEN.to_owned()),
        client_id: Some(CLIENT_ID.to_owned()),
        client_secret: Some(CLIENT_SECRET.to_owned()),
        expires_at: Some(ts("2027-01-10T01:00:00Z")),
    }
}

/// An access token that expired, with a refresh token.
pub fn expired_credentials() -> OAuthCredentials {
    OAuthCredentials {
        access_token: Some(OLD_ACCESS_TOKEN.to_owned()),
        expires_at: Some(ts("2027-01-09T23:00:00Z")),
        ..fresh_credentials()
    }
}

/// An access token alone (a Calendly personal access token).
pub fn token_only(token: &str) -> OAuthCredentials {
    OAuthCredentials {
        access_token: Some(token.to_owned()),
        ..OAuthCredentials::default()
    }
}

/// A fetch of `window` from `source` at [`NOW`].
pub async fn fetch(
    calendars: &ExternalCalendars,
    source: &CalendarSource,
    window: TimeRange,
) -> Result<FetchOutcome, FetchError> {
    let validators = Validators::default();
    calendars
        .fetch(FetchRequest {
            source,
            window,
            validators: &validators,
            now: ts(NOW),
            writes: false,
        })
        .await
}

/// The blocks of a `Busy` outcome, sorted.
pub fn blocks(outcome: &FetchOutcome) -> Vec<TimeRange> {
    match &outcome.fetched {
        Fetched::Busy { blocks, validators } => {
            assert_eq!(validators, &Validators::default());
            let mut blocks = blocks.clone();
            blocks.sort();
            blocks
        }
        Fetched::NotModified => panic!("expected busy blocks"),
    }
}

/// Panics if `error`'s message contains any of the test secrets.
pub fn assert_no_secret(error: &FetchError) {
    let text = format!("{error} {error:?}");
    for secret in [
        ACCESS_TOKEN,
        OLD_ACCESS_TOKEN,
        NEW_ACCESS_TOKEN,
        REFRESH_TOKEN,
        CLIENT_SECRET,
    ] {
        assert!(!text.contains(secret), "error leaks a secret: {text}");
    }
}

/// The standard token answer of a refresh.
pub fn token_answer(access_token: &str, refresh_token: Option<&str>) -> Reply {
    let mut body = serde_json::json!({
        "access_token": access_token,
        "expires_in": 3599,
        "scope": "https://www.googleapis.com/auth/calendar.readonly",
        "token_type": "Bearer",
    });
    if let Some(rt) = refresh_token {
        body["refresh_token"] = Value::String(rt.to_owned());
    }
    Reply::json(200, body)
}
