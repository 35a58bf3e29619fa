//! SQLite's own outbox statements: the fan-out, claims and attempts.
//!
//! A claim reads the due rows on the read pool and leaves the one writer
//! only the lease: an `UPDATE` of the picked rows that checks each is still
//! due (SQLite has one writer at a time, so no two claims can lease the
//! same row), after which the endpoints and events are read on the read
//! pool again. The lease (`claimed_by`, `lease_until`) still matters: a
//! process killed mid-send leaves its claims behind, and they become due
//! again when the lease ends.

use booking_domain::ports::{AttemptResult, ClaimedDelivery, StorageError};
use booking_domain::{AccountId, DeliveryId, EventKind, EventSet, WebhookId};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;

use super::conn::Conn;
use super::store::SqliteStore;
use crate::TxError;
use crate::rows::{AttemptRow, EventRow, WebhookRow, outcome_columns};
use crate::schema::{events, webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::secrets::Keyring;
use crate::sql::Statement;

/// Queues one delivery per enabled endpoint of the account subscribed to the
/// event's kind (the outbox fan-out), inside the caller's transaction.
/// Returns how many it queued.
impl SqliteStore {
    pub(crate) async fn queue_deliveries(
        conn: &mut Conn,
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
            // A cached statement (`sql_query` would be parsed again each time).
            // The id: the creation time first (see `delivery_id_time`), then
            // 96 random bits.
            queued += Statement::<(), Sqlite>::new(
                "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, \
                 event_kind, state, round_attempts, next_attempt_at, created_at, updated_at) \
                 SELECT 'whd_' || printf('%012x', $6) || lower(hex(randomblob(12))), \
                 account_id, id, $1, $2, 'pending', 0, $3, $3, $3 FROM webhook_endpoints \
                 WHERE account_id = $4 AND enabled = 1 AND (events & $5) <> 0",
            )
            .bind::<Text, _>(event.id.clone())
            .bind::<Text, _>(event.kind.clone())
            .bind::<BigInt, _>(event.created_at)
            .bind::<Text, _>(event.account_id.clone())
            .bind::<BigInt, _>(EventSet::bit(kind))
            .bind::<BigInt, _>(crate::webhooks::delivery_id_time())
            .execute(conn)
            .await?;
        }
        Ok(queued)
    }
}

/// The due deliveries of enabled endpoints, the earliest due first, at
/// most `$2` (`-1`: all), as `(seq, account_id)`.
const DUE: &str = "\
SELECT d.seq, d.account_id FROM webhook_deliveries d
JOIN webhook_endpoints e ON e.account_id = d.account_id AND e.id = d.endpoint_id
WHERE d.state = 'pending' AND d.next_attempt_at <= $1
    AND (d.lease_until IS NULL OR d.lease_until <= $1) AND e.enabled = 1
ORDER BY d.next_attempt_at, d.seq LIMIT $2";

/// Leases to `$1` until `$2` the deliveries among `$3` (a JSON array of
/// `seq`s) that are still due at `$4` with their endpoint enabled: a claim
/// or an attempt since the read may have taken or settled some.
const LEASE: &str = "\
UPDATE webhook_deliveries SET claimed_by = $1, lease_until = $2
WHERE seq IN (SELECT value FROM json_each($3))
    AND state = 'pending' AND next_attempt_at <= $4
    AND (lease_until IS NULL OR lease_until <= $4)
    AND EXISTS (SELECT 1 FROM webhook_endpoints e
        WHERE e.account_id = webhook_deliveries.account_id
            AND e.id = webhook_deliveries.endpoint_id AND e.enabled = 1)
RETURNING id, account_id, endpoint_id, event_id, round_attempts, next_attempt_at, seq";

/// What [`LEASE`] returns per delivery.
type LeasedSql = (Text, Text, Text, Text, Integer, Nullable<BigInt>, BigInt);

/// What a claim returns per delivery before the endpoint and event are
/// attached.
struct ClaimRow {
    id: String,
    account_id: String,
    endpoint_id: String,
    event_id: String,
    round_attempts: i32,
    next_attempt_at: i64,
    seq: i64,
}

impl SqliteStore {
    /// Claims due deliveries, the earliest due first.
    pub(crate) async fn claim(
        &self,
        claimant: &str,
        now: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let due = self.due_deliveries(now, i64::from(limit)).await?;
        let picked = due.into_iter().map(|(seq, _)| seq).collect();
        self.lease_deliveries(claimant, now, until, picked).await
    }

    /// Claims due deliveries fairly between accounts: the due ones in
    /// order, picked round-robin by account.
    pub(crate) async fn claim_fairly(
        &self,
        claimant: &str,
        now: i64,
        until: i64,
        limit: u32,
        per_account: u32,
        skip: Vec<String>,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let due = self.due_deliveries(now, -1).await?;
        let picked = crate::pick_fairly(
            due.into_iter()
                .filter(|(_, account)| !skip.contains(account)),
            per_account,
            limit,
        );
        self.lease_deliveries(claimant, now, until, picked).await
    }

    /// [`DUE`], on the read pool: an idle or busy outbox costs the one
    /// writer nothing until there is something to lease.
    async fn due_deliveries(
        &self,
        now: i64,
        limit: i64,
    ) -> Result<Vec<(i64, String)>, StorageError> {
        self.read("due_deliveries", move |conn| {
            Box::pin(async move {
                Ok(Statement::<(BigInt, Text), Sqlite>::new(DUE)
                    .bind::<BigInt, _>(now)
                    .bind::<BigInt, _>(limit)
                    .load(conn)
                    .await?)
            })
        })
        .await
    }

    /// Leases `picked` with [`LEASE`] (the writer's whole part of a claim:
    /// it checks each row again, so two claims never lease one delivery,
    /// in this process or another), then attaches their endpoints and
    /// events on the read pool, the earliest due first.
    async fn lease_deliveries(
        &self,
        claimant: &str,
        now: i64,
        until: i64,
        picked: Vec<i64>,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        if picked.is_empty() {
            return Ok(Vec::new());
        }
        let claimant = claimant.to_owned();
        let seqs = serde_json::to_string(&picked)
            .map_err(|e| StorageError::Internal(format!("delivery seqs: {e}")))?;
        let mut claimed: Vec<ClaimRow> = self
            .write("claim_deliveries", move |conn| {
                Box::pin(async move {
                    Ok(Statement::<LeasedSql, Sqlite>::new(LEASE)
                        .bind::<Text, _>(claimant)
                        .bind::<BigInt, _>(until)
                        .bind::<Text, _>(seqs)
                        .bind::<BigInt, _>(now)
                        .load::<(String, String, String, String, i32, Option<i64>, i64)>(conn)
                        .await?)
                })
            })
            .await
            .map_err(TxError::storage)?
            .into_iter()
            .map(
                |(id, account_id, endpoint_id, event_id, round_attempts, next, seq)| ClaimRow {
                    id,
                    account_id,
                    endpoint_id,
                    event_id,
                    round_attempts,
                    next_attempt_at: next.unwrap_or_default(),
                    seq,
                },
            )
            .collect();
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        // RETURNING comes in no particular order: earliest due first.
        claimed.sort_by_key(|c| (c.next_attempt_at, c.seq));
        let keys = self.secret_keys();
        self.read("attach_deliveries", move |conn| {
            Box::pin(async move { attach(conn, claimed, &keys).await })
        })
        .await
    }

    /// Records attempts, one delivery at a time, in one write.
    pub(crate) async fn record(
        &self,
        claimant: &str,
        results: &[AttemptResult],
    ) -> Result<(), StorageError> {
        let claimant = claimant.to_owned();
        let results = results.to_vec();
        self.write("record_attempts", move |conn| {
            Box::pin(async move {
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
                            .await
                            .optional()?;
                    // Deleted with its endpoint meanwhile: nothing to record.
                    let Some((seq, account, endpoint, claimed_by)) = found else {
                        continue;
                    };
                    let attempt = AttemptRow::from_domain(&account, seq, &r.attempt);
                    diesel::insert_into(webhook_attempts::table)
                        .values(&attempt)
                        .execute(conn)
                        .await?;
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
                        .execute(conn)
                        .await?;
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
                        .execute(conn)
                        .await?;
                    }
                }
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }
}

/// Attaches to claimed deliveries their endpoint and event (read after the
/// lease committed, so a delivery whose endpoint was deleted meanwhile is
/// left out). The endpoints' secrets are opened with `keys`.
async fn attach(
    conn: &mut Conn,
    claimed: Vec<ClaimRow>,
    keys: &Keyring,
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
        .load(conn)
        .await?;
    let events: Vec<EventRow> = events::table
        .filter(events::account_id.eq_any(&accounts))
        .filter(events::id.eq_any(&event_ids))
        .select(EventRow::as_select())
        .load(conn)
        .await?;
    let endpoints = endpoints
        .into_iter()
        .map(|r| {
            r.into_domain(keys)
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
        .filter_map(|c| {
            let account = AccountId::from_trusted(c.account_id);
            // An endpoint deleted since the lease took its deliveries with
            // it: nothing to send.
            let endpoint = endpoints
                .get(&(account.clone(), WebhookId::from_trusted(c.endpoint_id)))
                .cloned()?;
            let event = events
                .get(&(account, booking_domain::EventId::from_trusted(c.event_id)))
                .cloned();
            Some(match event {
                Some(event) => Ok(ClaimedDelivery {
                    id: DeliveryId::from_trusted(c.id),
                    endpoint,
                    event,
                    round_attempts: u32::try_from(c.round_attempts).unwrap_or_default(),
                }),
                None => Err(TxError::Storage(StorageError::Internal(format!(
                    "delivery {} lost its event",
                    c.id
                )))),
            })
        })
        .collect()
}
