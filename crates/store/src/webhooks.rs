//! Webhook endpoints, the delivery log, and the outbox the workers drain
//! (both stores; how deliveries are queued, claimed and settled is each
//! store's own, see `sqlite/webhooks.rs` and `postgres/webhooks.rs`).
//!
//! Every claim stamps its deliveries with a lease (`claimed_by`,
//! `lease_until`): a worker that dies mid-send loses its claims when the
//! lease passes, so every event is delivered at least once.

use async_trait::async_trait;
use booking_domain::ports::{
    AttemptResult, ClaimedDelivery, DeliveryQueue, Page, PageRequest, StorageError, WebhookStore,
};
use booking_domain::{AccountId, Delivery, DeliveryId, WebhookEndpoint, WebhookId};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::{SignedDuration, Timestamp};

use crate::postgres::PostgresStore;
use crate::rows::{AttemptRow, DeliveryRow, WebhookRow, assemble_deliveries, secs};
use crate::schema::{webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::sqlite::SqliteStore;
use crate::{Condition, TxError, page, page_limit};

#[duplicate_item(Store Conn; [SqliteStore] [crate::sqlite::Conn]; [PostgresStore] [crate::postgres::Conn])]
impl Store {
    /// Deliveries (as the log shows them) with their attempts.
    async fn with_attempts(
        conn: &mut Conn,
        rows: Vec<DeliveryRow>,
    ) -> Result<Vec<Delivery>, TxError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
        let attempts: Vec<AttemptRow> = webhook_attempts::table
            .filter(webhook_attempts::delivery_seq.eq_any(&seqs))
            .order(webhook_attempts::seq.asc())
            .select(AttemptRow::as_select())
            .load(conn)
            .await?;
        Ok(assemble_deliveries(rows, attempts)?)
    }
}

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl WebhookStore for Store {
    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), StorageError> {
        let row = WebhookRow::from_domain(endpoint, &self.secret_keys())?;
        self.write("create_webhook", move |conn| {
            let row = row.clone();
            Box::pin(async move {
                diesel::insert_into(webhook_endpoints::table)
                    .values(&row)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }

    /// One transaction: the count of the account's endpoints, then the
    /// insert when under `limit`. Creates of one account queue behind each
    /// other until the commit (Postgres: an advisory lock; SQLite: the one
    /// writer), so the count holds until the insert, across processes.
    async fn create_webhook_within(
        &self,
        endpoint: &WebhookEndpoint,
        limit: u32,
    ) -> Result<bool, StorageError> {
        let row = WebhookRow::from_domain(endpoint, &self.secret_keys())?;
        self.write("create_webhook_within", move |conn| {
            let row = row.clone();
            Box::pin(async move {
                conn.transaction(async |conn| {
                    Self::serialize_tx(conn, format!("webhooks/{}", row.account_id)).await?;
                    let count: i64 = webhook_endpoints::table
                        .filter(webhook_endpoints::account_id.eq(&row.account_id))
                        .count()
                        .get_result(conn)
                        .await?;
                    if count >= i64::from(limit) {
                        return Ok(false);
                    }
                    diesel::insert_into(webhook_endpoints::table)
                        .values(&row)
                        .execute(conn)
                        .await?;
                    Ok(true)
                })
                .await
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn get_webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> Result<Option<WebhookEndpoint>, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        let keys = self.secret_keys();
        self.read("get_webhook", move |conn| {
            Box::pin(async move {
                let row = webhook_endpoints::table
                    .filter(webhook_endpoints::account_id.eq(&account))
                    .filter(webhook_endpoints::id.eq(&id))
                    .select(WebhookRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(|row| row.into_domain(&keys)).transpose()?)
            })
        })
        .await
    }

    async fn list_webhooks(
        &self,
        account: &AccountId,
        page_req: PageRequest,
    ) -> Result<Page<WebhookEndpoint>, StorageError> {
        let account = account.as_str().to_owned();
        let limit = page_limit(&page_req);
        let keys = self.secret_keys();
        self.read("list_webhooks", move |conn| {
            Box::pin(async move {
                let rows: Vec<(i64, WebhookRow)> = webhook_endpoints::table
                    .filter(webhook_endpoints::account_id.eq(&account))
                    .filter(webhook_endpoints::seq.gt(page_req.after.unwrap_or(0)))
                    .order(webhook_endpoints::seq.asc())
                    .limit(limit + 1)
                    .select((webhook_endpoints::seq, WebhookRow::as_select()))
                    .load(conn)
                    .await?;
                Ok(page(rows, limit, |row| row.into_domain(&keys))?)
            })
        })
        .await
    }

    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> Result<bool, StorageError> {
        let row = WebhookRow::from_domain(endpoint, &self.secret_keys())?;
        self.write("update_webhook", move |conn| {
            let row = row.clone();
            Box::pin(async move {
                let n = diesel::update(
                    webhook_endpoints::table
                        .filter(webhook_endpoints::account_id.eq(&row.account_id))
                        .filter(webhook_endpoints::id.eq(&row.id)),
                )
                .set(&row)
                .execute(conn)
                .await?;
                Ok(n > 0)
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn delete_webhook(
        &self,
        account: &AccountId,
        id: &WebhookId,
    ) -> Result<bool, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        self.write("delete_webhook", move |conn| {
            let (account, id) = (account.clone(), id.clone());
            Box::pin(async move {
                // Deliveries and their attempts go with it (ON DELETE CASCADE).
                let n = diesel::delete(
                    webhook_endpoints::table
                        .filter(webhook_endpoints::account_id.eq(&account))
                        .filter(webhook_endpoints::id.eq(&id)),
                )
                .execute(conn)
                .await?;
                Ok(n > 0)
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn list_deliveries(
        &self,
        account: &AccountId,
        endpoint: &WebhookId,
        page_req: PageRequest,
    ) -> Result<Page<Delivery>, StorageError> {
        let (account, endpoint) = (account.as_str().to_owned(), endpoint.as_str().to_owned());
        let limit = page_limit(&page_req);
        self.read("list_deliveries", move |conn| {
            Box::pin(async move {
                let mut rows: Vec<DeliveryRow> = webhook_deliveries::table
                    .filter(webhook_deliveries::account_id.eq(&account))
                    .filter(webhook_deliveries::endpoint_id.eq(&endpoint))
                    .filter(webhook_deliveries::seq.lt(page_req.after.unwrap_or(i64::MAX)))
                    .order(webhook_deliveries::seq.desc())
                    .limit(limit + 1)
                    .select(DeliveryRow::as_select())
                    .load(conn)
                    .await?;
                let keep = usize::try_from(limit).unwrap_or(usize::MAX);
                let more = rows.len() > keep;
                rows.truncate(keep);
                let next = if more {
                    rows.last().map(|r| r.seq)
                } else {
                    None
                };
                let items = Self::with_attempts(conn, rows).await?;
                Ok(Page { items, next })
            })
        })
        .await
    }

    async fn redeliver(
        &self,
        account: &AccountId,
        endpoint: &WebhookId,
        delivery: &DeliveryId,
        now: Timestamp,
    ) -> Result<Option<Delivery>, StorageError> {
        let account = account.as_str().to_owned();
        let endpoint = endpoint.as_str().to_owned();
        let delivery = delivery.as_str().to_owned();
        let now = secs(now);
        let result = self
            .write("redeliver", move |conn| {
                let (account, endpoint, delivery) =
                    (account.clone(), endpoint.clone(), delivery.clone());
                Box::pin(async move {
                    let row: Option<DeliveryRow> = diesel::update(
                        webhook_deliveries::table
                            .filter(webhook_deliveries::account_id.eq(&account))
                            .filter(webhook_deliveries::endpoint_id.eq(&endpoint))
                            .filter(webhook_deliveries::id.eq(&delivery)),
                    )
                    .set((
                        webhook_deliveries::state.eq("pending"),
                        webhook_deliveries::round_attempts.eq(0),
                        webhook_deliveries::next_attempt_at.eq(Some(now)),
                        webhook_deliveries::claimed_by.eq(None::<String>),
                        webhook_deliveries::lease_until.eq(None::<i64>),
                        webhook_deliveries::updated_at.eq(now),
                    ))
                    .returning(DeliveryRow::as_returning())
                    .get_result(conn)
                    .await
                    .optional()?;
                    let Some(row) = row else {
                        return Ok(None);
                    };
                    // Wakes the workers of every process (Postgres).
                    Self::deliveries_queued_tx(conn).await?;
                    Ok(Self::with_attempts(conn, vec![row])
                        .await?
                        .into_iter()
                        .next())
                })
            })
            .await
            .map_err(TxError::storage)?;
        if result.is_some() {
            self.wake();
        }
        Ok(result)
    }
}

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl DeliveryQueue for Store {
    async fn claim_deliveries(
        &self,
        claimant: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let until = secs(now).saturating_add(lease.as_secs().max(1));
        self.claim(claimant, secs(now), until, limit).await
    }

    async fn claim_deliveries_fairly(
        &self,
        claimant: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
        per_account: u32,
        skip: &[AccountId],
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        if limit == 0 || per_account == 0 {
            return Ok(Vec::new());
        }
        let until = secs(now).saturating_add(lease.as_secs().max(1));
        let skip: Vec<String> = skip.iter().map(|a| a.as_str().to_owned()).collect();
        self.claim_fairly(claimant, secs(now), until, limit, per_account, skip)
            .await
    }

    async fn record_attempts(
        &self,
        claimant: &str,
        results: &[AttemptResult],
    ) -> Result<(), StorageError> {
        if results.is_empty() {
            return Ok(());
        }
        self.record(claimant, results).await
    }

    async fn pending_deliveries(&self) -> Result<u64, StorageError> {
        self.read("pending_deliveries", move |conn| {
            Box::pin(async move {
                let n: i64 = webhook_deliveries::table
                    .inner_join(
                        webhook_endpoints::table.on(webhook_endpoints::account_id
                            .eq(webhook_deliveries::account_id)
                            .and(webhook_endpoints::id.eq(webhook_deliveries::endpoint_id))),
                    )
                    // Literal, so the partial index `webhook_deliveries_due` applies.
                    .filter(Condition("webhook_deliveries.state = 'pending'"))
                    .filter(webhook_endpoints::enabled.eq(true))
                    .count()
                    .get_result(conn)
                    .await?;
                Ok(u64::try_from(n).unwrap_or_default())
            })
        })
        .await
    }

    async fn purge_deliveries(&self, before: Timestamp) -> Result<u64, StorageError> {
        let before = secs(before);
        self.write("purge_deliveries", move |conn| {
            Box::pin(async move {
                // Attempts go with their delivery (ON DELETE CASCADE). The
                // literal state keeps the partial index usable.
                let n = diesel::delete(
                    webhook_deliveries::table
                        .filter(Condition("state <> 'pending'"))
                        .filter(webhook_deliveries::updated_at.lt(before)),
                )
                .execute(conn)
                .await?;
                Ok(u64::try_from(n).unwrap_or_default())
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn wait_for_deliveries(&self) {
        self.inner.wake.notified().await;
    }
}

/// The first part of a queued delivery's id (`whd_`, 12 hex digits of this,
/// then 96 random bits in 24 hex digits; on Postgres 32): the current time
/// in milliseconds. Ids that start with their creation time enter the
/// `webhook_deliveries` id index at its end, where random ids took every
/// new delivery into a random page (one more page split and page copy per
/// delivery; the same reason booking and event ids start with their time,
/// see `booking_server::ids`). Also in `postgres/webhooks.rs`' fan-out, in
/// SQL.
pub(crate) fn delivery_id_time() -> i64 {
    // A clock before 1970 gives 0: the id is still unique by its random part.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
