//! Booking prices as the contract defines them: `hourly` is amount x duration
//! / 60 rounded to the currency's minor unit (half away from zero, see
//! docs/api.md), in currencies with 0 (JPY) and 3 (KWD) minor digits;
//! `custom` (like `flat`) is copied as the amount stands at booking time.

use booking_tests::{Api, add_days, future_monday, ny, seed_with};
use serde_json::{Value, json};

use super::setup;

/// Creates a service on the seed's hours with this duration and price.
async fn service(api: &Api, id: &str, duration: u32, price: Value) {
    api.create_service(&seed_with(
        &json!({"id": id, "duration": duration, "price": price}),
    ))
    .await;
}

/// The booking's `price` as `(amount as JSON text, currency)`.
fn price_of(booking: &Value) -> (String, String) {
    (
        booking["price"]["amount"].to_string(),
        booking["price"]["currency"]
            .as_str()
            .unwrap_or_else(|| panic!("price.currency: {booking}"))
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hourly_prices_round_to_the_minor_unit_of_jpy_and_kwd() {
    let (_server, api) = setup();
    let monday = future_monday();
    // (hourly amount, currency, minutes, expected amount x minutes / 60 rounded
    // to the minor unit, half away from zero).
    let cases: [(Value, &str, u32, &str); 6] = [
        // 1000 x 50 / 60 = 833.33... -> 833 (JPY has no minor unit).
        (json!(1000), "JPY", 50, "833"),
        // 1000 x 40 / 60 = 666.66... -> 667.
        (json!(1000), "JPY", 40, "667"),
        // 1001 x 30 / 60 = 500.5 -> 501.
        (json!(1001), "JPY", 30, "501"),
        // 10.001 x 50 / 60 = 8.33416... -> 8.334 (KWD has three digits).
        (json!(10.001), "KWD", 50, "8.334"),
        // 12.5 x 20 / 60 = 4.16666... -> 4.167.
        (json!(12.5), "KWD", 20, "4.167"),
        // 1.001 x 30 / 60 = 0.5005 -> 0.501.
        (json!(1.001), "KWD", 30, "0.501"),
    ];
    for (i, (amount, currency, minutes, expected)) in cases.iter().enumerate() {
        let id = format!("srv_hourly_{i}");
        service(
            &api,
            &id,
            *minutes,
            json!({"amount": amount, "currency": currency, "type": "hourly"}),
        )
        .await;
        // One booking per hour from 09:00 so that none overlaps another.
        let hour = 9 + i8::try_from(i).unwrap();
        let booking = api.book_ok(&id, &ny(monday, hour, 0)).await;
        assert_eq!(
            price_of(&booking),
            ((*expected).to_owned(), (*currency).to_owned()),
            "{amount} {currency}/hour for {minutes} min: {booking}"
        );
        assert_eq!(booking["duration"], *minutes);
        // Stored as answered.
        let bid = booking["id"].as_str().unwrap();
        let got = api
            .get(&format!("/v1/bookings/{bid}"))
            .await
            .expect_status(200)
            .json;
        assert_eq!(price_of(&got), price_of(&booking));
    }

    // A minor digit the currency does not have is refused on the service.
    api.post(
        "/v1/services",
        &seed_with(&json!({"id": "srv_bad_jpy",
            "price": {"amount": 1000.5, "currency": "JPY", "type": "hourly"}})),
    )
    .await
    .expect_validation_of("price.amount");
    api.post(
        "/v1/services",
        &seed_with(&json!({"id": "srv_bad_kwd",
            "price": {"amount": 1.0005, "currency": "KWD", "type": "hourly"}})),
    )
    .await
    .expect_validation_of("price.amount");
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_priced_bookings_carry_the_amount_as_it_stood() {
    let (_server, api) = setup();
    let monday = future_monday();
    // 90 minutes at a custom 249.99: not prorated (hourly would make it 374.99).
    service(
        &api,
        "srv_custom",
        90,
        json!({"amount": 249.99, "currency": "USD", "type": "custom"}),
    )
    .await;
    let got = api
        .get("/v1/services/srv_custom")
        .await
        .expect_status(200)
        .json;
    assert_eq!(got["price"]["type"], "custom", "{got}");
    let first = api.book_ok("srv_custom", &ny(monday, 9, 0)).await;
    assert_eq!(price_of(&first), ("249.99".to_owned(), "USD".to_owned()));
    assert_eq!(first["duration"], 90);
    assert_eq!(first["end_at"], ny(monday, 10, 30));

    // A custom JPY amount under an hour is not prorated either.
    service(
        &api,
        "srv_custom_jpy",
        20,
        json!({"amount": 5000, "currency": "JPY", "type": "custom"}),
    )
    .await;
    let jpy = api.book_ok("srv_custom_jpy", &ny(monday, 11, 0)).await;
    assert_eq!(price_of(&jpy), ("5000".to_owned(), "JPY".to_owned()));

    // The price is copied: changing the service's price later changes new
    // bookings only.
    api.patch(
        "/v1/services/srv_custom",
        &json!({"price": {"amount": 300, "currency": "EUR", "type": "custom"}}),
    )
    .await
    .expect_status(200);
    let second = api
        .book_ok("srv_custom", &ny(add_days(monday, 1), 9, 0))
        .await;
    assert_eq!(price_of(&second), ("300".to_owned(), "EUR".to_owned()));
    let id = first["id"].as_str().unwrap();
    let again = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200)
        .json;
    assert_eq!(price_of(&again), ("249.99".to_owned(), "USD".to_owned()));
}
