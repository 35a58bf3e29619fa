//! `/v1/holds`: holding a time for a few minutes (rate limited with the
//! bookings), reading and ending a hold. A hold becomes a booking through
//! `POST /v1/bookings` with `hold_id`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_domain::usecases::Holds;

use super::limited::{count, counted, limited};
use crate::error::ApiError;
use crate::extract::{Tenant, json_or_empty};
use crate::openapi::{errors, examples};
use crate::state::AppState;
use crate::wire::{CreateHold, HoldOut};

fn holds<'a>(state: &'a AppState, tenant: &'a Tenant) -> Holds<'a> {
    Holds {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
        key: &tenant.0.key_id,
    }
}

/// Hold a time: it blocks it for everyone else until `expires_at`.
///
/// Refused (409 BOOKING_CONFLICT, with `reasons`) exactly as a booking of
/// the same time would be. Shares the bookings rate limit; an API key may
/// have at most 100 unexpired holds (then 429 RATE_LIMITED with
/// `details.scope` = `active_holds`).
#[utoipa::path(post, path = "/v1/holds", tag = "holds", operation_id = "createHold", request_body(content = CreateHold, example = examples::create_hold),
    responses((status = 201, description = "The hold", body = HoldOut,
            headers(("RateLimit-Policy" = String, description = "`\"bookings\";q=10;w=60`"), ("RateLimit" = String, description = "`\"bookings\";r=<remaining>;t=<seconds>`")), example = examples::hold),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 408, response = errors::RequestTimeout),
        (status = 409, response = errors::HoldConflict),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 422, response = errors::InvalidService),
        (status = 429, response = errors::HoldRateLimited)),
    security(("api_key" = [])))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let limit = &state.limits.bookings;
    let state = &state;
    limited(
        req,
        payload,
        state,
        limit,
        move |tenant, body, rate_key| async move {
            let body: CreateHold = json_or_empty(&body)?;
            let new = body.try_into_domain()?;
            let decision = count(state, limit, &rate_key).await?;
            let hold = holds(state, &tenant).create(new).await?;
            Ok(counted(StatusCode::CREATED, limit, &decision).json(HoldOut::from(&hold)))
        },
    )
    .await
}

/// A hold, while it lasts (an expired or used one is 404).
#[utoipa::path(get, path = "/v1/holds/{id}", tag = "holds", operation_id = "getHold", params(("id" = String, Path, description = "Hold id (`hld_…`)")),
    responses((status = 200, description = "The hold", body = HoldOut, example = examples::hold),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let hold = holds(&state, &tenant).get(&id).await?;
    Ok(HttpResponse::Ok().json(HoldOut::from(&hold)))
}

/// End a hold now: its time is free at once.
#[utoipa::path(delete, path = "/v1/holds/{id}", tag = "holds", operation_id = "deleteHold", params(("id" = String, Path, description = "Hold id (`hld_…`)")),
    responses((status = 204, description = "Ended; its time can be booked again at once"),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    holds(&state, &tenant).delete(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}
