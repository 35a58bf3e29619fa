//! The calendar write outbox (both stores): queuing a booking's event for
//! every writing connection of its provider inside the booking's own
//! transaction, the backfill of a new writing connection, and the worker's
//! claims and results. (Postgres queues a new booking's writes inside its
//! single insert statement, `postgres/bookings.rs`; the claim's leases are
//! each store's own, `lease_due_writes`: rows locked and `lease_until` on
//! Postgres, the read pool and memory on SQLite.)

use booking_domain::ports::{ClaimedWrite, StorageError, WriteResult};
use booking_domain::{BookingId, CalendarConnection, RemoteEvent};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::{SignedDuration, Timestamp};

use crate::TxError;
use crate::postgres::PostgresStore;
use crate::rows::{ACTIVE, BookingRow, CalendarRow, WriteKey, booking_of, secs};
use crate::schema::{bookings, calendar_connections, calendar_writes};
use crate::secrets::{Field, tenant_row};
use crate::sqlite::SqliteStore;

/// Whether an outbox row is due at `now`: queued, and not claimed, or its
/// claim's lease ended.
#[diesel::dsl::auto_type]
pub(crate) fn due_write(now: i64) -> _ {
    calendar_writes::next_attempt_at.le(now).and(
        calendar_writes::lease_until
            .is_null()
            .or(calendar_writes::lease_until.le(now)),
    )
}

/// The outbox row of `(account, calendar, booking)`.
#[diesel::dsl::auto_type]
fn write_row<'a>(account: &'a str, calendar: &'a str, booking: &'a str) -> _ {
    calendar_writes::account_id
        .eq(account)
        .and(calendar_writes::calendar_id.eq(calendar))
        .and(calendar_writes::booking_id.eq(booking))
}

/// A claimed row's columns: `(booking_id, version, attempts, written,
/// remote_id, remote_etag, next_attempt_at)`.
pub(crate) type WriteColumns = (
    String,
    i64,
    i32,
    bool,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// A connection's refreshed access and refresh tokens (sealed) and the
/// access token's expiry (Unix seconds), as stored.
pub(crate) type SealedTokens = (Option<String>, Option<String>, Option<i64>);

#[duplicate_item(Store Conn; [SqliteStore] [crate::sqlite::Conn]; [PostgresStore] [crate::postgres::Conn])]
impl Store {
    /// Inside a booking write's transaction: queues the booking's event
    /// for every writing connection of each provider it occupies (a
    /// collective booking's seat providers too; always under the booking's
    /// own id, which is the event's identity). A change of a booking
    /// already queued raises the row's version and makes it due at once,
    /// with its attempts reset. One indexed read of each provider's writing
    /// connections (see `writers`); nothing more when it has none. `left`:
    /// providers the booking no longer occupies (an update that moved it),
    /// queued too so their events go. `Queue::New`: the booking is being
    /// inserted, so none of its rows exists yet and a plain `INSERT` does
    /// (diesel never caches an `ON CONFLICT … DO UPDATE` statement, so the
    /// upsert is prepared anew on every call: on SQLite's single writer
    /// that was a tenth of a write-back booking's time). Returns how many
    /// rows it queued.
    pub(crate) async fn queue_calendar_writes(
        conn: &mut Conn,
        row: &BookingRow,
        queue: Queue<'_>,
    ) -> Result<usize, TxError> {
        let booking = booking_of(&row.id);
        let now = row.updated_at;
        let left = match queue {
            Queue::New => &[][..],
            Queue::Changed { left } => left,
        };
        let mut queued = 0;
        for provider in row.providers().into_iter().chain(left.iter().cloned()) {
            for calendar in Self::writers(conn, &row.account_id, &provider).await? {
                let insert = diesel::insert_into(calendar_writes::table).values((
                    calendar_writes::account_id.eq(&row.account_id),
                    calendar_writes::calendar_id.eq(&calendar),
                    calendar_writes::booking_id.eq(booking),
                    calendar_writes::next_attempt_at.eq(Some(now)),
                    calendar_writes::created_at.eq(now),
                    calendar_writes::updated_at.eq(now),
                ));
                if matches!(queue, Queue::New) {
                    queued += insert.execute(conn).await?;
                    continue;
                }
                queued += insert
                    .on_conflict((
                        calendar_writes::account_id,
                        calendar_writes::calendar_id,
                        calendar_writes::booking_id,
                    ))
                    .do_update()
                    .set((
                        calendar_writes::version.eq(calendar_writes::version + 1),
                        calendar_writes::attempts.eq(0),
                        calendar_writes::next_attempt_at.eq(Some(now)),
                        calendar_writes::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
            }
        }
        Ok(queued)
    }

    /// Inside a new writing connection's transaction (which holds the
    /// provider's `calendars/…` lock, see `create_calendar_within`): queues
    /// the provider's active bookings that have not ended by `now` (the
    /// backfill), so they appear in the calendar too, seats of collective
    /// bookings under their booking's id. A row already queued is left as
    /// it is (never a second row). Returns how many rows it queued.
    pub(crate) async fn backfill_calendar_writes(
        conn: &mut Conn,
        connection: &CalendarRow,
        now: i64,
    ) -> Result<usize, TxError> {
        let ids: Vec<String> = bookings::table
            .filter(bookings::account_id.eq(&connection.account_id))
            .filter(bookings::provider_id.eq(&connection.provider_id))
            .filter(bookings::status.eq_any(ACTIVE))
            .filter(bookings::end_at.gt(now))
            .select(bookings::id)
            .load(conn)
            .await?;
        let mut queued = 0;
        // Chunks keep each statement's bind parameters under SQLite's limit.
        for chunk in ids.chunks(500) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|id| {
                    (
                        calendar_writes::account_id.eq(connection.account_id.clone()),
                        calendar_writes::calendar_id.eq(connection.id.clone()),
                        calendar_writes::booking_id.eq(booking_of(id).to_owned()),
                        calendar_writes::next_attempt_at.eq(Some(now)),
                        calendar_writes::created_at.eq(now),
                        calendar_writes::updated_at.eq(now),
                    )
                })
                .collect();
            queued += Self::execute_batch(
                conn,
                diesel::insert_into(calendar_writes::table)
                    .values(rows)
                    .on_conflict_do_nothing(),
            )
            .await?;
        }
        Ok(queued)
    }

    /// Claims up to `limit` due writes until `now + lease`, with their
    /// connections (secrets opened). Postgres leases the rows in the
    /// database (`lease_until`, rows locked with `SKIP LOCKED`, so processes
    /// claim disjoint rows); SQLite, one process, keeps its leases in memory
    /// and reads the due rows on its read pool (`sqlite/calendars.rs`).
    pub(crate) async fn claim_writes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: u32,
    ) -> Result<Vec<ClaimedWrite>, StorageError> {
        let claimed_at = now;
        let until = secs(now).saturating_add(lease.as_secs().max(1));
        let rows = self.lease_due_writes(secs(now), until, limit).await?;
        open_claimed(rows, &self.secret_keys(), claimed_at)
    }

    /// Stores write attempts' results, all in one transaction (see
    /// `CalendarStore::record_calendar_writes`): one commit, and on SQLite
    /// one job of the writer, per batch of results.
    pub(crate) async fn record_writes(
        &self,
        results: &[(ClaimedWrite, WriteResult)],
        now: Timestamp,
    ) -> Result<(), StorageError> {
        if results.is_empty() {
            return Ok(());
        }
        let now = secs(now);
        let keys = self.secret_keys();
        let mut records = Vec::with_capacity(results.len());
        for (claimed, result) in results {
            let account = claimed.connection.account_id.as_str().to_owned();
            let calendar = claimed.connection.id.as_str().to_owned();
            let sealed_row = tenant_row(&account, &calendar);
            let refreshed = match result {
                WriteResult::Done {
                    refreshed: Some(c), ..
                } => Some((
                    keys.seal_opt(
                        Field::CalendarAccessToken,
                        &sealed_row,
                        c.access_token.as_deref(),
                    )?,
                    keys.seal_opt(
                        Field::CalendarRefreshToken,
                        &sealed_row,
                        c.refresh_token.as_deref(),
                    )?,
                    c.expires_at.map(secs),
                )),
                _ => None,
            };
            records.push(Record {
                account,
                calendar,
                booking: claimed.booking_id.as_str().to_owned(),
                version: claimed.version,
                result: result.clone(),
                refreshed,
            });
        }
        // Each connection's state after the batch: the tokens of its last
        // refresh, and the error of its last attempt (`None`: it
        // succeeded), as recording the results one by one would leave it.
        let mut connections: Vec<Connection> = Vec::new();
        for record in &records {
            let at = match connections
                .iter()
                .position(|c| c.account == record.account && c.calendar == record.calendar)
            {
                Some(at) => at,
                None => {
                    connections.push(Connection {
                        account: record.account.clone(),
                        calendar: record.calendar.clone(),
                        refreshed: None,
                        error: None,
                    });
                    connections.len() - 1
                }
            };
            let connection = &mut connections[at];
            if record.refreshed.is_some() {
                connection.refreshed.clone_from(&record.refreshed);
            }
            connection.error = match &record.result {
                WriteResult::Done { .. } => None,
                WriteResult::Failed { error, .. } => Some(error.chars().take(500).collect()),
            };
        }
        let batch = std::sync::Arc::new((records, connections));
        let recorded = std::sync::Arc::clone(&batch);
        self.write("record_calendar_writes", move |conn| {
            let batch = std::sync::Arc::clone(&batch);
            Box::pin(async move {
                conn.transaction(async |conn| {
                    let (records, connections) = &*batch;
                    for record in Self::record_written(conn, records, now).await? {
                        Self::record_one(conn, record, now).await?;
                    }
                    for connection in connections {
                        Self::record_connection(conn, connection, now).await?;
                    }
                    Ok(())
                })
                .await
            })
        })
        .await
        .map_err(TxError::storage)?;
        // Committed: the rows' claims end (a claim made after this reads
        // what the results left).
        self.release_write_claims(recorded.0.iter().map(Record::key));
        Ok(())
    }

    /// Stores one attempt's result in its outbox row (inside
    /// `record_writes`' transaction).
    async fn record_one(conn: &mut Conn, record: &Record, now: i64) -> Result<(), TxError> {
        let Record {
            account,
            calendar,
            booking,
            version,
            result,
            ..
        } = record;
        let version = *version;
        let target = calendar_writes::table.filter(write_row(account, calendar, booking));
        // The row as the attempt left it, unless the booking changed since
        // the claim: then it stays due at once, with fresh attempts.
        let unchanged = calendar_writes::version.eq(version);
        match result {
            WriteResult::Done { remote, .. } => {
                if !remote.written {
                    // Nothing left in the calendar: the row goes, unless
                    // the booking changed meanwhile.
                    let gone = diesel::delete(target.filter(unchanged))
                        .execute(conn)
                        .await?;
                    if gone > 0 {
                        return Ok(());
                    }
                }
                diesel::update(target)
                    .set((
                        calendar_writes::written.eq(remote.written),
                        calendar_writes::remote_id.eq(&remote.id),
                        calendar_writes::remote_etag.eq(&remote.etag),
                        calendar_writes::attempts.eq(0),
                        calendar_writes::last_error.eq(None::<String>),
                        calendar_writes::lease_until.eq(None::<i64>),
                        calendar_writes::updated_at.eq(now),
                        calendar_writes::next_attempt_at.eq(diesel::dsl::case_when(
                            unchanged,
                            None::<i64>
                                .into_sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                                ),
                        )
                        .otherwise(calendar_writes::next_attempt_at)),
                    ))
                    .execute(conn)
                    .await?;
            }
            WriteResult::Failed { error, retry_at } => {
                let error: String = error.chars().take(500).collect();
                diesel::update(target)
                    .set((
                        calendar_writes::last_error.eq(Some(&error)),
                        calendar_writes::lease_until.eq(None::<i64>),
                        calendar_writes::updated_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
                diesel::update(target.filter(unchanged))
                    .set((
                        calendar_writes::attempts.eq(calendar_writes::attempts + 1),
                        calendar_writes::next_attempt_at.eq(retry_at.map(secs)),
                    ))
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }

    /// Stores a connection's refreshed tokens (sealed) and their expiry.
    pub(crate) async fn save_tokens(
        conn: &mut Conn,
        account: &str,
        id: &str,
        (access, refresh, expires): &SealedTokens,
    ) -> Result<(), TxError> {
        diesel::update(
            calendar_connections::table
                .filter(calendar_connections::account_id.eq(account))
                .filter(calendar_connections::id.eq(id)),
        )
        .set((
            calendar_connections::access_token.eq(access),
            calendar_connections::refresh_token.eq(refresh),
            calendar_connections::expires_at.eq(expires),
        ))
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Stores a connection's state after a batch of results: its refreshed
    /// tokens, and its `last_write_error` (set by a failure, cleared by a
    /// success; a healthy connection's row is not rewritten).
    async fn record_connection(
        conn: &mut Conn,
        connection: &Connection,
        now: i64,
    ) -> Result<(), TxError> {
        let row = calendar_connections::table
            .filter(calendar_connections::account_id.eq(&connection.account))
            .filter(calendar_connections::id.eq(&connection.calendar));
        if let Some(tokens) = &connection.refreshed {
            Self::save_tokens(conn, &connection.account, &connection.calendar, tokens).await?;
        }
        match &connection.error {
            None => {
                diesel::update(row.filter(calendar_connections::last_write_error.is_not_null()))
                    .set((
                        calendar_connections::last_write_error.eq(None::<String>),
                        calendar_connections::last_write_error_at.eq(None::<i64>),
                    ))
                    .execute(conn)
                    .await?;
            }
            Some(error) => {
                diesel::update(row)
                    .set((
                        calendar_connections::last_write_error.eq(Some(error)),
                        calendar_connections::last_write_error_at.eq(Some(now)),
                    ))
                    .execute(conn)
                    .await?;
            }
        }
        Ok(())
    }
}

impl SqliteStore {
    /// Stores no result: SQLite's statements cost no round trip, so every
    /// result is stored by `record_one` (all of `records` come back).
    async fn record_written<'r>(
        _: &mut crate::sqlite::Conn,
        records: &'r [Record],
        _: i64,
    ) -> Result<Vec<&'r Record>, TxError> {
        Ok(records.iter().collect())
    }
}

impl PostgresStore {
    /// Stores, in one statement, the results that wrote an event (the
    /// usual result: `record_one`'s first case for every one of them, an
    /// `UPDATE … FROM unnest(…)`), so a batch costs one round trip instead
    /// of one per write. Returns the others (removals, failures, and a row
    /// with two results in the batch, whose order matters), for
    /// `record_one`.
    async fn record_written<'r>(
        conn: &mut crate::postgres::Conn,
        records: &'r [Record],
        now: i64,
    ) -> Result<Vec<&'r Record>, TxError> {
        use diesel::sql_types::{Array, BigInt, Nullable, Text};

        let mut seen = std::collections::HashMap::new();
        for record in records {
            *seen.entry(record.key()).or_insert(0usize) += 1;
        }
        let (written, rest): (Vec<&Record>, Vec<&Record>) = records.iter().partition(|r| {
            matches!(&r.result, WriteResult::Done { remote, .. } if remote.written)
                && seen.get(&r.key()) == Some(&1)
        });
        if written.is_empty() {
            return Ok(rest);
        }
        let remote = |r: &Record| match &r.result {
            WriteResult::Done { remote, .. } => (remote.id.clone(), remote.etag.clone()),
            WriteResult::Failed { .. } => (None, None),
        };
        crate::sql::Statement::<()>::new(
            "UPDATE calendar_writes w SET written = true, remote_id = v.remote_id, \
             remote_etag = v.remote_etag, attempts = 0, last_error = NULL, \
             lease_until = NULL, updated_at = $7, \
             next_attempt_at = CASE WHEN w.version = v.version THEN NULL \
               ELSE w.next_attempt_at END \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], \
               $6::text[]) AS v (account_id, calendar_id, booking_id, version, remote_id, \
               remote_etag) \
             WHERE w.account_id = v.account_id AND w.calendar_id = v.calendar_id \
               AND w.booking_id = v.booking_id",
        )
        .bind::<Array<Text>, _>(
            written
                .iter()
                .map(|r| r.account.clone())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            written
                .iter()
                .map(|r| r.calendar.clone())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<Text>, _>(
            written
                .iter()
                .map(|r| r.booking.clone())
                .collect::<Vec<_>>(),
        )
        .bind::<Array<BigInt>, _>(written.iter().map(|r| r.version).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(written.iter().map(|r| remote(r).0).collect::<Vec<_>>())
        .bind::<Array<Nullable<Text>>, _>(written.iter().map(|r| remote(r).1).collect::<Vec<_>>())
        .bind::<BigInt, _>(now)
        .execute(conn)
        .await?;
        Ok(rest)
    }
}

/// The outbox joined with each row's connection (what a claim reads).
#[diesel::dsl::auto_type]
pub(crate) fn writes_with_connections() -> _ {
    calendar_writes::table.inner_join(
        calendar_connections::table.on(calendar_connections::account_id
            .eq(calendar_writes::account_id)
            .and(calendar_connections::id.eq(calendar_writes::calendar_id))),
    )
}

/// A claimed row's columns with its connection, as a claim reads them from
/// [`writes_with_connections`].
pub(crate) type ClaimedRow = (WriteColumns, CalendarRow);

/// The outbox columns a claim reads ([`WriteColumns`]; a [`ClaimedRow`] is
/// these and `CalendarRow::as_select()`).
#[diesel::dsl::auto_type]
pub(crate) fn claimed_columns() -> _ {
    (
        calendar_writes::booking_id,
        calendar_writes::version,
        calendar_writes::attempts,
        calendar_writes::written,
        calendar_writes::remote_id,
        calendar_writes::remote_etag,
        calendar_writes::next_attempt_at,
    )
}

/// The claimed writes of `rows`, their connections' secrets opened. A batch
/// is usually many bookings of one or a few connections: each connection's
/// sealed credentials are opened once per batch.
fn open_claimed(
    rows: Vec<ClaimedRow>,
    keys: &crate::secrets::Keyring,
    claimed_at: Timestamp,
) -> Result<Vec<ClaimedWrite>, StorageError> {
    let mut opened: Vec<CalendarConnection> = Vec::new();
    rows.into_iter()
        .map(
            |((booking, version, attempts, written, id, etag, due), row)| {
                let connection = match opened
                    .iter()
                    .find(|c| c.id.as_str() == row.id && c.account_id.as_str() == row.account_id)
                {
                    Some(c) => c.clone(),
                    None => {
                        let c = row.into_domain(keys)?;
                        opened.push(c.clone());
                        c
                    }
                };
                Ok(ClaimedWrite {
                    connection,
                    booking_id: BookingId::from_trusted(booking),
                    version,
                    attempts: u32::try_from(attempts).unwrap_or_default(),
                    remote: RemoteEvent { written, id, etag },
                    // A claimed row is due, so it has a time (and one out
                    // of range is as good as due now).
                    due_since: due
                        .and_then(|t| Timestamp::from_second(t).ok())
                        .unwrap_or(claimed_at),
                })
            },
        )
        .collect()
}

/// Which booking write queues its calendar writes (see
/// `queue_calendar_writes`).
#[derive(Clone, Copy)]
pub(crate) enum Queue<'a> {
    /// A booking being inserted: it has no outbox row yet.
    New,
    /// A booking changed; `left`: the providers it no longer occupies.
    Changed { left: &'a [String] },
}

/// One result to store: its row's key, the version it wrote, and the
/// connection's refreshed tokens (sealed) with their expiry.
struct Record {
    account: String,
    calendar: String,
    booking: String,
    version: i64,
    result: WriteResult,
    refreshed: Option<SealedTokens>,
}

impl Record {
    /// Its outbox row's key.
    fn key(&self) -> WriteKey {
        (
            self.account.clone(),
            self.calendar.clone(),
            self.booking.clone(),
        )
    }
}

/// A connection's state to store after a batch of results.
struct Connection {
    account: String,
    calendar: String,
    /// Its last refreshed tokens (sealed) with their expiry.
    refreshed: Option<SealedTokens>,
    /// Its last attempt's error (`None`: that attempt succeeded).
    error: Option<String>,
}
