//! Routes: every resource of the contract, each answering 405 with `Allow`
//! for methods it does not have.

pub mod bookings;
pub mod calendar;
pub mod calendars;
pub mod ops;
pub mod providers;
pub mod services;
pub mod webhooks;

use actix_web::{HttpResponse, Route, web};

use crate::error::ApiError;

fn not_allowed(allow: &'static str) -> Route {
    web::route()
        .to(move || async move { Err::<HttpResponse, _>(ApiError::method_not_allowed(allow)) })
}

/// Unknown routes.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found("Route"))
}

/// Mounts the API routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(ops::healthz))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/readyz")
            .route(web::get().to(ops::readyz))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(ops::metrics))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/providers")
            .route(web::get().to(providers::list))
            .route(web::post().to(providers::create))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/v1/providers/{id}")
            .route(web::get().to(providers::get))
            .route(web::patch().to(providers::update))
            .default_service(not_allowed("GET, PATCH")),
    )
    .service(
        web::resource("/v1/services")
            .route(web::get().to(services::list))
            .route(web::post().to(services::create))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/v1/services/{id}")
            .route(web::get().to(services::get))
            .route(web::patch().to(services::update))
            .route(web::delete().to(services::archive))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/v1/services/{id}/availability")
            .route(web::get().to(services::availability))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/bookings")
            .route(web::get().to(bookings::list))
            .route(web::post().to(bookings::create))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/v1/bookings/{id}.ics")
            .route(web::get().to(calendar::booking))
            .route(web::head().to(calendar::booking))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/calendar/feed/{token}.ics")
            .route(web::get().to(calendar::feed))
            .route(web::head().to(calendar::feed))
            .default_service(not_allowed("GET, HEAD")),
    )
    .service(
        web::resource("/v1/providers/{id}/calendars")
            .route(web::get().to(calendars::list))
            .route(web::post().to(calendars::create))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/v1/providers/{id}/calendars/{cal_id}")
            .route(web::delete().to(calendars::delete))
            .default_service(not_allowed("DELETE")),
    )
    .service(
        web::resource("/v1/calendar/sync")
            .route(web::post().to(calendars::sync))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/providers/{id}/feed")
            .route(web::get().to(calendar::get_feed))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/providers/{id}/feed/rotate")
            .route(web::post().to(calendar::rotate_feed))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/bookings/{id}")
            .route(web::get().to(bookings::get))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/webhooks")
            .route(web::get().to(webhooks::list))
            .route(web::post().to(webhooks::create))
            .default_service(not_allowed("GET, POST")),
    )
    .service(
        web::resource("/v1/webhooks/{id}")
            .route(web::get().to(webhooks::get))
            .route(web::patch().to(webhooks::update))
            .route(web::delete().to(webhooks::delete))
            .default_service(not_allowed("GET, PATCH, DELETE")),
    )
    .service(
        web::resource("/v1/webhooks/{id}/rotate-secret")
            .route(web::post().to(webhooks::rotate_secret))
            .default_service(not_allowed("POST")),
    )
    .service(
        web::resource("/v1/webhooks/{id}/deliveries")
            .route(web::get().to(webhooks::deliveries))
            .default_service(not_allowed("GET")),
    )
    .service(
        web::resource("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver")
            .route(web::post().to(webhooks::redeliver))
            .default_service(not_allowed("POST")),
    );
    for (action, handler) in [
        ("confirm", web::post().to(bookings::confirm)),
        ("cancel", web::post().to(bookings::cancel)),
        ("reschedule", web::post().to(bookings::reschedule)),
        ("complete", web::post().to(bookings::complete)),
    ] {
        cfg.service(
            web::resource(format!("/v1/bookings/{{id}}/{action}"))
                .route(handler)
                .default_service(not_allowed("POST")),
        );
    }
}
