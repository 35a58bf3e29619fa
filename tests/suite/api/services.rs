//! Services: create, get, list, patch, archive, money.

use booking_tests::{future_monday, ny, seed_service, seed_with};
use serde_json::json;

use super::{setup, setup_seed};

#[tokio::test(flavor = "multi_thread")]
async fn create_returns_the_seed_shape_and_get_agrees() {
    let (_server, api) = setup();
    let created = api.create_seed_service().await;
    let seed = seed_service();
    for field in ["id", "name", "description", "duration", "price"] {
        assert_eq!(created[field], seed[field], "{field}: {created}");
    }
    // The seed's availability exactly, plus what answers always carry since
    // issue 14 (api.md, "Opening hours"): the same hours as `weekly`, and
    // no `overrides`.
    let mut availability = seed["availability"].clone();
    let open = json!([{"start": "09:00", "end": "17:00"}]);
    availability["weekly"] = json!({
        "monday": open, "tuesday": open, "wednesday": open, "thursday": open,
        "friday": open, "saturday": [], "sunday": []
    });
    availability["overrides"] = json!([]);
    assert_eq!(created["availability"], availability, "{created}");
    assert!(
        created["provider_id"]
            .as_str()
            .is_some_and(|p| p.starts_with("prv_")),
        "{created}"
    );
    assert_eq!(created["buffer_before"], 0);
    assert_eq!(created["buffer_after"], 0);
    assert_eq!(created["minimum_notice"], 0);
    assert_eq!(created["auto_confirm"], false);

    let got = api
        .get("/v1/services/srv_consultation")
        .await
        .expect_status(200)
        .json;
    assert_eq!(got, created);

    // Without an id, one is generated with the prefix.
    let mut anonymous = seed_service();
    anonymous.as_object_mut().expect("object").remove("id");
    let generated = api.create_service(&anonymous).await;
    let id = generated["id"].as_str().expect("id");
    assert!(
        id.starts_with("srv_") && id.len() > "srv_".len() + 10,
        "{id}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_shows_services_and_pages() {
    let (_server, api) = setup();
    for i in 0..3 {
        api.create_service(&seed_with(&json!({"id": format!("srv_s{i}")})))
            .await;
    }
    let all = api.list_all("/v1/services", 1).await;
    let mut ids: Vec<&str> = all.iter().map(|s| s["id"].as_str().expect("id")).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["srv_s0", "srv_s1", "srv_s2"]);
    let page = api
        .get("/v1/services?limit=2")
        .await
        .expect_status(200)
        .json;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(2));
    assert!(page["next_cursor"].is_string(), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prices_round_trip_exactly() {
    let (_server, api) = setup();
    let cases = [
        (json!(149.99), "USD"),
        (json!(0.1), "USD"),
        (json!(150), "USD"),
        (json!(1234567.89), "EUR"),
        (json!(1000), "JPY"),
        (json!(1.234), "BHD"),
    ];
    for (i, (amount, currency)) in cases.into_iter().enumerate() {
        let body = seed_with(&json!({
            "id": format!("srv_p{i}"),
            "price": {"amount": amount, "currency": currency, "type": "flat"},
        }));
        let created = api.create_service(&body).await;
        assert_eq!(created["price"]["amount"], amount, "{created}");
        assert_eq!(created["price"]["currency"], currency);
        let got = api
            .get(&format!("/v1/services/srv_p{i}"))
            .await
            .expect_status(200)
            .json;
        assert_eq!(got["price"]["amount"], amount, "{got}");
        // The exact JSON text, not a float approximation.
        let text = serde_json::to_string(&got["price"]["amount"]).expect("json");
        assert_eq!(text, amount.to_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_changes_only_what_it_names() {
    let (_server, api) = setup_seed().await;
    let before = api
        .get("/v1/services/srv_consultation")
        .await
        .expect_status(200)
        .json;
    let patched = api
        .patch(
            "/v1/services/srv_consultation",
            &json!({
                "name": "Long Consultation",
                "duration": 90,
                "price": {"amount": 149.99, "currency": "EUR", "type": "flat"},
                "buffer_after": 15,
                "auto_confirm": true,
            }),
        )
        .await
        .expect_status(200)
        .json;
    assert_eq!(patched["id"], "srv_consultation");
    assert_eq!(patched["name"], "Long Consultation");
    assert_eq!(patched["duration"], 90);
    assert_eq!(
        patched["price"],
        json!({"amount": 149.99, "currency": "EUR", "type": "flat"})
    );
    assert_eq!(patched["buffer_after"], 15);
    assert_eq!(patched["auto_confirm"], true);
    for unchanged in [
        "description",
        "availability",
        "provider_id",
        "buffer_before",
        "minimum_notice",
    ] {
        assert_eq!(patched[unchanged], before[unchanged], "{unchanged}");
    }
    let got = api
        .get("/v1/services/srv_consultation")
        .await
        .expect_status(200)
        .json;
    assert_eq!(got, patched);

    // Clearing the description; invalid patches change nothing.
    let cleared = api
        .patch(
            "/v1/services/srv_consultation",
            &json!({"description": null}),
        )
        .await
        .expect_status(200)
        .json;
    assert!(cleared["description"].is_null(), "{cleared}");
    api.patch("/v1/services/srv_consultation", &json!({"duration": 0}))
        .await
        .expect_validation_of("duration");
    api.patch("/v1/services/srv_consultation", &json!({"id": "srv_other"}))
        .await
        .expect_validation_of("id");
    let got = api
        .get("/v1/services/srv_consultation")
        .await
        .expect_status(200)
        .json;
    assert_eq!(got["duration"], 90);
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_archives_the_service_and_keeps_its_bookings() {
    let (_server, api) = setup_seed().await;
    let booking = api
        .book_ok("srv_consultation", &ny(future_monday(), 10, 0))
        .await;
    let id = booking["id"].as_str().expect("id");

    let res = api
        .delete("/v1/services/srv_consultation")
        .await
        .expect_status(204);
    assert!(res.bytes.is_empty(), "204 has no body: {}", res.text());
    api.get("/v1/services/srv_consultation")
        .await
        .expect_error(404, "INVALID_SERVICE");
    api.delete("/v1/services/srv_consultation")
        .await
        .expect_error(404, "INVALID_SERVICE");
    let list = api.get("/v1/services").await.expect_status(200).json;
    assert_eq!(list["data"], json!([]), "{list}");

    api.patch("/v1/services/srv_consultation", &json!({"name": "Back"}))
        .await
        .expect_error(404, "INVALID_SERVICE");
    let monday = future_monday().to_string();
    api.availability("srv_consultation", &monday, &monday)
        .await
        .expect_error(404, "INVALID_SERVICE");
    let kept = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(kept["id"], id);
    assert_eq!(kept["service"], "srv_consultation");
    let listed = api.get("/v1/bookings").await.expect_status(200).json;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    // Its lifecycle goes on: it can still be confirmed and cancelled.
    api.post_empty(&format!("/v1/bookings/{id}/confirm"))
        .await
        .expect_status(200);
    let cancelled = api
        .post_empty(&format!("/v1/bookings/{id}/cancel"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(cancelled["status"], "cancelled");
}
