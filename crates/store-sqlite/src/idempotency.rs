//! Idempotency keys.

use async_trait::async_trait;
use booking_domain::AccountId;
use booking_domain::ports::{
    IDEMPOTENCY_CLAIM_TIMEOUT_SECS, IdempotencyBegin, IdempotencyStore, StorageError,
    StoredResponse,
};
use diesel::prelude::*;
use jiff::{SignedDuration, Timestamp};

use crate::rows::{corrupt, secs};
use crate::schema::idempotency_keys as keys;
use crate::{SqliteStore, TxError};

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn begin(
        &self,
        account: &AccountId,
        key: &str,
        request_hash: &str,
        now: Timestamp,
        ttl: SignedDuration,
    ) -> Result<IdempotencyBegin, StorageError> {
        let account = account.as_str().to_owned();
        let key = key.to_owned();
        let request_hash = request_hash.to_owned();
        let now = secs(now);
        // Rows created before this instant count as absent.
        let oldest_live = now.saturating_sub(ttl.as_secs().max(0));
        let oldest_claim = now.saturating_sub(IDEMPOTENCY_CLAIM_TIMEOUT_SECS);
        self.run("idempotency_begin", move |conn| {
            conn.immediate_transaction(|conn| {
                let stored: Option<(String, Option<i32>, Option<Vec<u8>>, i64)> = keys::table
                    .filter(keys::account_id.eq(&account))
                    .filter(keys::key.eq(&key))
                    .select((
                        keys::request_hash,
                        keys::status,
                        keys::body,
                        keys::created_at,
                    ))
                    .first(conn)
                    .optional()?;
                match stored {
                    // A claim that never got its answer (its process died)
                    // lapses after the claim timeout; answered keys live `ttl`.
                    Some((hash, status, body, created_at))
                        if created_at >= oldest_live
                            && (status.is_some() || created_at >= oldest_claim) =>
                    {
                        if hash != request_hash {
                            return Ok(IdempotencyBegin::Mismatch);
                        }
                        let Some(status) = status else {
                            return Ok(IdempotencyBegin::InProgress);
                        };
                        let status = u16::try_from(status).map_err(|_| {
                            corrupt("idempotency_keys", &key, format!("status {status}"))
                        })?;
                        Ok(IdempotencyBegin::Replay(StoredResponse {
                            status,
                            body: body.unwrap_or_default(),
                        }))
                    }
                    _ => {
                        diesel::replace_into(keys::table)
                            .values((
                                keys::account_id.eq(&account),
                                keys::key.eq(&key),
                                keys::request_hash.eq(&request_hash),
                                keys::status.eq(None::<i32>),
                                keys::body.eq(None::<Vec<u8>>),
                                keys::created_at.eq(now),
                            ))
                            .execute(conn)?;
                        Ok(IdempotencyBegin::Started)
                    }
                }
            })
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
        self.run("idempotency_complete", move |conn| {
            let n = diesel::update(
                keys::table
                    .filter(keys::account_id.eq(&account))
                    .filter(keys::key.eq(&key))
                    .filter(keys::status.is_null()),
            )
            .set((keys::status.eq(Some(status)), keys::body.eq(Some(body))))
            .execute(conn)?;
            if n == 0 {
                tracing::warn!(
                    account = %account,
                    "idempotency key completed but not held (expired and taken over, or never begun)"
                );
            }
            Ok(())
        })
        .await
        .map_err(TxError::storage)
    }

    async fn abandon(&self, account: &AccountId, key: &str) -> Result<(), StorageError> {
        let account = account.as_str().to_owned();
        let key = key.to_owned();
        self.run("idempotency_abandon", move |conn| {
            diesel::delete(
                keys::table
                    .filter(keys::account_id.eq(&account))
                    .filter(keys::key.eq(&key))
                    .filter(keys::status.is_null()),
            )
            .execute(conn)?;
            Ok(())
        })
        .await
        .map_err(TxError::storage)
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64, StorageError> {
        let before = secs(before);
        self.run("idempotency_purge", move |conn| {
            let n =
                diesel::delete(keys::table.filter(keys::created_at.lt(before))).execute(conn)?;
            Ok(n as u64)
        })
        .await
        .map_err(TxError::storage)
    }
}
