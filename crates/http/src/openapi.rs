//! The OpenAPI 3.1 document, generated from the handlers and wire types.
//!
//! Besides what the `#[utoipa::path]` annotations say, this module adds:
//! - the error responses ([`errors`]): one component per kind of failure,
//!   each referencing the one error schema ([`crate::wire::ErrorBody`]) with
//!   an example of each code it can carry. The examples are the bodies the
//!   server's own error constructors produce, so they cannot drift;
//! - one example of each error code on the error schema itself;
//! - the request and response body examples ([`examples`]), from the
//!   README's walkthrough and docs/api.md.
//!
//! The document must validate against the OpenAPI 3.1 schema and feed code
//! generators: operation ids are unique `verbNoun` names (`createBooking`),
//! every response has a description, tags group operations by resource.
//! The unit tests below and `scripts/test-clients.sh` (openapi-spec-validator,
//! openapi-python-client, openapi-typescript) hold it to that.

pub mod errors;
pub mod examples;

use utoipa::openapi::schema::{Schema, SchemaType};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, Required, Type};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    bookings, calendar, calendars, holds, manage, manage_page, ops, providers, services, time_off,
    webhooks,
};

/// The schema without the `null` utoipa allows for `Option<T>`.
fn without_null(schema: &mut RefOr<Schema>) {
    let is_null = |s: &RefOr<Schema>| matches!(s, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
    match schema {
        RefOr::T(Schema::Object(object)) => {
            if let SchemaType::Array(types) = &object.schema_type {
                let mut types: Vec<Type> = types
                    .iter()
                    .filter(|t| **t != Type::Null)
                    .cloned()
                    .collect();
                object.schema_type = match types.len() {
                    1 => SchemaType::Type(types.remove(0)),
                    _ => SchemaType::Array(types),
                };
            }
        }
        RefOr::T(Schema::OneOf(one_of)) => {
            one_of.items.retain(|item| !is_null(item));
            if one_of.items.len() == 1 {
                *schema = one_of.items.remove(0);
            }
        }
        _ => {}
    }
}

/// Optional parameters and request bodies are left out when not wanted:
/// `null` is not a value the server takes for them (an `Idempotency-Key`
/// header cannot be null; a lifecycle call's body is absent or an object).
/// utoipa describes `Option<T>` as "T or null", which generators turn into
/// a `None` that they would send; keep T only.
struct OptionalInputs;

impl Modify for OptionalInputs {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.options,
                &mut item.head,
                &mut item.patch,
                &mut item.trace,
            ];
            for operation in operations.into_iter().flatten() {
                for parameter in operation.parameters.iter_mut().flatten() {
                    if let RefOr::T(parameter) = parameter
                        && parameter.required == Required::False
                    {
                        parameter.schema.iter_mut().for_each(without_null);
                    }
                }
                if let Some(RefOr::T(body)) = &mut operation.request_body
                    && body.required != Some(Required::True)
                {
                    for media in body.content.values_mut() {
                        if let RefOr::T(content) = media {
                            content.schema.iter_mut().for_each(without_null);
                        }
                    }
                }
            }
        }
    }
}

/// The API-key security scheme, the error responses, and the error schema's
/// examples.
struct Components;

impl Modify for Components {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("sk_…")
                    .description(Some(
                        "An API key from `booking-api keys create --account <name>`",
                    ))
                    .build(),
            ),
        );
        for (name, _, _, response) in errors::all() {
            components.responses.insert(name.to_owned(), response);
        }
        // Every route but the liveness and metrics ones reads or writes the
        // store, so each may answer 503 UNAVAILABLE when it cannot be
        // reached.
        for (path, item) in &mut openapi.paths.paths {
            if path == "/healthz" || path == "/metrics" {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.delete,
                &mut item.head,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("503".to_owned())
                    .or_insert_with(|| RefOr::Ref(Ref::from_response_name("Unavailable")));
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        if let Some(RefOr::T(Schema::Object(error))) = components.schemas.get_mut("ErrorBody") {
            error.examples = errors::error_examples()
                .iter()
                .filter_map(|(_, e)| serde_json::to_value(e.body()).ok())
                .collect();
        }
    }
}

/// The API description served at `/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "booking-api",
        description = "Booking and scheduling API: services, availability, bookings, webhooks, calendars.\n\nAuthenticate with `Authorization: Bearer <key>`. Every error has the shape of `ErrorBody`; the `code` says what happened."
    ),
    paths(
        ops::healthz, ops::readyz, ops::metrics,
        providers::list, providers::create, providers::get, providers::update,
        services::list, services::create, services::get, services::update, services::archive, services::availability, services::explain,
        bookings::create, bookings::list, bookings::get, bookings::confirm, bookings::cancel, bookings::reschedule, bookings::complete,
        webhooks::list, webhooks::create, webhooks::get, webhooks::update, webhooks::delete, webhooks::rotate_secret,
        webhooks::deliveries, webhooks::redeliver,
        calendar::get_feed, calendar::rotate_feed, calendar::feed, calendar::booking,
        calendars::create, calendars::list, calendars::delete, calendars::sync,
        time_off::create, time_off::list, time_off::delete,
        manage::get, manage::availability, manage::cancel, manage::reschedule,
        manage_page::page, manage_page::cancel, manage_page::reschedule, manage_page::cancelled, manage_page::style,
        holds::create, holds::get, holds::delete,
    ),
    components(schemas(crate::wire::ErrorBody, crate::wire::WebhookPayload, crate::wire::BookingStatusName)),
    modifiers(&Components, &OptionalInputs),
    tags(
        (name = "providers", description = "People or resources that are booked"),
        (name = "services", description = "What is sold, for how long, in which hours"),
        (name = "availability", description = "Free slots of a service, and why a time is not available"),
        (name = "bookings", description = "Bookings and their lifecycle"),
        (name = "webhooks", description = "Signed event deliveries (Standard Webhooks) and their log"),
        (name = "feeds", description = "Private iCal feeds of a provider's bookings, and single-booking calendar files"),
        (name = "calendars", description = "External calendars whose busy time blocks availability"),
        (name = "time-off", description = "Providers' time off, which blocks every service of the provider"),
        (name = "customer-links", description = "What a booking's customer can do with its `manage_url` alone (no API key): see, cancel or move the booking, as JSON and as an HTML page"),
        (name = "holds", description = "Short reservations of a time while a customer completes a form or a payment"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;

    use super::errors::error_examples;
    use super::*;
    use crate::routes::{ROUTES, Verb};

    fn doc() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    const METHODS: [&str; 5] = ["get", "head", "post", "patch", "delete"];

    /// (method, path, operation) of every operation in the document.
    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    out.push((method.to_owned(), path.clone(), op.clone()));
                }
            }
        }
        out
    }

    /// The document describes exactly the routes the server mounts
    /// ([`ROUTES`] builds the actix app). `HEAD` is answered wherever the
    /// server mounts it and is described by the `GET` beside it.
    #[test]
    fn document_covers_every_mounted_route_and_no_other() {
        let doc = doc();
        let mut mounted = BTreeSet::new();
        for resource in ROUTES {
            let verbs: Vec<Verb> = resource.methods.iter().map(|(v, _)| *v).collect();
            for verb in &verbs {
                if *verb == Verb::Head {
                    assert!(
                        verbs.contains(&Verb::Get),
                        "HEAD {} without GET",
                        resource.path
                    );
                    continue;
                }
                mounted.insert((verb.as_str().to_lowercase(), resource.path.to_owned()));
            }
        }
        let documented: BTreeSet<(String, String)> = operations(&doc)
            .into_iter()
            .map(|(m, p, _)| (m, p))
            .collect();
        let undocumented: Vec<_> = mounted.difference(&documented).collect();
        let unmounted: Vec<_> = documented.difference(&mounted).collect();
        assert!(
            undocumented.is_empty(),
            "mounted but not in /openapi.json: {undocumented:?}"
        );
        assert!(
            unmounted.is_empty(),
            "in /openapi.json but not mounted: {unmounted:?}"
        );
    }

    #[test]
    fn operation_ids_are_unique_camel_case_and_every_operation_is_tagged() {
        let doc = doc();
        let tags: BTreeSet<&str> = doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        let mut seen = BTreeMap::new();
        for (method, path, op) in operations(&doc) {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(
                id.chars().next().unwrap().is_ascii_lowercase()
                    && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "{method} {path}: operationId {id} is not camelCase"
            );
            if let Some(other) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id} on {other} and {method} {path}");
            }
            let op_tags = op["tags"].as_array().unwrap();
            assert_eq!(op_tags.len(), 1, "{method} {path}: {op_tags:?}");
            assert!(
                tags.contains(op_tags[0].as_str().unwrap()),
                "{method} {path}: undeclared tag {op_tags:?}"
            );
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}: no summary"
            );
        }
    }

    /// The response object (resolving a `$ref` to `components/responses`).
    fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
        match response["$ref"].as_str() {
            Some(r) => {
                let name = r.strip_prefix("#/components/responses/").unwrap();
                doc["components"]["responses"]
                    .get(name)
                    .unwrap_or_else(|| panic!("dangling {r}"))
            }
            None => response,
        }
    }

    fn has_example(media: &Value) -> bool {
        media.get("example").is_some()
            || media["examples"]
                .as_object()
                .is_some_and(|examples| !examples.is_empty())
    }

    #[test]
    fn every_response_has_a_description_and_every_body_an_example() {
        let doc = doc();
        for (method, path, op) in operations(&doc) {
            if let Some(body) = op.get("requestBody") {
                for (ty, media) in body["content"].as_object().unwrap() {
                    assert!(has_example(media), "{method} {path}: request {ty}");
                }
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = resolve(&doc, response);
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{method} {path} {status}: no description"
                );
                if let Some(content) = response["content"].as_object() {
                    for (ty, media) in content {
                        assert!(has_example(media), "{method} {path} {status}: {ty}");
                    }
                }
            }
        }
    }

    /// Every 4xx/5xx is a shared error response whose examples carry its
    /// status, and every shared response has an example of each code.
    #[test]
    fn error_responses_are_shared_with_an_example_of_each_code() {
        let doc = doc();
        for (name, status, codes, _) in errors::all() {
            let media = &doc["components"]["responses"][name]["content"]["application/json"];
            assert_eq!(
                media["schema"]["$ref"], "#/components/schemas/ErrorBody",
                "{name}"
            );
            for code in codes {
                let example = &media["examples"][*code]["value"];
                assert_eq!(example["error"]["code"], *code, "{name}: {code}");
                let real = error_examples()
                    .into_iter()
                    .find(|(_, e)| e.code == *code && e.status.as_u16() == status);
                assert!(real.is_some(), "{name}: no {code} answer at {status}");
            }
        }
        for (method, path, op) in operations(&doc) {
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('4') && !status.starts_with('5') {
                    continue;
                }
                // The customer page answers its errors as pages, in words.
                let html_only = response["content"]
                    .as_object()
                    .is_some_and(|c| c.keys().all(|ty| ty == "text/html"));
                if html_only && path.starts_with("/manage/") {
                    continue;
                }
                let reference = response["$ref"].as_str().unwrap_or_else(|| {
                    panic!("{method} {path} {status}: not a shared error response")
                });
                let name = reference.rsplit('/').next().unwrap();
                let (_, shared_status, _, _) = errors::all()
                    .into_iter()
                    .find(|(n, ..)| *n == name)
                    .unwrap();
                assert_eq!(
                    status,
                    &shared_status.to_string(),
                    "{method} {path}: {name}"
                );
            }
        }
        // One example of each code of the contract on the schema itself.
        let codes: BTreeSet<&str> = doc["components"]["schemas"]["ErrorBody"]["examples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["error"]["code"].as_str().unwrap())
            .collect();
        for code in [
            "BOOKING_CONFLICT",
            "INVALID_SERVICE",
            "RATE_LIMITED",
            "UNAUTHORIZED",
            "VALIDATION_ERROR",
            "NOT_FOUND",
            "INVALID_STATE",
            "ALREADY_EXISTS",
            "IDEMPOTENCY_KEY_REUSED",
            "PAYLOAD_TOO_LARGE",
            "REQUEST_TIMEOUT",
            "LIMIT_REACHED",
            "CUTOFF_PASSED",
            "METHOD_NOT_ALLOWED",
            "INTERNAL",
            "UNAVAILABLE",
        ] {
            assert!(codes.contains(code), "no {code} example: {codes:?}");
        }
    }

    /// The request examples are requests the server accepts.
    #[test]
    fn request_examples_are_valid_requests() {
        use crate::wire::*;
        fn parse<T: serde::de::DeserializeOwned>(v: Value) -> T {
            serde_json::from_value(v).unwrap()
        }
        parse::<CreateService>(examples::create_service())
            .try_into_domain()
            .unwrap();
        parse::<UpdateService>(examples::update_service())
            .try_into_domain()
            .unwrap();
        parse::<CreateProvider>(examples::create_provider())
            .try_into_domain()
            .unwrap();
        parse::<UpdateProvider>(examples::update_provider())
            .try_into_domain()
            .unwrap();
        parse::<CreateBooking>(examples::create_booking())
            .try_into_domain()
            .unwrap();
        parse::<CancelBooking>(examples::cancel_booking())
            .try_into_domain()
            .unwrap();
        parse_ts(
            &parse::<RescheduleBooking>(examples::reschedule_booking()).scheduled_at,
            "scheduled_at",
        )
        .unwrap();
        parse::<CreateWebhook>(examples::create_webhook())
            .try_into_domain()
            .unwrap();
        parse::<UpdateWebhook>(examples::update_webhook())
            .try_into_domain()
            .unwrap();
        parse::<CreateCalendar>(examples::create_calendar())
            .try_into_domain()
            .unwrap();
        parse::<CreateTimeOff>(examples::create_time_off())
            .try_into_domain()
            .unwrap();
        parse::<crate::wire::CreateHold>(examples::create_hold())
            .try_into_domain()
            .unwrap();
    }
}
