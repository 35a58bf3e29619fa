//! Operations endpoints, the OpenAPI document, docs and request ids.

use booking_tests::{Resp, TestServer};

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics_answer_without_a_key() {
    let server = TestServer::start();
    let client = server.client();

    let health = Resp::from(client.get(server.url("/healthz")))
        .await
        .expect_status(200);
    assert_eq!(health.json["status"], "ok", "{}", health.text());
    let ready = Resp::from(client.get(server.url("/readyz")))
        .await
        .expect_status(200);
    assert_eq!(ready.json["status"], "ok", "{}", ready.text());

    let metrics = Resp::from(client.get(server.url("/metrics")))
        .await
        .expect_status(200);
    assert!(
        metrics
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        metrics.headers
    );
    assert!(
        metrics.text().contains("http_requests_total"),
        "{}",
        metrics.text()
    );
}

/// The live `/openapi.json` describes exactly the routes the server mounts:
/// `booking_http::routes::ROUTES` is the list the actix app is built from,
/// so a route added without its OpenAPI description fails here. `HEAD` is
/// described by the `GET` beside it.
#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_is_3_1_and_describes_every_mounted_route() {
    use std::collections::BTreeSet;

    use booking_http::routes::{ROUTES, Verb};

    let server = TestServer::start();
    let doc = Resp::from(server.client().get(server.url("/openapi.json")))
        .await
        .expect_status(200)
        .json;
    let version = doc["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3.1."), "openapi = {version}");
    let paths = doc["paths"].as_object().expect("paths");
    let documented: BTreeSet<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("path item");
            item.keys()
                .filter(|k| ["get", "head", "post", "put", "patch", "delete"].contains(&k.as_str()))
                .map(|method| (method.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mounted: BTreeSet<(String, String)> = ROUTES
        .iter()
        .flat_map(|r| {
            r.methods
                .iter()
                .filter(|(verb, _)| *verb != Verb::Head)
                .map(|(verb, _)| (verb.as_str().to_owned(), r.path.to_owned()))
        })
        .collect();
    assert_eq!(
        mounted.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "mounted but missing in /openapi.json"
    );
    assert_eq!(
        documented.difference(&mounted).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in /openapi.json but not mounted"
    );
    // The contract's routes are among them.
    for route in [
        "GET /v1/providers",
        "POST /v1/services",
        "DELETE /v1/services/{id}",
        "GET /v1/services/{id}/availability",
        "POST /v1/bookings",
        "POST /v1/bookings/{id}/reschedule",
        "GET /v1/bookings/{id}.ics",
        "POST /v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
        "GET /calendar/feed/{token}.ics",
        "POST /v1/calendar/sync",
        "GET /metrics",
    ] {
        let (method, path) = route.split_once(' ').expect("method and path");
        assert!(
            mounted.contains(&(method.to_owned(), path.to_owned())),
            "{route} is not mounted"
        );
    }
    // Every mounted GET of a HEAD resource answers HEAD too.
    for resource in ROUTES {
        let verbs: Vec<Verb> = resource.methods.iter().map(|(v, _)| *v).collect();
        if verbs.contains(&Verb::Head) {
            assert!(
                verbs.contains(&Verb::Get),
                "HEAD {} without GET",
                resource.path
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docs_redirect_and_serve_html() {
    let server = TestServer::start();
    let client = server.client(); // does not follow redirects
    let redirect = Resp::from(client.get(server.url("/docs"))).await;
    assert!(
        redirect.status.is_redirection(),
        "GET /docs: {}",
        redirect.status
    );
    let location = redirect.header("location").expect("Location");
    assert!(location.ends_with("/docs/"), "Location: {location}");

    let page = Resp::from(client.get(server.url("/docs/")))
        .await
        .expect_status(200);
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{:?}",
        page.headers
    );
    assert!(
        page.text().to_lowercase().contains("<html"),
        "{}",
        page.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn request_id_is_echoed_or_generated_on_every_answer() {
    let server = TestServer::start();
    let api = server.api("acme");
    let client = server.client();

    // Echoed when sent, on success...
    let res = Resp::from(
        client
            .get(server.url("/healthz"))
            .header("X-Request-Id", "test-req-123"),
    )
    .await
    .expect_status(200);
    assert_eq!(res.header("x-request-id"), Some("test-req-123"));

    // ...and on errors (401, 404, 405).
    for req in [
        client.get(server.url("/v1/services")),
        api.request(reqwest::Method::GET, "/v1/no-such-route"),
        api.request(reqwest::Method::PUT, "/v1/services"),
    ] {
        let res = Resp::from(req.header("X-Request-Id", "err-req-456")).await;
        assert!(res.status.is_client_error(), "{}", res.status);
        assert_eq!(
            res.header("x-request-id"),
            Some("err-req-456"),
            "{} {:?}",
            res.status,
            res.headers
        );
    }

    // Generated when absent, on success and on errors, distinct per request.
    let a = Resp::from(client.get(server.url("/healthz"))).await;
    let b = Resp::from(client.get(server.url("/v1/services"))).await; // 401
    let a_id = a.header("x-request-id").expect("generated id").to_owned();
    let b_id = b
        .header("x-request-id")
        .expect("generated id on 401")
        .to_owned();
    assert!(!a_id.trim().is_empty() && !b_id.trim().is_empty());
    assert_ne!(a_id, b_id, "request ids must differ per request");
}
