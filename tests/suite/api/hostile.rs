//! Hostile input (issue 13): control characters in every text field of every
//! route, time input at the edges of what RFC 3339 and the server allow, URLs
//! stored normalised and refused without a host, answers of the HTTP codec
//! in the error shape, and logs without colour codes. What reaches storage
//! runs on SQLite and on Postgres.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use booking_tests::pg::{self, Database};
use booking_tests::{Api, TestServer, assert_error_shape, future_monday};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

/// The environment of these tests' servers: bookings unlimited (the control
/// character test books thousands of times), private targets allowed (the
/// webhook and calendar URLs are loopback, no DNS), and the calendar APIs
/// pointed at a closed local port.
const ENV: &[(&str, &str)] = &[
    ("BOOKING_RATE_BOOKINGS", "1000000/minute"),
    ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true"),
    ("BOOKING_MAX_WEBHOOKS", "100"),
    ("BOOKING_MAX_CALENDARS", "100"),
    ("BOOKING_GOOGLE_API_URL", "http://127.0.0.1:9"),
    ("BOOKING_GOOGLE_TOKEN_URL", "http://127.0.0.1:9/token"),
];

fn sqlite_server() -> TestServer {
    TestServer::start_with(ENV)
}

fn postgres_server(db: &Database) -> TestServer {
    TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), ENV)
}

/// A service open around the clock in UTC, one hour long.
fn around_the_clock() -> Value {
    json!({
        "id": "srv_all", "name": "All day", "duration": 60,
        "price": {"amount": 100, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        }
    })
}

/// `hour` o'clock UTC on the `n`-th day after the suite's booking Monday.
fn at(day: i64, hour: u32) -> String {
    let date = booking_tests::add_days(future_monday(), day);
    format!("{date}T{hour:02}:00:00Z")
}

fn booking(scheduled_at: &str) -> Value {
    json!({
        "service": "srv_all", "scheduled_at": scheduled_at,
        "customer": {"email": "c@example.com", "name": "C"},
        "notes": "n", "metadata": {"k": "v"}
    })
}

// ------------------------------------------------------ control characters

/// Every control character the contract refuses.
fn controls() -> impl Iterator<Item = char> {
    (0u8..0x20).chain([0x7f]).map(char::from)
}

/// Where a case puts the character.
#[derive(Clone, Copy)]
enum Spot {
    /// In the string at this JSON pointer of the body.
    Body(&'static str),
    /// In the one key of the object at this pointer.
    Key(&'static str),
    /// In this query parameter.
    Query(&'static str),
}

/// One text field of one route.
struct Case {
    method: Method,
    path: String,
    /// The body (or for queries, the parameters as an object of strings),
    /// valid as it is.
    base: Value,
    spot: Spot,
    /// `details.field` expected.
    field: &'static str,
    /// Free text: tab and newline are allowed.
    multiline: bool,
}

/// The pointer's value as a string, with `c` after its first character.
fn insert(value: &str, c: char) -> String {
    let mut chars = value.chars();
    let first = chars.next().map(String::from).unwrap_or_default();
    format!("{first}{c}{}", chars.as_str())
}

/// The case's request with `text` put in its spot.
fn request(
    api: &Api,
    case: &Case,
    text: Option<&dyn Fn(&str) -> String>,
) -> reqwest::RequestBuilder {
    let mut base = case.base.clone();
    let put = |v: &str| text.map_or_else(|| v.to_owned(), |f| f(v));
    match case.spot {
        Spot::Body(pointer) => {
            let slot = base.pointer_mut(pointer).expect("pointer in base");
            let new = put(slot.as_str().expect("a string"));
            *slot = Value::String(new);
        }
        Spot::Key(pointer) => {
            let object = base
                .pointer_mut(pointer)
                .and_then(Value::as_object_mut)
                .expect("object in base");
            let (key, value) = object
                .iter()
                .next()
                .map(|(k, v)| (k.clone(), v.clone()))
                .unwrap();
            object.remove(&key);
            object.insert(put(&key), value);
        }
        Spot::Query(name) => {
            let slot = base.get_mut(name).expect("parameter in base");
            let new = put(slot.as_str().expect("a string"));
            *slot = Value::String(new);
        }
    }
    let req = api.request(case.method.clone(), &case.path);
    match case.spot {
        Spot::Query(_) => {
            let pairs: Vec<(String, String)> = base
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            req.query(&pairs)
        }
        _ => req.json(&base),
    }
}

/// The resources the cases act on, and the cases: every string field of
/// every route's body and every query parameter.
async fn cases(api: &Api) -> Vec<Case> {
    let provider = api
        .post("/v1/providers", &json!({"name": "P"}))
        .await
        .expect_status(201)
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.create_service(&around_the_clock()).await;
    let cancel_me = api
        .post("/v1/bookings", &booking(&at(0, 0)))
        .await
        .expect_status(201)
        .json;
    let move_me = api
        .post("/v1/bookings", &booking(&at(0, 1)))
        .await
        .expect_status(201)
        .json;
    let hook = api
        .post("/v1/webhooks", &json!({"url": "http://127.0.0.1:9/hook"}))
        .await
        .expect_status(201)
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = |b: &Value| b["id"].as_str().unwrap().to_owned();

    let mut cases = Vec::new();
    let mut add = |method: Method, path: &str, base: Value, spot: Spot, field: &'static str| {
        let multiline = matches!(field, "description" | "notes" | "reason");
        cases.push(Case {
            method,
            path: path.to_owned(),
            base,
            spot,
            field,
            multiline,
        });
    };
    let provider_body = json!({"name": "P", "email": "p@example.com"});
    for (method, path) in [
        (Method::POST, "/v1/providers".to_owned()),
        (Method::PATCH, format!("/v1/providers/{provider}")),
    ] {
        add(
            method.clone(),
            &path,
            provider_body.clone(),
            Spot::Body("/name"),
            "name",
        );
        add(
            method,
            &path,
            provider_body.clone(),
            Spot::Body("/email"),
            "email",
        );
    }
    let mut service = around_the_clock();
    service.as_object_mut().unwrap().remove("id");
    service["description"] = json!("d");
    service["provider_id"] = json!(provider);
    let service_fields: &[(&str, &str)] = &[
        ("/name", "name"),
        ("/description", "description"),
        ("/price/currency", "price.currency"),
        ("/price/type", "price.type"),
        ("/availability/days/0", "availability.days[0]"),
        ("/availability/hours/start", "availability.hours.start"),
        ("/availability/hours/end", "availability.hours.end"),
        ("/availability/timezone", "availability.timezone"),
        ("/provider_id", "provider_id"),
    ];
    for &(pointer, field) in service_fields {
        add(
            Method::POST,
            "/v1/services",
            service.clone(),
            Spot::Body(pointer),
            field,
        );
        add(
            Method::PATCH,
            "/v1/services/srv_all",
            service.clone(),
            Spot::Body(pointer),
            field,
        );
    }
    let mut chosen = service.clone();
    chosen["id"] = json!("srv_chosen");
    add(
        Method::POST,
        "/v1/services",
        chosen,
        Spot::Body("/id"),
        "id",
    );
    let booking_fields: &[(Spot, &str)] = &[
        (Spot::Body("/service"), "service"),
        (Spot::Body("/scheduled_at"), "scheduled_at"),
        (Spot::Body("/customer/email"), "customer.email"),
        (Spot::Body("/customer/name"), "customer.name"),
        (Spot::Body("/notes"), "notes"),
        (Spot::Key("/metadata"), "metadata"),
        (Spot::Body("/metadata/k"), "metadata.k"),
    ];
    for (i, &(spot, field)) in booking_fields.iter().enumerate() {
        add(
            Method::POST,
            "/v1/bookings",
            booking(&at(1, i as u32)),
            spot,
            field,
        );
    }
    add(
        Method::POST,
        &format!("/v1/bookings/{}/cancel", id(&cancel_me)),
        json!({"reason": "r"}),
        Spot::Body("/reason"),
        "reason",
    );
    add(
        Method::POST,
        &format!("/v1/bookings/{}/reschedule", id(&move_me)),
        json!({"scheduled_at": at(2, 0)}),
        Spot::Body("/scheduled_at"),
        "scheduled_at",
    );
    let list = json!({
        "status": "pending", "service": "srv_all", "provider_id": provider,
        "from": at(0, 0), "to": at(9, 0), "limit": "10", "cursor": "c0"
    });
    for name in [
        "status",
        "service",
        "provider_id",
        "from",
        "to",
        "limit",
        "cursor",
    ] {
        add(
            Method::GET,
            "/v1/bookings",
            list.clone(),
            Spot::Query(name),
            name,
        );
    }
    let range = json!({"from": at(0, 0)[..10].to_owned(), "to": at(1, 0)});
    for name in ["from", "to"] {
        add(
            Method::GET,
            "/v1/services/srv_all/availability",
            range.clone(),
            Spot::Query(name),
            name,
        );
    }
    let page = json!({"limit": "10", "cursor": "c0"});
    for path in [
        "/v1/providers".to_owned(),
        "/v1/services".to_owned(),
        "/v1/webhooks".to_owned(),
        format!("/v1/webhooks/{hook}/deliveries"),
    ] {
        add(
            Method::GET,
            &path,
            page.clone(),
            Spot::Query("limit"),
            "limit",
        );
        add(
            Method::GET,
            &path,
            page.clone(),
            Spot::Query("cursor"),
            "cursor",
        );
    }
    let webhook = json!({
        "url": "http://127.0.0.1:9/hook", "events": ["booking.created"], "description": "d"
    });
    for (method, path) in [
        (Method::POST, "/v1/webhooks".to_owned()),
        (Method::PATCH, format!("/v1/webhooks/{hook}")),
    ] {
        add(
            method.clone(),
            &path,
            webhook.clone(),
            Spot::Body("/url"),
            "url",
        );
        add(
            method.clone(),
            &path,
            webhook.clone(),
            Spot::Body("/events/0"),
            "events[0]",
        );
        add(
            method,
            &path,
            webhook.clone(),
            Spot::Body("/description"),
            "description",
        );
    }
    let calendars = format!("/v1/providers/{provider}/calendars");
    let ics = json!({"type": "ics", "url": "http://127.0.0.1:9/cal.ics"});
    add(
        Method::POST,
        &calendars,
        ics.clone(),
        Spot::Body("/type"),
        "type",
    );
    add(Method::POST, &calendars, ics, Spot::Body("/url"), "url");
    let google = json!({
        "type": "google", "calendar_id": "primary",
        "credentials": {"access_token": "a", "refresh_token": "r", "client_id": "i",
                        "client_secret": "s", "expires_at": "2030-01-01T00:00:00Z"}
    });
    for (pointer, field) in [
        ("/calendar_id", "calendar_id"),
        ("/credentials/access_token", "credentials.access_token"),
        ("/credentials/refresh_token", "credentials.refresh_token"),
        ("/credentials/client_id", "credentials.client_id"),
        ("/credentials/client_secret", "credentials.client_secret"),
        ("/credentials/expires_at", "credentials.expires_at"),
    ] {
        add(
            Method::POST,
            &calendars,
            google.clone(),
            Spot::Body(pointer),
            field,
        );
    }
    // Time off, well after every booking of these cases.
    let time_off = format!("/v1/providers/{provider}/time-off");
    let away = json!({"start": at(40, 0), "end": at(41, 0), "reason": "r"});
    for field in ["start", "end", "reason"] {
        let pointer = match field {
            "start" => "/start",
            "end" => "/end",
            _ => "/reason",
        };
        add(
            Method::POST,
            &time_off,
            away.clone(),
            Spot::Body(pointer),
            field,
        );
    }
    let range = json!({"from": at(40, 0), "to": at(41, 0), "limit": "10", "cursor": "c0"});
    for name in ["from", "to", "limit", "cursor"] {
        add(
            Method::GET,
            &time_off,
            range.clone(),
            Spot::Query(name),
            name,
        );
    }
    cases
}

/// Every control character in every case: 400 VALIDATION_ERROR naming the
/// field, from the control-character check (tab and newline pass in free
/// text, and are stored as sent). Each case's valid request is then sent
/// once, with tab and newline in free text, and must succeed: the 400s came
/// from the character alone.
async fn control_characters_are_refused_everywhere(server: &TestServer) {
    let api = server.api("acme");
    let cases = cases(&api).await;
    let mut bad = Vec::new();
    for case in &cases {
        for c in controls() {
            if case.multiline && matches!(c, '\t' | '\n') {
                continue;
            }
            bad.push((case, c));
        }
    }
    let total = bad.len();
    let answers: Vec<_> = futures_util::stream::iter(bad)
        .map(|(case, c)| {
            let api = api.clone();
            async move {
                let insert_c = move |v: &str| insert(v, c);
                let res = booking_tests::Resp::from(request(&api, case, Some(&insert_c))).await;
                (case, c, res)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (case, c, res) in &answers {
        let what = format!(
            "{} {} {} with U+{:04X}",
            case.method,
            case.path,
            case.field,
            u32::from(*c)
        );
        assert_eq!(res.status.as_u16(), 400, "{what}: {}", res.text());
        let details = res.expect_error(400, "VALIDATION_ERROR");
        assert_eq!(details["field"], case.field, "{what}: {}", res.text());
        let message = res.json["error"]["message"].as_str().unwrap();
        assert!(message.contains("control characters"), "{what}: {message}");
    }
    assert!(total > 2000, "{total} requests");

    // The same requests without the character succeed; free text keeps tab
    // and newline as sent.
    let free = |_: &str| "x\ty\nz".to_owned();
    for case in &cases {
        let res = if case.multiline {
            booking_tests::Resp::from(request(&api, case, Some(&free))).await
        } else {
            booking_tests::Resp::from(request(&api, case, None)).await
        };
        assert!(
            res.status.is_success(),
            "{} {} (valid) answered {}: {}",
            case.method,
            case.path,
            res.status,
            res.text()
        );
        if case.multiline {
            let echoed = match case.field {
                "reason" if case.path.ends_with("/cancel") => &res.json["cancel_reason"],
                field => &res.json[field],
            };
            assert_eq!(echoed, "x\ty\nz", "{} {}", case.method, case.path);
        }
    }
    // Read back from the store.
    let bookings = api.list_all("/v1/bookings?status=cancelled", 50).await;
    assert_eq!(bookings[0]["cancel_reason"], "x\ty\nz");
    let notes: Vec<_> = api.list_all("/v1/bookings", 50).await;
    assert!(notes.iter().any(|b| b["notes"] == "x\ty\nz"));
    let providers = api.list_all("/v1/providers", 50).await;
    let mut reasons = Vec::new();
    for p in &providers {
        let path = format!("/v1/providers/{}/time-off", p["id"].as_str().unwrap());
        reasons.extend(api.list_all(&path, 50).await);
    }
    assert!(
        reasons.iter().any(|t| t["reason"] == "x\ty\nz"),
        "{reasons:?}"
    );
    let off = &reasons[0];
    api.delete(&format!(
        "/v1/providers/{}/time-off/off_%00",
        off["provider_id"].as_str().unwrap()
    ))
    .await
    .expect_status(404);

    // The Idempotency-Key header can carry one control character: tab.
    let res = booking_tests::Resp::from(
        api.request(Method::POST, "/v1/bookings")
            .header("Idempotency-Key", "a\tb")
            .json(&booking(&at(3, 0))),
    )
    .await;
    res.expect_validation_of("Idempotency-Key");
    // Ids in paths are ids: one with a control character is simply unknown.
    for path in [
        "/v1/services/srv_%00",
        "/v1/bookings/bk_%01",
        "/v1/webhooks/wh_%7F",
    ] {
        api.get(path).await.expect_status(404);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_are_refused_in_every_text_field_on_sqlite() {
    control_characters_are_refused_everywhere(&sqlite_server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn control_characters_are_refused_in_every_text_field_on_postgres() {
    let db = Database::create(&pg::admin_url());
    control_characters_are_refused_everywhere(&postgres_server(&db)).await;
}

/// The order on `POST /v1/bookings`, as documented: the `Idempotency-Key`
/// header is checked before anything counts, the body after the rate limiter
/// has counted the request.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_booking_body_counts_against_the_rate_limit() {
    let server = TestServer::start_with(&[("BOOKING_RATE_BOOKINGS", "2/minute")]);
    let api = server.api("acme");
    api.create_service(&around_the_clock()).await;
    let bad = booking(&at(0, 0).replace('T', "\u{0}T"));
    for _ in 0..3 {
        let res = booking_tests::Resp::from(
            api.request(Method::POST, "/v1/bookings")
                .header("Idempotency-Key", "a\tb")
                .json(&booking(&at(0, 0))),
        )
        .await;
        res.expect_validation_of("Idempotency-Key");
    }
    for _ in 0..2 {
        api.post("/v1/bookings", &bad)
            .await
            .expect_validation_of("scheduled_at");
    }
    api.post("/v1/bookings", &bad)
        .await
        .expect_error(429, "RATE_LIMITED");
}

// ------------------------------------------------------------- time input

/// Instants refused with the reason: offsets beyond ±23:59, years outside
/// 1-9999 (never echoed back in an invalid form), and instants past the
/// last one represented.
const BAD_INSTANTS: &[(&str, &str)] = &[
    ("2030-01-07T10:00:00+25:00", "offset"),
    ("2030-01-07T10:00:00-24:00", "offset"),
    ("0000-06-01T10:00:00Z", "year"),
    ("-000001-01-01T00:00:00Z", "year"),
    ("-002024-01-01T00:00:00Z", "year"),
    ("+002030-01-07T10:00:00Z", "year"),
    ("+010000-01-01T00:00:00Z", "year"),
    ("0001-01-01T00:30:00+01:00", "0001-01-01T00:00:00Z"),
    ("9999-12-31T00:00:00Z", "9999-12-30T22:00:00Z"),
    ("9999-12-31T23:59:59-05:00", "9999-12-30T22:00:00Z"),
];

/// Asserts a VALIDATION_ERROR on `field` whose message names the rule, and
/// that nothing in the answer repeats the bad instant.
#[track_caller]
fn refused(res: &booking_tests::Resp, field: &str, bad: &str, rule: &str) {
    let details = res.expect_error(400, "VALIDATION_ERROR");
    assert_eq!(details["field"], field, "{bad}: {}", res.text());
    let message = res.json["error"]["message"].as_str().unwrap();
    assert!(message.contains(rule), "{bad}: {message}");
    assert!(!res.text().contains(bad), "{bad} echoed: {}", res.text());
}

async fn time_input_is_checked(server: &TestServer) {
    let api = server.api("acme");
    api.create_service(&around_the_clock()).await;
    let booked = api
        .post("/v1/bookings", &booking(&at(0, 9)))
        .await
        .expect_status(201)
        .json;
    let id = booked["id"].as_str().unwrap();
    let provider = api.post("/v1/providers", &json!({"name": "P"})).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for &(bad, rule) in BAD_INSTANTS {
        refused(
            &api.post("/v1/bookings", &booking(bad)).await,
            "scheduled_at",
            bad,
            rule,
        );
        refused(
            &api.post(
                &format!("/v1/bookings/{id}/reschedule"),
                &json!({"scheduled_at": bad}),
            )
            .await,
            "scheduled_at",
            bad,
            rule,
        );
        for field in ["from", "to"] {
            let res = booking_tests::Resp::from(
                api.request(Method::GET, "/v1/bookings")
                    .query(&[(field, bad)]),
            )
            .await;
            refused(&res, field, bad, rule);
        }
        refused(
            &api.availability("srv_all", bad, &at(1, 0)).await,
            "from",
            bad,
            rule,
        );
        refused(
            &api.availability("srv_all", &at(0, 0), bad).await,
            "to",
            bad,
            rule,
        );
        let calendar = json!({"type": "google", "calendar_id": "primary",
                              "credentials": {"access_token": "a", "expires_at": bad}});
        refused(
            &api.post(&format!("/v1/providers/{provider}/calendars"), &calendar)
                .await,
            "credentials.expires_at",
            bad,
            rule,
        );
    }
    // Dates in availability: year 0 is refused too.
    refused(
        &api.availability("srv_all", "0000-12-31", "0001-01-02")
            .await,
        "from",
        "0000-12-31",
        "year",
    );
    // The edges themselves are taken: offsets of ±23:59 and year 1.
    let next_day = booking_tests::add_days(future_monday(), 1);
    let eastern = api
        .post(
            "/v1/bookings",
            &booking(&format!("{next_day}T10:59:00+23:59")),
        )
        .await
        .expect_status(201)
        .json;
    assert_eq!(eastern["scheduled_at"], at(0, 11));
    let day_before = booking_tests::add_days(future_monday(), -1);
    let moved = api
        .post(
            &format!("/v1/bookings/{id}/reschedule"),
            &json!({"scheduled_at": format!("{day_before}T12:01:00-23:59")}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(moved["scheduled_at"], at(0, 12));
    let past = api
        .post("/v1/bookings", &booking("0001-01-01T00:00:00Z"))
        .await;
    let details = past.expect_error(409, "BOOKING_CONFLICT");
    assert_eq!(details["requested_time"], "0001-01-01T00:00:00Z");
    // The latest day: a booking there is stored and read back as RFC 3339.
    let last = api
        .post("/v1/bookings", &booking("9999-12-29T22:00:00Z"))
        .await
        .expect_status(201)
        .json;
    let read = api
        .get(&format!("/v1/bookings/{}", last["id"].as_str().unwrap()))
        .await
        .expect_status(200)
        .json;
    assert_eq!(read["end_at"], "9999-12-29T23:00:00Z");
    api.availability("srv_all", "9999-12-29", "9999-12-30")
        .await
        .expect_validation_of("to");
}

#[tokio::test(flavor = "multi_thread")]
async fn time_input_is_rfc_3339_within_years_1_to_9999_on_sqlite() {
    time_input_is_checked(&sqlite_server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn time_input_is_rfc_3339_within_years_1_to_9999_on_postgres() {
    let db = Database::create(&pg::admin_url());
    time_input_is_checked(&postgres_server(&db)).await;
}

// ------------------------------------------------------------------- URLs

async fn urls_are_normalised_and_need_a_host(server: &TestServer) {
    let api = server.api("acme");
    let provider = api.post("/v1/providers", &json!({"name": "P"})).await.json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let calendars = format!("/v1/providers/{provider}/calendars");
    for no_host in [
        "https:///nohost",
        "https:/nohost",
        "https:nohost",
        "http:///x/y",
        "https:\\\\\\x",
    ] {
        let res = api.post("/v1/webhooks", &json!({"url": no_host})).await;
        res.expect_validation_of("url");
        assert!(res.text().contains("must have a host"), "{}", res.text());
        api.post(&calendars, &json!({"type": "ics", "url": no_host}))
            .await
            .expect_validation_of("url");
    }
    let hook = api
        .post(
            "/v1/webhooks",
            &json!({"url": "HTTP://127.0.0.1:9/a/../Hook?x=1"}),
        )
        .await
        .expect_status(201)
        .json;
    assert_eq!(hook["url"], "http://127.0.0.1:9/Hook?x=1");
    let id = hook["id"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/v1/webhooks/{id}"))
            .await
            .expect_status(200)
            .json["url"],
        "http://127.0.0.1:9/Hook?x=1"
    );
    let patched = api
        .patch(
            &format!("/v1/webhooks/{id}"),
            &json!({"url": "http://LocalHost:80"}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(patched["url"], "http://localhost/");
    let listed = api.list_all("/v1/webhooks", 50).await;
    assert_eq!(listed[0]["url"], "http://localhost/");
    api.patch(
        &format!("/v1/webhooks/{id}"),
        &json!({"url": "https:///nohost"}),
    )
    .await
    .expect_validation_of("url");
    api.post(
        &calendars,
        &json!({"type": "ics", "url": "webcal://127.0.0.1:9/x/../cal.ics"}),
    )
    .await
    .expect_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn urls_are_stored_normalised_and_need_a_host_on_sqlite() {
    urls_are_normalised_and_need_a_host(&sqlite_server()).await;
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn urls_are_stored_normalised_and_need_a_host_on_postgres() {
    let db = Database::create(&pg::admin_url());
    urls_are_normalised_and_need_a_host(&postgres_server(&db)).await;
}

#[test]
fn configured_urls_without_a_host_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("b.db").display());
    for (var, value) in [
        ("BOOKING_GOOGLE_API_URL", "https:///nohost"),
        (
            "BOOKING_GOOGLE_TOKEN_URL",
            "https:/oauth2.googleapis.com/token",
        ),
        ("BOOKING_CALENDLY_API_URL", "https:api.calendly.com"),
        ("BOOKING_PUBLIC_URL", "https:///book"),
    ] {
        let out = booking_tests::command(&url)
            .arg("serve")
            .env("BOOKING_BIND", "127.0.0.1:0")
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}={value} started");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}={value}: {stderr}");
        if value.contains("://") {
            assert!(stderr.contains("host"), "{var}={value}: {stderr}");
        }
    }
}

// ------------------------------------------ answers of the HTTP codec

/// Sends `request` on a fresh connection and reads the answer until the
/// server closes; the status, the headers (lower-case names) and the body.
fn raw(server: &TestServer, request: &[u8]) -> (u16, Vec<(String, String)>, String) {
    let addr = server.base_url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The server may answer and close before it has read everything.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut chunk = [0u8; 65_536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            // A reset would lose the answer on a real network.
            Err(e) => panic!(
                "read failed (reset?) after {:?}: {e}",
                String::from_utf8_lossy(&answer)
            ),
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

/// Asserts an answer in the error shape with `status` and `code`, whole
/// (its `content-length`), with a request id.
#[track_caller]
fn shaped(answer: &(u16, Vec<(String, String)>, String), status: u16, code: &str) {
    let (got, headers, body) = answer;
    assert_eq!(*got, status, "{body}");
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(
        header("content-length"),
        Some(body.len().to_string().as_str())
    );
    assert!(header("x-request-id").is_some_and(|id| id.starts_with("req_")));
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body:?}"));
    assert_error_shape(&json, body);
    assert_eq!(json["error"]["code"], code, "{body}");
}

/// A 100 KB path, 200 header fields, a 140 KB header and a malformed
/// request line: the HTTP codec refuses them before any route runs, and
/// each answer is in the error shape.
#[test]
fn answers_of_the_http_codec_use_the_error_shape() {
    let server = TestServer::start();
    let long_path = format!(
        "GET /v1/{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(100_000)
    );
    shaped(&raw(&server, long_path.as_bytes()), 414, "URI_TOO_LONG");
    let longer_path = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(200_000));
    shaped(&raw(&server, longer_path.as_bytes()), 414, "URI_TOO_LONG");
    let many: String = (0..200).map(|i| format!("X-Header-{i}: v\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    shaped(
        &raw(&server, many.as_bytes()),
        431,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
    );
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(140_000)
    );
    shaped(
        &raw(&server, big.as_bytes()),
        431,
        "REQUEST_HEADER_FIELDS_TOO_LARGE",
    );
    let malformed = raw(&server, b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n");
    shaped(&malformed, 400, "VALIDATION_ERROR");
    assert_eq!(
        serde_json::from_str::<Value>(&malformed.2).unwrap()["error"]["details"]["field"],
        "request"
    );
    // After an answer on a kept-alive connection, the next head is judged
    // on its own; ordinary answers are untouched.
    let pipelined = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n{many}");
    let (status, _, body) = raw(&server, pipelined.as_bytes());
    assert_eq!(status, 200);
    let (first, second) = body.split_once("HTTP/1.1 ").unwrap();
    assert_eq!(first, r#"{"status":"ok"}"#);
    assert!(second.starts_with("431 "), "{second}");
    assert!(
        second.contains("REQUEST_HEADER_FIELDS_TOO_LARGE"),
        "{second}"
    );
    // 96 fields still reach the application.
    let most: String = (0..90).map(|i| format!("X-Header-{i}: v\r\n")).collect();
    let (status, ..) = raw(
        &server,
        format!("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{most}\r\n").as_bytes(),
    );
    assert_eq!(status, 200);
}

// ------------------------------------------------------------------- logs

/// A server whose stderr is a pipe, with `NO_COLOR` unset (empty counts as
/// unset) and everything logged: not one ESC byte.
#[tokio::test(flavor = "multi_thread")]
async fn logs_piped_to_a_file_carry_no_colour_codes() {
    let server = TestServer::start_with(&[("NO_COLOR", ""), ("BOOKING_LOG", "debug")]);
    let api = server.api("acme");
    api.get("/v1/services").await.expect_status(200);
    api.get("/nowhere").await.expect_status(404);
    assert!(server.wait_for_log("listening on", Duration::from_secs(5)));
    let logs = server.logs();
    assert!(logs.lines().count() > 3, "too little logged: {logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in piped logs: {logs:?}"
    );
}

/// On a terminal (`script` gives one) logs are coloured, unless `NO_COLOR`.
#[test]
fn logs_on_a_terminal_are_coloured_unless_no_color() {
    // `script` comes with util-linux (Debian's essential bsdutils): a missing
    // one fails the test rather than skipping it silently.
    std::process::Command::new("script")
        .arg("--version")
        .output()
        .expect("the `script` command (util-linux) gives the test a terminal");
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("b.db").display());
    let script = |no_color: Option<&str>| {
        let mut cmd = std::process::Command::new("script");
        let template = booking_tests::command(&db);
        for (k, v) in template.get_envs() {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.env_remove("NO_COLOR")
            .env("BOOKING_LOG", "info")
            .env("BOOKING_BIND", "127.0.0.1:0");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        // The server stops by itself on SIGTERM after three seconds.
        let bin = booking_tests::binary();
        let out = cmd
            .args([
                "-qec",
                &format!("timeout -s TERM 3 '{}' serve", bin.display()),
                "/dev/null",
            ])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            text.contains("listening on"),
            "nothing logged on the terminal: {text:?}"
        );
        text
    };
    assert!(script(None).contains('\u{1b}'), "no colour on a terminal");
    assert!(
        !script(Some("1")).contains('\u{1b}'),
        "colour despite NO_COLOR"
    );
}
