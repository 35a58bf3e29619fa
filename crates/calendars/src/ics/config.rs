//! How the ICS adapter downloads ([`IcsConfig`]) and which URL it fetches
//! ([`effective_url`]). Below every other `ics` module: they depend on it,
//! it depends on none of them.

use std::borrow::Cow;
use std::time::Duration;

/// The `User-Agent` of every ICS download.
pub const USER_AGENT: &str = concat!("booking-api-calendars/", env!("CARGO_PKG_VERSION"));

/// The default largest calendar accepted: 10 MiB.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// How [`IcsSource`](super::IcsSource) downloads. [`IcsConfig::new`] gives the production
/// values; tests shorten the waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcsConfig {
    /// Allow `http://` and private, loopback and link-local targets (the
    /// server passes `BOOKING_WEBHOOK_ALLOW_PRIVATE`; tests use 127.0.0.1).
    pub allow_private: bool,
    /// The longest one attempt may take, reading the body included (15 s).
    pub attempt_timeout: Duration,
    /// The longest a whole fetch may take, retries and waits included (40 s).
    pub total_timeout: Duration,
    /// The largest body read, enforced while streaming ([`MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// Attempts in all, the first included (3).
    pub max_attempts: u32,
    /// Redirects followed, each checked by the SSRF guard (3; 0 follows none).
    pub max_redirects: usize,
    /// The first wait between attempts when the server names none; doubles
    /// each time (500 ms).
    pub backoff: Duration,
    /// The longest `Retry-After` waited for; a longer one fails the fetch
    /// at once (10 s).
    pub max_retry_wait: Duration,
}

impl IcsConfig {
    /// The production configuration.
    pub fn new(allow_private: bool) -> IcsConfig {
        IcsConfig {
            allow_private,
            attempt_timeout: Duration::from_secs(15),
            total_timeout: Duration::from_secs(40),
            max_body_bytes: MAX_BODY_BYTES,
            max_attempts: 3,
            max_redirects: 3,
            backoff: Duration::from_millis(500),
            max_retry_wait: Duration::from_secs(10),
        }
    }
}

impl Default for IcsConfig {
    /// [`IcsConfig::new`] with private targets refused.
    fn default() -> IcsConfig {
        IcsConfig::new(false)
    }
}

/// The URL actually fetched: `webcal://` and `webcals://` (Apple's
/// subscription links) become `https://`; anything else is unchanged.
/// Callers that validate a URL when it is saved should validate this one.
pub fn effective_url(url: &str) -> Cow<'_, str> {
    let trimmed = url.trim();
    for scheme in ["webcal://", "webcals://"] {
        if trimmed
            .get(..scheme.len())
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case(scheme))
        {
            return Cow::Owned(format!("https://{}", &trimmed[scheme.len()..]));
        }
    }
    Cow::Borrowed(url)
}
