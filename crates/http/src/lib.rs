//! The HTTP front end of booking-api (actix-web): routes, wire types, API-key
//! authentication, rate limits, idempotency, errors and the OpenAPI document.
//!
//! This is the only crate that knows JSON and HTTP status codes: handlers turn
//! wire types into domain requests, call a use case, and map its error in
//! [`error`], the one place errors become answers.

pub mod deadline;
pub mod error;
pub mod extract;
pub mod guessing;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod state;
pub mod wire;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use state::{AppState, Bounds, FeedSettings, Limits};

/// Mounts everything on an actix `App` (used by the server and by tests).
pub fn configure(cfg: &mut web::ServiceConfig) {
    routes::configure(cfg);
    cfg.service(web::resource("/docs").route(web::get().to(|| async {
        HttpResponse::PermanentRedirect()
            .insert_header(("Location", "/docs/"))
            .finish()
    })))
    .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi::ApiDoc::openapi()));
}

/// Starts serving on an already bound listener. Stops on SIGTERM/SIGINT after
/// finishing requests in flight (up to 30 s). The request timeout bounds the
/// headers (actix) and the body ([`deadline`]).
pub fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    workers: usize,
) -> std::io::Result<Server> {
    let request_timeout = state.bounds.request_timeout;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(deadline::stamp))
            .wrap(from_fn(middleware::observe))
            .configure(configure)
            .default_service(web::to(routes::not_found))
    })
    .workers(workers.max(1))
    .shutdown_timeout(30)
    .client_request_timeout(request_timeout)
    .listen(listener)?
    .run();
    Ok(server)
}
