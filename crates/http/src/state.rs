//! Shared application state handed to every handler.

use std::sync::Arc;
use std::time::Duration;

use booking_domain::ports::{Ports, RateLimit, RateLimiter};

use crate::metrics::Metrics;

/// Limits applied per API key.
#[derive(Debug, Clone)]
pub struct Limits {
    /// `POST /v1/bookings`.
    pub bookings: RateLimit,
    /// `POST /v1/calendar/sync`.
    pub calendar_sync: RateLimit,
}

/// Calendar feed settings.
#[derive(Debug)]
pub struct FeedSettings {
    /// The key feed tokens are derived from.
    pub key: Vec<u8>,
    /// Base of the URLs handed out (`BOOKING_PUBLIC_URL`), no trailing slash.
    pub public_url: String,
    /// Wrong feed tokens allowed per client address.
    pub misses: RateLimit,
    /// Client buckets over that limit, in this process.
    pub blocked: crate::guessing::Blocked,
    /// Proxies whose `X-Forwarded-For` names the client
    /// (`BOOKING_TRUSTED_PROXIES`).
    pub trusted_proxies: crate::guessing::TrustedProxies,
}

impl FeedSettings {
    /// Feed settings with the default wrong-token limit (20 per minute).
    pub fn new(key: Vec<u8>, public_url: String) -> FeedSettings {
        FeedSettings {
            key,
            public_url: public_url.trim_end_matches('/').to_owned(),
            misses: RateLimit {
                name: "feed_tokens".to_owned(),
                quota: 20,
                period_secs: 60,
            },
            blocked: Default::default(),
            trusted_proxies: Default::default(),
        }
    }

    /// The same, believing `X-Forwarded-For` from `proxies`.
    pub fn trusting(mut self, proxies: crate::guessing::TrustedProxies) -> FeedSettings {
        self.trusted_proxies = proxies;
        self
    }

    /// How long the client bucket `bucket` must wait, when it is over the
    /// wrong-token limit.
    pub fn blocked_for(&self, bucket: std::net::IpAddr) -> Option<std::time::Duration> {
        self.blocked.remaining(bucket)
    }

    /// Remembers that `bucket` is over the limit for `wait`.
    pub fn block(&self, bucket: std::net::IpAddr, wait: std::time::Duration) {
        self.blocked.block(bucket, wait);
    }
}

/// Bounds that keep one client or tenant from loading the server for
/// everyone.
#[derive(Debug, Clone)]
pub struct Bounds {
    /// The whole request, body included (`BOOKING_REQUEST_TIMEOUT`): 408.
    pub request_timeout: Duration,
    /// Webhook endpoints per account (`BOOKING_MAX_WEBHOOKS`).
    pub max_webhooks: u32,
    /// Calendar connections per provider (`BOOKING_MAX_CALENDARS`).
    pub max_calendars: u32,
    /// How long `POST /v1/calendar/sync` waits for its syncs.
    pub sync_deadline: Duration,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            request_timeout: Duration::from_secs(30),
            max_webhooks: 20,
            max_calendars: 10,
            sync_deadline: Duration::from_secs(20),
        }
    }
}

/// Everything a handler needs.
pub struct AppState {
    /// Stores, clock, ids.
    pub ports: Ports,
    /// Rate limiter.
    pub limiter: Arc<dyn RateLimiter>,
    /// Rate limits.
    pub limits: Limits,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Calendar feeds.
    pub feeds: FeedSettings,
    /// Request timeout and per-tenant counts.
    pub bounds: Bounds,
}

impl AppState {
    /// Where customer links point and the key their tokens are derived
    /// from (the feed key, with its own label).
    pub fn links(&self) -> crate::wire::Links<'_> {
        crate::wire::Links {
            public_url: &self.feeds.public_url,
            key: &self.feeds.key,
        }
    }
}

/// The shared state as actix holds it.
pub type Data = actix_web::web::Data<AppState>;
