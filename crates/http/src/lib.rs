//! The HTTP front end of booking-api (actix-web): routes, wire types, API-key
//! authentication, rate limits, idempotency, errors and the OpenAPI document.
//!
//! This is the only crate that knows JSON and HTTP status codes: handlers turn
//! wire types into domain requests, call a use case, and map its error in
//! [`error`], the one place errors become answers.

pub mod conn;
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

use actix_http::{HttpService, Protocol};
use actix_service::{ServiceFactoryExt, map_config};
use actix_web::dev::{AppConfig, Server, fn_service};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{App, HttpResponse, web};
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
///
/// The server stops gracefully when `shutdown` resolves (it does not listen
/// for OS signals itself: the caller's listener exists before the server
/// does, so a signal sent as soon as the server is up is never lost).
pub fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    workers: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<Server> {
    let request_timeout = state.bounds.request_timeout;
    let addr = listener.local_addr()?;
    // What `HttpServer::listen` builds, with each connection wrapped in
    // `conn::Guarded` so the codec's own error answers get the error shape.
    let builder = Server::build()
        .workers(workers.max(1))
        .shutdown_timeout(30)
        .shutdown_signal(shutdown);
    let shutdown = builder.graceful_shutdown_signal();
    let server = builder
        .listen("booking-api", listener, move || {
            let app = App::new()
                .app_data(state.clone())
                .wrap(from_fn(deadline::stamp))
                .wrap(from_fn(middleware::observe))
                .configure(configure)
                .default_service(web::to(routes::not_found));
            let shutdown = shutdown.clone();
            let http = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let shutdown = shutdown.clone();
                    async move { shutdown.notified().await }
                })
                .client_request_timeout(request_timeout)
                // HttpServer's default (HttpService's is none): a client
                // whose body was not read gets a second to stop sending.
                .client_disconnect_timeout(std::time::Duration::from_secs(1))
                .local_addr(addr)
                .finish(map_config(app, move |_| AppConfig::default()));
            fn_service(|io: TcpStream| async move {
                let peer = io.peer_addr().ok();
                Ok((conn::Guarded::new(io), Protocol::Http1, peer))
            })
            .and_then(http)
        })?
        .run();
    Ok(server)
}
