//! Idempotency keys.
//!
//! `begin` claims a key with one upsert: a new key is inserted, an expired
//! one (older than the ttl, or an unanswered claim older than
//! [`IDEMPOTENCY_CLAIM_TIMEOUT_SECS`]) is taken over, and a live one is left
//! alone (the upsert returns no row) and read back in the same transaction,
//! still locked by the upsert. Postgres makes concurrent upserts of one key
//! wait for each other, so exactly one caller gets `Started`, across every
//! server instance; SQLite runs writes one at a time. (Both stores.)

use async_trait::async_trait;
use booking_domain::AccountId;
use booking_domain::ports::{
    IDEMPOTENCY_CLAIM_TIMEOUT_SECS, IdempotencyBegin, IdempotencyStore, StorageError,
    StoredResponse,
};
use diesel::prelude::*;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::{SignedDuration, Timestamp};

use crate::TxError;
use crate::postgres::PostgresStore;
use crate::rows::{corrupt, secs};
use crate::schema::idempotency_keys as keys;
use crate::sqlite::SqliteStore;

/// What `begin` was asked.
#[derive(Clone)]
struct Claim {
    account: String,
    key: String,
    request_hash: String,
    now: i64,
    /// Rows created before this instant count as absent.
    oldest_live: i64,
    /// Unanswered rows created before this instant count as absent.
    oldest_claim: i64,
}

#[duplicate_item(Store Conn; [SqliteStore] [crate::sqlite::Conn]; [PostgresStore] [crate::postgres::Conn])]
impl Store {
    /// The claim, in one transaction.
    async fn begin_tx(conn: &mut Conn, claim: &Claim) -> Result<IdempotencyBegin, TxError> {
        conn.transaction(async |conn| {
            let live = keys::created_at.ge(claim.oldest_live).and(
                keys::status
                    .is_not_null()
                    .or(keys::created_at.ge(claim.oldest_claim)),
            );
            let upsert = {
                // `FilterDsl` on an upsert: `ON CONFLICT … DO UPDATE … WHERE`.
                use diesel::query_dsl::methods::FilterDsl;
                diesel::insert_into(keys::table)
                    .values((
                        keys::account_id.eq(&claim.account),
                        keys::key.eq(&claim.key),
                        keys::request_hash.eq(&claim.request_hash),
                        keys::status.eq(None::<i32>),
                        keys::body.eq(None::<Vec<u8>>),
                        keys::created_at.eq(claim.now),
                    ))
                    .on_conflict((keys::account_id, keys::key))
                    .do_update()
                    .set((
                        keys::request_hash.eq(excluded(keys::request_hash)),
                        keys::status.eq(None::<i32>),
                        keys::body.eq(None::<Vec<u8>>),
                        keys::created_at.eq(excluded(keys::created_at)),
                    ))
                    .filter(diesel::dsl::not(live))
                    .returning(keys::created_at)
            };
            let claimed: Option<i64> = upsert.get_result(conn).await.optional()?;
            if claimed.is_some() {
                return Ok(IdempotencyBegin::Started);
            }
            // A live row stopped the upsert, which locked it: it reads the same.
            let (hash, status, body): (String, Option<i32>, Option<Vec<u8>>) = keys::table
                .filter(keys::account_id.eq(&claim.account))
                .filter(keys::key.eq(&claim.key))
                .select((keys::request_hash, keys::status, keys::body))
                .first(conn)
                .await?;
            if hash != claim.request_hash {
                return Ok(IdempotencyBegin::Mismatch);
            }
            let Some(status) = status else {
                return Ok(IdempotencyBegin::InProgress);
            };
            let status = u16::try_from(status)
                .map_err(|_| corrupt("idempotency_keys", &claim.key, format!("status {status}")))?;
            Ok(IdempotencyBegin::Replay(StoredResponse {
                status,
                body: body.unwrap_or_default(),
            }))
        })
        .await
    }
}

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl IdempotencyStore for Store {
    async fn begin(
        &self,
        account: &AccountId,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        ttl: SignedDuration,
    ) -> Result<IdempotencyBegin, StorageError> {
        let now = secs(now);
        let claim = Claim {
            account: account.as_str().to_owned(),
            key: key.to_owned(),
            request_hash: request_hash.to_owned(),
            now,
            oldest_live: now.saturating_sub(ttl.as_secs().max(0)),
            oldest_claim: now.saturating_sub(IDEMPOTENCY_CLAIM_TIMEOUT_SECS),
        };
        self.write("idempotency_begin", move |conn| {
            let claim = claim.clone();
            Box::pin(async move { Self::begin_tx(conn, &claim).await })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn complete(
        &self,
        account: &AccountId,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), StorageError> {
        let account = account.as_str().to_owned();
        let key = key.to_owned();
        let status = i32::from(response.status);
        let body = response.body.clone();
        self.write("idempotency_complete", move |conn| {
            let (account, key, body) = (account.clone(), key.clone(), body.clone());
            Box::pin(async move {
                let n = diesel::update(
                    keys::table
                        .filter(keys::account_id.eq(&account))
                        .filter(keys::key.eq(&key))
                        .filter(keys::status.is_null()),
                )
                .set((keys::status.eq(Some(status)), keys::body.eq(Some(body))))
                .execute(conn)
                .await?;
                if n == 0 {
                    tracing::warn!(
                        account = %account,
                        "idempotency key completed but not held (expired and taken over, or never begun)"
                    );
                }
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn abandon(&self, account: &AccountId, key: &str) -> Result<(), StorageError> {
        let account = account.as_str().to_owned();
        let key = key.to_owned();
        self.write("idempotency_abandon", move |conn| {
            let (account, key) = (account.clone(), key.clone());
            Box::pin(async move {
                diesel::delete(
                    keys::table
                        .filter(keys::account_id.eq(&account))
                        .filter(keys::key.eq(&key))
                        .filter(keys::status.is_null()),
                )
                .execute(conn)
                .await?;
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, StorageError> {
        let before = secs(before);
        self.write("idempotency_purge", move |conn| {
            Box::pin(async move {
                let n = diesel::delete(keys::table.filter(keys::created_at.lt(before)))
                    .execute(conn)
                    .await?;
                Ok(n as u64)
            })
        })
        .await
        .map_err(TxError::storage)
    }
}
