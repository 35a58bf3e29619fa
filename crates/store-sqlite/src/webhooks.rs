//! Webhook endpoints, the delivery log, and the outbox the workers drain.
//!
//! SQLite has one writer at a time, so a claim is an ordinary `UPDATE` in an
//! immediate transaction: no two claims can see the same due row. The lease
//! (`claimed_by`, `lease_until`) still matters: a process killed mid-send
//! leaves its claims behind, and they become due again when the lease ends.

use async_trait::async_trait;
use booking_domain::ports::{
    AttemptResult, ClaimedDelivery, DeliveryQueue, Page, PageRequest, StorageError, WebhookStore,
};
use booking_domain::{
    AccountId, Delivery, DeliveryId, EventKind, EventSet, WebhookEndpoint, WebhookId,
};
use booking_store_common::{AttemptColumns, assemble_deliveries, outcome_columns};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use jiff::{SignedDuration, Timestamp};

use crate::rows::{AttemptRow, DeliveryRow, EventRow, WebhookRow, secs};
use crate::schema::{events, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::{SqliteStore, TxError, page, page_limit};

/// Queues one delivery per enabled endpoint of the account subscribed to the
/// event's kind (the outbox fan-out), inside the caller's transaction.
/// Returns how many it queued.
pub(crate) fn queue_deliveries(
    conn: &mut SqliteConnection,
    events: &[EventRow],
) -> Result<usize, TxError> {
    let mut queued = 0;
    for event in events {
        let Some(kind) = EventKind::parse(&event.kind) else {
            return Err(TxError::Storage(StorageError::Internal(format!(
                "event {} has unknown kind {}",
                event.id, event.kind
            ))));
        };
        queued += diesel::sql_query(
            "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, event_kind, \
             state, round_attempts, next_attempt_at, created_at, updated_at) \
             SELECT 'whd_' || lower(hex(randomblob(16))), account_id, id, ?1, ?2, 'pending', 0, \
             ?3, ?3, ?3 FROM webhook_endpoints \
             WHERE account_id = ?4 AND enabled = 1 AND (events & ?5) <> 0",
        )
        .bind::<Text, _>(&event.id)
        .bind::<Text, _>(&event.kind)
        .bind::<BigInt, _>(event.created_at)
        .bind::<Text, _>(&event.account_id)
        .bind::<BigInt, _>(EventSet::bit(kind))
        .execute(conn)?;
    }
    Ok(queued)
}

/// Deliveries (as the log shows them) with their attempts.
fn with_attempts(
    conn: &mut SqliteConnection,
    rows: Vec<DeliveryRow>,
) -> Result<Vec<Delivery>, TxError> {
    let seqs: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let attempts: Vec<AttemptRow> = webhook_attempts::table
        .filter(webhook_attempts::delivery_seq.eq_any(&seqs))
        .order(webhook_attempts::seq.asc())
        .select(AttemptRow::as_select())
        .load(conn)?;
    Ok(assemble_deliveries(
        rows.into_iter().map(Into::into).collect(),
        attempts.into_iter().map(Into::into).collect(),
    )?)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn create_webhook(&self, endpoint: &WebhookEndpoint) -> Result<(), StorageError> {
        let row = WebhookRow::from(endpoint);
        self.run("create_webhook", move |conn| {
            diesel::insert_into(webhook_endpoints::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await
        .map_err(TxError::storage)
    }

    async fn create_webhook_within(
        &self,
        endpoint: &WebhookEndpoint,
        limit: u32,
    ) -> Result<bool, StorageError> {
        // Writes are serialized (BEGIN IMMEDIATE): the count cannot change
        // between it and the insert.
        let row = WebhookRow::from(endpoint);
        self.run("create_webhook_within", move |conn| {
            conn.immediate_transaction(|conn| {
                let count: i64 = webhook_endpoints::table
                    .filter(webhook_endpoints::account_id.eq(&row.account_id))
                    .count()
                    .get_result(conn)?;
                if count >= i64::from(limit) {
                    return Ok(false);
                }
                diesel::insert_into(webhook_endpoints::table)
                    .values(&row)
                    .execute(conn)?;
                Ok(true)
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
        self.run("get_webhook", move |conn| {
            let row = webhook_endpoints::table
                .filter(webhook_endpoints::account_id.eq(&account))
                .filter(webhook_endpoints::id.eq(&id))
                .select(WebhookRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(WebhookRow::into_domain).transpose()?)
        })
        .await
        .map_err(TxError::storage)
    }

    async fn list_webhooks(
        &self,
        account: &AccountId,
        page_req: PageRequest,
    ) -> Result<Page<WebhookEndpoint>, StorageError> {
        let account = account.as_str().to_owned();
        let limit = page_limit(&page_req);
        self.run("list_webhooks", move |conn| {
            let rows: Vec<(i64, WebhookRow)> = webhook_endpoints::table
                .filter(webhook_endpoints::account_id.eq(&account))
                .filter(webhook_endpoints::seq.gt(page_req.after.unwrap_or(0)))
                .order(webhook_endpoints::seq.asc())
                .limit(limit + 1)
                .select((webhook_endpoints::seq, WebhookRow::as_select()))
                .load(conn)?;
            Ok(page(rows, limit, WebhookRow::into_domain)?)
        })
        .await
        .map_err(TxError::storage)
    }

    async fn update_webhook(&self, endpoint: &WebhookEndpoint) -> Result<bool, StorageError> {
        let row = WebhookRow::from(endpoint);
        self.run("update_webhook", move |conn| {
            let n = diesel::update(
                webhook_endpoints::table
                    .filter(webhook_endpoints::account_id.eq(&row.account_id))
                    .filter(webhook_endpoints::id.eq(&row.id)),
            )
            .set(&row)
            .execute(conn)?;
            Ok(n > 0)
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
        self.run("delete_webhook", move |conn| {
            // Deliveries and their attempts go with it (ON DELETE CASCADE).
            let n = diesel::delete(
                webhook_endpoints::table
                    .filter(webhook_endpoints::account_id.eq(&account))
                    .filter(webhook_endpoints::id.eq(&id)),
            )
            .execute(conn)?;
            Ok(n > 0)
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
        self.run("list_deliveries", move |conn| {
            let rows: Vec<DeliveryRow> = webhook_deliveries::table
                .filter(webhook_deliveries::account_id.eq(&account))
                .filter(webhook_deliveries::endpoint_id.eq(&endpoint))
                .filter(webhook_deliveries::seq.lt(page_req.after.unwrap_or(i64::MAX)))
                .order(webhook_deliveries::seq.desc())
                .limit(limit + 1)
                .select(DeliveryRow::as_select())
                .load(conn)?;
            let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
            let rows: Vec<DeliveryRow> = rows
                .into_iter()
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .collect();
            let next = if more {
                rows.last().map(|r| r.seq)
            } else {
                None
            };
            let items = with_attempts(conn, rows)?;
            Ok(Page { items, next })
        })
        .await
        .map_err(TxError::storage)
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
            .run("redeliver", move |conn| {
                conn.immediate_transaction(|conn| {
                    let n = diesel::update(
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
                    .execute(conn)?;
                    if n == 0 {
                        return Ok(None);
                    }
                    let rows: Vec<DeliveryRow> = webhook_deliveries::table
                        .filter(webhook_deliveries::account_id.eq(&account))
                        .filter(webhook_deliveries::id.eq(&delivery))
                        .select(DeliveryRow::as_select())
                        .load(conn)?;
                    Ok(with_attempts(conn, rows)?.into_iter().next())
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

/// What a claim returns per delivery before the endpoint and event are
/// attached.
#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    account_id: String,
    #[diesel(sql_type = Text)]
    endpoint_id: String,
    #[diesel(sql_type = Text)]
    event_id: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    round_attempts: i32,
    #[diesel(sql_type = BigInt)]
    next_attempt_at: i64,
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// A due delivery and its account, for fair claims.
#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    account_id: String,
}

#[async_trait]
impl DeliveryQueue for SqliteStore {
    async fn claim_deliveries_fairly(
        &self,
        claimant: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
        per_account: u32,
        skip: &[AccountId],
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let claimant = claimant.to_owned();
        let skip: Vec<String> = skip.iter().map(|a| a.as_str().to_owned()).collect();
        let now = secs(now);
        let until = now.saturating_add(lease.as_secs().max(1));
        self.run("claim_deliveries_fairly", move |conn| {
            // Writes are serialized (BEGIN IMMEDIATE): no other claim can
            // take the same rows between the read and the update.
            conn.immediate_transaction(|conn| {
                let due: Vec<DueRow> = diesel::sql_query(
                    "SELECT d.seq, d.account_id FROM webhook_deliveries d \
                     JOIN webhook_endpoints e \
                       ON e.account_id = d.account_id AND e.id = d.endpoint_id \
                     WHERE d.state = 'pending' AND d.next_attempt_at <= ?1 \
                       AND (d.lease_until IS NULL OR d.lease_until <= ?1) AND e.enabled = 1 \
                     ORDER BY d.next_attempt_at, d.seq",
                )
                .bind::<BigInt, _>(now)
                .load(conn)?;
                let picked: Vec<String> = booking_domain::fairness::round_robin(
                    due.into_iter().filter(|d| !skip.contains(&d.account_id)),
                    |d| d.account_id.clone(),
                    usize::try_from(per_account).unwrap_or(usize::MAX),
                    usize::try_from(limit).unwrap_or(usize::MAX),
                )
                .into_iter()
                .map(|d| d.seq.to_string())
                .collect();
                if picked.is_empty() {
                    return Ok(Vec::new());
                }
                // Only integers are inlined.
                let mut claimed: Vec<ClaimRow> = diesel::sql_query(format!(
                    "UPDATE webhook_deliveries SET claimed_by = ?1, lease_until = ?2 \
                     WHERE seq IN ({}) \
                     RETURNING id, account_id, endpoint_id, event_id, round_attempts, \
                       next_attempt_at, seq",
                    picked.join(",")
                ))
                .bind::<Text, _>(&claimant)
                .bind::<BigInt, _>(until)
                .load(conn)?;
                claimed.sort_by_key(|c| (c.next_attempt_at, c.seq));
                attach(conn, claimed)
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn claim_deliveries(
        &self,
        claimant: &str,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let claimant = claimant.to_owned();
        let now = secs(now);
        let until = now.saturating_add(lease.as_secs().max(1));
        self.run("claim_deliveries", move |conn| {
            conn.immediate_transaction(|conn| {
                let mut claimed: Vec<ClaimRow> = diesel::sql_query(
                    "UPDATE webhook_deliveries SET claimed_by = ?1, lease_until = ?2 \
                     WHERE seq IN (SELECT d.seq FROM webhook_deliveries d \
                       JOIN webhook_endpoints e \
                         ON e.account_id = d.account_id AND e.id = d.endpoint_id \
                       WHERE d.state = 'pending' AND d.next_attempt_at <= ?3 \
                         AND (d.lease_until IS NULL OR d.lease_until <= ?3) AND e.enabled = 1 \
                       ORDER BY d.next_attempt_at LIMIT ?4) \
                     RETURNING id, account_id, endpoint_id, event_id, round_attempts, \
                       next_attempt_at, seq",
                )
                .bind::<Text, _>(&claimant)
                .bind::<BigInt, _>(until)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(i64::from(limit))
                .load(conn)?;
                // RETURNING comes in no particular order: earliest due first.
                claimed.sort_by_key(|c| (c.next_attempt_at, c.seq));
                attach(conn, claimed)
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn record_attempts(
        &self,
        claimant: &str,
        results: &[AttemptResult],
    ) -> Result<(), StorageError> {
        let claimant = claimant.to_owned();
        let results = results.to_vec();
        self.run("record_attempts", move |conn| {
            conn.immediate_transaction(|conn| {
                for r in &results {
                    let found: Option<(i64, String, String, Option<String>)> =
                        webhook_deliveries::table
                            .filter(webhook_deliveries::id.eq(r.delivery.as_str()))
                            .select((
                                webhook_deliveries::seq,
                                webhook_deliveries::account_id,
                                webhook_deliveries::endpoint_id,
                                webhook_deliveries::claimed_by,
                            ))
                            .first(conn)
                            .optional()?;
                    // Deleted with its endpoint meanwhile: nothing to record.
                    let Some((seq, account, endpoint, claimed_by)) = found else {
                        continue;
                    };
                    let attempt =
                        AttemptRow::from(AttemptColumns::from_domain(&account, seq, &r.attempt));
                    diesel::insert_into(webhook_attempts::table)
                        .values(&attempt)
                        .execute(conn)?;
                    if claimed_by.as_deref() == Some(claimant.as_str()) {
                        let (state, next) = outcome_columns(r.outcome);
                        diesel::update(
                            webhook_deliveries::table.filter(webhook_deliveries::seq.eq(seq)),
                        )
                        .set((
                            webhook_deliveries::state.eq(state),
                            webhook_deliveries::next_attempt_at.eq(next),
                            webhook_deliveries::round_attempts
                                .eq(webhook_deliveries::round_attempts + 1),
                            webhook_deliveries::claimed_by.eq(None::<String>),
                            webhook_deliveries::lease_until.eq(None::<i64>),
                            webhook_deliveries::updated_at.eq(attempt.at),
                        ))
                        .execute(conn)?;
                    }
                    if r.disable_endpoint {
                        diesel::update(
                            webhook_endpoints::table
                                .filter(webhook_endpoints::account_id.eq(&account))
                                .filter(webhook_endpoints::id.eq(&endpoint)),
                        )
                        .set((
                            webhook_endpoints::enabled.eq(false),
                            webhook_endpoints::updated_at.eq(attempt.at),
                        ))
                        .execute(conn)?;
                    }
                }
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn pending_deliveries(&self) -> Result<u64, StorageError> {
        self.run("pending_deliveries", |conn| {
            let n: i64 = webhook_deliveries::table
                .inner_join(
                    webhook_endpoints::table.on(webhook_endpoints::account_id
                        .eq(webhook_deliveries::account_id)
                        .and(webhook_endpoints::id.eq(webhook_deliveries::endpoint_id))),
                )
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "webhook_deliveries.state = 'pending'",
                ))
                .filter(webhook_endpoints::enabled.eq(true))
                .count()
                .get_result(conn)?;
            Ok(u64::try_from(n).unwrap_or_default())
        })
        .await
        .map_err(TxError::storage)
    }

    async fn purge_deliveries(&self, before: Timestamp) -> Result<u64, StorageError> {
        let before = secs(before);
        self.run("purge_deliveries", move |conn| {
            // Attempts go with their delivery (ON DELETE CASCADE).
            let n = diesel::delete(
                webhook_deliveries::table
                    .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                        "state <> 'pending'",
                    ))
                    .filter(webhook_deliveries::updated_at.lt(before)),
            )
            .execute(conn)?;
            Ok(u64::try_from(n).unwrap_or_default())
        })
        .await
        .map_err(TxError::storage)
    }

    async fn wait_for_deliveries(&self) {
        self.inner.wake.notified().await;
    }
}

/// Attaches to claimed deliveries their endpoint and event.
fn attach(
    conn: &mut SqliteConnection,
    claimed: Vec<ClaimRow>,
) -> Result<Vec<ClaimedDelivery>, TxError> {
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let accounts: Vec<&str> = claimed.iter().map(|c| c.account_id.as_str()).collect();
    let endpoint_ids: Vec<&str> = claimed.iter().map(|c| c.endpoint_id.as_str()).collect();
    let event_ids: Vec<&str> = claimed.iter().map(|c| c.event_id.as_str()).collect();
    let endpoints: Vec<WebhookRow> = webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq_any(&accounts))
        .filter(webhook_endpoints::id.eq_any(&endpoint_ids))
        .select(WebhookRow::as_select())
        .load(conn)?;
    let events: Vec<EventRow> = events::table
        .filter(events::account_id.eq_any(&accounts))
        .filter(events::id.eq_any(&event_ids))
        .select(EventRow::as_select())
        .load(conn)?;
    let endpoints = endpoints
        .into_iter()
        .map(|r| {
            r.into_domain()
                .map(|e| ((e.account_id.clone(), e.id.clone()), e))
        })
        .collect::<Result<std::collections::HashMap<_, _>, _>>()?;
    let events = events
        .into_iter()
        .map(|r| {
            r.into_domain()
                .map(|e| ((e.account_id.clone(), e.id.clone()), e))
        })
        .collect::<Result<std::collections::HashMap<_, _>, _>>()?;
    claimed
        .into_iter()
        .map(|c| {
            let account = AccountId::from_trusted(c.account_id);
            let endpoint = endpoints
                .get(&(account.clone(), WebhookId::from_trusted(c.endpoint_id)))
                .cloned();
            let event = events
                .get(&(account, booking_domain::EventId::from_trusted(c.event_id)))
                .cloned();
            match (endpoint, event) {
                (Some(endpoint), Some(event)) => Ok(ClaimedDelivery {
                    id: DeliveryId::from_trusted(c.id),
                    endpoint,
                    event,
                    round_attempts: u32::try_from(c.round_attempts).unwrap_or_default(),
                }),
                _ => Err(TxError::Storage(StorageError::Internal(format!(
                    "delivery {} lost its endpoint or event",
                    c.id
                )))),
            }
        })
        .collect()
}
