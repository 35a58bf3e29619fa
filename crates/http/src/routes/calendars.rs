//! External calendars: `/v1/providers/{id}/calendars` and
//! `POST /v1/calendar/sync` (rate limited per key).

use actix_web::{HttpResponse, web};
use booking_domain::usecases::Calendars;

use crate::error::ApiError;
use crate::extract::{JsonBody, Tenant};
use crate::routes::bookings::{rate_headers, rate_limited};
use crate::state::AppState;
use crate::wire::{CalendarList, CalendarOut, CreateCalendar, ErrorBody, SyncList, SyncOut};

fn calendars<'a>(state: &'a AppState, tenant: &'a Tenant) -> Calendars<'a> {
    Calendars {
        ports: &state.ports,
        account: &tenant.0.account_id,
    }
}

/// Connect an outside calendar whose busy time blocks the provider.
#[utoipa::path(post, path = "/v1/providers/{id}/calendars", tag = "calendar", params(("id" = String, Path)),
    request_body = CreateCalendar,
    responses((status = 201, body = CalendarOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    body: JsonBody<CreateCalendar>,
) -> Result<HttpResponse, ApiError> {
    let cals = calendars(&state, &tenant);
    // 404 for an unknown provider before validating the body.
    cals.provider(&id).await?;
    let source = body.0.try_into_domain()?;
    let connection = cals.connect(&id, source).await?;
    Ok(HttpResponse::Created().json(CalendarOut::from(&connection)))
}

/// The provider's connected calendars.
#[utoipa::path(get, path = "/v1/providers/{id}/calendars", tag = "calendar", params(("id" = String, Path)),
    responses((status = 200, body = CalendarList), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let connections = calendars(&state, &tenant).list(&id).await?;
    Ok(HttpResponse::Ok().json(CalendarList {
        data: connections.iter().map(CalendarOut::from).collect(),
    }))
}

/// Disconnect a calendar (its busy time is forgotten at once).
#[utoipa::path(delete, path = "/v1/providers/{id}/calendars/{cal_id}", tag = "calendar",
    params(("id" = String, Path), ("cal_id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (provider, id) = path.into_inner();
    calendars(&state, &tenant).delete(&provider, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sync every connected calendar of the account now.
#[utoipa::path(post, path = "/v1/calendar/sync", tag = "calendar",
    responses((status = 200, body = SyncList), (status = 401, body = ErrorBody),
        (status = 429, description = "RATE_LIMITED", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn sync(state: web::Data<AppState>, tenant: Tenant) -> Result<HttpResponse, ApiError> {
    let limit = &state.limits.calendar_sync;
    let decision = state
        .limiter
        .check(&format!("{}:{}", tenant.0.key_id, limit.name), limit)
        .await?;
    if !decision.allowed {
        return Err(rate_limited(limit, &decision));
    }
    let reports = calendars(&state, &tenant).sync_all().await?;
    let mut res = HttpResponse::Ok();
    for (name, value) in rate_headers(limit, Some(&decision)) {
        res.insert_header((name, value));
    }
    Ok(res.json(SyncList {
        data: reports.iter().map(SyncOut::from).collect(),
    }))
}
