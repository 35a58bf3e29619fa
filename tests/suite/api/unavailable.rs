//! The SQLite store becoming unavailable and coming back: 503 UNAVAILABLE
//! with `Retry-After`, `/readyz` 503, `/healthz` 200, and recovery without a
//! restart. (The same on Postgres is in `postgres.rs`.)

use std::time::{Duration, Instant};

use booking_tests::{Api, Resp, TestServer, booking_body, fmt_utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use serde_json::{Value, json};

/// Another process's connection holding the database's write lock (as a
/// long `VACUUM` or a forgotten `sqlite3` session in a transaction would).
/// Dropping it lets the lock go.
fn hold_write_lock(database_url: &str) -> SqliteConnection {
    let path = database_url.strip_prefix("sqlite://").unwrap();
    let mut conn = SqliteConnection::establish(path).unwrap();
    // Wait for the server's own short transactions, then keep the lock.
    conn.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE;")
        .unwrap();
    conn
}

/// Asserts 503 UNAVAILABLE in the error shape with `Retry-After` in seconds.
#[track_caller]
fn assert_unavailable(res: &Resp, what: &str) {
    res.expect_error(503, "UNAVAILABLE");
    let retry: u64 = res
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After: {:?}", res.headers))
        .parse()
        .unwrap_or_else(|_| panic!("{what}: Retry-After is not whole seconds"));
    assert!(retry >= 1, "{what}: Retry-After {retry}");
}

/// A second service, written while the store is locked and after.
fn other_service() -> Value {
    json!({
        "id": "srv_other", "name": "Other", "duration": 30,
        "price": {"amount": 10, "currency": "EUR", "type": "flat"},
        "availability": {"days": ["monday"], "hours": {"start": "09:00", "end": "17:00"},
                         "timezone": "UTC"}
    })
}

async fn wait_ready(api: &Api, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let res = api.get("/readyz").await;
        if res.status.as_u16() == 200 {
            assert_eq!(res.json["status"], "ok", "{}", res.text());
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still {} after {within:?}: {}",
            res.status,
            res.text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_sqlite_database_is_503_and_the_server_recovers_by_itself() {
    let server = TestServer::start();
    let api = server.api("acme");
    api.create_service(&json!({
        "id": "srv_hour", "name": "Hour", "duration": 60,
        "price": {"amount": 100, "currency": "EUR", "type": "flat"},
        "availability": {
            "days": ["monday","tuesday","wednesday","thursday","friday","saturday","sunday"],
            "hours": {"start": "00:00", "end": "24:00"}, "timezone": "UTC"
        }
    }))
    .await;
    // Whole hours from two days on.
    let now = jiff::Timestamp::now().as_second();
    let base = now - now.rem_euclid(3600) + 48 * 3600;
    let hour = |h: i64| fmt_utc(jiff::Timestamp::from_second(base + 3600 * h).unwrap());
    let accepted = api.book_ok("srv_hour", &hour(0)).await;
    api.get("/readyz").await.expect_status(200);

    let lock = hold_write_lock(&server.database_url);
    let refused_body = booking_body("srv_hour", &hour(2));
    let other = other_service();
    // Each of these waits out the store's busy timeout; side by side.
    let (booking, service, ready) = tokio::join!(
        api.book_idempotent("during-the-outage", &refused_body),
        api.post("/v1/services", &other),
        api.get("/readyz"),
    );
    assert_unavailable(&booking, "POST /v1/bookings");
    assert_eq!(
        booking.header("ratelimit-policy"),
        Some("\"bookings\";q=10000;w=60"),
        "{:?}",
        booking.headers
    );
    assert_unavailable(&service, "POST /v1/services");
    assert_unavailable(&ready, "GET /readyz");
    let health = api.get("/healthz").await.expect_status(200);
    assert_eq!(health.json["status"], "ok", "the process itself is up");

    drop(lock);
    wait_ready(&api, Duration::from_secs(20)).await;
    // The refused request left nothing behind: not the booking, and not its
    // Idempotency-Key (a 5xx is not stored), so the client's retry succeeds.
    let retried = api
        .book_idempotent("during-the-outage", &refused_body)
        .await
        .expect_status(201);
    assert!(retried.header("idempotent-replayed").is_none());
    assert_eq!(retried.json["scheduled_at"], hour(2));
    api.post("/v1/services", &other_service())
        .await
        .expect_status(201);
    // Nothing accepted before the outage was lost.
    let id = accepted["id"].as_str().unwrap();
    api.get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200);
    assert_eq!(api.list_all("/v1/bookings", 50).await.len(), 2);
    assert!(!server.logs().contains("panicked"), "{}", server.logs());
}
