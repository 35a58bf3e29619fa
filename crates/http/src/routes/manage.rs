//! Customer links as JSON: `/v1/manage/{token}` (view, availability,
//! cancel, reschedule), without an API key: the token in the path is the
//! whole credential.
//!
//! A wrong, malformed or dead token (the booking is cancelled, completed or
//! over) is 404 and counts toward the same per-client wrong-token limit as
//! feed tokens (`calendar::wrong_token`); a right token is looked
//! up first and never refused. Answers are `Cache-Control: no-store` and
//! `Referrer-Policy: no-referrer`: the URL is a credential.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use booking_domain::usecases::{AvailabilityQuery, Manage, ManageError, Opened};

use crate::error::ApiError;
use crate::extract::{JsonBody, QueryParams};
use crate::openapi::{errors, examples};
use crate::routes::calendar::wrong_token;
use crate::routes::services::{RangeParams, bound};
use crate::state::AppState;
use crate::wire::{
    ManageCancel, ManageReschedule, ManagedBookingOut, ManagedSlots, SlotTimes, fmt_ts, parse_ts,
    text,
};

/// The customer-link use cases.
pub(crate) fn manage(state: &AppState) -> Manage<'_> {
    Manage {
        ports: (&state.ports).into(),
        key: &state.feeds.key,
    }
}

/// The booking a token opens, or the answer to a wrong token.
pub(crate) async fn open(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
) -> Result<Opened, ApiError> {
    match manage(state).open(token).await {
        Ok(opened) => Ok(opened),
        Err(ManageError::NotFound) => Err(wrong_token(state, req, "Booking link").await),
        Err(e) => Err(e.into()),
    }
}

/// Headers of every answer to a link.
pub(crate) fn private(mut res: HttpResponseBuilder) -> HttpResponseBuilder {
    res.insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header(("X-Robots-Tag", "noindex, nofollow"));
    res
}

/// A booking through its customer link.
#[utoipa::path(get, path = "/v1/manage/{token}", tag = "customer-links", operation_id = "getManagedBooking", params(("token" = String, Path, description = "The token of the booking's `manage_url`")),
    responses((status = 200, description = "The booking as its customer sees it, with the last instants the link may cancel or move it", body = ManagedBookingOut, example = examples::managed_booking),
        (status = 404, response = errors::NotFound),
        (status = 429, response = errors::RateLimited)))]
pub async fn get(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let opened = open(&state, &req, &token).await?;
    Ok(private(HttpResponse::Ok()).json(ManagedBookingOut::new(
        &opened,
        &opened.booking,
        state.links(),
    )))
}

/// Times the booking can move to.
#[utoipa::path(get, path = "/v1/manage/{token}/availability", tag = "customer-links", operation_id = "getManagedAvailability", params(("token" = String, Path, description = "The token of the booking's `manage_url`"), RangeParams),
    responses((status = 200, description = "Free starts for the booking's own duration (its current time counts as free), as the service's availability lists them", body = ManagedSlots, example = examples::managed_slots),
        (status = 400, response = errors::BadRequest),
        (status = 404, response = errors::NotFound),
        (status = 429, response = errors::RateLimited)))]
pub async fn availability(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    q: QueryParams<RangeParams>,
) -> Result<HttpResponse, ApiError> {
    let opened = open(&state, &req, &token).await?;
    let query = AvailabilityQuery {
        from: bound(q.0.from.as_deref(), "from")?,
        to: bound(q.0.to.as_deref(), "to")?,
    };
    let slots = manage(&state).slots(&opened, query).await?;
    Ok(private(HttpResponse::Ok()).json(ManagedSlots {
        booking_id: opened.booking.id.to_string(),
        timezone: opened.service.availability.timezone().name().to_owned(),
        slots: slots
            .iter()
            .map(|s| SlotTimes {
                start: fmt_ts(s.start),
                end: fmt_ts(s.end),
            })
            .collect(),
    }))
}

/// Validates a cancel reason: at most 1,000 characters and, from a form
/// (whose text areas send CRLF line ends, read as LF; JSON bodies are
/// checked for control characters on the way in), no control characters but
/// tab and newline.
pub(crate) fn cancel_reason(reason: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(reason) = reason else {
        return Ok(None);
    };
    let reason = reason.replace("\r\n", "\n");
    let invalid = |message: &str| booking_domain::ValidationError::new("reason", message);
    if reason.chars().count() > 1000 {
        return Err(invalid("must be at most 1000 characters").into());
    }
    if reason
        .chars()
        .any(|c| text::is_control(c) && c != '\t' && c != '\n')
    {
        return Err(
            invalid("must not contain control characters other than tab and newline").into(),
        );
    }
    Ok(Some(reason))
}

/// Cancel the booking through its customer link.
#[utoipa::path(post, path = "/v1/manage/{token}/cancel", tag = "customer-links", operation_id = "cancelManagedBooking", params(("token" = String, Path, description = "The token of the booking's `manage_url`")), request_body(content = Option<ManageCancel>, description = "Optional; an empty body is `{}`", example = examples::cancel_booking),
    responses((status = 200, description = "The cancelled booking (the link answers 404 from now on); the `booking.cancelled` event carries `actor: customer`", body = ManagedBookingOut, example = examples::managed_cancelled),
        (status = 400, response = errors::BadRequest),
        (status = 404, response = errors::NotFound),
        (status = 409, response = errors::CutoffPassed),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 429, response = errors::RateLimited)))]
pub async fn cancel(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: JsonBody<ManageCancel>,
) -> Result<HttpResponse, ApiError> {
    let opened = open(&state, &req, &token).await?;
    let reason = cancel_reason(body.parse()?.reason)?;
    let booking = manage(&state).cancel(&opened, reason).await?;
    Ok(private(HttpResponse::Ok()).json(ManagedBookingOut::new(&opened, &booking, state.links())))
}

/// Move the booking through its customer link.
#[utoipa::path(post, path = "/v1/manage/{token}/reschedule", tag = "customer-links", operation_id = "rescheduleManagedBooking", params(("token" = String, Path, description = "The token of the booking's `manage_url`")), request_body(content = ManageReschedule, example = examples::reschedule_booking),
    responses((status = 200, description = "The booking at its new time (same id, same link); the `booking.rescheduled` event carries `actor: customer`", body = ManagedBookingOut, example = examples::managed_booking),
        (status = 400, response = errors::BadRequest),
        (status = 404, response = errors::NotFound),
        (status = 409, response = errors::ManagedRescheduleConflict),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 429, response = errors::RateLimited)))]
pub async fn reschedule(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: JsonBody<ManageReschedule>,
) -> Result<HttpResponse, ApiError> {
    let opened = open(&state, &req, &token).await?;
    let start = parse_ts(&body.parse()?.scheduled_at, "scheduled_at")?;
    let booking = manage(&state)
        .reschedule(&opened, start)
        .await
        .map_err(|e| for_customer(e.into()))?;
    Ok(private(HttpResponse::Ok()).json(ManagedBookingOut::new(&opened, &booking, state.links())))
}

/// What blocks a time, as a customer may see it: the reasons of a refusal
/// keep their codes and times but not the ids of what is in the way
/// (another customer's booking, the provider's time off, calendars and
/// holds), which are the business's to know.
fn for_customer(mut e: ApiError) -> ApiError {
    if let Some(reasons) = e
        .details
        .get_mut("reasons")
        .and_then(serde_json::Value::as_array_mut)
    {
        for reason in reasons
            .iter_mut()
            .filter_map(serde_json::Value::as_object_mut)
        {
            for id in ["booking_id", "time_off_id", "calendar_id", "hold_id"] {
                reason.remove(id);
            }
        }
    }
    e
}
