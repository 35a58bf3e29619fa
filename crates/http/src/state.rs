//! Shared application state handed to every handler.

use std::sync::Arc;

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
    /// Addresses over that limit, in this process.
    pub blocked: crate::routes::calendar::Blocked,
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
        }
    }

    /// How long `ip` must wait, when it is over the wrong-token limit.
    pub fn blocked_for(&self, ip: std::net::IpAddr) -> Option<std::time::Duration> {
        self.blocked.remaining(ip)
    }

    /// Remembers that `ip` is over the limit for `wait`.
    pub fn block(&self, ip: std::net::IpAddr, wait: std::time::Duration) {
        self.blocked.block(ip, wait);
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
}

/// The shared state as actix holds it.
pub type Data = actix_web::web::Data<AppState>;
