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
}

/// The shared state as actix holds it.
pub type Data = actix_web::web::Data<AppState>;
