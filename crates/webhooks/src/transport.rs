//! The HTTP transport: one attempt to deliver one signed webhook.
//!
//! One [`Transport`] holds one shared `reqwest::Client`, so connections to a
//! receiver are pooled across deliveries. The client:
//!
//! - never follows redirects (a 3xx is a failed attempt: following one would
//!   let a receiver bounce us to a private address, and the contract says a
//!   delivery succeeds only on a 2xx from the configured URL);
//! - bounds the whole attempt (connect, request, answer and reading the
//!   answer) by the configured timeout;
//! - unless private targets are allowed, resolves names through the
//!   [`GuardedResolver`], refuses `http://`, and checks IP-literal hosts
//!   before connecting (reqwest does not pass literals to the resolver);
//! - ignores proxy environment variables, so the guard applies to the
//!   address actually dialled.
//!
//! [`Transport::send`] never fails: every result, from "connection refused"
//! to a 503 with `Retry-After`, is an [`AttemptOutcome`] the worker records
//! and schedules from. Error strings are short, for the delivery log shown
//! to API clients, and never contain the URL (its query may carry a token)
//! or the signature.

use std::error::Error as StdError;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Client, StatusCode, Url, redirect};

use crate::schedule::format_duration;
use booking_netguard::{GuardedResolver, TargetError, check_url_syntax};

/// The `User-Agent` of every delivery.
pub const USER_AGENT: &str = concat!("booking-api-webhooks/", env!("CARGO_PKG_VERSION"));

/// How much of an answer's body is read (and discarded) so the connection
/// can be reused; past this the connection is dropped instead.
pub const MAX_DRAINED_BODY: usize = 64 * 1024;

/// The longest `Retry-After` honoured; longer ones are cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest error string an outcome carries.
const MAX_ERROR_LEN: usize = 300;

/// Why the transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// reqwest refused the client configuration (for example, no TLS roots).
    #[error("could not build the webhook HTTP client: {0}")]
    Build(String),
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The receiver's HTTP status, when it answered at all.
    pub status_code: Option<u16>,
    /// Why the attempt failed when the status alone does not say: no answer
    /// (timeout, refused connection, TLS, refused target), or a redirect
    /// that was not followed. `None` on success and on other HTTP statuses.
    /// Never contains the URL.
    pub error: Option<String>,
    /// How long the attempt took, from the call to the end of the answer.
    pub duration: Duration,
    /// The receiver's `Retry-After` on a 429 or 503, at most
    /// [`MAX_RETRY_AFTER`]; `None` otherwise or when it does not parse.
    pub retry_after: Option<Duration>,
    /// Whether the receiver answered 2xx: the delivery is done.
    pub succeeded: bool,
    /// Whether the receiver answered 410 Gone: the endpoint should be
    /// disabled.
    pub gone: bool,
}

impl AttemptOutcome {
    fn failed(error: String, duration: Duration) -> AttemptOutcome {
        AttemptOutcome {
            status_code: None,
            error: Some(error),
            duration,
            retry_after: None,
            succeeded: false,
            gone: false,
        }
    }
}

/// Delivers signed webhooks over one pooled HTTP client. Cheap to share
/// behind an `Arc`; `reqwest::Client` is itself a handle.
#[derive(Debug, Clone)]
pub struct Transport {
    client: Client,
    timeout: Duration,
    allow_private: bool,
}

impl Transport {
    /// Builds the client: rustls, no redirects, `timeout` for each whole
    /// attempt, a generous idle pool, [`USER_AGENT`]. Unless `allow_private`,
    /// https only and names resolved through the [`GuardedResolver`].
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Transport, TransportError> {
        let mut builder = Client::builder()
            .use_rustls_tls()
            .redirect(redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            // As many idle connections as the worker has sends in flight:
            // fewer made a backlog open a connection per delivery (a TLS
            // handshake each against real receivers).
            .pool_max_idle_per_host(256)
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
            .map_err(|e| TransportError::Build(describe_error(&e.without_url())))?;
        Ok(Transport {
            client,
            timeout,
            allow_private,
        })
    }

    /// The per-attempt timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Whether private targets (and `http://`) are allowed.
    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// POSTs `body` to `url` with the Standard Webhooks headers
    /// (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and
    /// `content-type: application/json`, and reports what happened.
    ///
    /// The URL is checked first ([`check_url_syntax`]); a refusal is a failed
    /// outcome ("target refused: …") and nothing is sent. Up to
    /// [`MAX_DRAINED_BODY`] bytes of the answer are read and discarded.
    pub async fn send(
        &self,
        url: &str,
        webhook_id: &str,
        timestamp: i64,
        signature: &str,
        body: impl Into<reqwest::Body>,
    ) -> AttemptOutcome {
        let started = Instant::now();
        match check_url_syntax(url, self.allow_private) {
            Ok(parsed) => {
                self.deliver(
                    parsed,
                    webhook_id,
                    timestamp,
                    signature,
                    body.into(),
                    started,
                )
                .await
            }
            Err(refused) => {
                AttemptOutcome::failed(format!("target refused: {refused}"), started.elapsed())
            }
        }
    }

    /// The attempt proper, on a URL already checked.
    async fn deliver(
        &self,
        url: Url,
        webhook_id: &str,
        timestamp: i64,
        signature: &str,
        body: reqwest::Body,
        started: Instant,
    ) -> AttemptOutcome {
        let (Ok(id), Ok(signature)) = (
            HeaderValue::from_str(webhook_id),
            HeaderValue::from_str(signature),
        ) else {
            return AttemptOutcome::failed(
                "invalid webhook-id or webhook-signature header value".to_owned(),
                started.elapsed(),
            );
        };
        let request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp)
            .header("webhook-signature", signature)
            .body(body);

        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                return AttemptOutcome::failed(self.classify(error), started.elapsed());
            }
        };

        let status = response.status();
        let retry_after = if status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::SERVICE_UNAVAILABLE
        {
            response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, jiff::Timestamp::now()))
        } else {
            None
        };

        // Read the answer so the connection goes back to the pool. An error
        // or a timeout here does not change the outcome: the status is the
        // receiver's answer.
        let mut drained = 0usize;
        while drained < MAX_DRAINED_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => drained += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }

        let error = status
            .is_redirection()
            .then(|| format!("redirect ({}) not followed", status.as_u16()));
        AttemptOutcome {
            status_code: Some(status.as_u16()),
            error,
            duration: started.elapsed(),
            retry_after,
            succeeded: status.is_success(),
            gone: status == StatusCode::GONE,
        }
    }

    /// A short, URL-free description of a request that got no answer.
    fn classify(&self, error: reqwest::Error) -> String {
        let error = error.without_url();
        if let Some(refused) = find_source::<TargetError>(&error) {
            return format!("target refused: {refused}");
        }
        if error.is_timeout() {
            return format!("timed out after {}", format_duration(self.timeout));
        }
        if let Some(io) = find_source::<std::io::Error>(&error) {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => return "connection reset".to_owned(),
                std::io::ErrorKind::TimedOut => {
                    return format!("timed out after {}", format_duration(self.timeout));
                }
                _ => {}
            }
        }
        describe_error(&error)
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

/// An error and its sources joined with `: `, repeated messages dropped,
/// cut to [`MAX_ERROR_LEN`] characters. Callers pass errors that hold no URL.
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

/// Parses a `Retry-After` value, either delta-seconds (`120`) or an
/// HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`, read relative to `now`; a
/// date in the past means no wait). The result is at most
/// [`MAX_RETRY_AFTER`]; `None` when the value is neither form.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    booking_netguard::parse_retry_after(value, now).map(|wait| wait.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::Mutex;

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    /// One request as the server saw it.
    #[derive(Debug, Clone)]
    struct Received {
        head: String,
        body: Vec<u8>,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<String> {
            self.head.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
        }
    }

    /// Reads one HTTP/1.1 request (head and a content-length body).
    async fn read_request(stream: &mut TcpStream) -> Option<Received> {
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break pos + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
        let received = Received {
            head: head.clone(),
            body: Vec::new(),
        };
        let length: usize = received
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let mut chunk = [0u8; 4096];
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        Some(Received { head, body })
    }

    /// A server on 127.0.0.1 answering every request with `response` after
    /// `delay`, recording what it received.
    struct Server {
        addr: SocketAddr,
        received: Arc<Mutex<Vec<Received>>>,
        connections: Arc<Mutex<usize>>,
    }

    impl Server {
        async fn start(response: String, delay: Duration) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let received = Arc::new(Mutex::new(Vec::new()));
            let connections = Arc::new(Mutex::new(0));
            let (received2, connections2) = (received.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((mut stream, _)) = listener.accept().await {
                    *connections2.lock().await += 1;
                    let (response, received) = (response.clone(), received2.clone());
                    tokio::spawn(async move {
                        while let Some(request) = read_request(&mut stream).await {
                            received.lock().await.push(request);
                            tokio::time::sleep(delay).await;
                            if stream.write_all(response.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    });
                }
            });
            Server {
                addr,
                received,
                connections,
            }
        }

        async fn answering(status_line: &str, headers: &[&str], body: &str) -> Server {
            Server::start(response(status_line, headers, body), Duration::ZERO).await
        }

        fn url(&self) -> String {
            format!("http://{}/hooks/in?token=s3cr3t-token", self.addr)
        }

        async fn received(&self) -> Vec<Received> {
            self.received.lock().await.clone()
        }
    }

    fn response(status_line: &str, headers: &[&str], body: &str) -> String {
        let mut text = format!(
            "HTTP/1.1 {status_line}\r\ncontent-length: {}\r\n",
            body.len()
        );
        for header in headers {
            text.push_str(header);
            text.push_str("\r\n");
        }
        text.push_str("\r\n");
        text.push_str(body);
        text
    }

    fn open_transport() -> Transport {
        Transport::new(TIMEOUT, true).unwrap()
    }

    async fn post(transport: &Transport, url: &str) -> AttemptOutcome {
        transport
            .send(
                url,
                "msg_1",
                1_700_000_000,
                "v1,c2ln",
                br#"{"a":1}"#.to_vec(),
            )
            .await
    }

    fn assert_url_free(outcome: &AttemptOutcome) {
        if let Some(error) = &outcome.error {
            assert!(!error.contains("s3cr3t"), "{error}");
            assert!(!error.contains("127.0.0.1"), "{error}");
            assert!(!error.contains("/hooks"), "{error}");
        }
    }

    #[tokio::test]
    async fn ok_is_success() {
        let server = Server::answering("200 OK", &[], "thanks").await;
        let outcome = post(&open_transport(), &server.url()).await;
        assert_eq!(outcome.status_code, Some(200));
        assert!(outcome.succeeded);
        assert!(!outcome.gone);
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.retry_after, None);
        assert!(outcome.duration < TIMEOUT);
    }

    #[tokio::test]
    async fn no_content_is_success() {
        let server = Server::answering("204 No Content", &[], "").await;
        let outcome = post(&open_transport(), &server.url()).await;
        assert_eq!(outcome.status_code, Some(204));
        assert!(outcome.succeeded);
        assert_eq!(outcome.error, None);
    }

    #[tokio::test]
    async fn headers_and_body_arrive_exactly_as_sent() {
        let server = Server::answering("200 OK", &[], "").await;
        let body = br#"{"type":"booking.created","data":{"id":"bk_1","note":"caf\u00e9"}}"#;
        let outcome = open_transport()
            .send(
                &server.url(),
                "evt_01HZX",
                1_614_265_330,
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,bm9wZQ==",
                body.to_vec(),
            )
            .await;
        assert!(outcome.succeeded, "{outcome:?}");
        let received = server.received().await;
        assert_eq!(received.len(), 1);
        let request = &received[0];
        assert!(
            request
                .head
                .starts_with("POST /hooks/in?token=s3cr3t-token HTTP/1.1\r\n"),
            "{}",
            request.head
        );
        assert_eq!(
            request.header("content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(request.header("webhook-id").as_deref(), Some("evt_01HZX"));
        assert_eq!(
            request.header("webhook-timestamp").as_deref(),
            Some("1614265330")
        );
        assert_eq!(
            request.header("webhook-signature").as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,bm9wZQ==")
        );
        assert_eq!(request.header("user-agent").as_deref(), Some(USER_AGENT));
        assert_eq!(
            USER_AGENT,
            format!("booking-api-webhooks/{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(
            request.header("content-length").as_deref(),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(request.body, body);
    }

    #[tokio::test]
    async fn signed_body_verifies_at_the_receiver() {
        use crate::signing::{WebhookSecret, sign, verify};
        let server = Server::answering("200 OK", &[], "").await;
        let secret = WebhookSecret::parse(&WebhookSecret::generate([9; 32])).unwrap();
        let body = br#"{"hello":"world"}"#;
        let signature = sign(std::slice::from_ref(&secret), "msg_x", 1_700_000_123, body);
        let outcome = open_transport()
            .send(
                &server.url(),
                "msg_x",
                1_700_000_123,
                &signature,
                body.to_vec(),
            )
            .await;
        assert!(outcome.succeeded);
        let request = &server.received().await[0];
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        assert!(verify(
            &secret,
            &request.header("webhook-id").unwrap(),
            timestamp,
            &request.body,
            &request.header("webhook-signature").unwrap(),
        ));
    }

    #[tokio::test]
    async fn redirects_are_not_followed() {
        let target = Server::answering("200 OK", &[], "").await;
        let location = format!("location: http://{}/elsewhere", target.addr);
        let server = Server::answering("302 Found", &[&location], "").await;
        let outcome = post(&open_transport(), &server.url()).await;
        assert_eq!(outcome.status_code, Some(302));
        assert!(!outcome.succeeded);
        assert_eq!(
            outcome.error.as_deref(),
            Some("redirect (302) not followed")
        );
        assert!(target.received().await.is_empty());
        assert_eq!(*target.connections.lock().await, 0);
    }

    #[tokio::test]
    async fn gone_means_disable() {
        let server = Server::answering("410 Gone", &[], "bye").await;
        let outcome = post(&open_transport(), &server.url()).await;
        assert_eq!(outcome.status_code, Some(410));
        assert!(outcome.gone);
        assert!(!outcome.succeeded);
        assert_eq!(outcome.error, None);
    }

    #[tokio::test]
    async fn too_many_requests_carries_retry_after_seconds() {
        let server = Server::answering("429 Too Many Requests", &["retry-after: 7"], "").await;
        let outcome = post(&open_transport(), &server.url()).await;
        assert_eq!(outcome.status_code, Some(429));
        assert!(!outcome.succeeded);
        assert_eq!(outcome.retry_after, Some(Duration::from_secs(7)));
    }

    #[tokio::test]
    async fn unavailable_carries_retry_after_date() {
        let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&when)
            .unwrap();
        let header = format!("Retry-After: {date}");
        let server = Server::answering("503 Service Unavailable", &[&header], "").await;
        let outcome = post(&open_transport(), &server.url()).await;
        assert_eq!(outcome.status_code, Some(503));
        let wait = outcome.retry_after.unwrap();
        // Whole seconds in the date, and a little time passes.
        assert!(
            wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
    }

    #[tokio::test]
    async fn retry_after_is_ignored_on_other_statuses() {
        let server =
            Server::answering("500 Internal Server Error", &["retry-after: 7"], "oops").await;
        let outcome = post(&open_transport(), &server.url()).await;
        assert_eq!(outcome.status_code, Some(500));
        assert!(!outcome.succeeded);
        assert!(!outcome.gone);
        assert_eq!(outcome.retry_after, None);
        assert_eq!(outcome.error, None);
    }

    #[tokio::test]
    async fn slow_receiver_times_out() {
        let server = Server::start(response("200 OK", &[], ""), Duration::from_secs(3)).await;
        let transport = Transport::new(Duration::from_millis(300), true).unwrap();
        let outcome = post(&transport, &server.url()).await;
        assert_eq!(outcome.status_code, None);
        assert!(!outcome.succeeded);
        assert_eq!(outcome.error.as_deref(), Some("timed out after 300ms"));
        assert!(outcome.duration >= Duration::from_millis(300));
        assert!(
            outcome.duration < Duration::from_secs(3),
            "{:?}",
            outcome.duration
        );
        assert_url_free(&outcome);
    }

    #[tokio::test]
    async fn body_that_never_ends_is_bounded_by_the_timeout() {
        // Announces more body than it sends, then stalls: the status counts.
        let server = Server::start(
            "HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\npartial".to_owned(),
            Duration::ZERO,
        )
        .await;
        let transport = Transport::new(Duration::from_millis(500), true).unwrap();
        let outcome = post(&transport, &server.url()).await;
        assert_eq!(outcome.status_code, Some(200));
        assert!(outcome.succeeded);
        assert!(
            outcome.duration < Duration::from_secs(3),
            "{:?}",
            outcome.duration
        );
    }

    #[tokio::test]
    async fn closed_port_is_connection_refused() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}/hooks?token=s3cr3t");
        let outcome = post(&open_transport(), &url).await;
        assert_eq!(outcome.status_code, None);
        assert!(!outcome.succeeded);
        assert_eq!(outcome.error.as_deref(), Some("connection refused"));
        assert_url_free(&outcome);
    }

    #[tokio::test]
    async fn connections_are_reused() {
        let server = Server::answering("200 OK", &[], "ok").await;
        let transport = open_transport();
        for _ in 0..3 {
            assert!(post(&transport, &server.url()).await.succeeded);
        }
        assert_eq!(server.received().await.len(), 3);
        assert_eq!(*server.connections.lock().await, 1);
    }

    #[tokio::test]
    async fn guarded_transport_refuses_http_loopback_before_connecting() {
        let server = Server::answering("200 OK", &[], "").await;
        let transport = Transport::new(TIMEOUT, false).unwrap();
        let outcome = post(&transport, &server.url()).await;
        assert_eq!(outcome.status_code, None);
        assert!(!outcome.succeeded);
        assert_eq!(
            outcome.error.as_deref(),
            Some("target refused: must use https")
        );
        assert_url_free(&outcome);

        let https = format!("https://{}/hooks?token=s3cr3t", server.addr);
        let outcome = post(&transport, &https).await;
        assert_eq!(
            outcome.error.as_deref(),
            Some("target refused: resolves to a forbidden address (loopback)")
        );
        let mapped = format!("https://[::ffff:127.0.0.1]:{}/", server.addr.port());
        let outcome = post(&transport, &mapped).await;
        assert_eq!(
            outcome.error.as_deref(),
            Some("target refused: resolves to a forbidden address (loopback)")
        );
        // None of those connected. A sentinel instead of a pause: a send
        // that may connect is accepted after any earlier connection (the
        // listener accepts in order), so once it is counted, so would they be.
        assert!(post(&open_transport(), &server.url()).await.succeeded);
        assert_eq!(*server.connections.lock().await, 1);
    }

    #[tokio::test]
    async fn guarded_transport_resolves_through_the_guard() {
        // Skip the syntax check to prove the resolver itself refuses: this
        // is the send-time defence against a DNS answer that changed.
        let server = Server::answering("200 OK", &[], "").await;
        let transport = Transport::new(TIMEOUT, false).unwrap();
        let url = Url::parse(&format!(
            "https://localhost:{}/x?token=s3cr3t",
            server.addr.port()
        ))
        .unwrap();
        let outcome = transport
            .deliver(
                url,
                "msg",
                1,
                "v1,c2ln",
                reqwest::Body::from("{}"),
                Instant::now(),
            )
            .await;
        assert_eq!(outcome.status_code, None);
        assert_eq!(
            outcome.error.as_deref(),
            Some("target refused: host is not allowed (localhost)")
        );
        assert_eq!(*server.connections.lock().await, 0);
    }

    #[tokio::test]
    async fn refused_url_syntax_is_an_outcome() {
        let outcome = post(&open_transport(), "not a url").await;
        assert_eq!(
            outcome.error.as_deref(),
            Some("target refused: not a valid URL")
        );
        assert!(!outcome.succeeded);
    }

    #[tokio::test]
    async fn bad_header_values_are_an_outcome() {
        let server = Server::answering("200 OK", &[], "").await;
        let outcome = open_transport()
            .send(&server.url(), "msg\n1", 1, "v1,x", Vec::new())
            .await;
        assert_eq!(
            outcome.error.as_deref(),
            Some("invalid webhook-id or webhook-signature header value")
        );
        assert!(server.received().await.is_empty());
    }

    #[test]
    fn builds_both_flavours() {
        let guarded = Transport::new(Duration::from_secs(10), false).unwrap();
        assert!(!guarded.allow_private());
        assert_eq!(guarded.timeout(), Duration::from_secs(10));
        assert!(
            Transport::new(Duration::from_secs(10), true)
                .unwrap()
                .allow_private()
        );
    }

    #[test]
    fn retry_after_delta_seconds() {
        let now = jiff::Timestamp::UNIX_EPOCH;
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("86401", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_retry_after("999999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        for bad in ["", "-5", "1.5", "soon", "7s", "+7"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn retry_after_http_date() {
        let now: jiff::Timestamp = "2015-10-21T07:27:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        // In the past: retry now.
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        // Far future: capped.
        assert_eq!(
            parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(
            parse_retry_after("Wed, 32 Oct 2015 07:28:00 GMT", now),
            None
        );
    }

    #[test]
    fn long_errors_are_cut() {
        let error = std::io::Error::other("x".repeat(1000));
        let text = describe_error(&error);
        assert_eq!(text.chars().count(), MAX_ERROR_LEN + 1);
        assert!(text.ends_with('…'));
    }
}
