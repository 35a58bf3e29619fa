//! Configuration: `--config` TOML with the same keys as the environment (the
//! environment wins), and `BOOKING_LOG_FORMAT=json` writing JSON lines.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use booking_tests::{Api, TestServer, command, future_monday, ny, parse_key_output};
use serde_json::Value;

/// The binary with nothing configured but what the arguments, `env` and the
/// `--config` file say (the harness's `DATABASE_URL` and `BOOKING_LOG` are
/// removed so the file can set them).
fn bare(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = command("unused");
    cmd.env_remove("DATABASE_URL")
        .env_remove("BOOKING_LOG")
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A server started by [`bare`], killed when dropped.
struct Spawned {
    child: Child,
    base_url: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Spawned {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Spawned {
        let mut child = bare(args, env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn booking-api");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn({
            let logs = logs.clone();
            move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some((_, rest)) = line.split_once("listening on http://") {
                        let addr: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':'))
                            .collect();
                        let _ = tx.send(addr);
                    }
                    logs.lock().unwrap().push(line);
                }
            }
        });
        let mut spawned = Spawned {
            child,
            base_url: String::new(),
            logs,
        };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => spawned.base_url = format!("http://{addr}"),
            Err(_) => panic!(
                "no listening line within 20 s; stderr:\n{}",
                spawned.logs.lock().unwrap().join("\n")
            ),
        }
        spawned
    }

    fn api(&self, key: &str, key_id: &str) -> Api {
        Api {
            base_url: self.base_url.clone(),
            key: key.to_owned(),
            key_id: key_id.to_owned(),
            client: reqwest::Client::new(),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("booking.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_file_applies_and_the_environment_wins() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("from-file.db");
    let config = write_config(
        dir.path(),
        &format!(
            r#"# Every key the environment has, in TOML.
DATABASE_URL = "sqlite://{}"
BOOKING_BIND = "127.0.0.1:0"
BOOKING_LOG = "warn,booking_api=info"
BOOKING_RATE_BOOKINGS = "2/minute"
BOOKING_RATE_CALENDAR_SYNC = "3/hour"
BOOKING_WORKERS = 1
"#,
            db.display()
        ),
    );
    // The environment sets one of the file's keys again.
    let server = Spawned::start(
        &["--config", &config, "serve"],
        &[("BOOKING_RATE_BOOKINGS", "5/minute")],
    );
    // The database is the file's, for the server and for the CLI alike.
    assert!(db.is_file(), "the server did not open {}", db.display());
    let out = bare(
        &["--config", &config, "keys", "create", "--account", "acme"],
        &[],
    )
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (key, key_id) = parse_key_output(&String::from_utf8_lossy(&out.stdout));
    let api = server.api(&key, &key_id);
    api.get("/v1/services").await.expect_status(200);

    // The environment's booking rate, not the file's.
    let res = api.book("srv_nope", &ny(future_monday(), 10, 0)).await;
    res.expect_error(422, "INVALID_SERVICE");
    assert_eq!(
        res.header("ratelimit-policy"),
        Some("\"bookings\";q=5;w=60"),
        "{:?}",
        res.headers
    );
    // The file's sync rate, which the environment does not set.
    let res = api.post_empty("/v1/calendar/sync").await.expect_status(200);
    assert_eq!(
        res.header("ratelimit-policy"),
        Some("\"calendar_sync\";q=3;w=3600"),
        "{:?}",
        res.headers
    );
}

#[test]
fn a_config_file_with_an_unknown_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "DATABASE_URL = \"sqlite://{}/b.db\"\nBOOKING_RATE_BOOKING = \"5/minute\"\n",
            dir.path().display()
        ),
    );
    let out = bare(&["--config", &config, "migrate"], &[])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a misspelt key must not be ignored");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("BOOKING_RATE_BOOKING"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn json_log_format_writes_one_json_object_per_line() {
    let mut server = TestServer::start_with(&[
        ("BOOKING_LOG_FORMAT", "json"),
        // Every crate's lines at info, not only the server's.
        ("BOOKING_LOG", "info"),
    ]);
    let api = server.api("acme");
    api.create_seed_service().await;
    server.sigterm();
    let status = server.wait(Duration::from_secs(20)).expect("exits");
    assert!(status.success(), "{status}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !server.logs().contains("shut down cleanly") {
        assert!(Instant::now() < deadline, "{}", server.logs());
        std::thread::sleep(Duration::from_millis(20));
    }

    let logs = server.logs();
    let lines: Vec<Value> = logs
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(value.is_object(), "{line}");
            assert!(value["timestamp"].is_string(), "{line}");
            assert!(value["level"].is_string(), "{line}");
            assert!(value["fields"].is_object(), "{line}");
            value
        })
        .collect();
    assert!(lines.len() >= 3, "{logs}");
    let listening = format!("listening on {}", server.base_url);
    assert!(
        lines.iter().any(
            |l| l["fields"]["message"].as_str() == Some(listening.as_str()) && l["level"] == "INFO"
        ),
        "no `{listening}` line: {logs}"
    );
}
