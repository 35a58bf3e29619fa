//! `/v1/webhooks`: endpoints, secret rotation, the delivery log and redelivery.

use actix_web::{HttpResponse, web};
use booking_domain::usecases::Webhooks;

use crate::error::ApiError;
use crate::extract::{JsonBody, NoBody, PageParams, QueryParams, Tenant, encode_cursor};
use crate::openapi::{errors, examples};
use crate::state::AppState;
use crate::wire::{
    CreateWebhook, DeliveryList, DeliveryOut, NoFields, UpdateWebhook, WebhookList, WebhookOut,
    WebhookWithSecret,
};

fn webhooks<'a>(state: &'a AppState, tenant: &'a Tenant) -> Webhooks<'a> {
    Webhooks {
        ports: (&state.ports).into(),
        account: &tenant.0.account_id,
    }
}

/// List webhook endpoints.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", operation_id = "listWebhooks", params(PageParams),
    responses((status = 200, description = "A page of webhook endpoints, oldest first (without secrets)", body = WebhookList, example = examples::webhook_list),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized)),
    security(("api_key" = [])))]
pub async fn list(
    state: web::Data<AppState>,
    tenant: Tenant,
    q: QueryParams<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = webhooks(&state, &tenant).list(q.0.to_page()?).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        data: page.items.iter().map(WebhookOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// Create a webhook endpoint. The answer is the only one (with secret
/// rotation's) that shows the signing secret.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", operation_id = "createWebhook", request_body(content = CreateWebhook, example = examples::create_webhook),
    responses((status = 201, description = "The new endpoint with its signing secret (shown only here and on rotation)", body = WebhookWithSecret, example = examples::webhook_with_secret),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 408, response = errors::RequestTimeout),
        (status = 409, response = errors::LimitReached),
        (status = 413, response = errors::PayloadTooLarge)),
    security(("api_key" = [])))]
pub async fn create(
    state: web::Data<AppState>,
    tenant: Tenant,
    body: JsonBody<CreateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let new = body.parse()?.try_into_domain()?;
    let endpoint = webhooks(&state, &tenant)
        .create(new, state.bounds.max_webhooks)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(WebhookWithSecret::from(&endpoint)))
}

/// Get a webhook endpoint.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "getWebhook", params(("id" = String, Path, description = "Webhook endpoint id (`wh_…`)")),
    responses((status = 200, description = "The endpoint (without its secret)", body = WebhookOut, example = examples::webhook),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn get(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let endpoint = webhooks(&state, &tenant).get(&id).await?;
    Ok(HttpResponse::Ok().json(WebhookOut::from(&endpoint)))
}

/// Change a webhook endpoint (url, events, enabled, description).
#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "updateWebhook", params(("id" = String, Path, description = "Webhook endpoint id (`wh_…`)")), request_body(content = UpdateWebhook, example = examples::update_webhook),
    responses((status = 200, description = "The changed endpoint (without its secret)", body = WebhookOut, example = examples::webhook),
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
    body: JsonBody<UpdateWebhook>,
) -> Result<HttpResponse, ApiError> {
    let hooks = webhooks(&state, &tenant);
    // 404 before validation errors, as for any unknown resource.
    hooks.get(&id).await?;
    let patch = body.parse()?.try_into_domain()?;
    let endpoint = hooks.update(&id, patch).await?;
    Ok(HttpResponse::Ok().json(WebhookOut::from(&endpoint)))
}

/// Delete a webhook endpoint and its delivery log.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", operation_id = "deleteWebhook", params(("id" = String, Path, description = "Webhook endpoint id (`wh_…`)")),
    responses((status = 204, description = "Deleted, with its delivery log"),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn delete(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    webhooks(&state, &tenant).delete(&id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the signing secret. The previous secret keeps signing (a second
/// signature in `webhook-signature`) for 24 hours.
#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate-secret", tag = "webhooks", operation_id = "rotateWebhookSecret", params(("id" = String, Path, description = "Webhook endpoint id (`wh_…`)")), request_body(content = Option<NoFields>, description = "Optional: empty or `{}`; this action takes no fields", example = examples::no_fields),
    responses((status = 200, description = "The endpoint with its new signing secret", body = WebhookWithSecret, example = examples::webhook_with_secret),
        (status = 400, response = errors::BadRequest),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let endpoint = webhooks(&state, &tenant).rotate_secret(&id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(WebhookWithSecret::from(&endpoint)))
}

/// The endpoint's deliveries with their attempts, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", operation_id = "listWebhookDeliveries", params(("id" = String, Path, description = "Webhook endpoint id (`wh_…`)"), PageParams),
    responses((status = 200, description = "A page of deliveries, newest first", body = DeliveryList, example = examples::delivery_list),
        (status = 400, response = errors::BadRequest),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn deliveries(
    state: web::Data<AppState>,
    tenant: Tenant,
    id: web::Path<String>,
    q: QueryParams<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let page = webhooks(&state, &tenant)
        .deliveries(&id, q.0.to_page()?)
        .await?;
    Ok(HttpResponse::Ok().json(DeliveryList {
        data: page.items.iter().map(DeliveryOut::from).collect(),
        next_cursor: page.next.map(encode_cursor),
    }))
}

/// Queue a delivery again (a new round of attempts, the same `webhook-id`).
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "webhooks", operation_id = "redeliverWebhookDelivery", params(("id" = String, Path, description = "Webhook endpoint id (`wh_…`)"), ("delivery_id" = String, Path, description = "Delivery id (`whd_…`)")), request_body(content = Option<NoFields>, description = "Optional: empty or `{}`; this action takes no fields", example = examples::no_fields),
    responses((status = 202, description = "The delivery, `pending` again with a fresh round of attempts", body = DeliveryOut, example = examples::delivery),
        (status = 400, response = errors::BadRequest),
        (status = 408, response = errors::RequestTimeout),
        (status = 413, response = errors::PayloadTooLarge),
        (status = 401, response = errors::Unauthorized),
        (status = 404, response = errors::NotFound)),
    security(("api_key" = [])))]
pub async fn redeliver(
    state: web::Data<AppState>,
    tenant: Tenant,
    path: web::Path<(String, String)>,
    _body: NoBody,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    let delivery = webhooks(&state, &tenant).redeliver(&id, &delivery).await?;
    Ok(HttpResponse::Accepted().json(DeliveryOut::from(&delivery)))
}
