//! `/v1/providers`.

use actix_web::{HttpResponse, web};
use booking_domain::usecases::Catalog;

use crate::error::ApiError;
use crate::extract::{JsonBody, PageParams, QueryParams, Tenant, encode_cursor};
use crate::openapi::{errors, examples};
use crate::state::AppState;
use crate::wire::{CreateProvider, ProviderList, ProviderOut, UpdateProvider};

fn catalog<'a>(state: &'a AppState, tenant: &'a Tenant) -> Catalog<'a> {
    Catalog {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
    }
}

/// List providers.
#[utoipa::path(get, path = "/v1/providers", tag = "providers", operation_id = "listProviders", params(PageParams),
    responses((status = 200, description = "A page of providers, oldest first", body = ProviderList, example = examples::provider_list),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized)),
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
#[utoipa::path(post, path = "/v1/providers", tag = "providers", operation_id = "createProvider", request_body(content = CreateProvider, example = examples::create_provider),
    responses((status = 201, description = "The new provider", body = ProviderOut, example = examples::provider),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge)),
    security(("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    body: JsonBody<CreateProvider>,
) -> Result<HttpResponse, ApiError> {
    let (name, email) = body.parse()?.try_into_domain()?;
    let provider = catalog(&state, &tenant)
        .create_provider(name, email)
        .await?;
    Ok(HttpResponse::Created().json(ProviderOut::from(&provider)))
}

/// Get a provider.
#[utoipa::path(get, path = "/v1/providers/{id}", tag = "providers", operation_id = "getProvider", params(("id" = String, Path, description = "Provider id (`prv_…`)")),
    responses((status = 200, description = "The provider", body = ProviderOut, example = examples::provider),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
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
#[utoipa::path(patch, path = "/v1/providers/{id}", tag = "providers", operation_id = "updateProvider", params(("id" = String, Path, description = "Provider id (`prv_…`)")), request_body(content = UpdateProvider, example = examples::update_provider),
    responses((status = 200, description = "The changed provider", body = ProviderOut, example = examples::provider),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge)),
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
    let patch = body.parse()?.try_into_domain()?;
    let provider = catalog.update_provider(&id, patch).await?;
    Ok(HttpResponse::Ok().json(ProviderOut::from(&provider)))
}
