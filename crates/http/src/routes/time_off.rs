//! Providers' time off: `/v1/providers/{id}/time-off`.

use actix_web::{HttpResponse, web};
use booking_domain::usecases::TimeOffs;
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{JsonBody, PageParams, QueryParams, Tenant, encode_cursor};
use crate::openapi::{errors, examples};
use crate::state::AppState;
use crate::wire::{CreateTimeOff, TimeOffCreated, TimeOffList, TimeOffOut, parse_ts};

fn time_off<'a>(state: &'a AppState, tenant: &'a Tenant) -> TimeOffs<'a> {
    TimeOffs {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
    }
}

/// Take time off: no service of the provider can be booked in it.
#[utoipa::path(post, path = "/v1/providers/{id}/time-off", tag = "time-off", operation_id = "createProviderTimeOff", params(("id" = String, Path, description = "Provider id (`prv_…`)")), request_body(content = CreateTimeOff, example = examples::create_time_off),
    responses((status = 201, description = "The time off, with the provider's active bookings inside it (left as they are)", body = TimeOffCreated, example = examples::time_off_created),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge)),
    security(("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    body: JsonBody<CreateTimeOff>,
) -> Result<HttpResponse, ApiError> {
    let uc = time_off(&state, &tenant);
    // 404 for an unknown provider before validating the body.
    uc.provider(&id).await?;
    let new = body.parse()?.try_into_domain()?;
    let created = uc.create(&id, new).await?;
    Ok(HttpResponse::Created().json(TimeOffCreated::from(&created)))
}

/// `?from=&to=&limit=&cursor=` on the time-off list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only time off ending after this RFC 3339 instant.
    #[param(format = DateTime)]
    pub from: Option<String>,
    /// Only time off starting before this RFC 3339 instant (after `from`).
    #[param(format = DateTime)]
    pub to: Option<String>,
    /// 1-200, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// From the previous page's `next_cursor`.
    #[param(pattern = "^c[0-9]{1,18}$")]
    pub cursor: Option<String>,
}

/// The provider's time off.
#[utoipa::path(get, path = "/v1/providers/{id}/time-off", tag = "time-off", operation_id = "listProviderTimeOff", params(("id" = String, Path, description = "Provider id (`prv_…`)"), ListParams),
    responses((status = 200, description = "A page of the provider's time off overlapping `[from, to)`, oldest first", body = TimeOffList, example = examples::time_off_list),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    q: QueryParams<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let from = q.from.as_deref().map(|t| parse_ts(t, "from")).transpose()?;
    let to = q.to.as_deref().map(|t| parse_ts(t, "to")).transpose()?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor,
    }
    .to_page()?;
    let page = time_off(&state, &tenant).list(&id, from, to, page).await?;
    Ok(HttpResponse::Ok().json(TimeOffList {
        data: page.items.iter().map(TimeOffOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// Delete time off: its time is free at once.
#[utoipa::path(delete, path = "/v1/providers/{id}/time-off/{off_id}", tag = "time-off", operation_id = "deleteProviderTimeOff", params(("id" = String, Path, description = "Provider id (`prv_…`)"), ("off_id" = String, Path, description = "Time-off id (`off_…`)")),
    responses((status = 204, description = "Deleted; its time can be booked again at once"),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (provider, id) = path.into_inner();
    time_off(&state, &tenant).delete(&provider, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}
