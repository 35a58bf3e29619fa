//! Secrets at rest, end to end on both stores: what the database holds is
//! never the webhook secret, a calendar URL or token, or the feed key, and
//! the server still signs, syncs and serves feeds with them; plaintext rows
//! from before are encrypted at start-up; a wrong key stops start-up with a
//! message naming the key the secrets need; `secrets rotate` re-encrypts
//! under a new key, after which the server starts with the new key alone.

use std::path::Path;
use std::time::Duration;

use booking_store::secrets::SecretKey;
use booking_tests::pg::{self, Database};
use booking_tests::receiver::{Answer, Receiver};
use booking_tests::{
    Api, TEST_SECRET_KEY, TestServer, fmt_utc, future_monday, ny, run_cli, serve_fails, sqlite_url,
};
use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use serde_json::json;

use super::webhooks::signed_by;

/// Every stored secret value, one per row and column (the same SQL on both
/// stores).
const SECRET_VALUES: &str = "\
SELECT secret AS v FROM webhook_endpoints
UNION ALL SELECT previous_secret FROM webhook_endpoints WHERE previous_secret IS NOT NULL
UNION ALL SELECT url FROM calendar_connections WHERE url IS NOT NULL
UNION ALL SELECT access_token FROM calendar_connections WHERE access_token IS NOT NULL
UNION ALL SELECT refresh_token FROM calendar_connections WHERE refresh_token IS NOT NULL
UNION ALL SELECT client_secret FROM calendar_connections WHERE client_secret IS NOT NULL
UNION ALL SELECT value FROM server_secrets";

/// How many [`SECRET_VALUES`] one planted account has: the webhook secret,
/// the ICS URL, Google's access and refresh tokens and client secret, the
/// feed key and the key check.
const PLANTED_VALUES: usize = 7;

/// A part of the ICS URL that only the URL has.
const ICS_SECRET: &str = "ics-secret-4f1d9a";
const ACCESS_TOKEN: &str = "at-secret-9d1c";
const REFRESH_TOKEN: &str = "rt-secret-8b2e";
const CLIENT_SECRET: &str = "cs-secret-7a3f";
/// A feed key stored as plaintext by a server from before.
const PLAIN_FEED_KEY: &str = "plain-feed-key-from-before-encryption-at-rest";

const EMPTY_ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//booking-api tests//secrets//EN\r\nEND:VCALENDAR\r\n";

/// What one account was given or gave the API that must never be stored
/// as it is.
struct Planted {
    webhook_secret: String,
    ics_url: String,
    feed_path: String,
}

impl Planted {
    /// The plaintexts no stored byte may contain.
    fn plaintexts(&self) -> Vec<&str> {
        vec![
            &self.webhook_secret,
            ICS_SECRET,
            ACCESS_TOKEN,
            REFRESH_TOKEN,
            CLIENT_SECRET,
            PLAIN_FEED_KEY,
        ]
    }
}

/// The server settings: webhooks and calendars may call `host` on 127.0.0.1.
fn env(host: &Receiver) -> Vec<(&'static str, String)> {
    vec![
        ("BOOKING_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        ("BOOKING_GOOGLE_API_URL", host.base_url.clone()),
        ("BOOKING_CALENDAR_SYNC_INTERVAL", "24h".to_owned()),
    ]
}

/// `env` with `extra`, as the harness takes it.
fn with<'a>(
    env: &'a [(&'static str, String)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(extra);
    all
}

/// The host answers calendar fetches; the account gets the seed service, a
/// webhook endpoint on `host`, an ICS calendar and a Google calendar with
/// every credential, and its feed.
async fn plant(api: &Api, host: &Receiver) -> Planted {
    host.route(
        "/ical/",
        Answer::status(200).with_body("text/calendar", EMPTY_ICS),
    );
    host.route(
        "/calendar/v3/freeBusy",
        Answer::status(200).with_body(
            "application/json",
            json!({"calendars": {"primary": {"busy": []}}}).to_string(),
        ),
    );
    api.create_seed_service().await;
    let webhook = api
        .post("/v1/webhooks", &json!({"url": host.url("/hook")}))
        .await
        .expect_status(201)
        .json;
    let webhook_secret = webhook["secret"].as_str().unwrap().to_owned();
    let provider = api.get("/v1/providers").await.expect_status(200).json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/v1/providers/{provider}/calendars");
    let ics_url = host.url(&format!("/ical/{ICS_SECRET}/basic.ics"));
    api.post(&path, &json!({"type": "ics", "url": ics_url}))
        .await
        .expect_status(201);
    let expires_at = fmt_utc(
        jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_hours(2))
            .unwrap(),
    );
    api.post(
        &path,
        &json!({"type": "google", "calendar_id": "primary", "credentials": {
            "access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN,
            "client_id": "cid", "client_secret": CLIENT_SECRET, "expires_at": expires_at}}),
    )
    .await
    .expect_status(201);
    Planted {
        webhook_secret,
        ics_url,
        feed_path: feed_path(api).await,
    }
}

/// The path of the account's first provider's feed URL.
async fn feed_path(api: &Api) -> String {
    let provider = api.get("/v1/providers").await.json["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = api
        .get(&format!("/v1/providers/{provider}/feed"))
        .await
        .expect_status(200)
        .json["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let at = url.find("/calendar/feed/").expect("a feed path");
    url[at..].to_owned()
}

/// The server uses the secrets as given: a booking's webhook verifies with
/// the secret given at creation, the feed URL answers, and a sync fetches
/// the ICS URL and calls Google with the access token. Books at `hour`.
async fn still_works(server: &TestServer, api: &Api, host: &Receiver, planted: &Planted, hour: i8) {
    let hooks = |got: &[booking_tests::receiver::Received]| {
        got.iter().filter(|r| r.path == "/hook").count()
    };
    let before = hooks(&host.received());
    api.book_ok("srv_consultation", &ny(future_monday(), hour, 0))
        .await;
    let got = host
        .wait_for(Duration::from_secs(15), "a webhook", |got| {
            hooks(got) > before
        })
        .await;
    let hook = got.iter().rfind(|r| r.path == "/hook").unwrap();
    assert!(
        signed_by(hook, &planted.webhook_secret),
        "the webhook is not signed with the secret given at creation"
    );
    let feed = server
        .client()
        .get(server.url(&planted.feed_path))
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status().as_u16(), 200, "feed {}", planted.feed_path);

    let synced = api
        .post_empty("/v1/calendar/sync")
        .await
        .expect_status(200)
        .json;
    let data = synced["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "{synced}");
    for c in data {
        assert_eq!(c["status"], "synced", "{synced}");
    }
    let got = host.received();
    assert!(got.iter().any(|r| r.path.contains(ICS_SECRET)));
    assert!(
        got.iter()
            .any(|r| r.path.starts_with("/calendar/v3/freeBusy")
                && r.header("authorization") == format!("Bearer {ACCESS_TOKEN}")),
        "Google was not called with the access token"
    );
}

/// Every value holds `enc:v1:<key_id>:` and none of the plaintexts.
fn assert_sealed(values: &[String], key_id: &str, planted: &Planted) {
    assert_eq!(values.len(), PLANTED_VALUES, "{values:?}");
    let prefix = format!("enc:v1:{key_id}:");
    for value in values {
        assert!(
            value.starts_with(&prefix),
            "not sealed under {key_id}: {value}"
        );
        for plain in planted.plaintexts() {
            assert!(!value.contains(plain), "{plain} stored in {value}");
        }
    }
}

// ----------------------------------------------------------------- SQLite

fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://").unwrap()
}

/// [`SECRET_VALUES`] read with a connection of our own.
fn sqlite_values(url: &str) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::Text)]
        v: String,
    }
    let mut conn = SqliteConnection::establish(sqlite_path(url)).unwrap();
    conn.batch_execute("PRAGMA busy_timeout = 10000").unwrap();
    diesel::sql_query(SECRET_VALUES)
        .load::<Value>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.v)
        .collect()
}

/// Runs `sql` on the SQLite database (the server stopped).
fn sqlite_execute(url: &str, sql: &str) {
    let mut conn = SqliteConnection::establish(sqlite_path(url)).unwrap();
    conn.batch_execute(sql).unwrap();
}

/// No byte of the database file or its WAL holds a plaintext.
fn assert_files_hold_no_plaintext(url: &str, planted: &Planted) {
    for file in [
        sqlite_path(url).to_owned(),
        format!("{}-wal", sqlite_path(url)),
    ] {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for plain in planted.plaintexts() {
            let needle = plain.as_bytes();
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{plain} is in {file}"
            );
        }
    }
}

/// The id of the key in the SQLite key file beside the database.
fn key_file_id(dir: &Path) -> String {
    let text = std::fs::read_to_string(dir.join("secret.key")).unwrap();
    SecretKey::from_base64(&text).unwrap().id().to_owned()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Stops `server` with SIGTERM, once it serves (a SIGTERM in the instant
/// between its `listening` line and its signal handling is lost).
async fn stop(mut server: TestServer) {
    let health = server.client().get(server.url("/healthz")).send().await;
    assert_eq!(health.unwrap().status().as_u16(), 200);
    server.sigterm();
    let status = server
        .wait(Duration::from_secs(40))
        .unwrap_or_else(|| panic!("still running 40 s after SIGTERM:\n{}", server.logs()));
    assert!(status.success(), "{status}:\n{}", server.logs());
}

/// Plaintext as a server from before encryption at rest stored it (no key
/// check either); the same SQL on both stores.
fn plaintext_sql(planted: &Planted) -> String {
    format!(
        "UPDATE webhook_endpoints SET secret = '{}';
         UPDATE calendar_connections SET url = '{}' WHERE kind = 'ics';
         UPDATE calendar_connections SET access_token = '{ACCESS_TOKEN}',
             refresh_token = '{REFRESH_TOKEN}', client_secret = '{CLIENT_SECRET}'
             WHERE kind = 'google';
         UPDATE server_secrets SET value = '{PLAIN_FEED_KEY}' WHERE name = 'feed_key';
         DELETE FROM server_secrets WHERE name = 'secret_key_check';",
        planted.webhook_secret, planted.ics_url
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_stores_secrets_encrypted_under_a_private_key_file_and_still_uses_them() {
    let host = Receiver::start().await;
    let env = env(&host);
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "booking.db");
    let server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let api = server.api("acme");
    let planted = plant(&api, &host).await;

    let key_file = dir.path().join("secret.key");
    assert_eq!(mode(&key_file), 0o600, "the key file is private");
    let key_id = key_file_id(dir.path());
    assert_sealed(&sqlite_values(&url), &key_id, &planted);
    assert_files_hold_no_plaintext(&url, &planted);
    still_works(&server, &api, &host, &planted, 10).await;
    assert!(
        !server
            .logs()
            .contains(std::fs::read_to_string(&key_file).unwrap().trim())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_start_up_encrypts_plaintext_rows_from_before() {
    let host = Receiver::start().await;
    let env = env(&host);
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "booking.db");
    let server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let api = server.api("acme");
    let planted = plant(&api, &host).await;
    stop(server).await;
    // A database and data directory as a server from before left them.
    sqlite_execute(&url, &plaintext_sql(&planted));
    std::fs::remove_file(dir.path().join("secret.key")).unwrap();

    let server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let key_id = key_file_id(dir.path());
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    let mut planted = planted;
    // The plaintext feed key is the feed key now: its URL is another.
    planted.feed_path = feed_path(&api).await;
    assert_sealed(&sqlite_values(&url), &key_id, &planted);
    // Old pages may linger in the file until they are reused; the live rows
    // are what the check above reads. A checkpoint-free new file is not
    // required by the contract, so no byte scan here.
    still_works(&server, &api, &host, &planted, 11).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_refuses_to_start_with_a_key_that_did_not_encrypt_its_secrets() {
    let host = Receiver::start().await;
    let env = env(&host);
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "booking.db");
    let server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let api = server.api("acme");
    let planted = plant(&api, &host).await;
    stop(server).await;
    let key_file = dir.path().join("secret.key");
    let right = std::fs::read_to_string(&key_file).unwrap();
    let right_id = key_file_id(dir.path());
    let expected = format!(
        "BOOKING_SECRET_KEY does not match the key that encrypted the stored secrets (key id {right_id}"
    );

    let other = SecretKey::generate().unwrap();
    std::fs::write(&key_file, other.to_base64()).unwrap();
    let stderr = serve_fails(&url, &with(&env, &[]));
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        !stderr.contains(&other.to_base64()),
        "the key was printed: {stderr}"
    );
    std::fs::write(&key_file, &right).unwrap();

    let other_b64 = other.to_base64();
    let stderr = serve_fails(&url, &with(&env, &[("BOOKING_SECRET_KEY", &other_b64)]));
    assert!(stderr.contains(&expected), "{stderr}");
    for bad in ["not base64!", "c2hvcnQ="] {
        let stderr = serve_fails(&url, &with(&env, &[("BOOKING_SECRET_KEY", bad)]));
        assert!(
            stderr.contains("BOOKING_SECRET_KEY: ") && stderr.contains("base64"),
            "{stderr}"
        );
        assert!(!stderr.contains(bad), "the key was printed: {stderr}");
    }

    // Nothing was changed by the refused starts: the right key still works.
    let server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    still_works(&server, &api, &host, &planted, 12).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_rotation_reencrypts_and_replaces_the_key_file() {
    let host = Receiver::start().await;
    let env = env(&host);
    let dir = tempfile::tempdir().unwrap();
    let url = sqlite_url(dir.path(), "booking.db");
    let server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let api = server.api("acme");
    let planted = plant(&api, &host).await;
    stop(server).await;
    let key_file = dir.path().join("secret.key");
    let old_id = key_file_id(dir.path());

    // A generated key.
    let out = run_cli(&url, &["secrets", "rotate"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_id = key_file_id(dir.path());
    assert_ne!(new_id, old_id);
    assert!(
        stdout.contains(&format!(
            "Re-encrypted {PLANTED_VALUES} stored secret(s) under key id {new_id} (was {old_id})"
        )),
        "{stdout}"
    );
    assert!(!stdout.contains(std::fs::read_to_string(&key_file).unwrap().trim()));
    assert_eq!(mode(&key_file), 0o600);
    assert!(!dir.path().join("secret.key.new").exists());
    assert_sealed(&sqlite_values(&url), &new_id, &planted);

    // A key given in a file.
    let given = SecretKey::generate().unwrap();
    let given_file = dir.path().join("given.key");
    std::fs::write(&given_file, format!("{}\n", given.to_base64())).unwrap();
    let out = run_cli(
        &url,
        &[
            "secrets",
            "rotate",
            "--new-key-file",
            given_file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(key_file_id(dir.path()), given.id());
    assert_sealed(&sqlite_values(&url), given.id(), &planted);

    // The server starts with the new key alone; the secrets are the same.
    let server = TestServer::start_on(&url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    assert_eq!(feed_path(&api).await, planted.feed_path);
    still_works(&server, &api, &host, &planted, 13).await;
}

// --------------------------------------------------------------- Postgres

/// [`SECRET_VALUES`] read with psql.
fn postgres_values(db: &Database) -> Vec<String> {
    let out = pg::sql(&db.url, SECRET_VALUES);
    out.lines().map(str::to_owned).collect()
}

fn key_id(base64: &str) -> String {
    SecretKey::from_base64(base64).unwrap().id().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
#[cfg_attr(no_postgres, ignore = "TEST_DATABASE_URL not set: run make test")]
async fn postgres_requires_a_key_encrypts_migrates_and_rotates() {
    let host = Receiver::start().await;
    let env = env(&host);
    let db = Database::create(&pg::admin_url());
    let test_id = key_id(TEST_SECRET_KEY);

    let stderr = serve_fails(&db.url, &with(&env, &[("BOOKING_SECRET_KEY", "")]));
    assert!(
        stderr.contains("BOOKING_SECRET_KEY is required with Postgres"),
        "{stderr}"
    );

    // Encrypted, and used as given.
    let server = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let api = server.api("acme");
    let planted = plant(&api, &host).await;
    assert_sealed(&postgres_values(&db), &test_id, &planted);
    still_works(&server, &api, &host, &planted, 10).await;
    stop(server).await;

    // Plaintext rows from before: three servers starting at once encrypt
    // them (once) and all serve.
    pg::sql(&db.url, &plaintext_sql(&planted));
    let servers: Vec<TestServer> = std::thread::scope(|scope| {
        let env = with(&env, &[]);
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let env = env.clone();
                let url = db.url.clone();
                scope.spawn(move || TestServer::start_on(&url, tempfile::tempdir().unwrap(), &env))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut planted = planted;
    let api = Api {
        base_url: servers[2].base_url.clone(),
        ..api
    };
    planted.feed_path = feed_path(&api).await;
    assert_sealed(&postgres_values(&db), &test_id, &planted);
    still_works(&servers[2], &api, &host, &planted, 11).await;
    for server in servers {
        stop(server).await;
    }

    // A wrong key is refused, naming the key the secrets need.
    let other = SecretKey::generate().unwrap().to_base64();
    let stderr = serve_fails(&db.url, &with(&env, &[("BOOKING_SECRET_KEY", &other)]));
    assert!(
        stderr.contains(&format!(
            "BOOKING_SECRET_KEY does not match the key that encrypted the stored secrets (key id {test_id}"
        )),
        "{stderr}"
    );

    // Rotation to a key in a file (the current key from the environment).
    let dir = tempfile::tempdir().unwrap();
    let new = SecretKey::generate().unwrap();
    let new_file = dir.path().join("new.key");
    std::fs::write(&new_file, new.to_base64()).unwrap();
    let out = run_cli(
        &db.url,
        &[
            "secrets",
            "rotate",
            "--new-key-file",
            new_file.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("under key id {} (was {test_id})", new.id())),
        "{stdout}"
    );
    assert_sealed(&postgres_values(&db), new.id(), &planted);
    let stderr = serve_fails(&db.url, &with(&env, &[]));
    assert!(
        stderr.contains(&format!("(key id {}", new.id())),
        "{stderr}"
    );
    let new_b64 = new.to_base64();
    let server = TestServer::start_on(
        &db.url,
        tempfile::tempdir().unwrap(),
        &with(&env, &[("BOOKING_SECRET_KEY", &new_b64)]),
    );
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    assert_eq!(feed_path(&api).await, planted.feed_path);
    still_works(&server, &api, &host, &planted, 12).await;
    stop(server).await;

    // Without a command: a server with the next key, the current one as
    // previous, re-encrypts at start-up; afterwards the next key alone works.
    let next = SecretKey::generate().unwrap().to_base64();
    let server = TestServer::start_on(
        &db.url,
        tempfile::tempdir().unwrap(),
        &with(
            &env,
            &[
                ("BOOKING_SECRET_KEY", &next),
                ("BOOKING_SECRET_KEY_PREVIOUS", &new_b64),
            ],
        ),
    );
    stop(server).await;
    assert_sealed(&postgres_values(&db), &key_id(&next), &planted);
    // And `BOOKING_SECRET_KEY_NEW` names the new key of a rotation.
    let out = booking_tests::command(&db.url)
        .args(["secrets", "rotate"])
        .env("BOOKING_SECRET_KEY", &next)
        .env("BOOKING_SECRET_KEY_NEW", TEST_SECRET_KEY)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_sealed(&postgres_values(&db), &test_id, &planted);
    let server = TestServer::start_on(&db.url, tempfile::tempdir().unwrap(), &with(&env, &[]));
    let api = Api {
        base_url: server.base_url.clone(),
        ..api
    };
    still_works(&server, &api, &host, &planted, 13).await;
}
