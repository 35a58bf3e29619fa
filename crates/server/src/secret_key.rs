//! Where the key that seals the secrets at rest comes from.
//!
//! `BOOKING_SECRET_KEY` when set (Postgres requires it: every instance must
//! have the same key). Otherwise, on SQLite, the key file `secret.key` in the
//! database file's directory: generated on first start (mode 0600), read
//! afterwards, so the embedded store works with no setup. The key is never
//! logged or printed; only its id (the first 8 hex digits of its SHA-256).
//!
//! `booking-api secrets rotate` replaces the key file without ever leaving
//! the database without a key that opens it: the new key is first written
//! beside the old one as `secret.key.new`, then the secrets are re-encrypted
//! (one transaction), then `secret.key.new` is renamed over `secret.key`.
//! A start-up that finds a `secret.key.new` (a rotation cut short) also
//! opens secrets with it, and brings them back under `secret.key`.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use booking_store::secrets::{Keyring, SecretKey};

use crate::config::{Config, Database};

/// The key file's name, in the SQLite database's directory.
pub const KEY_FILE: &str = "secret.key";

/// The new key of a rotation not finished yet, beside [`KEY_FILE`].
const PENDING_FILE: &str = "secret.key.new";

/// Where the current key came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `BOOKING_SECRET_KEY`.
    Configured,
    /// The SQLite key file at this path.
    File(PathBuf),
}

/// The keys to open the store with, and where the current one came from.
#[derive(Debug, Clone)]
pub struct Keys {
    /// Seals with the current key; also opens with the previous ones.
    pub ring: Keyring,
    /// Where the current key came from.
    pub source: Source,
}

/// The keys of the configured store: `BOOKING_SECRET_KEY` (and
/// `BOOKING_SECRET_KEY_PREVIOUS`), else on SQLite the key file (created
/// when missing). Postgres without `BOOKING_SECRET_KEY` is an error.
pub fn keys(config: &Config) -> anyhow::Result<Keys> {
    let (current, source, pending) = match (&config.secret_key, &config.database) {
        (Some(key), _) => (key.clone(), Source::Configured, None),
        (None, Database::Postgres(_)) => bail!(
            "BOOKING_SECRET_KEY is required with Postgres: 32 random bytes, base64 \
             (for example `openssl rand -base64 32`), the same on every instance; it \
             encrypts the webhook secrets, calendar credentials and feed key at rest"
        ),
        (None, Database::Sqlite(url)) => {
            let dir = data_dir(url)?;
            let path = dir.join(KEY_FILE);
            let key = read_or_create(&path)?;
            let pending = read_pending(&dir)?;
            (key, Source::File(path), pending)
        }
    };
    let mut ring = Keyring::new(current);
    if let Some(previous) = &config.secret_key_previous {
        ring = ring.with_previous(previous.clone());
    }
    if let Some(pending) = pending {
        ring = ring.with_previous(pending);
    }
    Ok(Keys { ring, source })
}

/// The directory of the SQLite database file (created if needed).
pub fn data_dir(url: &str) -> anyhow::Result<PathBuf> {
    let path = booking_store::sqlite::path_from_url(url)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// The key in the file at `path`.
pub fn read_key_file(path: &Path) -> anyhow::Result<SecretKey> {
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the secret key file {}", path.display()))?;
    SecretKey::from_base64(&text)
        .with_context(|| format!("the secret key file {} holds no key", path.display()))
}

/// The key file's key; a new random key written there first when there is
/// none. Processes starting together agree on one key: the file appears
/// whole or not at all (a hard link of a complete temporary file), and the
/// loser of the race reads the winner's.
fn read_or_create(path: &Path) -> anyhow::Result<SecretKey> {
    match fs::symlink_metadata(path) {
        Ok(_) => {
            warn_if_exposed(path);
            return read_key_file(path);
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let key = SecretKey::generate().context("cannot generate a secret key")?;
    let temp = write_temp(path, &key)?;
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_dir(path);
            tracing::info!(
                path = %path.display(),
                key_id = key.id(),
                "generated the secret key that encrypts secrets at rest: back it up with the database"
            );
            Ok(key)
        }
        // Another process created it meanwhile: theirs is the key.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read_key_file(path),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// The new key of a rotation cut short, if one was left in `dir`.
fn read_pending(dir: &Path) -> anyhow::Result<Option<SecretKey>> {
    let path = dir.join(PENDING_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let key = read_key_file(&path)?;
    tracing::warn!(
        path = %path.display(),
        key_id = key.id(),
        "found the new key of an unfinished `secrets rotate`: secrets it encrypted are brought back \
         under the current key; run `booking-api secrets rotate` again to rotate"
    );
    Ok(Some(key))
}

/// Writes `key` to a new file next to `path` (mode 0600, synced); its path.
fn write_temp(path: &Path, key: &SecretKey) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let temp = path.with_extension(format!("tmp.{}.{nanos}", std::process::id()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&temp).and_then(|mut file| {
        file.write_all(format!("{}\n", key.to_base64()).as_bytes())?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e).with_context(|| format!("cannot write {}", temp.display()));
    }
    Ok(temp)
}

/// Replaces (or creates) the key file at `path` with `key` atomically: a
/// synced temporary file (mode 0600) renamed over it.
pub fn replace_key_file(path: &Path, key: &SecretKey) -> anyhow::Result<()> {
    let temp = write_temp(path, key)?;
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(e).with_context(|| format!("cannot replace {}", path.display()));
    }
    sync_dir(path);
    Ok(())
}

/// The pending file of a rotation of the key file at `path`.
pub fn pending_path(path: &Path) -> PathBuf {
    path.with_file_name(PENDING_FILE)
}

/// Renames the pending key of a rotation over the key file at `path`, once
/// the database is re-encrypted under it.
pub fn finish_rotation(path: &Path) -> anyhow::Result<()> {
    let pending = pending_path(path);
    fs::rename(&pending, path).with_context(|| {
        format!(
            "the secrets are re-encrypted under the key in {}, but it could not be renamed \
             to {}: rename it by hand",
            pending.display(),
            path.display()
        )
    })?;
    sync_dir(path);
    Ok(())
}

/// Makes a rename or link in `path`'s directory durable (best effort: some
/// file systems refuse to sync a directory).
fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
}

/// Warns when others than the owner may read the key file.
fn warn_if_exposed(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", meta.permissions().mode() & 0o777),
                "the secret key file is readable by others than its owner: chmod 600 it"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use super::*;

    fn sqlite_config(dir: &Path) -> Config {
        let url = format!("sqlite://{}", dir.join("db/booking.db").display());
        Config::from_map(&BTreeMap::from([("DATABASE_URL".to_owned(), url)])).unwrap()
    }

    #[test]
    fn sqlite_generates_a_private_key_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = sqlite_config(dir.path());
        let first = keys(&config).unwrap();
        let path = dir.path().join("db").join(KEY_FILE);
        assert_eq!(first.source, Source::File(path.clone()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = keys(&config).unwrap();
        assert_eq!(again.ring.current().id(), first.ring.current().id());
        // Only the key file is left in the directory.
        let names: Vec<_> = fs::read_dir(dir.path().join("db"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [KEY_FILE]);
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let config = sqlite_config(dir.path());
        let ids: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| keys(&config).unwrap().ring.current().id().to_owned()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    }

    #[test]
    fn a_configured_key_wins_and_postgres_requires_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = sqlite_config(dir.path());
        let key = SecretKey::generate().unwrap();
        config.secret_key = Some(key.clone());
        let keys_now = keys(&config).unwrap();
        assert_eq!(keys_now.source, Source::Configured);
        assert_eq!(keys_now.ring.current().id(), key.id());
        assert!(!dir.path().join("db").join(KEY_FILE).exists());

        let pg = Config::from_map(&BTreeMap::from([(
            "DATABASE_URL".to_owned(),
            "postgres://u@localhost/db".to_owned(),
        )]))
        .unwrap();
        let e = keys(&pg).unwrap_err().to_string();
        assert!(
            e.contains("BOOKING_SECRET_KEY is required with Postgres"),
            "{e}"
        );
    }

    #[test]
    fn a_bad_key_file_and_a_pending_rotation_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let config = sqlite_config(dir.path());
        let current = keys(&config).unwrap().ring.current().clone();
        let path = dir.path().join("db").join(KEY_FILE);
        let new = SecretKey::generate().unwrap();
        replace_key_file(&pending_path(&path), &new).unwrap();
        let ring = keys(&config).unwrap().ring;
        assert_eq!(ring.current().id(), current.id());
        assert!(ring.knows(new.id()));

        fs::write(&path, "garbage").unwrap();
        let e = format!("{:#}", keys(&config).unwrap_err());
        assert!(
            e.contains("holds no key") && e.contains("not base64"),
            "{e}"
        );
        assert!(!e.contains("garbage"), "{e}");
    }
}
