//! `/v1/bookings`: creation (idempotent, rate limited), listing, lifecycle.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_domain::ports::{
    BookingFilter, IDEMPOTENCY_TTL_HOURS, IdempotencyBegin, StorageError, StoredResponse,
};
use booking_domain::usecases::{Bookings, NewBooking};
use booking_domain::{BookingStatus, ProviderId, Service, ServiceId, ValidationError};
use jiff::SignedDuration;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::{
    JsonBody, NoBody, PageParams, QueryParams, Tenant, encode_cursor, parse_json,
};
use crate::openapi::{errors, examples};
use crate::routes::limited::{limited, rate_headers, rate_limited};
use crate::state::AppState;
use crate::wire::{
    BookingList, BookingOut, BookingStatusName, CancelBooking, CreateBooking, NoFields,
    RescheduleBooking, parse_ts, text,
};

/// The idempotency header.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

fn bookings<'a>(state: &'a AppState, tenant: &'a Tenant) -> Bookings<'a> {
    Bookings {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
        link_key: &state.feeds.key,
    }
}

/// A canonical hash of the request body: the same JSON with other spacing or
/// key order hashes the same.
fn body_hash(bytes: &[u8]) -> String {
    let canonical = serde_json::from_slice::<serde_json::Value>(bytes)
        .map(|v| v.to_string().into_bytes())
        .unwrap_or_else(|_| bytes.to_vec());
    let digest = Sha256::digest(&canonical);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn respond(status: StatusCode, body: Vec<u8>, headers: &[(HeaderName, String)]) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.content_type("application/json");
    for (name, value) in headers {
        res.insert_header((name.clone(), value.as_str()));
    }
    res.body(body)
}

/// Runs the booking creation proper; answers with status and JSON bytes.
/// The request body as a booking request, or the error to answer.
fn parse_booking(bytes: &[u8]) -> Result<NewBooking, ApiError> {
    let body: CreateBooking = parse_json(if bytes.is_empty() { b"{}" } else { bytes })?;
    Ok(body.try_into_domain()?)
}

/// The booking (or the error) as the status and body to answer.
async fn create_inner(
    state: &AppState,
    tenant: &Tenant,
    new: Result<NewBooking, ApiError>,
    service: Result<Option<Service>, StorageError>,
) -> (StatusCode, Vec<u8>) {
    let result = async {
        let booking = bookings(state, tenant).create_for(new?, service?).await?;
        Ok::<_, ApiError>(booking)
    }
    .await;
    match result {
        Ok(booking) => {
            state.metrics.bookings.with_label_values(&["created"]).inc();
            let body =
                serde_json::to_vec(&BookingOut::new(&booking, state.links())).unwrap_or_default();
            (StatusCode::CREATED, body)
        }
        Err(e) => {
            if e.code == "BOOKING_CONFLICT" {
                state
                    .metrics
                    .bookings
                    .with_label_values(&["conflict"])
                    .inc();
            }
            (e.status, serde_json::to_vec(&e.body()).unwrap_or_default())
        }
    }
}

/// Book a service.
///
/// With `Idempotency-Key`, the same key and body within 24 hours replays the
/// first answer; a different body is 409 IDEMPOTENCY_KEY_REUSED.
#[utoipa::path(post, path = "/v1/bookings", tag = "bookings", operation_id = "createBooking", params(("Idempotency-Key" = Option<String>, Header, description = "Any string of 1-255 characters: the same key and body within 24 hours replays the first answer", max_length = 255, min_length = 1)), request_body(content = CreateBooking, example = examples::create_booking),
    responses((status = 201, description = "The new booking: `pending`, or `confirmed` when the service auto-confirms. A replay of an Idempotency-Key answers the first answer again, whatever its status, with `Idempotent-Replayed: true`", body = BookingOut,
            headers(("RateLimit-Policy" = String, description = "`\"bookings\";q=10;w=60`"), ("RateLimit" = String, description = "`\"bookings\";r=<remaining>;t=<seconds>`"), ("Idempotent-Replayed" = String, description = "`true` on a replay")), example = examples::booking),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 409, response = errors::BookingConflict),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 422, response = errors::InvalidService),
        (status = 429, response = errors::RateLimited)),
    security(("api_key" = [])))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let limit = &state.limits.bookings;
    limited(
        req.clone(),
        payload,
        &state,
        limit,
        |tenant, bytes, rate_key| create_checked(&req, &state, tenant, bytes, rate_key),
    )
    .await
}

async fn create_checked(
    req: &HttpRequest,
    state: &AppState,
    tenant: Tenant,
    bytes: Bytes,
    rate_key: String,
) -> Result<HttpResponse, ApiError> {
    let limit = &state.limits.bookings;
    let key = match req.headers().get(&IDEMPOTENCY_KEY) {
        None => None,
        Some(v) => {
            // The contract allows any string up to 255 characters: take the
            // header's bytes as UTF-8, spaces included (a tab, the one
            // control character a header can carry, is refused).
            let text = std::str::from_utf8(v.as_bytes())
                .ok()
                .filter(|t| !t.is_empty() && t.chars().count() <= 255)
                .filter(|t| !t.chars().any(text::is_control))
                .ok_or_else(|| {
                    ApiError::from(ValidationError::new(
                        "Idempotency-Key",
                        "must be a UTF-8 string of 1-255 characters without control characters",
                    ))
                })?;
            Some(text.to_owned())
        }
    };
    let account = &tenant.0.account_id;
    let idem = &state.ports.idempotency;

    if let Some(key) = &key {
        let ttl = SignedDuration::from_hours(IDEMPOTENCY_TTL_HOURS);
        let hash = body_hash(&bytes);
        match idem
            .begin(account, key, &hash, state.ports.clock.now(), ttl)
            .await?
        {
            IdempotencyBegin::Started => {}
            IdempotencyBegin::Replay(stored) => {
                state
                    .metrics
                    .bookings
                    .with_label_values(&["replayed"])
                    .inc();
                let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
                // Not counted: `limited` adds the key's state as it stands.
                let headers = [(
                    HeaderName::from_static("idempotent-replayed"),
                    "true".to_owned(),
                )];
                return Ok(respond(status, stored.body, &headers));
            }
            IdempotencyBegin::Mismatch => {
                return Err(ApiError::idempotency_key_reused());
            }
            IdempotencyBegin::InProgress => {
                return Err(ApiError::idempotency_in_progress());
            }
        }
    }

    // The service is read while the limiter decides (two round trips side
    // by side instead of one after the other); a refused request wasted it.
    let new = parse_booking(&bytes);
    let uc = bookings(state, &tenant);
    let (decision, service) =
        futures_util::future::join(state.limiter.check(&rate_key, limit), async {
            match &new {
                Ok(new) => uc.service_for(&new.service).await,
                Err(_) => Ok(None),
            }
        })
        .await;
    let decision = match decision {
        Ok(d) => d,
        Err(e) => {
            if let Some(key) = &key {
                let _ = idem.abandon(account, key).await;
            }
            return Err(e.into());
        }
    };
    if !decision.allowed {
        state
            .metrics
            .bookings
            .with_label_values(&["rate_limited"])
            .inc();
        if let Some(key) = &key {
            idem.abandon(account, key).await?;
        }
        return Err(rate_limited(limit, &decision));
    }

    let (status, body) = create_inner(state, &tenant, new, service).await;
    if let Some(key) = &key {
        if status.is_server_error() {
            idem.abandon(account, key).await?;
        } else {
            let stored = StoredResponse {
                status: status.as_u16(),
                body: body.clone(),
            };
            idem.complete(account, key, &stored).await?;
        }
    }
    let mut headers = rate_headers(limit, Some(&decision));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.push((header::RETRY_AFTER, "1".to_owned()));
    }
    Ok(respond(status, body, &headers))
}

/// Filters of `GET /v1/bookings`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `pending`, `confirmed`, `cancelled` or `completed`.
    #[param(value_type = Option<BookingStatusName>)]
    pub status: Option<String>,
    /// Service id.
    pub service: Option<String>,
    /// Provider id.
    pub provider_id: Option<String>,
    /// Bookings starting at or after this RFC 3339 instant.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Bookings starting before this RFC 3339 instant.
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// 1-200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// From the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    fn filter(&self) -> Result<BookingFilter, ValidationError> {
        Ok(BookingFilter {
            status: self
                .status
                .as_deref()
                .map(|s| {
                    BookingStatus::parse(s).ok_or_else(|| {
                        ValidationError::new(
                            "status",
                            "must be pending, confirmed, cancelled or completed",
                        )
                    })
                })
                .transpose()?,
            // Ids of another shape match nothing, like unknown ids.
            service_id: self.service.as_deref().map(ServiceId::from_trusted),
            provider_id: self.provider_id.as_deref().map(ProviderId::from_trusted),
            from: self
                .from
                .as_deref()
                .map(|t| parse_ts(t, "from"))
                .transpose()?,
            to: self.to.as_deref().map(|t| parse_ts(t, "to")).transpose()?,
        })
    }
}

/// List bookings.
#[utoipa::path(get, path = "/v1/bookings", tag = "bookings", operation_id = "listBookings", params(ListParams),
    responses((status = 200, description = "A page of bookings, oldest first", body = BookingList, example = examples::booking_list),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized)),
    security(("api_key" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: QueryParams<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let filter = q.0.filter()?;
    let page = PageParams {
        limit: q.0.limit.clone(),
        cursor: q.0.cursor.clone(),
    }
    .to_page()?;
    let page = bookings(&state, &tenant).list(&filter, page).await?;
    Ok(HttpResponse::Ok().json(BookingList {
        data: page
            .items
            .iter()
            .map(|b| BookingOut::new(b, state.links()))
            .collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// Get a booking.
#[utoipa::path(get, path = "/v1/bookings/{id}", tag = "bookings", operation_id = "getBooking", params(("id" = String, Path, description = "Booking id (`bk_…`)")),
    responses((status = 200, description = "The booking", body = BookingOut, example = examples::booking),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let booking = bookings(&state, &tenant).get(&id).await?;
    Ok(HttpResponse::Ok().json(BookingOut::new(&booking, state.links())))
}

/// Confirm a pending booking.
#[utoipa::path(post, path = "/v1/bookings/{id}/confirm", tag = "bookings", operation_id = "confirmBooking", params(("id" = String, Path, description = "Booking id (`bk_…`)")), request_body(content = Option<NoFields>, description = "Optional: empty or `{}`; this action takes no fields", example = examples::no_fields),
    responses((status = 200, description = "The confirmed booking", body = BookingOut, example = examples::confirmed_booking),
        (status = 400, response = errors::BadRequest),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound),
        (status = 409, response = errors::InvalidState)),
    security(("api_key" = [])))]
pub async fn confirm(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let booking = bookings(&state, &tenant).confirm(&id).await?;
    Ok(HttpResponse::Ok().json(BookingOut::new(&booking, state.links())))
}

/// Cancel a pending or confirmed booking; its time is free at once.
#[utoipa::path(post, path = "/v1/bookings/{id}/cancel", tag = "bookings", operation_id = "cancelBooking", params(("id" = String, Path, description = "Booking id (`bk_…`)")), request_body(content = Option<CancelBooking>, description = "Optional; an empty body is `{}`", example = examples::cancel_booking),
    responses((status = 200, description = "The cancelled booking; its time is free at once", body = BookingOut, example = examples::cancelled_booking),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound),
        (status = 409, response = errors::InvalidState),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge)),
    security(("api_key" = [])))]
pub async fn cancel(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    body: JsonBody<CancelBooking>,
) -> Result<HttpResponse, ApiError> {
    let uc = bookings(&state, &tenant);
    uc.get(&id).await?;
    let reason = body.parse()?.try_into_domain()?;
    let booking = uc.cancel(&id, reason).await?;
    Ok(HttpResponse::Ok().json(BookingOut::new(&booking, state.links())))
}

/// Move a pending or confirmed booking.
#[utoipa::path(post, path = "/v1/bookings/{id}/reschedule", tag = "bookings", operation_id = "rescheduleBooking", params(("id" = String, Path, description = "Booking id (`bk_…`)")), request_body(content = RescheduleBooking, example = examples::reschedule_booking),
    responses((status = 200, description = "The booking at its new time (same id)", body = BookingOut, example = examples::rescheduled_booking),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound),
        (status = 409, response = errors::RescheduleConflict),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge)),
    security(("api_key" = [])))]
pub async fn reschedule(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    body: JsonBody<RescheduleBooking>,
) -> Result<HttpResponse, ApiError> {
    let uc = bookings(&state, &tenant);
    uc.get(&id).await?;
    let start = parse_ts(&body.parse()?.scheduled_at, "scheduled_at")?;
    let booking = uc.reschedule(&id, start).await?;
    Ok(HttpResponse::Ok().json(BookingOut::new(&booking, state.links())))
}

/// Mark a confirmed booking completed once it has ended.
#[utoipa::path(post, path = "/v1/bookings/{id}/complete", tag = "bookings", operation_id = "completeBooking", params(("id" = String, Path, description = "Booking id (`bk_…`)")), request_body(content = Option<NoFields>, description = "Optional: empty or `{}`; this action takes no fields", example = examples::no_fields),
    responses((status = 200, description = "The completed booking", body = BookingOut, example = examples::completed_booking),
        (status = 400, response = errors::BadRequest),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound),
        (status = 409, response = errors::InvalidState)),
    security(("api_key" = [])))]
pub async fn complete(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let booking = bookings(&state, &tenant).complete(&id).await?;
    Ok(HttpResponse::Ok().json(BookingOut::new(&booking, state.links())))
}
