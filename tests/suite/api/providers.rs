//! Providers: create, list (with the default one and paging), get, patch, and
//! services naming a provider.

use std::collections::HashSet;

use booking_tests::{future_monday, ny, seed_with};
use serde_json::json;

use super::setup;

#[tokio::test(flavor = "multi_thread")]
async fn create_get_patch_a_provider() {
    let (_server, api) = setup();
    let created = api
        .post(
            "/v1/providers",
            &json!({"name": "Dr. Ann Smith", "email": "ann@example.com"}),
        )
        .await
        .expect_status(201)
        .json;
    let id = created["id"].as_str().expect("id");
    assert!(id.starts_with("prv_"), "{created}");
    assert_eq!(created["name"], "Dr. Ann Smith");
    assert_eq!(created["email"], "ann@example.com");

    let got = api
        .get(&format!("/v1/providers/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(got, created);

    let patched = api
        .patch(
            &format!("/v1/providers/{id}"),
            &json!({"name": "Dr. Ann Jones"}),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(patched["id"], id);
    assert_eq!(patched["name"], "Dr. Ann Jones");
    assert_eq!(patched["email"], "ann@example.com", "untouched fields stay");
    let got = api
        .get(&format!("/v1/providers/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(got["name"], "Dr. Ann Jones");

    // Without an email; bad values are refused.
    let bare = api
        .post("/v1/providers", &json!({"name": "Room 1"}))
        .await
        .expect_status(201)
        .json;
    assert!(bare["email"].is_null(), "{bare}");
    api.post("/v1/providers", &json!({"name": ""}))
        .await
        .expect_validation_of("name");
    api.post("/v1/providers", &json!({"name": "X", "email": "nope"}))
        .await
        .expect_validation_of("email");
    api.patch(&format!("/v1/providers/{id}"), &json!({"email": "nope"}))
        .await
        .expect_validation_of("email");
    let cleared = api
        .patch(&format!("/v1/providers/{id}"), &json!({"email": null}))
        .await
        .expect_status(200)
        .json;
    assert!(cleared["email"].is_null(), "{cleared}");
    assert_eq!(cleared["name"], "Dr. Ann Jones");
    api.get("/v1/providers/prv_nope")
        .await
        .expect_error(404, "NOT_FOUND");
    api.patch("/v1/providers/prv_nope", &json!({"name": "x"}))
        .await
        .expect_error(404, "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_has_the_default_provider_and_pages_without_duplicates() {
    let (_server, api) = setup();
    let initial = api.get("/v1/providers").await.expect_status(200).json;
    let data = initial["data"].as_array().expect("data");
    assert_eq!(
        data.len(),
        1,
        "keys create makes one default provider: {initial}"
    );
    assert!(initial["next_cursor"].is_null(), "{initial}");
    let default_id = data[0]["id"].as_str().expect("id").to_owned();
    assert!(default_id.starts_with("prv_"));

    let mut created = vec![default_id.clone()];
    for i in 0..4 {
        let p = api
            .post("/v1/providers", &json!({"name": format!("Provider {i}")}))
            .await
            .expect_status(201)
            .json;
        created.push(p["id"].as_str().expect("id").to_owned());
    }
    let walked = api.list_all("/v1/providers", 1).await;
    let ids: Vec<String> = walked
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 5, "duplicates while paging: {ids:?}");
    assert_eq!(unique, created.iter().collect::<HashSet<_>>());
    // The order is stable: the same walk twice, and one big page agree.
    let again = api.list_all("/v1/providers", 2).await;
    let big = api.list_all("/v1/providers", 200).await;
    assert_eq!(walked, again);
    assert_eq!(walked, big);

    // A service without provider_id uses the default provider.
    let service = api.create_seed_service().await;
    assert_eq!(service["provider_id"], default_id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn services_book_their_own_provider() {
    let (_server, api) = setup();
    let default = api.create_seed_service().await;
    let ann = api
        .post("/v1/providers", &json!({"name": "Ann"}))
        .await
        .expect_status(201)
        .json;
    let ann_id = ann["id"].as_str().expect("id");
    let svc = api
        .create_service(&seed_with(&json!({"id": "srv_ann", "provider_id": ann_id})))
        .await;
    assert_eq!(svc["provider_id"], ann_id);
    assert_ne!(svc["provider_id"], default["provider_id"]);
    let got = api
        .get("/v1/services/srv_ann")
        .await
        .expect_status(200)
        .json;
    assert_eq!(got["provider_id"], ann_id);

    // Different providers: the same time is bookable on both.
    let at = ny(future_monday(), 10, 0);
    let a = api.book_ok("srv_consultation", &at).await;
    let b = api.book_ok("srv_ann", &at).await;
    assert_eq!(a["provider_id"], default["provider_id"]);
    assert_eq!(b["provider_id"], ann_id);

    // Unknown provider ids are refused, naming the field.
    for bad in ["prv_doesnotexist", "nope"] {
        api.post(
            "/v1/services",
            &seed_with(&json!({"id": "srv_bad", "provider_id": bad})),
        )
        .await
        .expect_validation_of("provider_id");
    }
    api.patch(
        "/v1/services/srv_ann",
        &json!({"provider_id": "prv_doesnotexist"}),
    )
    .await
    .expect_validation_of("provider_id");
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_default_to_50_per_page() {
    let (_server, api) = setup();
    for i in 0..50 {
        api.post("/v1/providers", &json!({"name": format!("P{i}")}))
            .await
            .expect_status(201);
    }
    let page = api.get("/v1/providers").await.expect_status(200).json;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(50), "51 exist");
    let cursor = page["next_cursor"].as_str().expect("a next page");
    let rest = api
        .get(&format!("/v1/providers?cursor={cursor}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(1), "{rest}");
    assert!(rest["next_cursor"].is_null(), "{rest}");
}
