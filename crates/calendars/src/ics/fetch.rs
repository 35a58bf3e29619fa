//! Downloading an ICS URL: the SSRF guard on every hop, conditional GET,
//! a streamed size limit, and bounded retries.
//!
//! The URL is chosen by an API client and often carries a secret token
//! (Google's "secret address", Outlook's published-calendar links), so:
//!
//! - **SSRF.** Unless private targets are allowed, the client only speaks
//!   `https`, resolves names through [`GuardedResolver`] (so the address
//!   checked is the address dialled), and the URL is checked by
//!   [`check_url_syntax`] first (reqwest never resolves IP literals).
//!   Redirects are followed, at most [`IcsConfig::max_redirects`] of them,
//!   and every hop's URL passes the same check inside the redirect policy;
//!   a refused hop fails the fetch as "target refused". Calendar hosts do
//!   redirect (`webcal` links to a CDN, `http` to `https`), which is why
//!   they are followed rather than refused as the webhook transport does.
//! - **Secrets.** Error messages are built from fixed phrases, status codes
//!   and the guard's own URL-free messages; reqwest errors are stripped of
//!   their URL before anything is read from them.
//! - **Size and time.** The body is read chunk by chunk and the download
//!   abandoned as soon as it passes [`IcsConfig::max_body_bytes`] (or at
//!   once, when `Content-Length` says so). Each attempt, body included, is
//!   bounded by [`IcsConfig::attempt_timeout`], and the whole fetch, waits
//!   included, by [`IcsConfig::total_timeout`].
//! - **Retries.** 429, 5xx, connection failures, timeouts and interrupted
//!   bodies are retried, up to [`IcsConfig::max_attempts`] attempts in all,
//!   after the server's `Retry-After` (seconds or an HTTP date) or else an
//!   exponential backoff. A `Retry-After` longer than
//!   [`IcsConfig::max_retry_wait`], or one that would end past the overall
//!   deadline, is not waited for: the fetch fails at once (the next sync
//!   will try again) rather than holding a sync worker for minutes.
//! - **Conditional GET.** `If-None-Match` and `If-Modified-Since` are sent
//!   from the last good download's validators; a 304 becomes
//!   [`Download::NotModified`].
//!
//! Proxy environment variables are ignored, so the guard applies to the
//! address actually dialled.

use std::error::Error as StdError;
use std::time::Duration;

use booking_domain::{FetchError, Validators};
use booking_netguard::{GuardedResolver, TargetError, check_url_syntax};
use reqwest::header::{
    ACCEPT, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    RETRY_AFTER,
};
use reqwest::{Client, StatusCode, Url, redirect};
use tokio::time::Instant;

use super::config::{IcsConfig, USER_AGENT, effective_url};
use super::error::IcsBuildError;

/// What a download came to.
#[derive(Debug)]
pub(crate) enum Download {
    /// 304: the validators still hold.
    NotModified,
    /// 2xx: the body and the validators to send next time.
    Body {
        /// At most `max_body_bytes`.
        bytes: Vec<u8>,
        /// From `ETag` and `Last-Modified`.
        validators: Validators,
    },
}

/// Why one attempt failed.
#[derive(Debug)]
enum Failure {
    /// Retrying would not help.
    Fatal(FetchError),
    /// Worth another attempt, after the server's wait if it named one.
    Retry {
        error: FetchError,
        retry_after: Option<Duration>,
    },
}

fn upstream(message: impl Into<String>) -> FetchError {
    FetchError::Upstream(message.into())
}

/// Redirect refusals other than the guard's.
#[derive(Debug, thiserror::Error)]
#[error("too many redirects")]
struct TooManyRedirects;

/// Downloads ICS URLs over one pooled client.
#[derive(Debug, Clone)]
pub(crate) struct Downloader {
    client: Client,
    config: IcsConfig,
}

impl Downloader {
    /// Builds the client for `config` (see the module documentation).
    pub(crate) fn new(config: IcsConfig) -> Result<Downloader, IcsBuildError> {
        let allow_private = config.allow_private;
        let max_redirects = config.max_redirects;
        let policy = if max_redirects == 0 {
            redirect::Policy::none()
        } else {
            redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > max_redirects {
                    return attempt.error(TooManyRedirects);
                }
                match check_url_syntax(attempt.url().as_str(), allow_private) {
                    Ok(_) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            })
        };
        let mut builder = Client::builder()
            .use_rustls_tls()
            .redirect(policy)
            .timeout(config.attempt_timeout)
            .connect_timeout(config.attempt_timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(90))
            .user_agent(USER_AGENT)
            .no_proxy();
        if !allow_private {
            builder = builder
                .https_only(true)
                .dns_resolver(GuardedResolver::shared());
        }
        let client = builder
            .build()
            .map_err(|e| IcsBuildError::Client(e.without_url().to_string()))?;
        Ok(Downloader { client, config })
    }

    /// The configuration.
    pub(crate) fn config(&self) -> &IcsConfig {
        &self.config
    }

    /// Downloads `url` (`webcal://` read as `https://`), conditionally on
    /// `validators`, with the retries of the module documentation.
    pub(crate) async fn download(
        &self,
        url: &str,
        validators: &Validators,
    ) -> Result<Download, FetchError> {
        let url = effective_url(url);
        let url = check_url_syntax(&url, self.config.allow_private)
            .map_err(|refused| FetchError::Refused(refused.to_string()))?;
        let deadline = Instant::now() + self.config.total_timeout;
        let max_attempts = self.config.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let outcome =
                match tokio::time::timeout(remaining, self.attempt(&url, validators)).await {
                    Ok(outcome) => outcome,
                    Err(_) => Err(Failure::Fatal(upstream(format!(
                        "the calendar could not be downloaded within {}",
                        format_duration(self.config.total_timeout)
                    )))),
                };
            let (error, retry_after) = match outcome {
                Ok(download) => return Ok(download),
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Retry { error, retry_after }) => (error, retry_after),
            };
            if attempt >= max_attempts {
                return Err(after_attempts(error, attempt));
            }
            let wait = match retry_after {
                Some(wait) if wait > self.config.max_retry_wait => {
                    return Err(upstream(format!(
                        "{} and asked to retry in {}",
                        error_text(&error),
                        format_duration(wait)
                    )));
                }
                Some(wait) => wait,
                None => self
                    .config
                    .backoff
                    .saturating_mul(1 << (attempt - 1).min(16)),
            };
            if Instant::now() + wait >= deadline {
                return Err(after_attempts(error, attempt));
            }
            tracing::debug!(
                attempt,
                wait_ms = wait.as_millis() as u64,
                "ICS download retried"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// One attempt: the request, the status, and the body.
    async fn attempt(&self, url: &Url, validators: &Validators) -> Result<Download, Failure> {
        let mut request = self
            .client
            .get(url.clone())
            .header(ACCEPT, "text/calendar, text/plain;q=0.9, */*;q=0.8");
        let sent_validators = validators.etag.is_some() || validators.last_modified.is_some();
        if let Some(value) = validators.etag.as_deref().and_then(header_value) {
            request = request.header(IF_NONE_MATCH, value);
        }
        if let Some(value) = validators.last_modified.as_deref().and_then(header_value) {
            request = request.header(IF_MODIFIED_SINCE, value);
        }
        let mut response = request.send().await.map_err(|e| self.classify(e))?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED {
            return if sent_validators {
                Ok(Download::NotModified)
            } else {
                Err(Failure::Fatal(upstream(
                    "the calendar server answered 304 Not Modified to an unconditional request",
                )))
            };
        }
        if !status.is_success() {
            return Err(status_failure(status, response.headers()));
        }

        let limit = self.config.max_body_bytes;
        let too_large = || {
            Failure::Fatal(upstream(format!(
                "the calendar is larger than {}",
                format_size(limit)
            )))
        };
        let declared = response.content_length();
        if declared.is_some_and(|length| length > limit as u64) {
            return Err(too_large());
        }
        let validators = Validators {
            etag: header_text(response.headers(), ETAG),
            last_modified: header_text(response.headers(), LAST_MODIFIED),
        };
        let capacity = declared
            .map_or(64 * 1024, |length| length as usize)
            .min(limit);
        let mut bytes = Vec::with_capacity(capacity);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Download::Body { bytes, validators })
    }

    /// A URL-free account of a request that failed without an answer.
    fn classify(&self, error: reqwest::Error) -> Failure {
        let error = error.without_url();
        if let Some(refused) = find_source::<TargetError>(&error) {
            return Failure::Fatal(FetchError::Refused(refused.to_string()));
        }
        if find_source::<TooManyRedirects>(&error).is_some() {
            return Failure::Fatal(upstream(format!(
                "the calendar server redirected more than {} times",
                self.config.max_redirects
            )));
        }
        let retry = |message: String| Failure::Retry {
            error: upstream(message),
            retry_after: None,
        };
        if error.is_timeout() {
            return retry(format!(
                "the calendar server did not answer within {}",
                format_duration(self.config.attempt_timeout)
            ));
        }
        if error.is_connect() {
            return retry("could not connect to the calendar server".to_owned());
        }
        if let Some(io) = find_source::<std::io::Error>(&error) {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | TimedOut
            ) {
                return retry("the connection to the calendar server was lost".to_owned());
            }
        }
        if error.is_body() || error.is_request() {
            return retry("the download from the calendar server was interrupted".to_owned());
        }
        Failure::Fatal(upstream("the calendar could not be downloaded"))
    }
}

/// What a non-2xx, non-304 answer means.
fn status_failure(status: StatusCode, headers: &HeaderMap) -> Failure {
    let code = status.as_u16();
    match code {
        429 | 500..=599 => Failure::Retry {
            error: upstream(format!("the calendar server answered HTTP {code}")),
            retry_after: headers
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, jiff::Timestamp::now())),
        },
        401 | 403 => Failure::Fatal(FetchError::Unauthorized(format!(
            "the calendar server refused access (HTTP {code}); the calendar address may have been reset"
        ))),
        404 | 410 => Failure::Fatal(upstream(format!(
            "the calendar was not found (HTTP {code}); the calendar address may have changed"
        ))),
        300..=399 => Failure::Fatal(upstream(format!(
            "the calendar server answered a redirect (HTTP {code}) that could not be followed"
        ))),
        _ => Failure::Fatal(upstream(format!(
            "the calendar server answered HTTP {code}"
        ))),
    }
}

/// The message of an upstream error.
fn error_text(error: &FetchError) -> String {
    match error {
        FetchError::Upstream(message)
        | FetchError::Refused(message)
        | FetchError::Unauthorized(message) => message.clone(),
    }
}

/// The last retryable error, saying how many attempts were made.
fn after_attempts(error: FetchError, attempts: u32) -> FetchError {
    match error {
        FetchError::Upstream(message) if attempts > 1 => {
            FetchError::Upstream(format!("{message} ({attempts} attempts)"))
        }
        other => other,
    }
}

/// A stored validator as a header value; `None` if it cannot be one.
fn header_value(value: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(value.trim()).ok()
}

/// A header as text, if present, visible ASCII, and of a sane length.
fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    (!value.is_empty() && value.len() <= 512).then(|| value.to_owned())
}

/// `15 s`, `300 ms`.
fn format_duration(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

/// `10 MiB`, `512 KiB`, `100 bytes`.
fn format_size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// The first error of type `E` in `error`'s source chain (itself included).
fn find_source<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = error.source();
    }
    None
}

pub(crate) use booking_netguard::parse_retry_after;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: jiff::Timestamp = "2025-03-01T12:00:00Z".parse().unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sat, 01 Mar 2025 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(format_size(10 * 1024 * 1024), "10 MiB");
        assert_eq!(format_size(512 * 1024), "512 KiB");
        assert_eq!(format_size(1000), "1000 bytes");
        assert_eq!(format_duration(Duration::from_secs(15)), "15 s");
        assert_eq!(format_duration(Duration::from_millis(300)), "300 ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500 ms");
    }

    #[test]
    fn statuses_map_to_errors_without_urls() {
        let headers = HeaderMap::new();
        assert!(matches!(
            status_failure(StatusCode::TOO_MANY_REQUESTS, &headers),
            Failure::Retry { .. }
        ));
        assert!(matches!(
            status_failure(StatusCode::BAD_GATEWAY, &headers),
            Failure::Retry { .. }
        ));
        assert!(matches!(
            status_failure(StatusCode::FORBIDDEN, &headers),
            Failure::Fatal(FetchError::Unauthorized(_))
        ));
        assert!(matches!(
            status_failure(StatusCode::NOT_FOUND, &headers),
            Failure::Fatal(FetchError::Upstream(_))
        ));
        assert!(matches!(
            status_failure(StatusCode::BAD_REQUEST, &headers),
            Failure::Fatal(FetchError::Upstream(_))
        ));
    }
}
