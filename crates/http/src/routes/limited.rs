//! The answers of the rate-limited endpoints (`POST /v1/bookings`,
//! `POST /v1/holds`, `POST /v1/calendar/sync`): the contract wants the IETF
//! RateLimit header fields (draft-ietf-httpapi-ratelimit-headers) on every
//! answer, counted or not. [`limited`] runs such a handler and completes the
//! headers of whatever it answers.

use std::future::Future;

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use booking_domain::ports::{RateDecision, RateLimit};

use crate::error::ApiError;
use crate::extract::{Tenant, read_body};
use crate::state::AppState;

/// `RateLimit-Policy` and `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers).
pub fn rate_headers(
    limit: &RateLimit,
    decision: Option<&RateDecision>,
) -> Vec<(HeaderName, String)> {
    let mut headers = vec![(
        HeaderName::from_static("ratelimit-policy"),
        format!(
            "\"{}\";q={};w={}",
            limit.name, limit.quota, limit.period_secs
        ),
    )];
    if let Some(d) = decision {
        headers.push((
            HeaderName::from_static("ratelimit"),
            format!("\"{}\";r={};t={}", limit.name, d.remaining, d.reset_secs),
        ));
    }
    headers
}

/// The 429 answer.
pub fn rate_limited(limit: &RateLimit, d: &RateDecision) -> ApiError {
    let mut e = ApiError::rate_limited(
        &format!("{}/{}s", limit.quota, limit.period_secs),
        d.retry_after_secs,
    );
    for (name, value) in rate_headers(limit, Some(d)) {
        e = e.header(name, value);
    }
    e
}

/// Counts one request of `rate_key` under `limit`: its decision when it is
/// allowed, else the 429 to answer.
pub async fn count(
    state: &AppState,
    limit: &RateLimit,
    rate_key: &str,
) -> Result<RateDecision, ApiError> {
    let decision = state.limiter.check(rate_key, limit).await?;
    if decision.allowed {
        Ok(decision)
    } else {
        Err(rate_limited(limit, &decision))
    }
}

/// A response builder of `status` carrying the headers of a counted
/// request.
pub fn counted(
    status: actix_web::http::StatusCode,
    limit: &RateLimit,
    decision: &RateDecision,
) -> actix_web::HttpResponseBuilder {
    let mut res = HttpResponse::build(status);
    for (name, value) in rate_headers(limit, Some(decision)) {
        res.insert_header((name, value));
    }
    res
}

/// Runs the handler of a limited endpoint with its tenant, its body (64 KiB
/// at most) and its key's rate-limit key (`{key id}:{limit name}`), then
/// completes the headers of whatever it answers: `RateLimit-Policy` always;
/// `RateLimit` as the handler set it when it counted the request, else the
/// key's state as it stands, read without counting (an idempotent replay, a
/// body refused before the count). A request without a valid key (401) has
/// no key's state to report: it gets the policy alone.
pub async fn limited<F, Fut>(
    req: HttpRequest,
    payload: web::Payload,
    state: &AppState,
    limit: &RateLimit,
    handler: F,
) -> HttpResponse
where
    F: FnOnce(Tenant, Bytes, String) -> Fut,
    Fut: Future<Output = Result<HttpResponse, ApiError>>,
{
    let tenant = Tenant::from_request(&req, &mut Payload::None).await;
    let rate_key = tenant
        .as_ref()
        .ok()
        .map(|t| format!("{}:{}", t.0.key_id, limit.name));
    let result = match tenant {
        Ok(tenant) => {
            let mut payload = payload.into_inner();
            match read_body(&req, &mut payload).await {
                Ok(body) => handler(tenant, body, rate_key.clone().unwrap_or_default()).await,
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    let mut res = result.unwrap_or_else(|e| e.error_response());
    complete_rate_headers(state, limit, rate_key.as_deref(), res.headers_mut()).await;
    res
}

/// Adds to `headers` the rate-limit fields they lack (see [`limited`]).
async fn complete_rate_headers(
    state: &AppState,
    limit: &RateLimit,
    rate_key: Option<&str>,
    headers: &mut HeaderMap,
) {
    let current: Option<RateDecision> = match rate_key {
        Some(key) if !headers.contains_key("ratelimit") => {
            state.limiter.peek(key, limit).await.ok()
        }
        _ => None,
    };
    for (name, value) in rate_headers(limit, current.as_ref()) {
        if !headers.contains_key(&name)
            && let Ok(value) = HeaderValue::from_str(&value)
        {
            headers.insert(name, value);
        }
    }
}
