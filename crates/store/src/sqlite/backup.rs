//! `booking-api backup <file>`: a consistent copy of the SQLite database,
//! taken while servers keep running on it.
//!
//! SQLite's `VACUUM INTO` reads the database inside one read transaction,
//! so the copy is the database as of one commit: a WAL reader never blocks
//! the writer, and writes that commit meanwhile are simply not in it. The
//! copy is written beside the destination, checked, flushed to disk, and
//! only then renamed into place, so a crash never leaves a half-written
//! file under the destination's name.

use std::fs::File;
use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::conn::connect;
use super::store::prepare_file;

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The database file to copy does not exist.
    #[error("there is no database at {0}")]
    NoDatabase(PathBuf),
    /// The destination exists: a backup never overwrites a file.
    #[error("{0} already exists; choose a new file (a backup never overwrites one)")]
    DestinationExists(PathBuf),
    /// A database (the live one, or the copy to check) cannot be opened.
    #[error("cannot open {path}: {reason}")]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's or the system's reason.
        reason: String,
    },
    /// `VACUUM INTO` failed (disk full, permissions, a lock held too long).
    #[error("cannot copy the database: {0}")]
    Copy(String),
    /// The copy failed SQLite's `quick_check`.
    #[error("the copy failed its integrity check: {0}")]
    Corrupt(String),
    /// Syncing, naming or measuring the copy failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

/// A finished backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// Where the copy is.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// The newest migration it carries (the schema version a restore needs).
    pub schema_version: Option<String>,
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = Text)]
    quick_check: String,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Copies the database at `source` to the new file `dest`. Blocks the
/// calling thread for as long as the copy takes; the database may be in use
/// by any number of server processes meanwhile.
pub fn backup(source: &Path, dest: &Path) -> Result<Backup, BackupError> {
    // Opening a missing file would create an empty database and "back it up".
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source.to_owned()));
    }
    if dest.exists() {
        return Err(BackupError::DestinationExists(dest.to_owned()));
    }
    let open_error = |path: &Path, reason: String| BackupError::Open {
        path: path.to_owned(),
        reason,
    };
    let url = prepare_file(source).map_err(|e| open_error(source, e.to_string()))?;
    let dest_text = prepare_file(dest).map_err(|e| open_error(dest, e.to_string()))?;
    let partial = PathBuf::from(format!("{dest_text}.partial"));
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| BackupError::Io { path, source }
    };
    match std::fs::remove_file(&partial) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&partial)(e)),
    }

    let result = copy_and_check(&url, &partial);
    let outcome = result.and_then(|schema_version| {
        // `VACUUM INTO` does not sync what it wrote: make the copy durable
        // before it takes the destination's name, and the name durable after.
        File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io(&partial))?;
        std::fs::hard_link(&partial, dest).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                BackupError::DestinationExists(dest.to_owned())
            } else {
                io(dest)(e)
            }
        })?;
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        let bytes = std::fs::metadata(dest).map_err(io(dest))?.len();
        Ok(Backup {
            path: dest.to_owned(),
            bytes,
            schema_version,
        })
    });
    // The partial file is gone either way: renamed (linked) or abandoned.
    let _ = std::fs::remove_file(&partial);
    outcome
}

/// `VACUUM INTO partial`, then opens the copy and checks it: SQLite's
/// `quick_check`, and the tables a server needs. Returns the newest
/// migration the copy carries.
fn copy_and_check(url: &str, partial: &Path) -> Result<Option<String>, BackupError> {
    let mut conn = connect(url).map_err(|e| BackupError::Open {
        path: PathBuf::from(url),
        reason: e.to_string(),
    })?;
    let target = partial
        .to_str()
        .ok_or_else(|| BackupError::Copy(format!("{} is not UTF-8", partial.display())))?;
    conn.vacuum_into(None, target)
        .map_err(|e| BackupError::Copy(e.to_string()))?;
    drop(conn);

    let mut copy = SqliteConnection::establish(target).map_err(|e| BackupError::Open {
        path: partial.to_owned(),
        reason: e.to_string(),
    })?;
    copy.batch_execute("PRAGMA query_only = ON")
        .map_err(|e| BackupError::Corrupt(e.to_string()))?;
    let checks = diesel::sql_query("PRAGMA quick_check")
        .load::<Check>(&mut copy)
        .map_err(|e| BackupError::Corrupt(e.to_string()))?;
    let problems: Vec<String> = checks
        .into_iter()
        .map(|c| c.quick_check)
        .filter(|c| c != "ok")
        .collect();
    if !problems.is_empty() {
        return Err(BackupError::Corrupt(problems.join("; ")));
    }
    let tables = diesel::sql_query(
        "SELECT count(*) AS n FROM sqlite_schema \
         WHERE type = 'table' AND name = '__diesel_schema_migrations'",
    )
    .get_result::<Count>(&mut copy)
    .map_err(|e| BackupError::Corrupt(e.to_string()))?;
    if tables.n == 0 {
        // An empty file, or not this server's database: nothing to restore.
        return Ok(None);
    }
    let version = diesel::sql_query(
        "SELECT version FROM __diesel_schema_migrations ORDER BY version DESC LIMIT 1",
    )
    .get_result::<Version>(&mut copy)
    .optional()
    .map_err(|e| BackupError::Corrupt(e.to_string()))?;
    Ok(version.map(|v| v.version))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn store_file(dir: &Path) -> PathBuf {
        let path = dir.join("live.db");
        crate::sqlite::migrate(&path).unwrap();
        path
    }

    #[test]
    fn a_copy_carries_the_schema_and_rows_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let live = store_file(dir.path());
        let mut conn = SqliteConnection::establish(live.to_str().unwrap()).unwrap();
        conn.batch_execute("CREATE TABLE extra (v TEXT); INSERT INTO extra VALUES ('kept');")
            .unwrap();

        let dest = dir.path().join("copies").join("one.db");
        let made = backup(&live, &dest).unwrap();
        assert_eq!(made.path, dest);
        assert!(made.bytes > 0);
        assert!(made.schema_version.is_some());
        assert!(!PathBuf::from(format!("{}.partial", dest.display())).exists());

        let mut copy = SqliteConnection::establish(dest.to_str().unwrap()).unwrap();
        let rows = diesel::sql_query("SELECT count(*) AS n FROM extra WHERE v = 'kept'")
            .get_result::<Count>(&mut copy)
            .unwrap();
        assert_eq!(rows.n, 1);

        let again = backup(&live, &dest).unwrap_err();
        assert!(
            matches!(again, BackupError::DestinationExists(_)),
            "{again}"
        );
    }

    #[test]
    fn a_missing_database_is_refused_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.db");
        let e = backup(&missing, &dir.path().join("b.db")).unwrap_err();
        assert!(matches!(e, BackupError::NoDatabase(_)), "{e}");
        assert!(!missing.exists());
        assert!(!dir.path().join("b.db").exists());
    }
}
