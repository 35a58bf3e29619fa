//! Decides at build time whether the Postgres (and CalDAV) tests may be
//! skipped.
//!
//! Without a server (`TEST_DATABASE_URL` unset or empty) and without a
//! requirement for one (`CI` or `BOOKING_REQUIRE_POSTGRES` set to anything
//! but empty, `0` or `false`), it sets `cfg(no_postgres)`: the Postgres tests
//! carry `#[cfg_attr(no_postgres, ignore = "...")]`, so a plain `cargo test`
//! lists them as ignored, with the reason, in its summary. Otherwise they
//! run, and a missing server fails them (`make test` and CI must not pass
//! by skipping).
//!
//! The TLS tests also need `TEST_DATABASE_SSLROOTCERT` (the CA of the
//! server's certificate; `scripts/test-postgres.sh` exports it): without it,
//! and with nothing requiring the tests, it sets `cfg(no_postgres_tls)`,
//! which those tests carry the same way.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    caldav();
    println!("cargo::rustc-check-cfg=cfg(no_postgres)");
    println!("cargo::rustc-check-cfg=cfg(no_postgres_tls)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=BOOKING_REQUIRE_POSTGRES");
    if required("CI") || required("BOOKING_REQUIRE_POSTGRES") {
        // The answer does not depend on TEST_DATABASE_URL then: not tracking
        // it spares a rebuild per run when each run has its own server port.
        return;
    }
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_SSLROOTCERT");
    let database = std::env::var("TEST_DATABASE_URL").is_ok_and(|url| !url.trim().is_empty());
    if !database {
        println!("cargo::rustc-cfg=no_postgres");
    }
    let root = std::env::var("TEST_DATABASE_SSLROOTCERT").is_ok_and(|path| !path.trim().is_empty());
    if !database || !root {
        println!("cargo::rustc-cfg=no_postgres_tls");
    }
}

/// The CalDAV tests the same way: `cfg(no_caldav)` when no Python with
/// Radicale and `caldav` is given (`BOOKING_TEST_CALDAV_PYTHON`, which
/// `scripts/test-caldav.sh` exports) and neither `CI` nor
/// `BOOKING_REQUIRE_CALDAV` requires them.
fn caldav() {
    println!("cargo::rustc-check-cfg=cfg(no_caldav)");
    println!("cargo::rerun-if-env-changed=BOOKING_REQUIRE_CALDAV");
    println!("cargo::rerun-if-env-changed=BOOKING_TEST_CALDAV_PYTHON");
    let given = std::env::var("BOOKING_TEST_CALDAV_PYTHON").is_ok_and(|p| !p.trim().is_empty());
    if !given && !required("CI") && !required("BOOKING_REQUIRE_CALDAV") {
        println!("cargo::rustc-cfg=no_caldav");
    }
}

/// Whether the variable is set to something that means yes.
fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|value| {
        let value = value.trim();
        !value.is_empty() && value != "0" && !value.eq_ignore_ascii_case("false")
    })
}
