//! Bookings and their events.
//!
//! Conflicts are not checked before writing: the exclusion constraint
//! `bookings_no_overlap` refuses an active booking whose occupied range
//! overlaps another active booking of the same provider, atomically and
//! across every server instance, and the store maps that refusal (SQLSTATE
//! 23P01 on that constraint) to `Conflict`. A new booking whose occupied
//! range meets an external calendar's busy block is not inserted either
//! (checked by the insert statement itself), also a `Conflict`.

use std::sync::Arc;

use async_trait::async_trait;
use booking_domain::ports::{
    BookingFilter, BookingStore, CreateBookingError, Page, PageRequest, StorageError,
    UpdateBookingError,
};
use booking_domain::{AccountId, Booking, BookingEvent, BookingId, ProviderId, TimeRange};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{Array, BigInt, Bool, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::Timestamp;

use booking_store_common::busy_ranges;

use crate::rows::{ACTIVE, BookingRow, EventRow, MAX_OCCUPIED_SECS, secs, secs_ceil};
use crate::schema::{bookings, events};
use crate::sql::{Condition, Statement};
use crate::{PostgresStore, TxError, page, page_limit};

/// The exclusion constraint that keeps active bookings of a provider apart.
const NO_OVERLAP: &str = "bookings_no_overlap";

/// Whether `e` is the violation of [`NO_OVERLAP`] (SQLSTATE 23P01, which
/// diesel-async reports as `ExclusionViolation` with the constraint name).
fn is_overlap(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::ExclusionViolation, info)
            if info.constraint_name() == Some(NO_OVERLAP)
    )
}

/// Turns the overlap violation into [`TxError::Conflict`].
fn conflict_or(e: DieselError) -> TxError {
    if is_overlap(&e) {
        TxError::Conflict
    } else {
        TxError::Db(e)
    }
}

/// Refuses rows the bounded busy-time scan could not see (the schema checks
/// it too; this gives the clearer message).
fn check_length(row: &BookingRow) -> Result<(), StorageError> {
    let length = row.occupied_end.saturating_sub(row.occupied_start);
    if length <= 0 || length > MAX_OCCUPIED_SECS {
        return Err(StorageError::Internal(format!(
            "booking {}: occupied range of {length} s is outside what the store supports \
             (1 s to {MAX_OCCUPIED_SECS} s)",
            row.id
        )));
    }
    Ok(())
}

fn event_rows(booking: &Booking, events: &[BookingEvent]) -> Result<Vec<EventRow>, StorageError> {
    events
        .iter()
        .map(|e| {
            if e.account_id != booking.account_id || e.booking.id != booking.id {
                return Err(StorageError::Internal(format!(
                    "event {} does not belong to booking {}",
                    e.id, booking.id
                )));
            }
            EventRow::from_domain(e)
        })
        .collect()
}

/// Inserts the events and queues their webhook deliveries (notifying the
/// listeners at commit); returns how many deliveries it queued.
async fn insert_events(conn: &mut AsyncPgConnection, rows: &[EventRow]) -> Result<usize, TxError> {
    if rows.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(events::table)
        .values(rows)
        .execute(conn)
        .await?;
    crate::webhooks::queue_deliveries(conn, rows).await
}

/// What an insert writes.
struct Insert {
    row: BookingRow,
    events: Vec<EventRow>,
}

/// What an update writes, and what it expects to replace.
struct Update {
    row: BookingRow,
    events: Vec<EventRow>,
    /// `(status, scheduled_at, updated_at)` of `previous`.
    expected: (&'static str, i64, i64),
}

/// The booking insert's single statement after its first line (see
/// [`Guard`] for that line; `guard` is the relation it defines): the
/// booking, unless an external calendar blocks its time; its events; their
/// webhook deliveries; and a `NOTIFY` when any were queued. Each part reads
/// the one before (nothing is written when the booking is not), foreign keys
/// are checked at the end of the statement, and the statement is its own
/// transaction: one round trip for the whole write.
///
/// `$1`-`$22` are the booking's columns, in the order listed; `$23`
/// event ids, `$24` kinds, `$25` previous starts, `$26` creation instants,
/// `$27` snapshots, `$28` kind bits; `$29` whether to check external busy
/// time (only for an active booking). Its row is `(booked, events, queued,
/// notified)`.
macro_rules! insert_booking_sql {
    ($guard:literal) => {
        concat!(
            "WITH guard AS MATERIALIZED (SELECT ",
            $guard,
            " AS g),
booking AS (
    INSERT INTO bookings (id, account_id, service_id, provider_id, duration_min, scheduled_at,
        end_at, occupied_start, occupied_end, buffer_before, buffer_after, status,
        customer_email, customer_name, price_minor, currency, notes, metadata, cancel_reason,
        sequence, created_at, updated_at)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19, $20, $21, $22
    FROM guard
    WHERE NOT ($29 AND EXISTS (
        SELECT 1 FROM calendar_busy c
        WHERE c.account_id = $2 AND c.provider_id = $4
            AND c.start_at < $9 AND c.start_at > $8 - 86400 AND c.end_at > $8))
    RETURNING 1
),
event AS (
    INSERT INTO events (id, account_id, booking_id, kind, previous_scheduled_at, created_at,
        booking)
    SELECT ev.id, $2, $1, ev.kind, ev.previous, ev.created_at, ev.snapshot
    FROM booking,
        unnest($23::text[], $24::text[], $25::bigint[], $26::bigint[], $27::jsonb[])
        WITH ORDINALITY AS ev (id, kind, previous, created_at, snapshot, n)
    ORDER BY ev.n
    RETURNING 1
),
queued AS (
    ",
            crate::webhooks::fan_out_insert!("$23", "$24", "$26", "$28", "$2", ", booking"),
            "
)
SELECT (SELECT count(*) FROM booking) AS booked, (SELECT count(*) FROM event) AS events,
    (SELECT count(*) FROM queued) AS queued,
    CASE WHEN (SELECT count(*) FROM queued) > 0
        THEN pg_notify('booking_webhooks', '')::text END AS notified"
        )
    };
}

/// The insert without a lock: waiting for another transaction is capped at
/// 50 ms (`lock_timeout`, local to this statement's transaction).
const INSERT_OPTIMISTIC: &str = insert_booking_sql!("set_config('lock_timeout', '50ms', true)");

/// The insert behind the provider's transaction-scoped advisory lock
/// (`$30` is the lock's key), released when the statement commits.
const INSERT_LOCKED: &str =
    insert_booking_sql!("pg_advisory_xact_lock(hashtextextended($30, 0))::text");

/// How an insert keeps concurrent overlapping inserts from waiting on each
/// other.
///
/// The exclusion constraint alone is correct, but two concurrent inserts that
/// overlap each wait for the other's transaction inside the constraint check:
/// a deadlock that Postgres only breaks after `deadlock_timeout` (1 s). Under
/// a burst of overlapping requests those pile up into chains that outlast any
/// client (seen with 200 requests over three processes).
///
/// Inserts that overlap nothing uncommitted (nearly all of them) never wait,
/// so they run [`Guard::Optimistic`]ally, side by side, with a short
/// `lock_timeout`: an insert that meets an overlapping uncommitted booking
/// waits at most that long (the other transaction usually commits sooner and
/// the insert fails with 23P01 at once), and a deadlock cancels both within
/// it. An insert that gave up runs again [`Guard::Locked`]: queued behind
/// every other locked write of the provider, where it meets only committed
/// rows or optimistic inserts that give up quickly. The constraint remains
/// the guard either way; the timeout only bounds the waiting.
///
/// The guard is the first relation of the statement, and the booking's row
/// is selected from it, so it is evaluated before the row is inserted (and
/// its constraint checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// No lock; waiting for another transaction is capped.
    Optimistic,
    /// The provider's transaction-scoped advisory lock, taken first.
    Locked,
}

/// The provider's advisory lock key (its hash is the lock).
fn lock_key(account: &str, provider: &str) -> String {
    format!("bookings/{account}/{provider}")
}

/// Queues this transaction behind any other locked write of the provider
/// (a transaction-scoped advisory lock, released at commit or rollback, so
/// it can never outlive the transaction on a pooled connection).
async fn lock_provider(
    conn: &mut AsyncPgConnection,
    account: &str,
    provider: &str,
) -> Result<(), TxError> {
    // A cached statement (`sql_query` would be prepared again each time).
    Statement::<()>::new("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<Text, _>(lock_key(account, provider))
        .execute(conn)
        .await?;
    Ok(())
}

/// Whether `e` is a statement that gave up waiting for another transaction:
/// `lock_timeout` (55P03) or a lost deadlock (40P01). diesel keeps the
/// message, not the SQLSTATE.
fn gave_up_waiting(e: &DieselError) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let message = info.message();
            message.contains("due to lock timeout") || message.contains("deadlock detected")
        }
        _ => false,
    }
}

/// The row of the insert statement: `(booked, events, queued, notified)`.
type InsertResult = (BigInt, BigInt, BigInt, Nullable<Text>);

/// Runs the insert's single statement with `guard`; returns how many
/// deliveries it queued. `Conflict` when the booking overlaps an active
/// booking (23P01) or an external busy block (nothing inserted).
async fn insert_statement(
    conn: &mut AsyncPgConnection,
    insert: &Insert,
    guard: Guard,
) -> Result<usize, TxError> {
    let row = &insert.row;
    let events = &insert.events;
    let sql = match guard {
        Guard::Optimistic => INSERT_OPTIMISTIC,
        Guard::Locked => INSERT_LOCKED,
    };
    let mut statement = Statement::<InsertResult>::new(sql)
        .bind::<Text, _>(row.id.clone())
        .bind::<Text, _>(row.account_id.clone())
        .bind::<Text, _>(row.service_id.clone())
        .bind::<Text, _>(row.provider_id.clone())
        .bind::<BigInt, _>(row.duration_min)
        .bind::<BigInt, _>(row.scheduled_at)
        .bind::<BigInt, _>(row.end_at)
        .bind::<BigInt, _>(row.occupied_start)
        .bind::<BigInt, _>(row.occupied_end)
        .bind::<BigInt, _>(row.buffer_before)
        .bind::<BigInt, _>(row.buffer_after)
        .bind::<Text, _>(row.status.clone())
        .bind::<Text, _>(row.customer_email.clone())
        .bind::<Text, _>(row.customer_name.clone())
        .bind::<BigInt, _>(row.price_minor)
        .bind::<Text, _>(row.currency.clone())
        .bind::<Nullable<Text>, _>(row.notes.clone())
        .bind::<Jsonb, _>(row.metadata.clone())
        .bind::<Nullable<Text>, _>(row.cancel_reason.clone())
        .bind::<BigInt, _>(row.sequence)
        .bind::<BigInt, _>(row.created_at)
        .bind::<BigInt, _>(row.updated_at)
        .bind::<Array<Text>, _>(events.iter().map(|e| e.id.clone()).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(events.iter().map(|e| e.kind.clone()).collect::<Vec<_>>())
        .bind::<Array<Nullable<BigInt>>, _>(
            events
                .iter()
                .map(|e| e.previous_scheduled_at)
                .collect::<Vec<_>>(),
        )
        .bind::<Array<BigInt>, _>(events.iter().map(|e| e.created_at).collect::<Vec<_>>())
        .bind::<Array<Jsonb>, _>(events.iter().map(|e| e.booking.clone()).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(crate::webhooks::kind_bits(events)?)
        .bind::<Bool, _>(ACTIVE.contains(&row.status.as_str()));
    if guard == Guard::Locked {
        statement = statement.bind::<Text, _>(lock_key(&row.account_id, &row.provider_id));
    }
    let result = statement
        .get_result::<(i64, i64, i64, Option<String>)>(conn)
        .await;
    match result {
        Ok((0, ..)) => Err(TxError::Conflict),
        Ok((1, written, queued, ..)) if usize::try_from(written).ok() == Some(events.len()) => {
            Ok(usize::try_from(queued).unwrap_or_default())
        }
        Ok((booked, written, ..)) => Err(TxError::Storage(StorageError::Internal(format!(
            "booking {}: the insert wrote {booked} booking(s) and {written} of {} event(s)",
            row.id,
            events.len()
        )))),
        Err(e) if is_overlap(&e) => Err(TxError::Conflict),
        Err(e) if guard == Guard::Optimistic && gave_up_waiting(&e) => Err(TxError::GaveUpWaiting),
        Err(e) => Err(TxError::Db(e)),
    }
}

/// One transaction: the guarded update (no row = stale; the constraint =
/// conflict), then the events and their deliveries (how many it returns).
/// The row lock taken by the update makes a concurrent change of the same
/// booking wait and then find it stale.
async fn update_tx(conn: &mut AsyncPgConnection, update: &Update) -> Result<usize, TxError> {
    conn.transaction(async |conn| {
        let row = &update.row;
        lock_provider(conn, &row.account_id, &row.provider_id).await?;
        let (status, start, updated_at) = update.expected;
        let n = diesel::update(
            bookings::table
                .filter(bookings::account_id.eq(&row.account_id))
                .filter(bookings::id.eq(&row.id))
                .filter(bookings::status.eq(status))
                .filter(bookings::scheduled_at.eq(start))
                .filter(bookings::updated_at.eq(updated_at)),
        )
        .set(row)
        .execute(conn)
        .await
        .map_err(conflict_or)?;
        if n == 0 {
            return Err(TxError::Stale);
        }
        insert_events(conn, &update.events).await
    })
    .await
}

/// Everything that blocks a provider over `[$3, $4)` (unix seconds): the
/// occupied ranges of its active bookings (`$6` statuses) except `$7`, and
/// its external calendars' busy pieces. One cached statement (fixed text),
/// so a read costs one round trip, and one row of four arrays (starts and
/// ends of each kind, each in start order, `NULL` when empty) instead of a
/// row per range: a dense month is a thousand ranges, and per-row protocol
/// messages and decoding were most of a read's cost.
///
/// Each half is an index range scan bounded below by the longest possible
/// range of its kind (`$5` = `$3` minus [`MAX_OCCUPIED_SECS`] for bookings,
/// a day for external pieces, both capped by the schema), whose index order
/// the sorted subqueries keep: `bookings_busy` is covering, not partial, so
/// the cached generic plan can use it for an index-only scan.
const BUSY_TIME: &str = "\
SELECT b.starts, b.ends, c.starts, c.ends
FROM (
    SELECT array_agg(occupied_start) AS starts, array_agg(occupied_end) AS ends
    FROM (
        SELECT occupied_start, occupied_end FROM bookings
        WHERE account_id = $1 AND provider_id = $2 AND occupied_start < $4
            AND occupied_start > $5 AND occupied_end > $3 AND status = ANY($6) AND id <> $7
        ORDER BY occupied_start
    ) sorted
) b, (
    SELECT array_agg(start_at) AS starts, array_agg(end_at) AS ends
    FROM (
        SELECT start_at, end_at FROM calendar_busy
        WHERE account_id = $1 AND provider_id = $2 AND start_at < $4
            AND start_at > $3 - 86400 AND end_at > $3
        ORDER BY start_at
    ) sorted
) c";

/// The arrays of [`BUSY_TIME`]'s row.
type BusyArrays = (
    Nullable<Array<BigInt>>,
    Nullable<Array<BigInt>>,
    Nullable<Array<BigInt>>,
    Nullable<Array<BigInt>>,
);

/// `(start, end)` pairs from parallel arrays (`None`: empty); arrays of
/// different lengths are a store bug.
fn pairs(
    starts: Option<Vec<i64>>,
    ends: Option<Vec<i64>>,
) -> Result<Vec<(i64, i64)>, StorageError> {
    let (starts, ends) = (starts.unwrap_or_default(), ends.unwrap_or_default());
    if starts.len() != ends.len() {
        return Err(StorageError::Internal(format!(
            "busy time: {} starts but {} ends",
            starts.len(),
            ends.len()
        )));
    }
    Ok(starts.into_iter().zip(ends).collect())
}

#[async_trait]
impl BookingStore for PostgresStore {
    async fn insert_booking(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
    ) -> Result<(), CreateBookingError> {
        let row = BookingRow::from_domain(booking)?;
        check_length(&row)?;
        let insert = Arc::new(Insert {
            events: event_rows(booking, events)?,
            row,
        });
        let attempt = |guard: Guard| {
            let insert = Arc::clone(&insert);
            self.run("insert_booking", move |conn| {
                let insert = Arc::clone(&insert);
                Box::pin(async move { insert_statement(conn, &insert, guard).await })
            })
        };
        let result = match attempt(Guard::Optimistic).await {
            Err(TxError::GaveUpWaiting) => attempt(Guard::Locked).await,
            other => other,
        };
        match result {
            Ok(queued) => {
                if queued > 0 {
                    self.wake();
                }
                if booking.status.is_active() {
                    self.busy_changed(&insert.row.account_id, &insert.row.provider_id);
                }
                Ok(())
            }
            Err(TxError::Conflict) => Err(CreateBookingError::Conflict),
            Err(e) => Err(CreateBookingError::Storage(e.storage())),
        }
    }

    async fn update_booking(
        &self,
        previous: &Booking,
        updated: &Booking,
        events: &[BookingEvent],
    ) -> Result<(), UpdateBookingError> {
        if previous.id != updated.id || previous.account_id != updated.account_id {
            return Err(UpdateBookingError::Storage(StorageError::Internal(
                format!(
                    "update_booking: {} cannot replace {}",
                    updated.id, previous.id
                ),
            )));
        }
        let row = BookingRow::from_domain(updated)?;
        check_length(&row)?;
        let update = Arc::new(Update {
            events: event_rows(updated, events)?,
            expected: (
                previous.status.name(),
                secs(previous.scheduled_at),
                secs(previous.updated_at),
            ),
            row,
        });
        let result = self
            .run("update_booking", |conn| {
                let update = Arc::clone(&update);
                Box::pin(async move { update_tx(conn, &update).await })
            })
            .await;
        match result {
            Ok(queued) => {
                if queued > 0 {
                    self.wake();
                }
                self.busy_changed(&update.row.account_id, &update.row.provider_id);
                Ok(())
            }
            Err(TxError::Conflict) => Err(UpdateBookingError::Conflict),
            Err(TxError::Stale) => Err(UpdateBookingError::Stale),
            Err(e) => Err(UpdateBookingError::Storage(e.storage())),
        }
    }

    async fn get_booking(
        &self,
        account: &AccountId,
        id: &BookingId,
    ) -> Result<Option<Booking>, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        self.run("get_booking", |conn| {
            let (account, id) = (account.clone(), id.clone());
            Box::pin(async move {
                let row = bookings::table
                    .filter(bookings::account_id.eq(&account))
                    .filter(bookings::id.eq(&id))
                    .select(BookingRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(BookingRow::into_domain).transpose()?)
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn list_bookings(
        &self,
        account: &AccountId,
        filter: &BookingFilter,
        page_req: PageRequest,
    ) -> Result<Page<Booking>, StorageError> {
        let account = account.as_str().to_owned();
        let filter = filter.clone();
        let limit = page_limit(&page_req);
        self.run("list_bookings", |conn| {
            let (account, filter) = (account.clone(), filter.clone());
            Box::pin(async move {
                let mut query = bookings::table
                    .filter(bookings::account_id.eq(&account))
                    .filter(bookings::seq.gt(page_req.after.unwrap_or(0)))
                    .into_boxed();
                if let Some(status) = filter.status {
                    query = query.filter(bookings::status.eq(status.name()));
                }
                if let Some(service) = &filter.service_id {
                    query = query.filter(bookings::service_id.eq(service.as_str()));
                }
                if let Some(provider) = &filter.provider_id {
                    query = query.filter(bookings::provider_id.eq(provider.as_str()));
                }
                // Stored starts are whole seconds: `>= from` is `>= ceil(from)`
                // and `< to` is `< ceil(to)`.
                if let Some(from) = filter.from {
                    query = query.filter(bookings::scheduled_at.ge(secs_ceil(from)));
                }
                if let Some(to) = filter.to {
                    query = query.filter(bookings::scheduled_at.lt(secs_ceil(to)));
                }
                let rows: Vec<(i64, BookingRow)> = query
                    .order(bookings::seq.asc())
                    .limit(limit + 1)
                    .select((bookings::seq, BookingRow::as_select()))
                    .load(conn)
                    .await?;
                Ok(page(rows, limit, BookingRow::into_domain)?)
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn busy_times(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<Vec<TimeRange>, StorageError> {
        let account = account.as_str().to_owned();
        let provider = provider.as_str().to_owned();
        let excluding = excluding.map(|id| id.as_str().to_owned());
        let (start, end) = (secs(range.start()), secs_ceil(range.end()));
        // Only whole windows are cached (reschedules exclude a booking).
        let cached = excluding.is_none().then(|| {
            let group = crate::cache::group(&account, &provider);
            let window = crate::cache::busy_window(start, end);
            let epoch = self.inner.busy.get(&group, &window);
            (group, window, epoch)
        });
        let epoch = match cached {
            Some((_, _, Ok(ranges))) => return Ok(ranges),
            Some((group, window, Err(epoch))) => Some((group, window, epoch)),
            None => None,
        };
        let ranges = self
            .run("busy_times", |conn| {
                let statement = Statement::<BusyArrays>::new(BUSY_TIME)
                    .bind::<Text, _>(account.clone())
                    .bind::<Text, _>(provider.clone())
                    .bind::<BigInt, _>(start)
                    .bind::<BigInt, _>(end)
                    .bind::<BigInt, _>(start.saturating_sub(MAX_OCCUPIED_SECS))
                    .bind::<Array<Text>, _>(ACTIVE.to_vec())
                    // Ids are never empty, so "" excludes nothing.
                    .bind::<Text, _>(excluding.clone().unwrap_or_default());
                Box::pin(async move {
                    type Arrays = (
                        Option<Vec<i64>>,
                        Option<Vec<i64>>,
                        Option<Vec<i64>>,
                        Option<Vec<i64>>,
                    );
                    let (starts, ends, external_starts, external_ends): Arrays =
                        statement.get_result(conn).await?;
                    let mut rows = pairs(starts, ends)?;
                    let external = pairs(external_starts, external_ends)?;
                    if !external.is_empty() {
                        rows.extend(external);
                        rows.sort_unstable_by_key(|&(start, _)| start);
                    }
                    Ok(busy_ranges(rows)?)
                })
            })
            .await
            .map_err(TxError::storage)?;
        if let Some((group, window, epoch)) = epoch {
            let cost = ranges.len() + 1;
            self.inner
                .busy
                .fill(&group, &window, ranges.clone(), cost, epoch);
        }
        Ok(ranges)
    }

    async fn booking_events(
        &self,
        account: &AccountId,
        id: &BookingId,
    ) -> Result<Vec<BookingEvent>, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        self.run("booking_events", |conn| {
            let (account, id) = (account.clone(), id.clone());
            Box::pin(async move {
                let rows: Vec<EventRow> = events::table
                    .filter(events::account_id.eq(&account))
                    .filter(events::booking_id.eq(&id))
                    .order(events::seq.asc())
                    .select(EventRow::as_select())
                    .load(conn)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(EventRow::into_domain)
                    .collect::<Result<Vec<_>, _>>()?)
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn due_for_completion(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Booking>, StorageError> {
        let now = secs(now);
        self.run("due_for_completion", |conn| {
            Box::pin(async move {
                // A literal status, so the partial index `bookings_confirmed_end`
                // applies (a bound parameter cannot prove its predicate in a
                // cached plan).
                let rows: Vec<BookingRow> = bookings::table
                    .filter(Condition("bookings.status = 'confirmed'"))
                    .filter(bookings::end_at.le(now))
                    .order(bookings::end_at.asc())
                    .limit(i64::from(limit))
                    .select(BookingRow::as_select())
                    .load(conn)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(BookingRow::into_domain)
                    .collect::<Result<Vec<_>, _>>()?)
            })
        })
        .await
        .map_err(TxError::storage)
    }
}
