//! Operations endpoints: health, readiness, metrics.

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;
use crate::wire::{ErrorBody, HealthOut};

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthOut)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthOut {
        status: "ok".into(),
    })
}

/// The storage answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = HealthOut), (status = 503, description = "UNAVAILABLE", body = ErrorBody)))]
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
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let text = state.metrics.render().map_err(|e| {
        tracing::error!(error = %e, "metrics rendering failed");
        ApiError::internal()
    })?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
