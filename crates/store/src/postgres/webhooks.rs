//! Postgres's own outbox statements: the fan-out, claims and attempts.
//!
//! Any number of processes share the queue: a claim takes due rows with
//! `FOR UPDATE … SKIP LOCKED` and stamps them with a lease (`claimed_by`,
//! `lease_until`) in the same statement, so concurrent claims never return
//! the same delivery, and a worker that dies loses its claims when the lease
//! passes. Every statement that queues deliveries also sends a
//! `NOTIFY` on [`WEBHOOKS`](super::notify::WEBHOOKS) (delivered at commit), which the listener of
//! every store on the database turns into a wake-up of its workers.

use std::collections::HashSet;
use std::sync::Arc;

use booking_domain::ports::{AttemptResult, ClaimedDelivery, StorageError};
use booking_domain::{DeliveryId, EventKind, EventSet};
use diesel::sql_types::{Array, BigInt, Bool, Integer, Nullable, Text};
use diesel_async::RunQueryDsl;

use super::store::{Conn, PostgresStore};
use crate::TxError;
use crate::rows::{AttemptRow, EventRow, WebhookRow, outcome_columns};
use crate::schema::Json;
use crate::secrets::Keyring;
use crate::sql::Statement;

/// The body of a fan-out: for every event of the arrays `$ids`, `$kinds`,
/// `$created` and `$bits` (its kind's bit in `webhook_endpoints.events`), one
/// delivery per enabled endpoint of account `$account` subscribed to it,
/// `RETURNING 1` per delivery (its id: the time in milliseconds, then a
/// random UUID's 122 bits; see `crate::webhooks::delivery_id_time`). `$from` names more relations to join (a
/// leading comma and the names, or nothing): the booking insert uses it to
/// queue nothing when it inserted nothing. Used by [`FAN_OUT`] and by the
/// booking insert's single statement.
macro_rules! fan_out_insert {
    ($ids:literal, $kinds:literal, $created:literal, $bits:literal, $account:literal, $from:literal) => {
        concat!(
            "INSERT INTO webhook_deliveries (id, account_id, endpoint_id, event_id, event_kind, state,
        round_attempts, next_attempt_at, created_at, updated_at)
    SELECT 'whd_' || lpad(to_hex((extract(epoch FROM clock_timestamp()) * 1000)::bigint), 12, '0')
            || replace(gen_random_uuid()::text, '-', ''), e.account_id, e.id,
        ev.id, ev.kind, 'pending', 0, ev.created_at, ev.created_at, ev.created_at
    FROM unnest(", $ids, "::text[], ", $kinds, "::text[], ", $created, "::bigint[], ", $bits, "::bigint[])
        WITH ORDINALITY AS ev (id, kind, created_at, bit, n)
    JOIN webhook_endpoints e
        ON e.account_id = ", $account, " AND e.enabled AND (e.events & ev.bit) <> 0", $from, "
    ORDER BY ev.n, e.seq
    RETURNING 1"
        )
    };
}
pub(crate) use fan_out_insert;

/// Queues, for every event, one delivery per enabled endpoint of the
/// account subscribed to the event's kind, and notifies [`WEBHOOKS`](super::notify::WEBHOOKS) when it
/// queued any: one statement, and the notification only leaves at commit.
const FAN_OUT: &str = concat!(
    "WITH queued AS (\n    ",
    fan_out_insert!("$1", "$2", "$3", "$4", "$5", ""),
    "\n)
SELECT count(*) AS queued,
    CASE WHEN count(*) > 0 THEN pg_notify('booking_webhooks', '')::text END AS notified
FROM queued"
);

/// The bits of `events`' kinds in `webhook_endpoints.events`.
pub(crate) fn kind_bits(events: &[EventRow]) -> Result<Vec<i64>, StorageError> {
    events
        .iter()
        .map(|event| {
            let kind = EventKind::parse(&event.kind).ok_or_else(|| {
                StorageError::Internal(format!(
                    "event {} has unknown kind {}",
                    event.id, event.kind
                ))
            })?;
            Ok(EventSet::bit(kind))
        })
        .collect()
}

impl PostgresStore {
    /// Inserts the deliveries of `events` (all of one account) inside the
    /// caller's transaction (the outbox fan-out); returns how many it queued.
    pub(crate) async fn queue_deliveries(
        conn: &mut Conn,
        events: &[EventRow],
    ) -> Result<usize, TxError> {
        let Some(first) = events.first() else {
            return Ok(0);
        };
        let (queued, _): (i64, Option<String>) =
            Statement::<(BigInt, Nullable<Text>)>::new(FAN_OUT)
                .bind::<Array<Text>, _>(events.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
                .bind::<Array<Text>, _>(events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(events.iter().map(|e| e.created_at).collect::<Vec<_>>())
                .bind::<Array<BigInt>, _>(kind_bits(events)?)
                .bind::<Text, _>(first.account_id.clone())
                .get_result(conn)
                .await?;
        Ok(usize::try_from(queued).unwrap_or_default())
    }
}

/// The SQL types of a [`WebhookRow`], in its field order.
type WebhookSql = (
    Text,
    Text,
    Text,
    BigInt,
    Nullable<Text>,
    Bool,
    Text,
    Nullable<Text>,
    Nullable<BigInt>,
    BigInt,
    BigInt,
);

/// The SQL types of an [`EventRow`], in its field order.
type EventSql = (
    Text,
    Text,
    Text,
    Text,
    Nullable<BigInt>,
    BigInt,
    Json,
    Text,
    Nullable<BigInt>,
);

/// Claims due deliveries and returns each with its endpoint and event, in
/// one statement (so a failure claims nothing). `due` is materialized so it
/// runs exactly once: a rescanned `SKIP LOCKED` subquery could pick other
/// rows. The literal `'pending'` lets the partial index
/// `webhook_deliveries_due` serve the scan in a cached plan; the endpoint
/// and event are found through their `(account_id, id)` unique indexes.
const CLAIM: &str = "\
WITH due AS MATERIALIZED (
    SELECT d.seq
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.account_id = d.account_id AND e.id = d.endpoint_id
    WHERE d.state = 'pending' AND d.next_attempt_at <= $1
        AND (d.lease_until IS NULL OR d.lease_until <= $1) AND e.enabled
    ORDER BY d.next_attempt_at
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
),
claimed AS (
    UPDATE webhook_deliveries d SET claimed_by = $3, lease_until = $4
    FROM due
    WHERE d.seq = due.seq
    RETURNING d.seq, d.id, d.account_id, d.endpoint_id, d.event_id, d.round_attempts,
        d.next_attempt_at
)
SELECT c.id, c.round_attempts,
    e.id, e.account_id, e.url, e.events, e.description, e.enabled, e.secret,
    e.previous_secret, e.previous_secret_expires_at, e.created_at, e.updated_at,
    ev.id, ev.account_id, ev.booking_id, ev.kind, ev.previous_scheduled_at, ev.created_at,
    ev.booking, ev.actor, ev.reminder_offset
FROM claimed c
JOIN webhook_endpoints e ON e.account_id = c.account_id AND e.id = c.endpoint_id
JOIN events ev ON ev.account_id = c.account_id AND ev.id = c.event_id
ORDER BY c.next_attempt_at, c.seq";

/// [`CLAIM`], fair between accounts: due deliveries ranked within their
/// account, skipping the accounts in `$5`, at most `$6` per account, every
/// account's first before any account's next. The ranking reads without
/// locks; the rows are then locked (skipping locked ones) with the
/// conditions checked again, so two claimers never take one row.
const CLAIM_FAIRLY: &str = "\
WITH ranked AS (
    SELECT d.seq, d.next_attempt_at,
        row_number() OVER (PARTITION BY d.account_id ORDER BY d.next_attempt_at, d.seq) AS rank
    FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.account_id = d.account_id AND e.id = d.endpoint_id
    WHERE d.state = 'pending' AND d.next_attempt_at <= $1
        AND (d.lease_until IS NULL OR d.lease_until <= $1) AND e.enabled
        AND d.account_id <> ALL($5)
),
picked AS (
    SELECT seq FROM ranked WHERE rank <= $6
    ORDER BY rank, next_attempt_at, seq
    LIMIT $2
),
due AS MATERIALIZED (
    SELECT d.seq
    FROM webhook_deliveries d
    WHERE d.seq IN (SELECT seq FROM picked) AND d.state = 'pending'
        AND (d.lease_until IS NULL OR d.lease_until <= $1)
    FOR UPDATE OF d SKIP LOCKED
),
claimed AS (
    UPDATE webhook_deliveries d SET claimed_by = $3, lease_until = $4
    FROM due
    WHERE d.seq = due.seq
    RETURNING d.seq, d.id, d.account_id, d.endpoint_id, d.event_id, d.round_attempts,
        d.next_attempt_at
)
SELECT c.id, c.round_attempts,
    e.id, e.account_id, e.url, e.events, e.description, e.enabled, e.secret,
    e.previous_secret, e.previous_secret_expires_at, e.created_at, e.updated_at,
    ev.id, ev.account_id, ev.booking_id, ev.kind, ev.previous_scheduled_at, ev.created_at,
    ev.booking, ev.actor, ev.reminder_offset
FROM claimed c
JOIN webhook_endpoints e ON e.account_id = c.account_id AND e.id = c.endpoint_id
JOIN events ev ON ev.account_id = c.account_id AND ev.id = c.event_id
ORDER BY c.next_attempt_at, c.seq";

/// Records a batch of attempts in one statement. The deliveries are locked
/// (in `seq` order, so two batches cannot deadlock on each other) before
/// anything is written, so a delivery deleted with its endpoint meanwhile
/// is skipped instead of failing the batch; only a claim that is still
/// `$10`'s takes its outcome (`applies` marks the first result of a
/// delivery in the batch, as later ones would find it released).
const RECORD: &str = "\
WITH r AS (
    SELECT *
    FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::text[], $5::bigint[],
        $6::text[], $7::bigint[], $8::boolean[], $9::boolean[])
        WITH ORDINALITY AS r (delivery, at, status_code, error, duration_ms,
            state, next_attempt_at, applies, disable, n)
),
found AS (
    SELECT d.seq, d.account_id, d.endpoint_id, r.at, r.status_code, r.error, r.duration_ms,
        r.state, r.next_attempt_at, r.applies, r.disable, r.n
    FROM r
    JOIN webhook_deliveries d ON d.id = r.delivery
    ORDER BY d.seq
    FOR NO KEY UPDATE OF d
),
logged AS (
    INSERT INTO webhook_attempts (account_id, delivery_seq, at, status_code, error, duration_ms)
    SELECT account_id, seq, at, status_code, error, duration_ms FROM found ORDER BY n
    RETURNING 1
),
settled AS (
    UPDATE webhook_deliveries d
    SET state = f.state, next_attempt_at = f.next_attempt_at,
        round_attempts = d.round_attempts + 1, claimed_by = NULL, lease_until = NULL,
        updated_at = f.at
    FROM found f
    WHERE d.seq = f.seq AND f.applies AND d.claimed_by = $10
    RETURNING 1
),
disabled AS (
    UPDATE webhook_endpoints e SET enabled = false, updated_at = f.at
    FROM found f
    WHERE f.disable AND e.account_id = f.account_id AND e.id = f.endpoint_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM logged), (SELECT count(*) FROM settled),
    (SELECT count(*) FROM disabled)";

/// The columns of [`RECORD`]'s `unnest`, one vector per column.
#[derive(Default)]
struct RecordColumns {
    delivery: Vec<String>,
    at: Vec<i64>,
    status_code: Vec<Option<i32>>,
    error: Vec<Option<String>>,
    duration_ms: Vec<i64>,
    state: Vec<String>,
    next_attempt_at: Vec<Option<i64>>,
    applies: Vec<bool>,
    disable: Vec<bool>,
}

impl RecordColumns {
    fn new(results: &[AttemptResult]) -> RecordColumns {
        let mut columns = RecordColumns::default();
        let mut seen = HashSet::new();
        for r in results {
            // The account is filled in from the delivery row by the query.
            let attempt = AttemptRow::from_domain("", 0, &r.attempt);
            let (state, next) = outcome_columns(r.outcome);
            columns.applies.push(seen.insert(r.delivery.as_str()));
            columns.delivery.push(r.delivery.as_str().to_owned());
            columns.at.push(attempt.at);
            columns.status_code.push(attempt.status_code);
            columns.error.push(attempt.error);
            columns.duration_ms.push(attempt.duration_ms);
            columns.state.push(state.to_owned());
            columns.next_attempt_at.push(next);
            columns.disable.push(r.disable_endpoint);
        }
        columns
    }
}

/// The columns [`CLAIM`] returns per delivery.
type ClaimedRow = (String, i32, WebhookRow, EventRow);

/// The deliveries of [`CLAIM`]'s rows, the endpoints' secrets opened with
/// `keys`.
fn claimed(rows: Vec<ClaimedRow>, keys: &Keyring) -> Result<Vec<ClaimedDelivery>, TxError> {
    rows.into_iter()
        .map(|(id, round_attempts, endpoint, event)| {
            Ok(ClaimedDelivery {
                id: DeliveryId::from_trusted(id),
                endpoint: endpoint.into_domain(keys)?,
                event: event.into_domain()?,
                round_attempts: u32::try_from(round_attempts).unwrap_or_default(),
            })
        })
        .collect()
}

impl PostgresStore {
    /// Claims due deliveries with [`CLAIM`].
    pub(crate) async fn claim(
        &self,
        claimant: &str,
        now: i64,
        until: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let claimant = claimant.to_owned();
        let keys = self.secret_keys();
        self.run("claim_deliveries", |conn| {
            let keys = Arc::clone(&keys);
            let statement = Statement::<(Text, Integer, WebhookSql, EventSql)>::new(CLAIM)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(i64::from(limit))
                .bind::<Text, _>(claimant.clone())
                .bind::<BigInt, _>(until);
            Box::pin(async move { claimed(statement.load(conn).await?, &keys) })
        })
        .await
        .map_err(TxError::storage)
    }

    /// Claims due deliveries with [`CLAIM_FAIRLY`].
    pub(crate) async fn claim_fairly(
        &self,
        claimant: &str,
        now: i64,
        until: i64,
        limit: u32,
        per_account: u32,
        skip: Vec<String>,
    ) -> Result<Vec<ClaimedDelivery>, StorageError> {
        let claimant = claimant.to_owned();
        let keys = self.secret_keys();
        self.run("claim_deliveries_fairly", |conn| {
            let keys = Arc::clone(&keys);
            let statement = Statement::<(Text, Integer, WebhookSql, EventSql)>::new(CLAIM_FAIRLY)
                .bind::<BigInt, _>(now)
                .bind::<BigInt, _>(i64::from(limit))
                .bind::<Text, _>(claimant.clone())
                .bind::<BigInt, _>(until)
                .bind::<Array<Text>, _>(skip.clone())
                .bind::<BigInt, _>(i64::from(per_account));
            Box::pin(async move { claimed(statement.load(conn).await?, &keys) })
        })
        .await
        .map_err(TxError::storage)
    }

    /// Records attempts with [`RECORD`].
    pub(crate) async fn record(
        &self,
        claimant: &str,
        results: &[AttemptResult],
    ) -> Result<(), StorageError> {
        let claimant = claimant.to_owned();
        let columns = Arc::new(RecordColumns::new(results));
        self.run("record_attempts", |conn| {
            let (claimant, c) = (claimant.clone(), Arc::clone(&columns));
            Box::pin(async move {
                let (logged, settled, disabled): (i64, i64, i64) =
                    Statement::<(BigInt, BigInt, BigInt)>::new(RECORD)
                        .bind::<Array<Text>, _>(c.delivery.clone())
                        .bind::<Array<BigInt>, _>(c.at.clone())
                        .bind::<Array<Nullable<Integer>>, _>(c.status_code.clone())
                        .bind::<Array<Nullable<Text>>, _>(c.error.clone())
                        .bind::<Array<BigInt>, _>(c.duration_ms.clone())
                        .bind::<Array<Text>, _>(c.state.clone())
                        .bind::<Array<Nullable<BigInt>>, _>(c.next_attempt_at.clone())
                        .bind::<Array<Bool>, _>(c.applies.clone())
                        .bind::<Array<Bool>, _>(c.disable.clone())
                        .bind::<Text, _>(claimant)
                        .get_result(conn)
                        .await?;
                tracing::debug!(logged, settled, disabled, "recorded webhook attempts");
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }
}
