//! The HTTP client the Google, Outlook and Calendly adapters share, the
//! one place their answers are read, and the other helpers they share (the
//! time bound of a whole fetch, the refusal of a source of another kind), so
//! that no adapter depends on the dispatcher (`external.rs`).
//!
//! Why one module: every provider call needs the same hygiene, and getting
//! it right once is easier than three times.
//!
//! - **Bounded time.** Each request has a timeout (connect, answer and body
//!   included); 429 and 5xx answers and connection failures are retried at
//!   most [`HttpOptions::max_attempts`] times in all, waiting as the server's
//!   `Retry-After` says (or an exponential backoff), and only while the
//!   retries fit in [`HttpOptions::retry_budget`]. A `Retry-After` longer than
//!   what is left of the budget ends the call at once: the next sync will try
//!   again, and a sync must not hold a worker for minutes.
//! - **Bounded size.** An answer's body is read chunk by chunk and refused
//!   as soon as it passes [`HttpOptions::max_body_bytes`] (a `Content-Length`
//!   over the limit is refused before reading anything).
//! - **No redirects.** The provider APIs do not redirect; following one would
//!   send the bearer token wherever a 3xx points.
//! - **Safe errors.** Every failure is a [`FetchError`] whose message names
//!   the service and the status, never a URL (a Calendly user URI, a calendar
//!   address) nor a token. reqwest errors are stripped of their URL first, and
//!   JSON errors are reported by position only (serde_json quotes the
//!   offending value, which could be a token).

use std::error::Error as StdError;
use std::future::Future;
use std::time::{Duration, Instant};

use booking_domain::{CalendarSource, FetchError, TimeRange};
use jiff::Timestamp;
use reqwest::header::{CONTENT_LENGTH, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, StatusCode, Url, redirect};
use serde::de::DeserializeOwned;

/// The `User-Agent` of every provider call.
pub const USER_AGENT: &str = concat!("booking-api-calendars/", env!("CARGO_PKG_VERSION"));

/// The longest error string built from a transport error.
const MAX_ERROR_LEN: usize = 200;

/// Limits of the provider calls. [`Default`] is what production uses; tests
/// shorten the waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Timeout of one request, from connecting to the end of the body.
    pub request_timeout: Duration,
    /// Timeout of establishing a connection (included in `request_timeout`).
    pub connect_timeout: Duration,
    /// The largest answer body read, in bytes.
    pub max_body_bytes: usize,
    /// Attempts of one request in all (the first one included), for 429,
    /// 5xx and connection failures.
    pub max_attempts: u32,
    /// The wait before the second attempt when the server sends no
    /// `Retry-After`; doubled before each further attempt.
    pub first_backoff: Duration,
    /// The time one request may take with its retries: no retry starts
    /// whose wait would end past it. (The attempt after the last wait still
    /// has its own `request_timeout`.)
    pub retry_budget: Duration,
    /// The longest a whole fetch (every page and window of one connection,
    /// token refresh included) may take.
    pub fetch_timeout: Duration,
    /// The most pages followed in one fetch (Graph `@odata.nextLink`,
    /// Calendly `next_page`) before giving up.
    pub max_pages: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            request_timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
            max_body_bytes: 5 * 1024 * 1024,
            max_attempts: 3,
            first_backoff: Duration::from_millis(500),
            retry_budget: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(120),
            max_pages: 100,
        }
    }
}

/// Why the HTTP client could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not build the calendar HTTP client: {0}")]
pub struct ClientError(String);

/// One pooled reqwest client (rustls, no redirects, no proxy, timeouts) and
/// the [`HttpOptions`] its calls follow. Cheap to clone: the pool is shared.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client,
    options: HttpOptions,
}

/// An answer read in full (within the size limit). Not a 429 or a 5xx:
/// those are retried, then become errors.
#[derive(Debug)]
pub(crate) struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as `T`, or [`FetchError::Upstream`] naming `service`.
    pub fn json<T: DeserializeOwned>(&self, service: &str) -> Result<T, FetchError> {
        parse_json(service, &self.body)
    }

    /// A short error for a status the caller does not handle, with the
    /// provider's error code when the body carries one in a known place.
    pub fn unexpected(&self, service: &str) -> FetchError {
        let mut message = format!("{service} answered {}", status_text(self.status));
        if let Some(code) = error_code(&self.body) {
            message.push_str(&format!(" ({code})"));
        }
        FetchError::Upstream(message)
    }
}

impl HttpClient {
    /// Builds the client.
    pub fn new(options: HttpOptions) -> Result<HttpClient, ClientError> {
        let client = Client::builder()
            .use_rustls_tls()
            .redirect(redirect::Policy::none())
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(USER_AGENT)
            .no_proxy()
            .build()
            .map_err(|e| ClientError(describe_error(&e.without_url())))?;
        Ok(HttpClient { client, options })
    }

    /// A client for URLs chosen by API clients (CalDAV): as
    /// [`HttpClient::new`], but never following a redirect at all, and
    /// unless `allow_private`, https only and through the SSRF guard's
    /// resolver (no loopback, private, link-local or metadata address).
    pub fn guarded(options: HttpOptions, allow_private: bool) -> Result<HttpClient, ClientError> {
        let mut builder = Client::builder()
            .use_rustls_tls()
            .redirect(redirect::Policy::none())
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(USER_AGENT)
            .no_proxy();
        if !allow_private {
            builder = builder
                .https_only(true)
                .dns_resolver(booking_netguard::GuardedResolver::shared());
        }
        let client = builder
            .build()
            .map_err(|e| ClientError(describe_error(&e.without_url())))?;
        Ok(HttpClient { client, options })
    }

    /// The limits in force.
    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// Counts one more page of a paged listing of `service`: an error once
    /// `pages` passes [`HttpOptions::max_pages`].
    pub fn count_page(&self, pages: &mut usize, service: &str) -> Result<(), FetchError> {
        *pages += 1;
        if *pages > self.options.max_pages {
            return Err(self.too_many_pages(service));
        }
        Ok(())
    }

    /// The error of a listing of `service` longer than
    /// [`HttpOptions::max_pages`].
    pub fn too_many_pages(&self, service: &str) -> FetchError {
        FetchError::Upstream(format!(
            "{service} answered more than {} pages",
            self.options.max_pages
        ))
    }

    /// Sends the request `build` makes (once per attempt), retrying 429,
    /// 5xx and connection failures as the module documentation says, and
    /// reads the answer's body within the size limit.
    pub(crate) async fn send(
        &self,
        service: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Answer, FetchError> {
        let started = Instant::now();
        let mut attempt = 1u32;
        loop {
            let failure = match build(&self.client).send().await {
                Ok(response) => {
                    let status = response.status();
                    if !is_retryable(status) {
                        let headers = response.headers().clone();
                        let body = self.read_body(service, response).await?;
                        return Ok(Answer {
                            status,
                            headers,
                            body,
                        });
                    }
                    let retry_after = response
                        .headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, jiff::Timestamp::now()));
                    Failure {
                        message: format!("{service} answered {}", status_text(status)),
                        retry_after,
                    }
                }
                Err(error) => Failure {
                    message: describe_send_error(service, error),
                    retry_after: None,
                },
            };
            let wait = failure.retry_after.unwrap_or_else(|| {
                self.options
                    .first_backoff
                    .saturating_mul(2u32.saturating_pow(attempt - 1))
            });
            if attempt >= self.options.max_attempts {
                return Err(FetchError::Upstream(attempts_text(
                    failure.message,
                    attempt,
                )));
            }
            if started.elapsed() + wait > self.options.retry_budget {
                let message = match failure.retry_after {
                    Some(after) => format!(
                        "{} and asked to retry after {} s",
                        failure.message,
                        after.as_secs_f64().ceil()
                    ),
                    None => failure.message,
                };
                return Err(FetchError::Upstream(attempts_text(message, attempt)));
            }
            tracing::debug!(
                service,
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                failure = %failure.message,
                "calendar API call failed; retrying"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// Reads a body, refusing it once it passes the size limit.
    async fn read_body(
        &self,
        service: &str,
        mut response: reqwest::Response,
    ) -> Result<Vec<u8>, FetchError> {
        let limit = self.options.max_body_bytes;
        let too_large = || {
            FetchError::Upstream(format!(
                "{service} answered more than {} bytes",
                self.options.max_body_bytes
            ))
        };
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(body),
                Err(error) => {
                    let error = error.without_url();
                    let what = if error.is_timeout() {
                        "timed out".to_owned()
                    } else {
                        describe_error(&error)
                    };
                    return Err(FetchError::Upstream(format!(
                        "reading {service}'s answer failed: {what}"
                    )));
                }
            }
        }
    }
}

/// A failed attempt, before deciding whether to retry.
struct Failure {
    message: String,
    retry_after: Option<Duration>,
}

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn attempts_text(message: String, attempts: u32) -> String {
    if attempts == 1 {
        message
    } else {
        format!("{message} ({attempts} attempts)")
    }
}

/// `404 Not Found`, or just `404` for unknown codes.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// Parses JSON, reporting a failure by kind and position only.
pub(crate) fn parse_json<T: DeserializeOwned>(service: &str, body: &[u8]) -> Result<T, FetchError> {
    serde_json::from_slice(body).map_err(|e| {
        let kind = match e.classify() {
            serde_json::error::Category::Data => "JSON of an unexpected shape",
            serde_json::error::Category::Eof => "truncated JSON",
            serde_json::error::Category::Syntax | serde_json::error::Category::Io => {
                "malformed JSON"
            }
        };
        FetchError::Upstream(format!(
            "{service} answered {kind} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// The provider's error code in an error body, if it has one where Google
/// (`error.errors[0].reason`, `error.status`), Microsoft Graph
/// (`error.code`), the OAuth token endpoints (`error`) or Calendly (`title`)
/// put it. Only short identifier-like codes are kept: the free-text messages
/// next to them are not repeated.
pub(crate) fn error_code(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error");
    let candidates = [
        error
            .and_then(|e| e.get("errors"))
            .and_then(|e| e.get(0))
            .and_then(|e| e.get("reason")),
        error.and_then(|e| e.get("status")),
        error.and_then(|e| e.get("code")),
        error,
        value.get("title"),
    ];
    candidates
        .into_iter()
        .flatten()
        .filter_map(serde_json::Value::as_str)
        .find_map(safe_code)
}

/// `code` when it looks like an error code (short; letters, digits, spaces,
/// `_`, `-`, `.`), else `None`.
pub(crate) fn safe_code(code: &str) -> Option<String> {
    let ok = !code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '));
    ok.then(|| code.to_owned())
}

/// The next page's URL from a paging link (`@odata.nextLink`,
/// `pagination.next_page`), refused unless it stays on `origin`: the link
/// comes from the answer, and following it elsewhere would hand the bearer
/// token to whoever the answer names.
pub(crate) fn next_page_url(origin: &Url, link: &str, service: &str) -> Result<Url, FetchError> {
    let refused = || {
        FetchError::Refused(format!(
            "{service}'s next-page link leaves the configured API origin"
        ))
    };
    let url = Url::options()
        .base_url(Some(origin))
        .parse(link)
        .map_err(|_| {
            FetchError::Upstream(format!("{service} answered an invalid next-page link"))
        })?;
    if url.origin() != origin.origin() || !url.username().is_empty() || url.password().is_some() {
        return Err(refused());
    }
    Ok(url)
}

/// `[start, end)` when it is a range that overlaps `window`; busy time
/// outside the window, or empty, is of no use to the sync.
pub(crate) fn overlapping(
    window: TimeRange,
    start: Timestamp,
    end: Timestamp,
) -> Option<TimeRange> {
    TimeRange::new(start, end).filter(|range| range.overlaps(&window))
}

/// The error of an adapter asked for another kind of source.
pub(crate) fn wrong_kind(service: &str, source: &CalendarSource) -> FetchError {
    FetchError::Refused(format!(
        "the {service} adapter cannot fetch a {} calendar",
        source.kind()
    ))
}

/// `fetch`, failed as [`FetchError::Upstream`] if it takes longer than
/// `limit` (all pages, windows and the token refresh together).
pub(crate) async fn bounded<T>(
    limit: std::time::Duration,
    service: &str,
    fetch: impl Future<Output = Result<T, FetchError>>,
) -> Result<T, FetchError> {
    tokio::time::timeout(limit, fetch)
        .await
        .unwrap_or_else(|_| {
            let limit = if limit.subsec_millis() == 0 {
                format!("{} s", limit.as_secs())
            } else {
                format!("{} ms", limit.as_millis())
            };
            Err(FetchError::Upstream(format!(
                "{service} did not finish within {limit}"
            )))
        })
}

/// A short, URL-free description of a request that got no answer.
fn describe_send_error(service: &str, error: reqwest::Error) -> String {
    let error = error.without_url();
    if error.is_timeout() {
        format!("{service} did not answer in time")
    } else if error.is_connect() {
        format!("could not connect to {service}: {}", describe_error(&error))
    } else {
        format!("request to {service} failed: {}", describe_error(&error))
    }
}

/// An error and its sources joined with `: `, repeats dropped, cut to
/// [`MAX_ERROR_LEN`] characters. Callers pass errors that hold no URL.
fn describe_error(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(error) = current {
        let message = error.to_string();
        if !parts.iter().any(|part| part.contains(&message)) {
            parts.push(message);
        }
        current = error.source();
    }
    let text = parts.join(": ");
    match text.char_indices().nth(MAX_ERROR_LEN) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

pub use booking_netguard::parse_retry_after;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now: jiff::Timestamp = "2027-01-18T15:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("1", now), Some(Duration::from_secs(1)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Mon, 18 Jan 2027 15:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Mon, 18 Jan 2027 14:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn error_codes_from_each_provider() {
        let google = br#"{"error":{"code":403,"message":"The request is missing a valid API key.","errors":[{"message":"x","domain":"global","reason":"forbidden"}],"status":"PERMISSION_DENIED"}}"#;
        assert_eq!(error_code(google).as_deref(), Some("forbidden"));
        let graph = br#"{"error":{"code":"ErrorAccessDenied","message":"Access is denied. Check credentials and try again."}}"#;
        assert_eq!(error_code(graph).as_deref(), Some("ErrorAccessDenied"));
        let oauth = br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#;
        assert_eq!(error_code(oauth).as_deref(), Some("invalid_grant"));
        let calendly = br#"{"title":"Unauthenticated","message":"The access token is invalid"}"#;
        assert_eq!(error_code(calendly).as_deref(), Some("Unauthenticated"));
        assert_eq!(error_code(b"<html>oops</html>"), None);
        assert_eq!(error_code(br#"{"error":"a/b?c=d"}"#), None);
    }

    #[test]
    fn json_errors_quote_no_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct T {
            n: u64,
        }
        let err = parse_json::<T>("X", br#"{"n":"ya29.secret"}"#).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("ya29"), "{text}");
        assert!(
            text.starts_with("X answered JSON of an unexpected shape"),
            "{text}"
        );
        let err = parse_json::<T>("X", b"{nope").unwrap_err();
        assert!(err.to_string().contains("malformed JSON"), "{err}");
    }
}
