//! Tenant isolation: another account's key sees nothing of this one, on every route.

use booking_tests::{TestServer, booking_body, future_monday, ny, seed_with};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn another_account_gets_404_on_every_route() {
    let server = TestServer::start();
    let a = server.api("alpha");
    let b = server.api("beta");
    let monday = future_monday();

    let provider = a
        .post("/v1/providers", &json!({"name": "Ann"}))
        .await
        .expect_status(201)
        .json;
    let prv = provider["id"].as_str().expect("id").to_owned();
    a.create_service(&seed_with(&json!({"id": "srv_alpha", "provider_id": prv})))
        .await;
    let booking = a.book_ok("srv_alpha", &ny(monday, 9, 0)).await;
    let bk = booking["id"].as_str().expect("id").to_owned();

    // Providers.
    b.get(&format!("/v1/providers/{prv}"))
        .await
        .expect_error(404, "NOT_FOUND");
    b.patch(&format!("/v1/providers/{prv}"), &json!({"name": "Stolen"}))
        .await
        .expect_error(404, "NOT_FOUND");
    // Services.
    b.get("/v1/services/srv_alpha")
        .await
        .expect_error(404, "INVALID_SERVICE");
    b.patch("/v1/services/srv_alpha", &json!({"name": "Stolen"}))
        .await
        .expect_error(404, "INVALID_SERVICE");
    b.delete("/v1/services/srv_alpha")
        .await
        .expect_error(404, "INVALID_SERVICE");
    b.availability("srv_alpha", &monday.to_string(), &monday.to_string())
        .await
        .expect_error(404, "INVALID_SERVICE");
    b.post(
        "/v1/bookings",
        &booking_body("srv_alpha", &ny(monday, 10, 0)),
    )
    .await
    .expect_error(422, "INVALID_SERVICE");
    // A service of B naming A's provider is refused like an unknown provider.
    b.post(
        "/v1/services",
        &seed_with(&json!({"id": "srv_beta", "provider_id": prv})),
    )
    .await
    .expect_validation_of("provider_id");
    // Bookings.
    b.get(&format!("/v1/bookings/{bk}"))
        .await
        .expect_error(404, "NOT_FOUND");
    for action in ["confirm", "cancel", "complete"] {
        b.post_empty(&format!("/v1/bookings/{bk}/{action}"))
            .await
            .expect_error(404, "NOT_FOUND");
    }
    b.post(
        &format!("/v1/bookings/{bk}/reschedule"),
        &json!({"scheduled_at": ny(monday, 11, 0)}),
    )
    .await
    .expect_error(404, "NOT_FOUND");

    // Lists hold only B's own things.
    let providers = b.list_all("/v1/providers", 200).await;
    assert_eq!(
        providers.len(),
        1,
        "only B's default provider: {providers:?}"
    );
    assert_ne!(providers[0]["id"], prv.as_str());
    assert!(b.list_all("/v1/services", 200).await.is_empty());
    assert!(b.list_all("/v1/bookings", 200).await.is_empty());
    assert!(
        b.list_all(&format!("/v1/bookings?provider_id={prv}"), 200)
            .await
            .is_empty()
    );
    assert!(
        b.list_all("/v1/bookings?service=srv_alpha", 200)
            .await
            .is_empty()
    );

    // A's things are untouched by all of this.
    let still = a
        .get(&format!("/v1/bookings/{bk}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(still, booking);
    let svc = a
        .get("/v1/services/srv_alpha")
        .await
        .expect_status(200)
        .json;
    assert_eq!(svc["name"], "1-Hour Consultation");
    let p = a
        .get(&format!("/v1/providers/{prv}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(p["name"], "Ann");
    assert_eq!(a.list_all("/v1/providers", 200).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_service_id_and_time_are_independent_per_account() {
    let server = TestServer::start();
    let a = server.api("alpha");
    let b = server.api("beta");
    // The same chosen id in two accounts is no ALREADY_EXISTS.
    let sa = a.create_seed_service().await;
    let sb = b.create_seed_service().await;
    assert_ne!(sa["provider_id"], sb["provider_id"]);

    let monday = future_monday();
    let at = ny(monday, 9, 0);
    a.book_ok("srv_consultation", &at).await;
    // A's booking does not make the time busy for B.
    let slots = b
        .slot_starts("srv_consultation", &monday.to_string(), &monday.to_string())
        .await;
    assert!(slots.contains(&at), "{slots:?}");
    b.book_ok("srv_consultation", &at).await;
    // A archiving its service leaves B's alone.
    a.delete("/v1/services/srv_consultation")
        .await
        .expect_status(204);
    b.get("/v1/services/srv_consultation")
        .await
        .expect_status(200);
    b.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    assert_eq!(a.list_all("/v1/bookings", 200).await.len(), 1);
    assert_eq!(b.list_all("/v1/bookings", 200).await.len(), 2);
}
