//! `/v1/providers`.

use actix_web::{HttpResponse, web};
use booking_domain::usecases::Catalog;

use crate::error::ApiError;
use crate::extract::{JsonBody, PageParams, QueryParams, Tenant, encode_cursor};
use crate::state::AppState;
use crate::wire::{CreateProvider, ErrorBody, ProviderList, ProviderOut, UpdateProvider};

fn catalog<'a>(state: &'a AppState, tenant: &'a Tenant) -> Catalog<'a> {
    Catalog {
        ports: &state.ports,
        account: &tenant.0.account_id,
    }
}

/// List providers.
#[utoipa::path(get, path = "/v1/providers", tag = "providers", params(PageParams),
    responses((status = 200, body = ProviderList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: QueryParams<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = catalog(&state, &tenant).providers(q.0.to_page()?).await?;
    Ok(HttpResponse::Ok().json(ProviderList {
        data: page.items.iter().map(ProviderOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// Create a provider.
#[utoipa::path(post, path = "/v1/providers", tag = "providers", request_body = CreateProvider,
    responses((status = 201, body = ProviderOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    body: JsonBody<CreateProvider>,
) -> Result<HttpResponse, ApiError> {
    let (name, email) = body.0.try_into_domain()?;
    let provider = catalog(&state, &tenant)
        .create_provider(name, email)
        .await?;
    Ok(HttpResponse::Created().json(ProviderOut::from(&provider)))
}

/// Get a provider.
#[utoipa::path(get, path = "/v1/providers/{id}", tag = "providers", params(("id" = String, Path)),
    responses((status = 200, body = ProviderOut), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let provider = catalog(&state, &tenant).provider(&id).await?;
    Ok(HttpResponse::Ok().json(ProviderOut::from(&provider)))
}

/// Change a provider.
#[utoipa::path(patch, path = "/v1/providers/{id}", tag = "providers", params(("id" = String, Path)), request_body = UpdateProvider,
    responses((status = 200, body = ProviderOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn update(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    body: JsonBody<UpdateProvider>,
) -> Result<HttpResponse, ApiError> {
    let catalog = catalog(&state, &tenant);
    // 404 before validation errors, as for any unknown resource.
    catalog.provider(&id).await?;
    let patch = body.0.try_into_domain()?;
    let provider = catalog.update_provider(&id, patch).await?;
    Ok(HttpResponse::Ok().json(ProviderOut::from(&provider)))
}
