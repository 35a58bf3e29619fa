//! The command line: keys, migrations, graceful shutdown.

use std::time::{Duration, Instant};

use booking_tests::{TestServer, parse_key_output, run_cli, sqlite_url};

#[tokio::test(flavor = "multi_thread")]
async fn two_keys_of_one_account_share_data_and_revoke_separately() {
    let server = TestServer::start();
    let (key1, id1) = server.key_for("acme");
    let (key2, id2) = server.key_for("acme");
    assert_ne!(key1, key2);
    assert_ne!(id1, id2);
    for key in [&key1, &key2] {
        assert!(key.starts_with("sk_"), "{key}");
        let tail = &key["sk_".len()..];
        assert!(tail.len() >= 32, "{key}");
        assert!(tail.chars().all(|c| c.is_ascii_alphanumeric()), "{key}");
    }
    assert!(id1.starts_with("key_") && id2.starts_with("key_"));

    let one = server.api_with_key(&key1, &id1);
    let two = server.api_with_key(&key2, &id2);
    one.create_seed_service().await;
    let seen = two
        .get("/v1/services/srv_consultation")
        .await
        .expect_status(200);
    assert_eq!(seen.json["id"], "srv_consultation");
    // One default provider for the account, not one per key.
    assert_eq!(two.list_all("/v1/providers", 200).await.len(), 1);

    server.revoke(&id1);
    one.get("/v1/services")
        .await
        .expect_error(401, "UNAUTHORIZED");
    two.get("/v1/services").await.expect_status(200);

    // Revoking an unknown key id fails.
    let out = server.cli(&["keys", "revoke", "key_doesnotexist"]);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn keys_create_prints_the_id_and_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(dir.path(), "keys.db");
    let out = run_cli(&url, &["keys", "create", "--account", "acme"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().expect("a first line");
    assert!(first.contains("key_") && first.contains("acme"), "{stdout}");
    let (key, key_id) = parse_key_output(&stdout);
    assert!(key.starts_with("sk_") && key_id.starts_with("key_"));
}

#[test]
fn migrate_on_a_fresh_file_exits_0_and_is_repeatable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(dir.path(), "fresh.db");
    let out = run_cli(&url, &["migrate"]);
    assert!(
        out.status.success(),
        "migrate: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("fresh.db").is_file(),
        "the database file is created"
    );
    let again = run_cli(&url, &["migrate"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_the_server_with_status_0() {
    let mut server = TestServer::start();
    let api = server.api("acme");
    api.get("/v1/services").await.expect_status(200);
    let sent = Instant::now();
    server.sigterm();
    let status = server.wait(Duration::from_secs(10)).unwrap_or_else(|| {
        panic!(
            "still running 10 s after SIGTERM; stderr:\n{}",
            server.logs()
        )
    });
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        server.logs()
    );
    assert!(sent.elapsed() < Duration::from_secs(10));
    // The port is closed.
    let after = reqwest::Client::new()
        .get(server.url("/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err(), "server still answering after exit");
}
