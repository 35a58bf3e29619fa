//! Bringing every stored secret under the current key (both stores): at
//! start-up (plaintext from before encryption at rest, values of a previous
//! key) and for `booking-api secrets rotate` (every value, under a new key).
//!
//! One transaction does it all, so a failure changes nothing. Processes that
//! start together take turns: on Postgres the transaction first takes an
//! advisory lock; SQLite's writer runs it in a `BEGIN IMMEDIATE` batch. Each
//! update is also guarded by the value it replaces, so a value another
//! process changed meanwhile is never overwritten.
//!
//! Only values not already under the current key are read (a `NOT LIKE` on
//! their prefix), so a start-up with nothing to do reads no secret.
//!
//! **The key check.** `server_secrets` keeps a value sealed under the key in
//! use (`secret_key_check`). A key that cannot open it is not the one that
//! sealed the stored secrets: start-up fails, naming the key id the
//! secrets need, before anything is sent with a wrong secret. A database
//! whose secrets are all gone (or never were) still remembers its key.

use std::sync::Arc;

use booking_domain::ports::StorageError;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::Timestamp;

use crate::TxError;
use crate::postgres::PostgresStore;
use crate::rows::secs;
use crate::schema::server_secrets;
use crate::secrets::{Field, Keyring, PREFIX, key_id_of, tenant_row};
use crate::sql::Statement;
use crate::sqlite::SqliteStore;

/// The name of the key check in `server_secrets`.
pub(crate) const KEY_CHECK: &str = "secret_key_check";

/// What the key check holds (any text would do: it only has to open).
const KEY_CHECK_TEXT: &str = "booking-api secrets at rest";

/// A secret column and the statements that find the values not under a
/// key (`$1`: a `LIKE` pattern of the key's prefix) and replace one (`$1`
/// the new value; `$2`, `$3` the row; `$4` the value replaced).
struct Column {
    field: Field,
    /// Rows of `server_secrets` are named by `name` alone.
    tenant: bool,
    select: &'static str,
    update: &'static str,
}

/// A tenant table's secret column, its rows named by `(account_id, id)`.
macro_rules! tenant_column {
    ($field:expr, $table:literal, $column:literal) => {
        Column {
            field: $field,
            tenant: true,
            select: concat!(
                "SELECT account_id, id, ",
                $column,
                " FROM ",
                $table,
                " WHERE ",
                $column,
                " IS NOT NULL AND ",
                $column,
                " NOT LIKE $1"
            ),
            update: concat!(
                "UPDATE ",
                $table,
                " SET ",
                $column,
                " = $1 WHERE account_id = $2 AND id = $3 AND ",
                $column,
                " = $4"
            ),
        }
    };
}

/// Every secret column.
const COLUMNS: [Column; 8] = [
    tenant_column!(Field::WebhookSecret, "webhook_endpoints", "secret"),
    tenant_column!(
        Field::WebhookPreviousSecret,
        "webhook_endpoints",
        "previous_secret"
    ),
    tenant_column!(Field::CalendarUrl, "calendar_connections", "url"),
    tenant_column!(
        Field::CalendarAccessToken,
        "calendar_connections",
        "access_token"
    ),
    tenant_column!(
        Field::CalendarRefreshToken,
        "calendar_connections",
        "refresh_token"
    ),
    tenant_column!(
        Field::CalendarClientSecret,
        "calendar_connections",
        "client_secret"
    ),
    tenant_column!(Field::CalendarPassword, "calendar_connections", "password"),
    Column {
        field: Field::ServerSecret,
        tenant: false,
        select: "SELECT name, name, value FROM server_secrets WHERE value NOT LIKE $1",
        update: "UPDATE server_secrets SET value = $1 WHERE name = $3 AND value = $4",
    },
];

/// The start-up error for secrets sealed under a key the ring lacks.
fn wrong_key(stored_id: &str, keys: &Keyring) -> StorageError {
    StorageError::Internal(format!(
        "BOOKING_SECRET_KEY does not match the key that encrypted the stored secrets \
         (key id {stored_id}; BOOKING_SECRET_KEY has key id {}). Start with the key \
         that encrypted them (see `Security` in docs/operations.md)",
        keys.current().id()
    ))
}

/// `stored` under the current key: a sealed value opened (with any key of
/// the ring) and sealed again, plaintext sealed.
fn reseal(keys: &Keyring, field: Field, row: &str, stored: &str) -> Result<String, StorageError> {
    let plain = match key_id_of(stored) {
        Some(id) if !keys.knows(id) => return Err(wrong_key(id, keys)),
        Some(_) => keys.open(field, row, stored)?,
        // Stored before encryption at rest, or cut short; `enc:v1:` alone
        // is not a value this program ever wrote.
        None if stored.starts_with(PREFIX) => {
            return Err(StorageError::Internal(format!(
                "{} of {row} is a malformed encrypted value",
                field.column()
            )));
        }
        None => stored.to_owned(),
    };
    keys.seal(field, row, &plain)
}

#[duplicate_item(
    Store Conn Db;
    [SqliteStore] [crate::sqlite::Conn] [diesel::sqlite::Sqlite];
    [PostgresStore] [crate::postgres::Conn] [diesel::pg::Pg];
)]
impl Store {
    /// Brings every stored secret under `keys`' current key (opening them
    /// with any key of the ring) in one transaction, after checking that
    /// the ring opens the key check; returns how many values changed.
    ///
    /// A secret sealed under a key the ring lacks fails it all with an
    /// error naming that key's id (the key check finds the usual case, a
    /// wrong `BOOKING_SECRET_KEY`, first).
    pub async fn reseal_secrets(&self, keys: &Keyring) -> Result<usize, StorageError> {
        let keys = Arc::new(keys.clone());
        self.write("reseal_secrets", move |conn| {
            let keys = Arc::clone(&keys);
            Box::pin(async move {
                conn.transaction(async |conn| {
                    Self::serialize_tx(conn, "secrets".to_owned()).await?;
                    Self::reseal_tx(conn, &keys).await
                })
                .await
            })
        })
        .await
        .map_err(TxError::storage)
    }

    /// [`Self::reseal_secrets`] inside its transaction.
    async fn reseal_tx(conn: &mut Conn, keys: &Keyring) -> Result<usize, TxError> {
        let check: Option<String> = server_secrets::table
            .filter(server_secrets::name.eq(KEY_CHECK))
            .select(server_secrets::value)
            .first(conn)
            .await
            .optional()?;
        match check {
            Some(stored) => {
                if let Some(id) = key_id_of(&stored) {
                    if !keys.knows(id) {
                        return Err(wrong_key(id, keys).into());
                    }
                    keys.open(Field::ServerSecret, KEY_CHECK, &stored)
                        .map_err(|_| wrong_key(id, keys))?;
                }
            }
            None => {
                let sealed = keys.seal(Field::ServerSecret, KEY_CHECK, KEY_CHECK_TEXT)?;
                diesel::insert_into(server_secrets::table)
                    .values((
                        server_secrets::name.eq(KEY_CHECK),
                        server_secrets::value.eq(sealed),
                        server_secrets::created_at.eq(secs(Timestamp::now())),
                    ))
                    .execute(conn)
                    .await?;
            }
        }
        let current = format!("{PREFIX}{}:%", keys.current().id());
        let mut changed = 0;
        for column in &COLUMNS {
            let rows: Vec<(String, String, String)> =
                Statement::<(Text, Text, Text), Db>::new(column.select)
                    .bind::<Text, _>(current.clone())
                    .load(conn)
                    .await?;
            for (first, second, stored) in rows {
                let row = if column.tenant {
                    tenant_row(&first, &second)
                } else {
                    first.clone()
                };
                let sealed = reseal(keys, column.field, &row, &stored)?;
                changed += Statement::<(), Db>::new(column.update)
                    .bind::<Text, _>(sealed)
                    .bind::<Text, _>(first)
                    .bind::<Text, _>(second)
                    .bind::<Text, _>(stored)
                    .execute(conn)
                    .await?;
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::secrets::SecretKey;

    #[test]
    fn every_secret_column_is_resealed() {
        let fields: Vec<Field> = COLUMNS.iter().map(|c| c.field).collect();
        assert_eq!(fields, Field::ALL);
        for c in &COLUMNS {
            let (table, column) = c.field.column().split_once('.').unwrap();
            assert!(c.select.contains(&format!("FROM {table} ")), "{}", c.select);
            assert!(
                c.update
                    .contains(&format!("UPDATE {table} SET {column} = $1"))
            );
        }
    }

    #[test]
    fn plaintext_and_previous_keys_are_resealed_and_unknown_keys_named() {
        let old = Keyring::new(SecretKey::from_bytes([1; 32]));
        let ring = Keyring::new(SecretKey::from_bytes([2; 32]))
            .with_previous(SecretKey::from_bytes([1; 32]));
        let from_old = old.seal(Field::CalendarUrl, "a/c", "https://x").unwrap();
        for stored in ["https://x", from_old.as_str()] {
            let sealed = reseal(&ring, Field::CalendarUrl, "a/c", stored).unwrap();
            assert_eq!(key_id_of(&sealed), Some(ring.current().id()));
            assert_eq!(
                ring.open(Field::CalendarUrl, "a/c", &sealed).unwrap(),
                "https://x"
            );
        }
        let stranger = Keyring::new(SecretKey::from_bytes([3; 32]));
        let e = reseal(&stranger, Field::CalendarUrl, "a/c", &from_old).unwrap_err();
        let message = e.to_string();
        assert!(
            message.contains("BOOKING_SECRET_KEY does not match the key that encrypted")
                && message.contains(old.current().id()),
            "{message}"
        );
        assert!(reseal(&ring, Field::CalendarUrl, "a/c", "enc:v1:").is_err());
    }
}
