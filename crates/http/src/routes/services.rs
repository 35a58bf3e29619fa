//! `/v1/services` and availability.

use actix_web::{HttpResponse, web};
use booking_domain::ValidationError;
use booking_domain::usecases::{Availability, AvailabilityQuery, Bound, Catalog};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{JsonBody, PageParams, QueryParams, Tenant, encode_cursor};
use crate::openapi::{errors, examples};
use crate::state::AppState;
use crate::wire::{
    AvailabilityOut, CreateService, ExplainOut, ProviderExplainOut, ServiceList, ServiceOut, Slots,
    UpdateService, parse_date, parse_ts,
};

fn catalog<'a>(state: &'a AppState, tenant: &'a Tenant) -> Catalog<'a> {
    Catalog {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
    }
}

/// List services (archived ones are left out).
#[utoipa::path(get, path = "/v1/services", tag = "services", operation_id = "listServices", params(PageParams),
    responses((status = 200, description = "A page of services, oldest first (archived ones left out)", body = ServiceList, example = examples::service_list),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized)),
    security(("api_key" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: QueryParams<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = catalog(&state, &tenant).services(q.0.to_page()?).await?;
    Ok(HttpResponse::Ok().json(ServiceList {
        data: page.items.iter().map(ServiceOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// Create a service.
#[utoipa::path(post, path = "/v1/services", tag = "services", operation_id = "createService", request_body(content = CreateService, example = examples::create_service),
    responses((status = 201, description = "The new service", body = ServiceOut, example = examples::service),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 409, response = errors::ServiceIdTaken),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge)),
    security(("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    body: JsonBody<CreateService>,
) -> Result<HttpResponse, ApiError> {
    let new = body.parse()?.try_into_domain()?;
    let service = catalog(&state, &tenant).create_service(new).await?;
    Ok(HttpResponse::Created().json(ServiceOut::from(&service)))
}

/// Get a service.
#[utoipa::path(get, path = "/v1/services/{id}", tag = "services", operation_id = "getService", params(("id" = String, Path, description = "Service id (`srv_…`)")),
    responses((status = 200, description = "The service", body = ServiceOut, example = examples::service),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::ServiceNotFound)),
    security(("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let service = catalog(&state, &tenant).service(&id).await?;
    Ok(HttpResponse::Ok().json(ServiceOut::from(&service)))
}

/// Change a service. Existing bookings keep their duration, buffers and price.
#[utoipa::path(patch, path = "/v1/services/{id}", tag = "services", operation_id = "updateService", params(("id" = String, Path, description = "Service id (`srv_…`)")), request_body(content = UpdateService, example = examples::update_service),
    responses((status = 200, description = "The changed service", body = ServiceOut, example = examples::service),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::ServiceNotFound),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge)),
    security(("api_key" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    body: JsonBody<UpdateService>,
) -> Result<HttpResponse, ApiError> {
    let catalog = catalog(&state, &tenant);
    catalog.service(&id).await?;
    let patch = body.parse()?.try_into_domain()?;
    let service = catalog.update_service(&id, patch).await?;
    Ok(HttpResponse::Ok().json(ServiceOut::from(&service)))
}

/// Archive a service: its bookings stay, new bookings get INVALID_SERVICE.
#[utoipa::path(delete, path = "/v1/services/{id}", tag = "services", operation_id = "archiveService", params(("id" = String, Path, description = "Service id (`srv_…`)")),
    responses((status = 204, description = "Archived: it answers 404 from now on, its bookings stay"),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::ServiceNotFound)),
    security(("api_key" = [])))]
pub async fn archive(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    catalog(&state, &tenant).archive_service(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?from=&to=` of the availability endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeParams {
    /// A date (local day in the service's zone) or an RFC 3339 instant.
    #[param(required = true, value_type = String, example = "2027-01-18")]
    pub from: Option<String>,
    /// A date (inclusive) or an instant (exclusive); at most 62 days after `from`.
    #[param(required = true, value_type = String, example = "2027-01-22")]
    pub to: Option<String>,
}

/// `?include=` of the service's availability (not a customer's).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncludeParams {
    /// `providers`: each slot also lists the free providers (`provider_ids`).
    #[param(value_type = Option<String>, example = "providers")]
    pub include: Option<String>,
}

/// Whether `?include=` asks for the free providers (comma-separated
/// values; `providers` is the only one).
fn include_providers(include: Option<&str>) -> Result<bool, ValidationError> {
    let Some(include) = include else {
        return Ok(false);
    };
    let mut providers = false;
    for part in include.split(',') {
        match part {
            "providers" => providers = true,
            _ => {
                return Err(ValidationError::new(
                    "include",
                    "the only value is providers",
                ));
            }
        }
    }
    Ok(providers)
}

pub(crate) fn bound(text: Option<&str>, field: &str) -> Result<Bound, ValidationError> {
    let text = text.ok_or_else(|| {
        ValidationError::new(field, "is required (a date or an RFC 3339 instant)")
    })?;
    if text.len() == 10 {
        return parse_date(
            text,
            field,
            "must be a date (YYYY-MM-DD) or an RFC 3339 instant",
        )
        .map(Bound::Date);
    }
    parse_ts(text, field).map(Bound::Instant)
}

/// Free slots of a service.
#[utoipa::path(get, path = "/v1/services/{id}/availability", tag = "availability", operation_id = "getServiceAvailability", params(("id" = String, Path, description = "Service id (`srv_…`)"), RangeParams, IncludeParams),
    responses((status = 200, description = "Free slots whose start lies in the range, ascending, in UTC", body = AvailabilityOut, example = examples::availability),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::ServiceNotFound)),
    security(("api_key" = [])))]
pub async fn availability(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    q: QueryParams<RangeParams>,
    include: QueryParams<IncludeParams>,
) -> Result<HttpResponse, ApiError> {
    let uc = Availability {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
    };
    // Unknown service first (404), then the range (400).
    let service = catalog(&state, &tenant).bookable_service(&id).await?;
    let query = AvailabilityQuery {
        from: bound(q.0.from.as_deref(), "from")?,
        to: bound(q.0.to.as_deref(), "to")?,
    };
    let with_providers = include_providers(include.0.include.as_deref())?;
    let answer = uc.slots_for(service, query).await?;
    let providers = with_providers.then(|| {
        let ids: Vec<String> = answer
            .service
            .providers()
            .iter()
            .map(ToString::to_string)
            .collect();
        match &answer.free {
            Some(free) => free
                .iter()
                .map(|f| f.iter().filter_map(|&i| ids.get(i).cloned()).collect())
                .collect(),
            None => vec![ids.clone(); answer.slots.len()],
        }
    });
    let body = AvailabilityOut {
        service_id: answer.service.id.to_string(),
        timezone: answer.service.availability.timezone().name().to_owned(),
        slots: Slots(answer.slots),
        providers,
    }
    .to_json()
    .map_err(|e| {
        tracing::error!(error = %e, "cannot serialize availability");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(body))
}

/// `?at=` of the explain endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExplainParams {
    /// The start to explain: an RFC 3339 instant.
    #[param(required = true, value_type = String, format = DateTime, example = "2027-01-18T15:00:00Z")]
    pub at: Option<String>,
}

/// Why a time is (not) available: every rule a booking of the service
/// starting then would break now, and the next available slot.
#[utoipa::path(get, path = "/v1/services/{id}/availability/explain", tag = "availability", operation_id = "explainServiceAvailability", params(("id" = String, Path, description = "Service id (`srv_…`)"), ExplainParams),
    responses((status = 200, description = "`available` is true exactly when `POST /v1/bookings` at `at` would succeed now; for a grid start, exactly when the availability list contains it", body = ExplainOut, example = examples::explain),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::ServiceNotFound)),
    security(("api_key" = [])))]
pub async fn explain(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    q: QueryParams<ExplainParams>,
) -> Result<HttpResponse, ApiError> {
    let uc = Availability {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
    };
    // Unknown service first (404), then the instant (400).
    let service = catalog(&state, &tenant).bookable_service(&id).await?;
    let at =
        q.0.at
            .as_deref()
            .ok_or_else(|| ValidationError::new("at", "is required (an RFC 3339 instant)"))?;
    let at = parse_ts(at, "at")?;
    let answer = uc.explain_for(service, at).await?;
    let mut out = ExplainOut::new(answer.service.id.as_str(), &answer.explanation);
    out.providers = answer
        .providers
        .iter()
        .map(|(p, e)| ProviderExplainOut::new(p.as_str(), e))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}
