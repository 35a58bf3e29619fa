//! `PostgresStore` over TLS: `sslmode` and `sslrootcert` in the URL, as
//! libpq reads them. `scripts/test-postgres.sh` runs its cluster with
//! `ssl=on` and a certificate for 127.0.0.1 and localhost signed by a CA of
//! its own, whose file it exports as `TEST_DATABASE_SSLROOTCERT`. Without
//! that variable (and nothing requiring the tests) they are listed as
//! ignored (`cfg(no_postgres_tls)`, see `tests/build.rs`).
//!
//! Whether a session is encrypted is read from the server's side:
//! `pg_stat_ssl` for every session of the test's own database.

use std::net::ToSocketAddrs;

use booking_domain::ports::{HealthCheck, StorageError};
use booking_store::PostgresStore;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use super::postgres::{TestDb, database_url};

/// A self-signed CA that signed nothing the test server holds.
const OTHER_CA: &str = "-----BEGIN CERTIFICATE-----
MIIBlzCCAT2gAwIBAgIUFq95DhQgc7XzHG03R6mvXUkdlfUwCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNc29tZSBvdGhlciBDQTAgFw0yNjEyMDYxNjUyNDdaGA8yMTI2
MTExMjE2NTI0N1owGDEWMBQGA1UEAwwNc29tZSBvdGhlciBDQTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABJGO25XoXij3LPtADJUo3TP8Ic+W9Hj183Man9uD5HdK
E0FnPnWJjEx1d/9D+A4iaMRrP6vatqHX3JMQQTVur06jYzBhMB0GA1UdDgQWBBRY
ZRcjiTJMfuS/l29rNZ8iseSlOjAfBgNVHSMEGDAWgBRYZRcjiTJMfuS/l29rNZ8i
seSlOjAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQD
AgNIADBFAiEAsg81rbJU/thTD/MoSttwjAjedF/HIagWlUxFDBTM3r8CIEU9dHNr
OI3BPJE5CcFNm6kaSYsNwRp//s0hxPp68j/c
-----END CERTIFICATE-----
";

/// The CA file of the test server's certificate.
fn root_cert() -> String {
    match std::env::var("TEST_DATABASE_SSLROOTCERT") {
        Ok(path) if !path.trim().is_empty() => path,
        _ => panic!(
            "TEST_DATABASE_SSLROOTCERT is not set, and this Postgres TLS test must run: \
             run `make test` or `scripts/test-postgres.sh cargo test ...` (which make a \
             certificate), or set it to the CA file of your server's certificate"
        ),
    }
}

/// `url` with `params` added to its query.
fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// `url` with its host replaced by `host` (port, path and query kept).
fn with_host(url: &str, host: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((user, hostport)) => (format!("{user}@"), hostport),
        None => (String::new(), authority),
    };
    let port = hostport.rsplit_once(':').map_or("5432", |(_, port)| port);
    format!("{scheme}://{userinfo}{host}:{port}{tail}")
}

/// The host and port of `url`.
fn host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").unwrap().1;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let hostport = rest[..end]
        .rsplit_once('@')
        .map_or(&rest[..end], |(_, h)| h);
    match hostport.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap()),
        None => (hostport.to_owned(), 5432),
    }
}

#[derive(QueryableByName)]
struct Sessions {
    #[diesel(sql_type = BigInt)]
    all: i64,
    #[diesel(sql_type = BigInt)]
    encrypted: i64,
}

/// How many sessions are open on `database`, and how many of them use TLS.
async fn sessions(database: &str) -> (i64, i64) {
    let mut admin = AsyncPgConnection::establish(&database_url()).await.unwrap();
    let row: Sessions = diesel::sql_query(
        "SELECT count(*) AS all, count(*) FILTER (WHERE s.ssl) AS encrypted \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.datname = $1",
    )
    .bind::<Text, _>(database)
    .get_result(&mut admin)
    .await
    .unwrap();
    (row.all, row.encrypted)
}

/// Connects a store with `params` to a fresh database, checks it answers,
/// and returns how many of its sessions use TLS, of how many.
async fn connect_with(params: &str) -> (i64, i64) {
    let db = TestDb::create().await;
    let url = with_params(db.url(), params);
    let store = PostgresStore::connect(&url, 2, booking_tests::test_keyring())
        .await
        .unwrap_or_else(|e| panic!("cannot connect with {params}: {e}"));
    store.ping().await.unwrap();
    let seen = sessions(db.name()).await;
    drop(store);
    db.drop().await;
    seen
}

/// The error of a store that must not connect.
async fn refused(url: &str) -> StorageError {
    match PostgresStore::connect(url, 2, booking_tests::test_keyring()).await {
        Ok(_) => panic!("connected, but should not have: {url}"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_postgres_tls,
    ignore = "TEST_DATABASE_URL or TEST_DATABASE_SSLROOTCERT not set: run make test"
)]
async fn verify_full_with_the_servers_ca_encrypts_every_session() {
    let (all, encrypted) =
        connect_with(&format!("sslmode=verify-full&sslrootcert={}", root_cert())).await;
    assert!(all >= 1, "no session of the store found");
    assert_eq!(encrypted, all, "every session of the store uses TLS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_postgres_tls,
    ignore = "TEST_DATABASE_URL or TEST_DATABASE_SSLROOTCERT not set: run make test"
)]
async fn require_encrypts_without_a_root() {
    let (all, encrypted) = connect_with("sslmode=require").await;
    assert!(all >= 1);
    assert_eq!(encrypted, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_postgres_tls,
    ignore = "TEST_DATABASE_URL or TEST_DATABASE_SSLROOTCERT not set: run make test"
)]
async fn disable_never_encrypts() {
    let (all, encrypted) = connect_with("sslmode=disable").await;
    assert!(all >= 1);
    assert_eq!(encrypted, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_postgres_tls,
    ignore = "TEST_DATABASE_URL or TEST_DATABASE_SSLROOTCERT not set: run make test"
)]
async fn a_certificate_from_another_ca_fails_verification_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-ca.crt");
    std::fs::write(&other, OTHER_CA).unwrap();
    for mode in ["verify-full", "verify-ca", "require", "prefer"] {
        // With a root file, require and prefer check the chain (as libpq);
        // prefer then falls back to a plain session instead of failing.
        let url = with_params(
            &database_url(),
            &format!("sslmode={mode}&sslrootcert={}", other.display()),
        );
        if mode == "prefer" {
            let store = PostgresStore::connect(&url, 1, booking_tests::test_keyring())
                .await
                .unwrap();
            store.ping().await.unwrap();
            continue;
        }
        let StorageError::Unavailable(message) = refused(&url).await else {
            panic!("{mode}: not Unavailable");
        };
        assert!(
            message.contains("TLS verification of the postgres server failed")
                && message.contains(&format!("sslmode={mode}"))
                && message.contains("not signed by a trusted root")
                && message.contains("other-ca.crt"),
            "{mode}: {message}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    no_postgres_tls,
    ignore = "TEST_DATABASE_URL or TEST_DATABASE_SSLROOTCERT not set: run make test"
)]
async fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let admin = database_url();
    let (host, port) = host_port(&admin);
    let root = root_cert();
    if host == "127.0.0.1" {
        // The script's certificate names localhost too.
        let url = with_params(
            &with_host(&admin, "localhost"),
            &format!("sslmode=verify-full&sslrootcert={root}"),
        );
        let store = PostgresStore::connect(&url, 1, booking_tests::test_keyring())
            .await
            .unwrap();
        store.ping().await.unwrap();
    }
    // A name the certificate does not carry, at the server's address.
    let address = (host.as_str(), port)
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap()
        .ip();
    let elsewhere = with_host(&admin, "not-in-the-certificate.invalid");
    let url = with_params(
        &elsewhere,
        &format!("hostaddr={address}&sslmode=verify-full&sslrootcert={root}"),
    );
    let StorageError::Unavailable(message) = refused(&url).await else {
        panic!("not Unavailable");
    };
    assert!(
        message.contains("TLS verification of the postgres server failed")
            && message.contains("does not name the host"),
        "{message}"
    );
    let url = with_params(
        &elsewhere,
        &format!("hostaddr={address}&sslmode=verify-ca&sslrootcert={root}"),
    );
    let store = PostgresStore::connect(&url, 1, booking_tests::test_keyring())
        .await
        .unwrap();
    store.ping().await.unwrap();
}

/// A mistake in `sslmode` or `sslrootcert` is reported at once as a
/// configuration error (the server then refuses to start instead of
/// retrying), never with the password. No server needed.
#[tokio::test]
async fn ssl_configuration_mistakes_fail_at_once_and_clearly() {
    let base = "postgres://booking:hunter2-secret@127.0.0.1:9/booking";
    let cases = [
        ("sslmode=verify", "unknown sslmode `verify`"),
        (
            "sslmode=verify-full&sslrootcert=/nonexistent/ca.crt",
            "cannot read sslrootcert /nonexistent/ca.crt",
        ),
        (
            "sslmode=require&sslrootcert=system",
            "sslrootcert=system needs sslmode=verify-full",
        ),
        (
            "sslkey=/k.pem",
            "`sslkey` in the postgres URL is not supported",
        ),
    ];
    for (params, expected) in cases {
        let url = with_params(base, params);
        let started = std::time::Instant::now();
        let StorageError::Internal(message) = refused(&url).await else {
            panic!("{params}: not a configuration error");
        };
        assert!(message.contains(expected), "{params}: {message}");
        assert!(!message.contains("hunter2"), "{params}: {message}");
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
