//! `booking-api backup <file>`: an online copy of the SQLite database, and a
//! server restored from it (the steps of docs/operations.md, "Backups").

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use booking_tests::{TestServer, add_days, future_monday, ny, run_cli};
use serde_json::json;

/// The database file behind a `sqlite://` URL.
fn db_path(database_url: &str) -> PathBuf {
    PathBuf::from(
        database_url
            .strip_prefix("sqlite://")
            .expect("a sqlite:// URL"),
    )
}

fn backup(database_url: &str, dest: &Path) -> std::process::Output {
    run_cli(
        database_url,
        &["backup", dest.to_str().expect("UTF-8 path")],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_under_load_restores_into_a_working_server() {
    let mut server = TestServer::start();
    let (key, key_id) = server.key_for("acme");
    let api = server.api_with_key(&key, &key_id);
    api.create_seed_service().await;
    let monday = future_monday();
    let before = api.book_ok("srv_consultation", &ny(monday, 10, 0)).await;
    let hook = api
        .post(
            "/v1/webhooks",
            &json!({"url": "https://hooks.example.com/booking"}),
        )
        .await
        .expect_status(201);

    // Bookings keep arriving while the copy is taken.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let api = api.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut made = 0_u32;
            let mut slot: i64 = 0;
            // Weekday hours 09:00-17:00 in New York: 8 slots a day.
            while !stop.load(Ordering::Relaxed) && slot < 400 {
                let day = add_days(monday, 7 + slot / 8);
                let hour = 9 + i8::try_from(slot % 8).expect("0-7");
                let res = api.book("srv_consultation", &ny(day, hour, 0)).await;
                if res.status == 201 {
                    made += 1;
                }
                slot += 1;
            }
            made
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let copies = tempfile::tempdir().expect("tempdir");
    let dest = copies.path().join("nightly").join("booking-backup.db");
    let out = backup(&server.database_url, &dest);
    stop.store(true, Ordering::Relaxed);
    let made_meanwhile = writer.await.expect("writer task");
    assert!(
        out.status.success(),
        "backup failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("backed up") && stdout.contains("booking-backup.db"),
        "{stdout}"
    );
    assert!(made_meanwhile > 0, "the server kept taking bookings");
    // The server still answers after the copy.
    api.get(&format!(
        "/v1/bookings/{}",
        before["id"].as_str().unwrap_or_default()
    ))
    .await
    .expect_status(200);

    // A second backup to the same file is refused and leaves the copy alone.
    let size = std::fs::metadata(&dest).expect("the copy").len();
    let again = backup(&server.database_url, &dest);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(std::fs::metadata(&dest).expect("the copy").len(), size);

    // Restore (docs/operations.md): stop the server, put the copy in place
    // of the database file (with the secret key beside it, when there is
    // one), start the server.
    let live_dir = db_path(&server.database_url)
        .parent()
        .expect("a data dir")
        .to_owned();
    let key_file = live_dir.join("secret.key");
    let saved_key = std::fs::read(&key_file).ok();
    server.kill();
    let restored_dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(&dest, restored_dir.path().join("booking.db")).expect("copy the backup");
    if let Some(saved_key) = saved_key {
        std::fs::write(restored_dir.path().join("secret.key"), saved_key).expect("key");
    }
    let url = format!(
        "sqlite://{}",
        restored_dir.path().join("booking.db").display()
    );
    let restored = TestServer::start_on(&url, restored_dir, &[]);
    let api = restored.api_with_key(&key, &key_id);
    let id = before["id"].as_str().expect("booking id");
    let got = api
        .get(&format!("/v1/bookings/{id}"))
        .await
        .expect_status(200);
    assert_eq!(got.json["scheduled_at"], before["scheduled_at"]);
    let hook_id = hook.json["id"].as_str().expect("webhook id");
    api.get(&format!("/v1/webhooks/{hook_id}"))
        .await
        .expect_status(200);
    // The restored server takes new bookings, and refuses a taken time.
    api.book("srv_consultation", &ny(monday, 10, 0))
        .await
        .expect_error(409, "BOOKING_CONFLICT");
    api.book_ok("srv_consultation", &ny(add_days(monday, 1), 10, 0))
        .await;
}

#[test]
fn backup_refuses_a_missing_database_and_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.db");
    let url = format!("sqlite://{}", missing.display());
    let out = backup(&url, &dir.path().join("copy.db"));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no database"), "{stderr}");
    assert!(
        !missing.exists(),
        "the backup created the database it copies"
    );

    let out = backup(
        "postgres://user:pw@127.0.0.1:1/booking",
        &dir.path().join("pg.db"),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_dump"), "{stderr}");
    assert!(
        !stderr.contains("pw@"),
        "the password is not shown: {stderr}"
    );
}
