//! External calendars: `/v1/providers/{id}/calendars` and
//! `POST /v1/calendar/sync` (rate limited per key).
//!
//! The manual sync runs the account's connections side by side (a few at a
//! time) under one deadline, so slow calendar hosts cannot hold the request:
//! a connection not done by then answers `error` saying so, and its sync
//! goes on in the background (its result shows on the connection).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use booking_domain::CalendarConnection;
use booking_domain::ports::Ports;
use booking_domain::usecases::{Calendars, SyncReport, sync_connection};

use crate::error::ApiError;
use crate::extract::{JsonBody, Tenant, json_or_empty};
use crate::openapi::{errors, examples};
use crate::routes::limited::{count, counted, limited};
use crate::state::AppState;
use crate::wire::{CalendarList, CalendarOut, CreateCalendar, NoFields, SyncList, SyncOut};

fn calendars<'a>(state: &'a AppState, tenant: &'a Tenant) -> Calendars<'a> {
    Calendars {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
    }
}

/// Connect an outside calendar whose busy time blocks the provider.
#[utoipa::path(post, path = "/v1/providers/{id}/calendars", tag = "calendars", operation_id = "createProviderCalendar", params(("id" = String, Path, description = "Provider id (`prv_…`)")), request_body(content = CreateCalendar, example = examples::create_calendar),
    responses((status = 201, description = "The connection, `pending` until its first sync", body = CalendarOut, example = examples::calendar),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound),
        (status = 408, response = errors::RequestTimeout),
        (status = 409, response = errors::LimitReached),
        (status = 413, response = errors::PayloadTooLarge)),
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
    let (source, write) = body.parse()?.try_into_domain()?;
    let connection = cals
        .connect(&id, source, write, state.bounds.max_calendars)
        .await?;
    Ok(HttpResponse::Created().json(CalendarOut::from(&connection)))
}

/// The provider's connected calendars.
#[utoipa::path(get, path = "/v1/providers/{id}/calendars", tag = "calendars", operation_id = "listProviderCalendars", params(("id" = String, Path, description = "Provider id (`prv_…`)")),
    responses((status = 200, description = "The provider's connections, oldest first", body = CalendarList, example = examples::calendar_list),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
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
#[utoipa::path(delete, path = "/v1/providers/{id}/calendars/{cal_id}", tag = "calendars", operation_id = "deleteProviderCalendar", params(("id" = String, Path, description = "Provider id (`prv_…`)"), ("cal_id" = String, Path, description = "Connection id (`cal_…`)")),
    responses((status = 204, description = "Disconnected; its busy time no longer blocks availability"),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
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
#[utoipa::path(post, path = "/v1/calendar/sync", tag = "calendars", operation_id = "syncCalendars", request_body(content = Option<NoFields>, description = "Optional: empty or `{}`; this action takes no fields", example = examples::no_fields),
    responses((status = 200, description = "Each connection's result", body = SyncList, example = examples::sync_list),
        (status = 400, response = errors::BadRequest),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 401, response = errors::Unauthorized),
        (status = 429, response = errors::RateLimited)),
    security(("api_key" = [])))]
pub async fn sync(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let limit = &state.limits.calendar_sync;
    let state = &state;
    limited(
        req,
        payload,
        state,
        limit,
        move |tenant, body, rate_key| async move {
            let NoFields {} = json_or_empty(&body)?;
            let decision = count(state, limit, &rate_key).await?;
            let connections = calendars(state, &tenant).connections().await?;
            let reports =
                sync_within(&state.ports, connections, state.bounds.sync_deadline).await?;
            Ok(counted(StatusCode::OK, limit, &decision).json(SyncList {
                data: reports.iter().map(SyncOut::from).collect(),
            }))
        },
    )
    .await
}

/// Syncs at most this many connections of one request at once.
const SYNC_CONCURRENCY: usize = 4;

/// Syncs `connections` side by side ([`SYNC_CONCURRENCY`] at once) and
/// answers each one's result, in the given order, once all are done or
/// `within` has passed: those still running answer `error` and finish in
/// the background.
async fn sync_within(
    ports: &Ports,
    connections: Vec<CalendarConnection>,
    within: Duration,
) -> Result<Vec<SyncReport>, ApiError> {
    let deadline = tokio::time::Instant::now() + within;
    let permits = Arc::new(tokio::sync::Semaphore::new(SYNC_CONCURRENCY));
    let running: Vec<_> = connections
        .iter()
        .map(|connection| {
            let (ports, connection) = (ports.clone(), connection.clone());
            let permits = Arc::clone(&permits);
            tokio::spawn(async move {
                let _permit = permits.acquire_owned().await;
                sync_connection((&ports).into(), &connection).await
            })
        })
        .collect();
    let mut reports = Vec::with_capacity(connections.len());
    for (connection, mut task) in connections.iter().zip(running) {
        let report = match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(Ok(report)) => report?,
            Ok(Err(e)) => {
                tracing::error!(error = %e, calendar = connection.id.as_str(), "calendar sync task failed");
                SyncReport::unfinished(
                    connection,
                    "the sync failed unexpectedly; it is retried in the background",
                )
            }
            Err(_) => SyncReport::unfinished(
                connection,
                format!(
                    "not finished within {} s; it goes on in the background and its result shows on the connection",
                    within.as_secs_f64()
                ),
            ),
        };
        reports.push(report);
    }
    Ok(reports)
}
