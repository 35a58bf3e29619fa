//! Accounts and API keys (both stores).

use std::sync::Arc;

use async_trait::async_trait;
use booking_domain::ports::{AccountStore, ApiKeyRecord, NewApiKey, StorageError};
use booking_domain::{AccountId, ApiKeyId};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::Timestamp;

use crate::TxError;
use crate::postgres::PostgresStore;
use crate::rows::{ProviderRow, corrupt, secs};
use crate::schema::{accounts, api_keys, providers};
use crate::sqlite::SqliteStore;

type KeyTuple = (String, String, String, String, Option<i64>, i64, String);

fn key_columns() -> (
    api_keys::id,
    api_keys::account_id,
    api_keys::lookup,
    api_keys::hash,
    api_keys::revoked_at,
    api_keys::created_at,
    accounts::name,
) {
    (
        api_keys::id,
        api_keys::account_id,
        api_keys::lookup,
        api_keys::hash,
        api_keys::revoked_at,
        api_keys::created_at,
        accounts::name,
    )
}

fn key_record(row: KeyTuple) -> Result<ApiKeyRecord, StorageError> {
    let (id, account_id, lookup, hash, revoked_at, created_at, account_name) = row;
    let at = |field: &str, v: i64| {
        Timestamp::from_second(v).map_err(|e| corrupt("api_keys", &id, format!("{field}: {e}")))
    };
    Ok(ApiKeyRecord {
        revoked_at: revoked_at.map(|v| at("revoked_at", v)).transpose()?,
        created_at: at("created_at", created_at)?,
        id: ApiKeyId::from_trusted(id),
        account_id: AccountId::from_trusted(account_id),
        account_name,
        lookup,
        hash,
    })
}

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl AccountStore for Store {
    /// One transaction: the account (and its default provider) when the
    /// name is new, then the key. Concurrent calls for one new name agree on
    /// one account: the loser's `ON CONFLICT DO NOTHING` waits for the
    /// winner (Postgres; SQLite's writer runs them one after the other) and
    /// then reads its row.
    async fn create_key(&self, key: NewApiKey) -> Result<ApiKeyRecord, StorageError> {
        let key = Arc::new(key);
        self.write("create_key", move |conn| {
            let key = Arc::clone(&key);
            Box::pin(async move {
                conn.transaction(async |conn| {
                    let inserted: Option<String> = diesel::insert_into(accounts::table)
                        .values((
                            accounts::id.eq(key.new_account_id.as_str()),
                            accounts::name.eq(&key.account_name),
                            accounts::created_at.eq(secs(key.created_at)),
                        ))
                        .on_conflict(accounts::name)
                        .do_nothing()
                        .returning(accounts::id)
                        .get_result(conn)
                        .await
                        .optional()?;
                    let account_id = match inserted {
                        Some(id) => {
                            let mut provider = ProviderRow::from_domain(&key.new_default_provider);
                            provider.account_id = id.clone();
                            diesel::insert_into(providers::table)
                                .values(&provider)
                                .execute(conn)
                                .await?;
                            id
                        }
                        None => {
                            accounts::table
                                .filter(accounts::name.eq(&key.account_name))
                                .select(accounts::id)
                                .first(conn)
                                .await?
                        }
                    };
                    diesel::insert_into(api_keys::table)
                        .values((
                            api_keys::id.eq(key.key_id.as_str()),
                            api_keys::account_id.eq(&account_id),
                            api_keys::lookup.eq(&key.lookup),
                            api_keys::hash.eq(&key.hash),
                            api_keys::created_at.eq(secs(key.created_at)),
                        ))
                        .execute(conn)
                        .await?;
                    let row: KeyTuple = api_keys::table
                        .inner_join(accounts::table)
                        .filter(api_keys::id.eq(key.key_id.as_str()))
                        .select(key_columns())
                        .first(conn)
                        .await?;
                    Ok(key_record(row)?)
                })
                .await
            })
        })
        .await
        .map_err(TxError::storage)
    }

    /// Through the store's key cache, where it has one (Postgres).
    async fn keys_by_lookup(&self, lookup: &str) -> Result<Vec<ApiKeyRecord>, StorageError> {
        let owned = lookup.to_owned();
        let read = self.read("keys_by_lookup", move |conn| {
            Box::pin(async move {
                let rows: Vec<KeyTuple> = api_keys::table
                    .inner_join(accounts::table)
                    .filter(api_keys::lookup.eq(&owned))
                    .select(key_columns())
                    .order((api_keys::created_at.asc(), api_keys::id.asc()))
                    .load(conn)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(key_record)
                    .collect::<Result<Vec<_>, _>>()?)
            })
        });
        self.keys_cached(lookup, read).await
    }

    /// One transaction: the revocation and, when it revoked, the store's
    /// announcement (Postgres: a `NOTIFY` sent at commit that makes every
    /// instance drop the key from its cache). Whether the key exists.
    async fn revoke_key(&self, id: &ApiKeyId, at: Timestamp) -> Result<bool, StorageError> {
        let id = id.as_str().to_owned();
        let at = secs(at);
        self.write("revoke_key", move |conn| {
            let id = id.clone();
            Box::pin(async move {
                conn.transaction(async |conn| {
                    // Only an unrevoked key is updated: the first instant stays.
                    let lookup: Option<String> = diesel::update(
                        api_keys::table
                            .filter(api_keys::id.eq(&id))
                            .filter(api_keys::revoked_at.is_null()),
                    )
                    .set(api_keys::revoked_at.eq(Some(at)))
                    .returning(api_keys::lookup)
                    .get_result(conn)
                    .await
                    .optional()?;
                    if let Some(lookup) = lookup {
                        Self::key_revoked_tx(conn, lookup).await?;
                        return Ok(true);
                    }
                    let exists: bool = diesel::select(diesel::dsl::exists(
                        api_keys::table.filter(api_keys::id.eq(&id)),
                    ))
                    .get_result(conn)
                    .await?;
                    Ok(exists)
                })
                .await
            })
        })
        .await
        .map_err(TxError::storage)
    }
}
