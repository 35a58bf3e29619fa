//! Operations endpoints: health, readiness, metrics.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::openapi::{errors, examples};
use crate::state::AppState;
use crate::wire::HealthOut;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", operation_id = "getHealth",
    responses((status = 200, description = "The process is up", body = HealthOut, example = examples::health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthOut {
        status: "ok".into(),
    })
}

/// The storage answers.
#[utoipa::path(get, path = "/readyz", tag = "operations", operation_id = "getReadiness",
    responses((status = 200, description = "The database answers", body = HealthOut, example = examples::health),
        (status = 503, response = errors::Unavailable)))]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.ports.health.ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(HealthOut {
            status: "ok".into(),
        })),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::unavailable())
        }
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations", operation_id = "getMetrics",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String, example = examples::metrics)))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let text = state.metrics.render().map_err(|e| {
        tracing::error!(error = %e, "metrics rendering failed");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
