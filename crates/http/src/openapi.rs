//! The OpenAPI 3.1 document, generated from the handlers and wire types.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{bookings, calendar, calendars, ops, providers, services, webhooks};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_…")
                    .build(),
            ),
        );
    }
}

/// The API description served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(title = "booking-api", description = "Booking and scheduling API: services, availability, bookings, webhooks."),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        providers::list, providers::create, providers::get, providers::update,
        services::list, services::create, services::get, services::update, services::archive, services::availability,
        bookings::create, bookings::list, bookings::get, bookings::confirm, bookings::cancel, bookings::reschedule, bookings::complete,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete, webhooks::rotate_secret,
        webhooks::deliveries, webhooks::redeliver,
        calendar::get_feed, calendar::rotate_feed, calendar::feed, calendar::booking,
        calendars::create, calendars::list, calendars::delete, calendars::sync,
    ),
    components(schemas(crate::wire::WebhookPayload, crate::routes::bookings::BookingStatusName)),
    modifiers(&BearerAuth),
    tags(
        (name = "providers", description = "People or resources that are booked"),
        (name = "services", description = "What is sold, for how long, in which hours"),
        (name = "availability", description = "Free slots"),
        (name = "bookings", description = "Bookings and their lifecycle"),
        (name = "calendar", description = "Private iCal feeds, single-booking calendars, and external calendars whose busy time blocks availability"),
        (name = "webhooks", description = "Signed event deliveries (Standard Webhooks)"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;
