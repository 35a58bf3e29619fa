//! External calendar connections and their busy blocks (both stores; the
//! background-sync claims are each store's own).

use async_trait::async_trait;
use booking_domain::ports::{CalendarStore, ClaimedWrite, StorageError, SyncResult, WriteResult};
use booking_domain::{
    AccountId, CalendarConnection, CalendarId, OAuthCredentials, ProviderId, SyncStatus,
};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::{SignedDuration, Timestamp};

use crate::TxError;
use crate::postgres::PostgresStore;
use crate::rows::{CalendarRow, busy_pieces, secs};
use crate::schema::{calendar_busy, calendar_connections};
use crate::secrets::{Field, Keyring, tenant_row};
use crate::sqlite::SqliteStore;

/// Whether a connection is due for a background sync: not attempted since
/// `before`, and not claimed, or its claim's lease ended by `now`.
#[diesel::dsl::auto_type]
pub(crate) fn due_for_sync(before: i64, now: i64) -> _ {
    calendar_connections::sync_attempted_at
        .is_null()
        .or(calendar_connections::sync_attempted_at.lt(before))
        .and(
            calendar_connections::sync_claimed_until
                .is_null()
                .or(calendar_connections::sync_claimed_until.le(now)),
        )
}

/// The connections of `rows`, their secrets opened with `keys`.
pub(crate) fn domain(
    rows: Vec<CalendarRow>,
    keys: &Keyring,
) -> Result<Vec<CalendarConnection>, TxError> {
    Ok(rows
        .into_iter()
        .map(|row| row.into_domain(keys))
        .collect::<Result<Vec<_>, _>>()?)
}

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl CalendarStore for Store {
    async fn create_calendar(&self, connection: &CalendarConnection) -> Result<(), StorageError> {
        let row = CalendarRow::from_domain(connection, &self.secret_keys())?;
        self.write("create_calendar", move |conn| {
            let row = row.clone();
            Box::pin(async move {
                diesel::insert_into(calendar_connections::table)
                    .values(&row)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }

    /// One transaction: the count of the provider's connections, then the
    /// insert when under `limit`. Creates for one provider queue behind
    /// each other until the commit (Postgres: an advisory lock; SQLite: the
    /// one writer), so the count holds until the insert, across processes.
    async fn create_calendar_within(
        &self,
        connection: &CalendarConnection,
        limit: u32,
    ) -> Result<bool, StorageError> {
        let row = CalendarRow::from_domain(connection, &self.secret_keys())?;
        let created = self
            .write("create_calendar_within", move |conn| {
                let row = row.clone();
                Box::pin(async move {
                    conn.transaction(async |conn| {
                        let key = format!("calendars/{}/{}", row.account_id, row.provider_id);
                        Self::serialize_tx(conn, key).await?;
                        let count: i64 = calendar_connections::table
                            .filter(calendar_connections::account_id.eq(&row.account_id))
                            .filter(calendar_connections::provider_id.eq(&row.provider_id))
                            .count()
                            .get_result(conn)
                            .await?;
                        if count >= i64::from(limit) {
                            return Ok((false, 0));
                        }
                        diesel::insert_into(calendar_connections::table)
                            .values(&row)
                            .execute(conn)
                            .await?;
                        // Under the lock taken above, which booking writes
                        // share while they read the writing connections (see
                        // `writers`): none is missed, none queued twice.
                        let queued = if row.write {
                            Self::backfill_calendar_writes(conn, &row, row.created_at).await?
                        } else {
                            0
                        };
                        Ok((true, queued))
                    })
                    .await
                })
            })
            .await
            .map_err(TxError::storage)?;
        if created.1 > 0 {
            self.calendar_wake();
        }
        Ok(created.0)
    }

    async fn list_calendars(
        &self,
        account: &AccountId,
        provider: &ProviderId,
    ) -> Result<Vec<CalendarConnection>, StorageError> {
        let (account, provider) = (account.as_str().to_owned(), provider.as_str().to_owned());
        let keys = self.secret_keys();
        self.read("list_calendars", move |conn| {
            Box::pin(async move {
                let rows = calendar_connections::table
                    .filter(calendar_connections::account_id.eq(&account))
                    .filter(calendar_connections::provider_id.eq(&provider))
                    .order(calendar_connections::seq.asc())
                    .select(CalendarRow::as_select())
                    .load(conn)
                    .await?;
                domain(rows, &keys)
            })
        })
        .await
    }

    async fn account_calendars(
        &self,
        account: &AccountId,
    ) -> Result<Vec<CalendarConnection>, StorageError> {
        let account = account.as_str().to_owned();
        let keys = self.secret_keys();
        self.read("account_calendars", move |conn| {
            Box::pin(async move {
                let rows = calendar_connections::table
                    .filter(calendar_connections::account_id.eq(&account))
                    .order(calendar_connections::seq.asc())
                    .select(CalendarRow::as_select())
                    .load(conn)
                    .await?;
                domain(rows, &keys)
            })
        })
        .await
    }

    async fn delete_calendar(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        id: &CalendarId,
    ) -> Result<bool, StorageError> {
        let (account, provider, id) = (
            account.as_str().to_owned(),
            provider.as_str().to_owned(),
            id.as_str().to_owned(),
        );
        let deleted = self
            .write("delete_calendar", {
                let (account, provider) = (account.clone(), provider.clone());
                move |conn| {
                    let (account, provider, id) = (account.clone(), provider.clone(), id.clone());
                    Box::pin(async move {
                        // Busy blocks go with it (ON DELETE CASCADE).
                        let n = diesel::delete(
                            calendar_connections::table
                                .filter(calendar_connections::account_id.eq(&account))
                                .filter(calendar_connections::provider_id.eq(&provider))
                                .filter(calendar_connections::id.eq(&id)),
                        )
                        .execute(conn)
                        .await?;
                        Ok(n > 0)
                    })
                }
            })
            .await
            .map_err(TxError::storage)?;
        if deleted {
            self.busy_changed(&account, &provider);
        }
        Ok(deleted)
    }

    async fn claim_calendar_syncs(
        &self,
        attempted_before: Timestamp,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<CalendarConnection>, StorageError> {
        let (before, now) = (secs(attempted_before), secs(now));
        let until = now.saturating_add(lease.as_secs().max(1));
        let keys = self.secret_keys();
        self.write("claim_calendar_syncs", move |conn| {
            let keys = keys.clone();
            Box::pin(async move {
                conn.transaction(async |conn| {
                    let due = Self::due_calendars(conn, before, now, limit).await?;
                    diesel::update(
                        calendar_connections::table.filter(calendar_connections::seq.eq_any(&due)),
                    )
                    .set((
                        calendar_connections::sync_attempted_at.eq(now),
                        calendar_connections::sync_claimed_until.eq(until),
                    ))
                    .execute(conn)
                    .await?;
                    let rows = calendar_connections::table
                        .filter(calendar_connections::seq.eq_any(&due))
                        .order(calendar_connections::seq.asc())
                        .select(CalendarRow::as_select())
                        .load(conn)
                        .await?;
                    domain(rows, &keys)
                })
                .await
            })
        })
        .await
        .map_err(TxError::storage)
    }

    /// Like `claim_calendar_syncs`, shared between accounts: the due
    /// connections (never attempted first, then the oldest attempts), at
    /// most `per_account` of an account, every account's first before any
    /// account's next.
    async fn claim_calendar_syncs_fairly(
        &self,
        attempted_before: Timestamp,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
        per_account: u32,
    ) -> Result<Vec<CalendarConnection>, StorageError> {
        let (before, now) = (secs(attempted_before), secs(now));
        let until = now.saturating_add(lease.as_secs().max(1));
        let keys = self.secret_keys();
        self.write("claim_calendar_syncs_fairly", move |conn| {
            let keys = keys.clone();
            Box::pin(async move {
                conn.transaction(async |conn| {
                    let due: Vec<(i64, String)> = calendar_connections::table
                        .filter(due_for_sync(before, now))
                        .order((
                            calendar_connections::sync_attempted_at.is_not_null().asc(),
                            calendar_connections::sync_attempted_at.asc(),
                            calendar_connections::seq.asc(),
                        ))
                        .select((calendar_connections::seq, calendar_connections::account_id))
                        .load(conn)
                        .await?;
                    let picked = crate::pick_fairly(due, per_account, limit);
                    // The conditions again: on Postgres the update waits for
                    // a claim racing for the same row and then finds it taken
                    // (read committed re-checks the updated row), so two
                    // processes never both claim it.
                    let claimed: Vec<i64> = diesel::update(
                        calendar_connections::table
                            .filter(calendar_connections::seq.eq_any(&picked))
                            .filter(due_for_sync(before, now)),
                    )
                    .set((
                        calendar_connections::sync_attempted_at.eq(now),
                        calendar_connections::sync_claimed_until.eq(until),
                    ))
                    .returning(calendar_connections::seq)
                    .get_results(conn)
                    .await?;
                    let rows = calendar_connections::table
                        .filter(calendar_connections::seq.eq_any(&claimed))
                        .order(calendar_connections::seq.asc())
                        .select(CalendarRow::as_select())
                        .load(conn)
                        .await?;
                    domain(rows, &keys)
                })
                .await
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn record_calendar_sync(
        &self,
        account: &AccountId,
        id: &CalendarId,
        result: &SyncResult,
        credentials: Option<OAuthCredentials>,
        now: Timestamp,
    ) -> Result<bool, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        let result = result.clone();
        let now = secs(now);
        // Sealed before the write: the tokens are bound to this connection.
        let row = tenant_row(&account, &id);
        let keys = self.secret_keys();
        let credentials = credentials
            .map(|c| -> Result<_, StorageError> {
                Ok((
                    keys.seal_opt(Field::CalendarAccessToken, &row, c.access_token.as_deref())?,
                    keys.seal_opt(
                        Field::CalendarRefreshToken,
                        &row,
                        c.refresh_token.as_deref(),
                    )?,
                    c.expires_at.map(secs),
                ))
            })
            .transpose()?;
        let recorded = self
            .write("record_calendar_sync", {
                let (account, id, result) = (account.clone(), id.clone(), result.clone());
                move |conn| {
                    let (account, id, result, credentials) = (
                        account.clone(),
                        id.clone(),
                        result.clone(),
                        credentials.clone(),
                    );
                    Box::pin(async move {
                        conn.transaction(async |conn| {
                            let provider: Option<String> = calendar_connections::table
                                .filter(calendar_connections::account_id.eq(&account))
                                .filter(calendar_connections::id.eq(&id))
                                .select(calendar_connections::provider_id)
                                .first(conn)
                                .await
                                .optional()?;
                            let Some(provider) = provider else {
                                return Ok(None);
                            };
                            let target = calendar_connections::table
                                .filter(calendar_connections::account_id.eq(&account))
                                .filter(calendar_connections::id.eq(&id));
                            if let Some(tokens) = &credentials {
                                Self::save_tokens(conn, &account, &id, tokens).await?;
                            }
                            match &result {
                                SyncResult::Busy { blocks, validators } => {
                                    diesel::delete(
                                        calendar_busy::table
                                            .filter(calendar_busy::account_id.eq(&account))
                                            .filter(calendar_busy::calendar_id.eq(&id)),
                                    )
                                    .execute(conn)
                                    .await?;
                                    let pieces = busy_pieces(blocks);
                                    for chunk in pieces.chunks(200) {
                                        let values: Vec<_> = chunk
                                            .iter()
                                            .map(|(s, e)| {
                                                (
                                                    calendar_busy::account_id.eq(account.clone()),
                                                    calendar_busy::provider_id.eq(provider.clone()),
                                                    calendar_busy::calendar_id.eq(id.clone()),
                                                    calendar_busy::start_at.eq(*s),
                                                    calendar_busy::end_at.eq(*e),
                                                )
                                            })
                                            .collect();
                                        let insert = diesel::insert_into(calendar_busy::table)
                                            .values(values);
                                        Self::execute_batch(conn, insert).await?;
                                    }
                                    diesel::update(target)
                                        .set(
                                            (
                                                calendar_connections::status
                                                    .eq(SyncStatus::Synced.name()),
                                                calendar_connections::last_synced_at.eq(Some(now)),
                                                calendar_connections::last_error.eq(None::<String>),
                                                calendar_connections::last_error_at.eq(None::<i64>),
                                                calendar_connections::busy_blocks
                                                    .eq(i64::try_from(blocks.len())
                                                        .unwrap_or(i64::MAX)),
                                                calendar_connections::etag.eq(&validators.etag),
                                                calendar_connections::last_modified
                                                    .eq(&validators.last_modified),
                                            ),
                                        )
                                        .execute(conn)
                                        .await?;
                                }
                                SyncResult::Unchanged => {
                                    diesel::update(target)
                                        .set((
                                            calendar_connections::status
                                                .eq(SyncStatus::Synced.name()),
                                            calendar_connections::last_synced_at.eq(Some(now)),
                                            calendar_connections::last_error.eq(None::<String>),
                                            calendar_connections::last_error_at.eq(None::<i64>),
                                        ))
                                        .execute(conn)
                                        .await?;
                                }
                                SyncResult::Failed(why) => {
                                    let why: String = why.chars().take(500).collect();
                                    diesel::update(target)
                                        .set((
                                            calendar_connections::status
                                                .eq(SyncStatus::Error.name()),
                                            calendar_connections::last_error.eq(Some(why)),
                                            calendar_connections::last_error_at.eq(Some(now)),
                                        ))
                                        .execute(conn)
                                        .await?;
                                }
                            }
                            diesel::update(target)
                                .set((
                                    calendar_connections::sync_claimed_until.eq(None::<i64>),
                                    calendar_connections::sync_attempted_at.eq(Some(now)),
                                    calendar_connections::updated_at.eq(now),
                                ))
                                .execute(conn)
                                .await?;
                            Ok(Some(provider))
                        })
                        .await
                    })
                }
            })
            .await
            .map_err(TxError::storage)?;
        // The connection's provider, when it still exists.
        let Some(provider) = recorded else {
            return Ok(false);
        };
        if matches!(result, SyncResult::Busy { .. }) {
            self.busy_changed(&account, &provider);
        }
        Ok(true)
    }

    async fn claim_calendar_writes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<ClaimedWrite>, StorageError> {
        self.claim_writes(now, lease, limit).await
    }

    async fn record_calendar_writes(
        &self,
        results: &[(ClaimedWrite, WriteResult)],
        now: Timestamp,
    ) -> Result<(), StorageError> {
        self.record_writes(results, now).await
    }

    async fn wait_for_calendar_writes(&self) {
        self.inner.calendar_wake.notified().await;
    }
}
