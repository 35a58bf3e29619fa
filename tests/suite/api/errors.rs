//! The error shape and codes: 401, 404, 405, 400 (JSON, unknown fields, types,
//! every service rule, bookings, availability, lists), 409, 413, 422.

use booking_tests::{Resp, booking_body, future_monday, ny, seed_at, seed_service, seed_with};
use reqwest::Method;
use serde_json::{Value, json};

use super::{setup, setup_seed};

#[tokio::test(flavor = "multi_thread")]
async fn missing_malformed_unknown_and_revoked_keys_are_401() {
    let (server, api) = setup();
    let client = server.client();
    let url = server.url("/v1/services");

    let missing = Resp::from(client.get(&url)).await;
    missing.expect_error(401, "UNAUTHORIZED");

    let malformed = [
        "Bearer",
        "Bearer ",
        "Bearer not-a-key",
        "Bearer sk_short",
        "Basic dXNlcjpwYXNz",
        api.key.as_str(), // no scheme
    ];
    for header in malformed {
        let res = Resp::from(client.get(&url).header("Authorization", header)).await;
        res.expect_error(401, "UNAUTHORIZED");
    }

    let unknown = format!("sk_{}", "A1b2C3d4".repeat(5));
    let res = Resp::from(client.get(&url).bearer_auth(&unknown)).await;
    res.expect_error(401, "UNAUTHORIZED");

    // The real key works; once revoked it does not.
    api.get("/v1/services").await.expect_status(200);
    server.revoke(&api.key_id);
    api.get("/v1/services")
        .await
        .expect_error(401, "UNAUTHORIZED");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_are_404_not_found() {
    let (server, api) = setup();
    for path in ["/v1/nope", "/v2/services", "/", "/v1/bookings/bk_x/explode"] {
        let res = api.get(path).await;
        res.expect_error(404, "NOT_FOUND");
    }
    let unauthenticated = Resp::from(server.client().get(server.url("/nope"))).await;
    unauthenticated.expect_error(404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_method_is_405_with_allow() {
    let (_server, api) = setup();
    let cases: &[(Method, &str, &[&str])] = &[
        (Method::PUT, "/v1/services", &["GET", "POST"]),
        (Method::DELETE, "/v1/bookings", &["GET", "POST"]),
        (Method::DELETE, "/v1/providers/prv_x", &["GET", "PATCH"]),
        (
            Method::PUT,
            "/v1/services/srv_x",
            &["GET", "PATCH", "DELETE"],
        ),
        (Method::GET, "/v1/bookings/bk_x/confirm", &["POST"]),
        (Method::POST, "/healthz", &["GET"]),
    ];
    for (method, path, allowed) in cases {
        let res = Resp::from(api.request(method.clone(), path)).await;
        res.expect_error(405, "METHOD_NOT_ALLOWED");
        let allow = res
            .header("allow")
            .unwrap_or_else(|| panic!("{method} {path}: no Allow header"));
        let allow: Vec<&str> = allow.split(',').map(str::trim).collect();
        for m in *allowed {
            assert!(
                allow.contains(m),
                "{method} {path}: Allow {allow:?} lacks {m}"
            );
        }
        assert!(
            !allow.contains(&method.as_str()),
            "{method} {path}: Allow {allow:?} lists the refused method"
        );
    }
}

/// HEAD works wherever GET does (RFC 9110): the GET's status and headers,
/// no body.
#[tokio::test(flavor = "multi_thread")]
async fn head_answers_wherever_get_does() {
    let (_server, api) = setup_seed().await;
    for path in [
        "/healthz",
        "/v1/services",
        "/v1/services/srv_consultation",
        "/v1/bookings",
    ] {
        let get = Resp::from(api.request(Method::GET, path)).await;
        let head = Resp::from(api.request(Method::HEAD, path)).await;
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert!(head.text().is_empty(), "HEAD {path}: a body");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "HEAD {path}"
        );
    }
    let refused = Resp::from(api.request(Method::PUT, "/v1/services")).await;
    refused.expect_error(405, "METHOD_NOT_ALLOWED");
    assert_eq!(refused.header("allow"), Some("GET, POST, HEAD"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_unknown_fields_and_wrong_types_are_400() {
    let (_server, api) = setup();
    api.post_raw("/v1/services", r#"{"name": "x", "#)
        .await
        .expect_validation();
    api.post_raw("/v1/services", "not json at all")
        .await
        .expect_validation();
    api.post_raw("/v1/services", "[1, 2]")
        .await
        .expect_validation();

    // Unknown fields are named, at the top and nested.
    api.post("/v1/services", &seed_with(&json!({"colour": "blue"})))
        .await
        .expect_validation_of("colour");
    let nested = api
        .post("/v1/services", &seed_at("/price/discount", Some(json!(5))))
        .await
        .expect_validation();
    assert!(nested.ends_with("discount"), "field {nested}");
    let mut booking = booking_body("srv_consultation", &ny(future_monday(), 10, 0));
    booking["colour"] = json!("blue");
    api.post("/v1/bookings", &booking)
        .await
        .expect_validation_of("colour");
    api.post("/v1/providers", &json!({"name": "Ann", "phone": "1"}))
        .await
        .expect_validation_of("phone");

    // Wrong types and missing fields.
    api.post("/v1/services", &seed_with(&json!({"duration": "60"})))
        .await
        .expect_validation_of("duration");
    api.post("/v1/services", &seed_with(&json!({"auto_confirm": "yes"})))
        .await
        .expect_validation_of("auto_confirm");
    let days = api
        .post(
            "/v1/services",
            &seed_at("/availability/days", Some(json!("monday"))),
        )
        .await
        .expect_validation();
    assert!(days.starts_with("availability.days"), "field {days}");
    api.post("/v1/services", &seed_at("/name", None))
        .await
        .expect_validation_of("name");
}

/// One service rule: the seed with one change, and the fields an error may name.
async fn assert_service_rejected(api: &booking_tests::Api, body: Value, fields: &[&str]) {
    let res = api.post("/v1/services", &body).await;
    let field = res.expect_validation();
    assert!(
        fields.contains(&field.as_str()),
        "body {body}: details.field {field:?}, expected one of {fields:?}: {}",
        res.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_rule_is_a_validation_error_naming_the_field() {
    let (_server, api) = setup();
    let long = |n: usize| Value::String("x".repeat(n));
    let cases: Vec<(Value, &[&str])> = vec![
        (seed_at("/name", Some(json!(""))), &["name"]),
        (seed_at("/name", Some(long(201))), &["name"]),
        (seed_at("/duration", Some(json!(0))), &["duration"]),
        (seed_at("/duration", Some(json!(1441))), &["duration"]),
        (seed_at("/duration", Some(json!(-60))), &["duration"]),
        (seed_at("/price/amount", Some(json!(-1))), &["price.amount"]),
        (
            seed_at("/price/amount", Some(json!(149.999))),
            &["price.amount"],
        ),
        (
            seed_at("/price/currency", Some(json!("usd"))),
            &["price.currency"],
        ),
        (
            seed_at("/price/currency", Some(json!("XYZ"))),
            &["price.currency"],
        ),
        (
            seed_at("/price/currency", Some(json!("US"))),
            &["price.currency"],
        ),
        (
            seed_at("/price/type", Some(json!("weekly"))),
            &["price.type"],
        ),
        (
            seed_at("/availability/days", Some(json!([]))),
            &["availability.days"],
        ),
        (
            seed_at("/availability/days", Some(json!(["monday", "monday"]))),
            &["availability.days"],
        ),
        (
            seed_at("/availability/days", Some(json!(["funday"]))),
            &["availability.days"],
        ),
        (
            seed_at("/availability/days", Some(json!(["Monday"]))),
            &["availability.days"],
        ),
        (
            seed_at("/availability/hours/start", Some(json!("9:00"))),
            &["availability.hours.start"],
        ),
        (
            seed_at("/availability/hours/start", Some(json!("09:60"))),
            &["availability.hours.start"],
        ),
        (
            seed_at("/availability/hours/start", Some(json!("25:00"))),
            &["availability.hours.start"],
        ),
        (
            seed_at("/availability/hours/start", Some(json!("24:00"))),
            &[
                "availability.hours.start",
                "availability.hours.end",
                "availability.hours",
            ],
        ),
        (
            seed_at("/availability/hours/end", Some(json!("5pm"))),
            &["availability.hours.end"],
        ),
        (
            seed_at("/availability/hours/end", Some(json!("24:01"))),
            &["availability.hours.end"],
        ),
        (
            seed_at("/availability/hours/start", Some(json!("17:00"))),
            &[
                "availability.hours.start",
                "availability.hours.end",
                "availability.hours",
            ],
        ),
        (
            seed_at("/availability/hours/start", Some(json!("18:00"))),
            &[
                "availability.hours.start",
                "availability.hours.end",
                "availability.hours",
            ],
        ),
        (
            seed_at("/availability/timezone", Some(json!("Mars/Olympus_Mons"))),
            &["availability.timezone"],
        ),
        (
            seed_at("/availability/timezone", Some(json!("+05:00"))),
            &["availability.timezone"],
        ),
        (
            seed_at("/availability/timezone", Some(json!(""))),
            &["availability.timezone"],
        ),
        (seed_with(&json!({"buffer_before": -1})), &["buffer_before"]),
        (
            seed_with(&json!({"buffer_before": 10081})),
            &["buffer_before"],
        ),
        (
            seed_with(&json!({"buffer_after": 10081})),
            &["buffer_after"],
        ),
        (
            seed_with(&json!({"minimum_notice": 10081})),
            &["minimum_notice"],
        ),
        (
            seed_with(&json!({"minimum_notice": -5})),
            &["minimum_notice"],
        ),
        (seed_with(&json!({"id": "consultation"})), &["id"]),
        (seed_with(&json!({"id": "srv_"})), &["id"]),
        (seed_with(&json!({"id": "srv_Upper"})), &["id"]),
        (seed_with(&json!({"id": "srv_with-dash"})), &["id"]),
        (
            seed_with(&json!({"id": format!("srv_{}", "a".repeat(65))})),
            &["id"],
        ),
    ];
    for (body, fields) in cases {
        assert_service_rejected(&api, body, fields).await;
    }
    // Nothing was created by the rejected requests.
    let list = api.get("/v1/services").await.expect_status(200).json;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn service_rule_boundaries_are_accepted() {
    let (_server, api) = setup();
    let accepted = [
        seed_with(&json!({"id": "srv_a", "name": "x".repeat(200)})),
        seed_with(&json!({"id": "srv_b", "duration": 1})),
        seed_with(&json!({"id": "srv_c", "duration": 1440})),
        seed_with(
            &json!({"id": "srv_d", "price": {"amount": 0, "currency": "USD", "type": "flat"}}),
        ),
        seed_with(
            &json!({"id": "srv_e", "price": {"amount": 10, "currency": "JPY", "type": "custom"}}),
        ),
        seed_with(
            &json!({"id": "srv_f", "availability": {"days": ["sunday"], "hours": {"start": "00:00", "end": "24:00"}, "timezone": "Europe/Paris"}}),
        ),
        seed_with(
            &json!({"id": "srv_g", "buffer_before": 10080, "buffer_after": 0, "minimum_notice": 10080}),
        ),
        seed_with(&json!({"id": format!("srv_{}", "a".repeat(64))})),
    ];
    for body in accepted {
        let res = api.post("/v1/services", &body).await.expect_status(201);
        assert_eq!(res.json["id"], body["id"], "{}", res.text());
    }
    let end = api.get("/v1/services/srv_f").await.expect_status(200);
    assert_eq!(
        end.json["availability"]["hours"]["end"],
        "24:00",
        "{}",
        end.text()
    );
    // JPY has no minor unit: a fraction is refused.
    let yen = seed_with(
        &json!({"id": "srv_h", "price": {"amount": 10.5, "currency": "JPY", "type": "flat"}}),
    );
    api.post("/v1/services", &yen)
        .await
        .expect_validation_of("price.amount");
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_64_kib_are_413() {
    let (_server, api) = setup();
    let mut body = seed_service();
    body["description"] = Value::String("x".repeat(70 * 1024));
    let res = api.post("/v1/services", &body).await;
    res.expect_error(413, "PAYLOAD_TOO_LARGE");
    let mut booking = booking_body("srv_consultation", &ny(future_monday(), 10, 0));
    booking["notes"] = Value::String("x".repeat(70 * 1024));
    api.post("/v1/bookings", &booking)
        .await
        .expect_error(413, "PAYLOAD_TOO_LARGE");
}

#[tokio::test(flavor = "multi_thread")]
async fn actions_without_fields_refuse_what_a_body_sends() {
    let (_server, api) = setup_seed().await;
    let booking = api
        .book_ok("srv_consultation", &ny(future_monday(), 10, 0))
        .await;
    let confirm = format!("/v1/bookings/{}/confirm", booking["id"].as_str().unwrap());
    api.post(&confirm, &json!({"notify": true}))
        .await
        .expect_validation_of("notify");
    api.post_raw(&confirm, "{bad json")
        .await
        .expect_validation_of("body");
    api.post_raw(&confirm, "[]").await.expect_validation();
    let big = json!({"x": "x".repeat(70 * 1024)});
    api.post(&confirm, &big)
        .await
        .expect_error(413, "PAYLOAD_TOO_LARGE");
    // None of those touched the booking; an empty body or `{}` acts.
    let id = booking["id"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/v1/bookings/{id}")).await.json["status"],
        "pending"
    );
    api.post(&confirm, &json!({})).await.expect_status(200);
    let complete = format!("/v1/bookings/{id}/complete");
    api.post(&complete, &json!({"at": "now"}))
        .await
        .expect_validation_of("at");
    let provider = booking["provider_id"].as_str().unwrap();
    api.post(
        &format!("/v1/providers/{provider}/feed/rotate"),
        &json!({"keep_old": true}),
    )
    .await
    .expect_validation_of("keep_old");
    api.post("/v1/calendar/sync", &json!({"force": true}))
        .await
        .expect_validation_of("force");
    api.post_empty("/v1/calendar/sync").await.expect_status(200);
}

/// An unknown resource is 404 whatever the body: malformed, with unknown
/// fields or with wrong types (the body is parsed after the lookup).
#[tokio::test(flavor = "multi_thread")]
async fn unknown_resources_are_404_before_their_bodies_are_read() {
    let (_server, api) = setup_seed().await;
    for body in ["{bad json", r#"{"bogus": 1}"#, r#"{"name": 5}"#, "{}"] {
        for (path, patch) in [
            ("/v1/services/srv_nope", true),
            ("/v1/providers/prv_nope", true),
            ("/v1/webhooks/wh_nope", true),
            ("/v1/providers/prv_nope/time-off", false),
            ("/v1/providers/prv_nope/calendars", false),
            ("/v1/bookings/bk_nope/cancel", false),
            ("/v1/bookings/bk_nope/reschedule", false),
            ("/v1/manage/nope/cancel", false),
            ("/v1/manage/nope/reschedule", false),
        ] {
            let res = if patch {
                api.patch_raw(path, body).await
            } else {
                api.post_raw(path, body).await
            };
            assert_eq!(res.status.as_u16(), 404, "{path} {body}: {}", res.text());
        }
    }
}

/// PATCH takes `null` only where a field can be cleared; elsewhere `null`
/// is refused, naming the field, and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn patch_refuses_null_for_fields_that_cannot_be_cleared() {
    let (_server, api) = setup_seed().await;
    for field in [
        "name",
        "duration",
        "price",
        "availability",
        "buffer_before",
        "auto_confirm",
    ] {
        api.patch("/v1/services/srv_consultation", &json!({ field: null }))
            .await
            .expect_validation_of(field);
    }
    let service = api
        .patch(
            "/v1/services/srv_consultation",
            &json!({"description": null, "booking_horizon": null}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(service["name"], "1-Hour Consultation", "{service}");
    let provider = api.provider_id().await;
    api.patch(&format!("/v1/providers/{provider}"), &json!({"name": null}))
        .await
        .expect_validation_of("name");
    api.patch(
        &format!("/v1/providers/{provider}"),
        &json!({"email": null}),
    )
    .await
    .expect_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn taken_service_id_is_409_already_exists() {
    let (_server, api) = setup_seed().await;
    let mut again = seed_service();
    again["name"] = json!("Another");
    api.post("/v1/services", &again)
        .await
        .expect_error(409, "ALREADY_EXISTS");
    // The first one is untouched.
    let got = api
        .get("/v1/services/srv_consultation")
        .await
        .expect_status(200);
    assert_eq!(got.json["name"], "1-Hour Consultation");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_service_is_404_in_paths_and_422_in_booking_bodies() {
    let (_server, api) = setup_seed().await;
    for res in [
        api.get("/v1/services/srv_nope").await,
        api.patch("/v1/services/srv_nope", &json!({"name": "x"}))
            .await,
        api.delete("/v1/services/srv_nope").await,
        api.availability("srv_nope", "2030-01-07", "2030-01-08")
            .await,
    ] {
        res.expect_error(404, "INVALID_SERVICE");
    }
    let at = ny(future_monday(), 10, 0);
    api.book("srv_nope", &at)
        .await
        .expect_error(422, "INVALID_SERVICE");
    api.book("not even an id", &at)
        .await
        .expect_error(422, "INVALID_SERVICE");
    // Archived services take no bookings.
    api.delete("/v1/services/srv_consultation")
        .await
        .expect_status(204);
    api.book("srv_consultation", &at)
        .await
        .expect_error(422, "INVALID_SERVICE");
}

#[tokio::test(flavor = "multi_thread")]
async fn booking_field_rules_are_validation_errors() {
    let (_server, api) = setup_seed().await;
    let at = ny(future_monday(), 10, 0);
    let with = |pointer: &str, value: Value| {
        let mut body = booking_body("srv_consultation", &at);
        *body.pointer_mut(pointer).expect("pointer") = value;
        body
    };
    let cases = [
        (
            with("/customer/email", json!("not-an-email")),
            "customer.email",
        ),
        (with("/customer/email", json!("")), "customer.email"),
        (with("/customer/name", json!("")), "customer.name"),
        (
            with("/scheduled_at", json!(at.replace(":00:00Z", ":00:30Z"))),
            "scheduled_at",
        ),
        (
            with("/scheduled_at", json!("tomorrow at ten")),
            "scheduled_at",
        ),
        (
            with("/scheduled_at", json!("2030-01-07T10:00:00")),
            "scheduled_at",
        ),
        (
            with("/scheduled_at", json!("2030-13-07T10:00:00Z")),
            "scheduled_at",
        ),
        // ISO 8601 forms that are not RFC 3339.
        (
            with("/scheduled_at", json!("2030-01-07T10:00Z")),
            "scheduled_at",
        ),
        (
            with("/scheduled_at", json!("20300107T100000Z")),
            "scheduled_at",
        ),
        (
            with("/scheduled_at", json!("2030-01-07T10:00:00+0000")),
            "scheduled_at",
        ),
        (with("/scheduled_at", json!(42)), "scheduled_at"),
    ];
    for (body, field) in cases {
        let res = api.post("/v1/bookings", &body).await;
        let got = res.expect_validation();
        assert_eq!(got, field, "body {body}: {}", res.text());
    }
    // Sub-second precision that is not a whole minute either.
    let res = api
        .post(
            "/v1/bookings",
            &with("/scheduled_at", json!(at.replace("Z", ".5Z"))),
        )
        .await;
    assert_eq!(res.expect_validation(), "scheduled_at", "{}", res.text());
    let missing_customer = json!({"service": "srv_consultation", "scheduled_at": at});
    let res = api.post("/v1/bookings", &missing_customer).await;
    assert_eq!(res.expect_validation(), "customer", "{}", res.text());
    // Nothing was booked.
    let list = api.get("/v1/bookings").await.expect_status(200).json;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn availability_range_rules_are_validation_errors() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let from = monday.to_string();
    let too_far = booking_tests::add_days(monday, 70).to_string();
    let before = booking_tests::add_days(monday, -3).to_string();

    // A parameter given twice is named.
    api.get(&format!(
        "/v1/services/srv_consultation/availability?from={from}&to={from}&include=providers&include=providers"
    ))
    .await
    .expect_validation_of("include");
    api.get(&format!(
        "/v1/services/srv_consultation/availability?from={from}&from={from}&to={from}"
    ))
    .await
    .expect_validation_of("from");

    let field = api
        .availability("srv_consultation", &from, &too_far)
        .await
        .expect_validation();
    assert!(["from", "to"].contains(&field.as_str()), "field {field}");
    let field = api
        .availability("srv_consultation", &from, &before)
        .await
        .expect_validation();
    assert!(["from", "to"].contains(&field.as_str()), "field {field}");
    api.availability("srv_consultation", "yesterday", &from)
        .await
        .expect_validation_of("from");
    api.availability("srv_consultation", &from, "2030-02-30")
        .await
        .expect_validation_of("to");
    // Instants further apart than 62 days.
    let res = api
        .availability(
            "srv_consultation",
            &ny(monday, 0, 0),
            &ny(booking_tests::add_days(monday, 63), 0, 0),
        )
        .await;
    res.expect_validation();
    // Missing bounds.
    let res = api.get("/v1/services/srv_consultation/availability").await;
    res.expect_validation();
    // A 62-day range is fine.
    let ok = booking_tests::add_days(monday, 61).to_string();
    api.availability("srv_consultation", &from, &ok)
        .await
        .expect_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_paging_parameters_are_validated() {
    let (_server, api) = setup();
    for path in ["/v1/providers", "/v1/services", "/v1/bookings"] {
        for limit in ["0", "201", "-1", "ten"] {
            api.get(&format!("{path}?limit={limit}"))
                .await
                .expect_validation_of("limit");
        }
        api.get(&format!("{path}?limit=1")).await.expect_status(200);
        api.get(&format!("{path}?limit=200"))
            .await
            .expect_status(200);
        let field = api
            .get(&format!("{path}?cursor=definitely-not-a-cursor"))
            .await
            .expect_validation();
        assert_eq!(field, "cursor", "{path}");
    }
    api.get("/v1/bookings?status=lost")
        .await
        .expect_validation_of("status");
    api.get("/v1/bookings?from=yesterday")
        .await
        .expect_validation_of("from");
}

#[tokio::test(flavor = "multi_thread")]
async fn more_booking_body_rules() {
    let (_server, api) = setup_seed().await;
    let monday = future_monday();
    let at = ny(monday, 9, 0);
    let mut body = booking_body("srv_consultation", &at);
    body["metadata"] = json!({"count": 1});
    let field = api.post("/v1/bookings", &body).await.expect_validation();
    assert!(field.starts_with("metadata"), "field {field}");
    body["metadata"] = json!(
        (0..51)
            .map(|i| (format!("k{i}"), json!("v")))
            .collect::<serde_json::Map<_, _>>()
    );
    let field = api.post("/v1/bookings", &body).await.expect_validation();
    assert!(field.starts_with("metadata"), "field {field}");
    let mut body = booking_body("srv_consultation", &at);
    body["customer"]["phone"] = json!("555");
    let field = api.post("/v1/bookings", &body).await.expect_validation();
    assert!(field.ends_with("phone"), "field {field}");

    // Zero fractional seconds are still a whole minute.
    let b = api
        .book_ok("srv_consultation", &at.replace("Z", ".000Z"))
        .await;
    assert_eq!(b["scheduled_at"], at);

    // Reschedule bodies follow the same rules.
    let id = b["id"].as_str().expect("id");
    let path = format!("/v1/bookings/{id}/reschedule");
    let half = ny(monday, 11, 0).replace(":00:00Z", ":00:30Z");
    api.post(&path, &json!({"scheduled_at": half}))
        .await
        .expect_validation_of("scheduled_at");
    api.post(
        &path,
        &json!({"scheduled_at": ny(monday, 11, 0), "when": "x"}),
    )
    .await
    .expect_validation_of("when");
    let reason = "x".repeat(1001);
    api.post(
        &format!("/v1/bookings/{id}/cancel"),
        &json!({"reason": reason}),
    )
    .await
    .expect_validation_of("reason");
    let got = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(got["status"], "pending");
    assert_eq!(got["scheduled_at"], at);
}

#[tokio::test(flavor = "multi_thread")]
async fn error_answers_carry_the_request_id_and_json_type() {
    let (_server, api) = setup();
    let mut body = seed_service();
    body["description"] = Value::String("x".repeat(70 * 1024));
    let big = Resp::from(
        api.request(Method::POST, "/v1/providers")
            .header("X-Request-Id", "big-body-1")
            .json(&json!({"name": "x".repeat(70 * 1024)})),
    )
    .await;
    big.expect_error(413, "PAYLOAD_TOO_LARGE");
    assert_eq!(big.header("x-request-id"), Some("big-body-1"));
    for res in [
        big,
        api.get("/v1/nope").await,
        Resp::from(api.request(Method::PUT, "/v1/bookings")).await,
        api.post_raw("/v1/services", "{").await,
    ] {
        assert!(
            res.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{} {:?}",
            res.status,
            res.headers
        );
        assert!(res.header("x-request-id").is_some_and(|v| !v.is_empty()));
    }
}
