//! The request timeout (`BOOKING_REQUEST_TIMEOUT`) over the whole request.
//!
//! actix-web bounds the time to receive the headers
//! (`client_request_timeout`, set to the same value); the body is bounded
//! here: [`stamp`] notes when the request arrived, and reading the body
//! ([`crate::extract::read_body`]) stops at [`deadline`] with 408
//! REQUEST_TIMEOUT, so a body sent a byte at a time cannot hold a worker.

use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, web};

use crate::state::AppState;

/// When the request's headers had arrived.
#[derive(Debug, Clone, Copy)]
pub struct RequestStart(pub Instant);

/// Notes the request's start, for [`deadline`].
pub async fn stamp(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    req.extensions_mut().insert(RequestStart(Instant::now()));
    next.call(req).await
}

/// The configured request timeout (the default without application state).
pub fn timeout(req: &HttpRequest) -> Duration {
    req.app_data::<web::Data<AppState>>()
        .map(|s| s.bounds.request_timeout)
        .unwrap_or(Duration::from_secs(30))
}

/// By when the whole request must have arrived: its start plus the timeout.
pub fn deadline(req: &HttpRequest) -> Instant {
    let start = req
        .extensions()
        .get::<RequestStart>()
        .map(|s| s.0)
        .unwrap_or_else(Instant::now);
    start + timeout(req)
}
