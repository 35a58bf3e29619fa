//! Calendars: the private feed (`/calendar/feed/{token}.ics`), its URL and
//! rotation (`/v1/providers/{id}/feed`), and the single-booking calendar
//! (`/v1/bookings/{id}.ics`).
//!
//! The feed answers with a strong `ETag` computed from the inputs
//! ([`booking_ical::feed_tag`]), so a revalidation that matches is a `304`
//! without rendering anything. A wrong token is a 404 in the error shape;
//! wrong tokens are counted per client (see [`crate::guessing`]: IPv6 per
//! /64, `X-Forwarded-For` only from trusted proxies), and a client over the
//! limit gets 429 for its wrong tokens. A right token is looked up first and
//! never refused: many subscribers share the addresses calendar services
//! fetch from, and a guesser among them must not cut the others off.

use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use booking_domain::usecases::{BookingError, Bookings, Feeds};
use booking_ical::{
    CalendarMeta, Entry, feed_tag, feed_window_start, in_feed, render_booking, render_feed,
};
use jiff::Timestamp;

use crate::error::ApiError;
use crate::extract::{NoBody, Tenant};
use crate::guessing::client_bucket;
use crate::openapi::{errors, examples};
use crate::routes::limited::rate_limited;
use crate::state::AppState;
use crate::wire::{FeedUrl, NoFields};

const CALENDAR: &str = "text/calendar; charset=utf-8";

fn feeds(state: &AppState) -> Feeds<'_> {
    Feeds {
        ports: (&state.ports).into(),
        key: &state.feeds.key,
    }
}

fn feed_url(state: &AppState, token: &str) -> FeedUrl {
    let url = format!("{}/calendar/feed/{token}.ics", state.feeds.public_url);
    let webcal = match url.split_once("://") {
        Some((_, rest)) => format!("webcal://{rest}"),
        None => url.clone(),
    };
    FeedUrl {
        url,
        webcal_url: webcal,
    }
}

/// The provider's private feed URL.
#[utoipa::path(get, path = "/v1/providers/{id}/feed", tag = "feeds", operation_id = "getProviderFeed", params(("id" = String, Path, description = "Provider id (`prv_…`)")),
    responses((status = 200, description = "The feed URL (the same until rotated)", body = FeedUrl,
            headers(("Cache-Control" = String, description = "`no-store`")), example = examples::feed_url),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn get_feed(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = feeds(&state).token_for(&tenant.0.account_id, &id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(feed_url(&state, &token)))
}

/// Replace the provider's feed token: the old URL answers 404 at once.
#[utoipa::path(post, path = "/v1/providers/{id}/feed/rotate", tag = "feeds", operation_id = "rotateProviderFeed", params(("id" = String, Path, description = "Provider id (`prv_…`)")), request_body(content = Option<NoFields>, description = "Optional: empty or `{}`; this action takes no fields", example = examples::no_fields),
    responses((status = 200, description = "The new feed URL; the old one answers 404 from now on", body = FeedUrl,
            headers(("Cache-Control" = String, description = "`no-store`")), example = examples::feed_url),
        (status = 400, response = errors::BadRequest),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn rotate_feed(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let token = feeds(&state).rotate(&tenant.0.account_id, &id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(feed_url(&state, &token)))
}

/// Whether `If-None-Match` matches `tag` (a list, or `*`).
fn not_modified(req: &HttpRequest, tag: &str) -> bool {
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| {
            candidate == "*" || candidate == tag || candidate.strip_prefix("W/") == Some(tag)
        })
}

fn http_date(t: Timestamp) -> String {
    t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// Headers common to every calendar answer.
fn calendar_headers(
    mut res: actix_web::HttpResponseBuilder,
    tag: &str,
    modified: Timestamp,
) -> actix_web::HttpResponseBuilder {
    res.insert_header((header::ETAG, tag.to_owned()))
        .insert_header((header::LAST_MODIFIED, http_date(modified)))
        // Private (the URL is a credential): no shared caches, revalidate
        // after five minutes (clients poll every 15 minutes or more).
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .insert_header(("X-Robots-Tag", "noindex, nofollow"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    res
}

/// The answer to a calendar request: 304 when the client has it, the body
/// otherwise. For HEAD the body is still handed over: actix-web then sends
/// its `Content-Length` (as GET would) and none of its bytes.
fn answer(
    req: &HttpRequest,
    tag: &str,
    modified: Timestamp,
    body: impl FnOnce() -> String,
) -> HttpResponse {
    if not_modified(req, tag) {
        return calendar_headers(HttpResponse::NotModified(), tag, modified).finish();
    }
    let mut res = calendar_headers(HttpResponse::Ok(), tag, modified);
    res.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(CALENDAR)));
    res.body(body())
}

/// The answer to a wrong token (a feed's or a customer link's): 404
/// `NOT_FOUND` naming `what`, counted toward the client's wrong-token limit
/// (one limit for both kinds), or 429 once the client is over it. Only
/// wrong tokens count, and only they are refused.
pub(crate) async fn wrong_token(state: &AppState, req: &HttpRequest, what: &str) -> ApiError {
    let Some(bucket) = client_bucket(req, &state.feeds.trusted_proxies) else {
        return ApiError::not_found(what);
    };
    let limit = &state.feeds.misses;
    if let Some(wait) = state.feeds.blocked_for(bucket) {
        let secs = wait.as_secs().max(1);
        let limit = format!("{}/{}s", limit.quota, limit.period_secs);
        return ApiError::feed_tokens_limited(&limit, secs);
    }
    let decision = match state
        .limiter
        .check(&format!("feed-miss/{bucket}"), limit)
        .await
    {
        Ok(d) => d,
        Err(e) => return e.into(),
    };
    if !decision.allowed {
        state.feeds.block(
            bucket,
            Duration::from_secs(decision.retry_after_secs.max(1)),
        );
        return rate_limited(limit, &decision);
    }
    ApiError::not_found(what)
}

/// A provider's bookings as a subscribable calendar.
#[utoipa::path(get, path = "/calendar/feed/{token}.ics", tag = "feeds", operation_id = "getCalendarFeed", params(("token" = String, Path, description = "The secret token of the feed URL")),
    responses((status = 200, description = "The provider's bookings as an RFC 5545 calendar (also answers HEAD)", content_type = "text/calendar", body = String,
            headers(("ETag" = String, description = "Strong tag of the feed"), ("Last-Modified" = String, description = "The latest change of a booking in the feed")), example = examples::ics),
        (status = 304, description = "Not modified: `If-None-Match` matches the ETag"),
        (status = 404, response = errors::NotFound),
        (status = 429, response = errors::RateLimited)))]
pub async fn feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(provider) = feeds(&state).open(&token).await? else {
        return Err(wrong_token(&state, &req, "Calendar feed").await);
    };
    let now = state.ports.clock.now();
    let rows = feeds(&state)
        .bookings(
            &provider,
            feed_window_start(now)
                .checked_sub(jiff::SignedDuration::from_hours(24))
                .unwrap_or(now),
            |b| in_feed(b, now),
        )
        .await?;
    let meta = CalendarMeta::new(&provider.name);
    let entries = || {
        rows.iter().map(|r| Entry {
            booking: &r.booking,
            service_name: &r.service_name,
        })
    };
    let tag = feed_tag(&meta, entries());
    let modified = rows
        .iter()
        .map(|r| r.booking.updated_at)
        .max()
        .unwrap_or(provider.updated_at)
        .max(provider.updated_at);
    Ok(answer(&req, &tag, modified, || {
        render_feed(&meta, entries())
    }))
}

/// One booking as a calendar file ("add to calendar").
#[utoipa::path(get, path = "/v1/bookings/{id}.ics", tag = "feeds", operation_id = "getBookingCalendar", params(("id" = String, Path, description = "Booking id (`bk_…`)")),
    responses((status = 200, description = "The booking as a one-event calendar (also answers HEAD)", content_type = "text/calendar", body = String,
            headers(("ETag" = String, description = "Strong tag of the file")), example = examples::ics),
        (status = 304, description = "Not modified: `If-None-Match` matches the ETag"),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn booking(
    state: web::Data<AppState>,
    req: HttpRequest,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let bookings = Bookings {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
        link_key: &state.feeds.key,
    };
    let booking = bookings.get(&id).await?;
    let service = state
        .ports
        .services
        .get_service(&tenant.0.account_id, &booking.service_id)
        .await
        .map_err(BookingError::from)?;
    let service_name = service
        .map(|s| s.name)
        .unwrap_or_else(|| booking.service_id.to_string());
    let entry = Entry {
        booking: &booking,
        service_name: &service_name,
    };
    let body = render_booking(entry);
    let tag = booking_ical::etag(body.as_bytes());
    Ok(answer(&req, &tag, booking.updated_at, || body))
}
