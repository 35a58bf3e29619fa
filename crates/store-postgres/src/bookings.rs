//! Bookings and their events.
//!
//! Conflicts are not checked here: the exclusion constraint
//! `bookings_no_overlap` refuses an active booking whose occupied range
//! overlaps another active booking of the same provider, atomically and
//! across every server instance, and the store maps that refusal (SQLSTATE
//! 23P01 on that constraint) to `Conflict`.

use std::sync::Arc;

use async_trait::async_trait;
use booking_domain::ports::{
    BookingFilter, BookingStore, CreateBookingError, Page, PageRequest, StorageError,
    UpdateBookingError,
};
use booking_domain::{AccountId, Booking, BookingEvent, BookingId, ProviderId, TimeRange};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use jiff::Timestamp;

use crate::rows::{ACTIVE, BookingRow, EventRow, MAX_OCCUPIED_SECS, corrupt, secs, secs_ceil};
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

/// How long an optimistic insert waits for another transaction that holds
/// an overlapping, uncommitted booking before it gives up and runs again
/// behind the provider's lock (see [`Guard`]).
const OPTIMISTIC_LOCK_TIMEOUT: &str = "SELECT set_config('lock_timeout', '50ms', true)";

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// No lock; waiting for another transaction is capped.
    Optimistic,
    /// The provider's transaction-scoped advisory lock, taken first.
    Locked,
}

impl Guard {
    /// The transaction's first statement.
    fn statement(self, account: &str, provider: &str) -> Statement<()> {
        match self {
            Guard::Optimistic => Statement::new(OPTIMISTIC_LOCK_TIMEOUT),
            Guard::Locked => lock_statement(account, provider),
        }
    }
}

/// The provider's write lock: a transaction-scoped advisory lock, released
/// at commit or rollback, so it can never outlive the transaction on a
/// pooled connection.
fn lock_statement(account: &str, provider: &str) -> Statement<()> {
    // A cached statement (`sql_query` would be prepared again each time).
    Statement::<()>::new("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind::<diesel::sql_types::Text, _>(format!("bookings/{account}/{provider}"))
}

/// Queues this transaction behind any other locked write of the provider.
async fn lock_provider(
    conn: &mut AsyncPgConnection,
    account: &str,
    provider: &str,
) -> Result<(), TxError> {
    lock_statement(account, provider).execute(conn).await?;
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

/// One transaction: the [`Guard`], the booking, its events and their
/// deliveries (how many it returns). The insert itself is the conflict
/// check.
///
/// The four statements are pipelined: sent together and run in order by
/// the server, so the transaction costs BEGIN, one round trip and COMMIT,
/// and a locked insert holds the provider's lock that much shorter. When a
/// statement fails, the ones after it fail with "transaction is aborted";
/// every result is awaited and the first failure *in statement order* is
/// the one reported (the insert's 23P01, not a later statement's abort).
async fn insert_tx(
    conn: &mut AsyncPgConnection,
    insert: &Insert,
    guard: Guard,
) -> Result<usize, TxError> {
    use futures_util::future::{TryFutureExt, join, join4};
    let fan_out = crate::webhooks::fan_out(&insert.events)?;
    let row = &insert.row;
    // Any statement may meet a lock (the fan-out's foreign key meets an
    // endpoint being deleted, say), so the optimistic guard's give-up is
    // recognised on all of them.
    let failed = |e: DieselError| {
        if is_overlap(&e) {
            TxError::Conflict
        } else if guard == Guard::Optimistic && gave_up_waiting(&e) {
            TxError::GaveUpWaiting
        } else {
            TxError::Db(e)
        }
    };
    conn.transaction(async |conn| {
        let mut shared: &AsyncPgConnection = conn;
        let first = guard
            .statement(&row.account_id, &row.provider_id)
            .execute(&mut shared)
            .map_err(failed);
        let booking = diesel::insert_into(bookings::table)
            .values(row)
            .execute(&mut shared)
            .map_err(failed);
        let (Some(fan_out), false) = (fan_out, insert.events.is_empty()) else {
            let (first, booking) = join(first, booking).await;
            first?;
            booking?;
            return Ok(0);
        };
        let events = diesel::insert_into(events::table)
            .values(&insert.events)
            .execute(&mut shared)
            .map_err(failed);
        let queued = fan_out
            .get_result::<(i64, Option<String>)>(&mut shared)
            .map_err(failed);
        let (first, booking, events, queued) = join4(first, booking, events, queued).await;
        first?;
        booking?;
        events?;
        let (queued, _) = queued?;
        Ok(usize::try_from(queued).unwrap_or_default())
    })
    .await
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

/// The active bookings of a provider whose occupied range overlaps
/// `[start, end)` (unix seconds), except `excluding`. The lower bound on
/// `occupied_start` lets the `(account_id, provider_id, occupied_start)`
/// index bound the scan to rows near the range (the schema caps the length
/// of an occupied range at [`MAX_OCCUPIED_SECS`]).
/// Occupied ranges of the provider's active bookings overlapping
/// `[start, end)` (unix seconds), except `excluding`, in start order. One
/// fixed SQL text (no boxing, so diesel caches the prepared statement), read
/// by an index-only scan of `bookings_busy` (covering, not partial, so cached
/// generic plans can use it) bounded by the longest possible
/// occupied range.
async fn busy_rows(
    conn: &mut AsyncPgConnection,
    account: &str,
    provider: &str,
    (start, end): (i64, i64),
    excluding: Option<&str>,
) -> Result<Vec<(i64, i64)>, diesel::result::Error> {
    bookings::table
        .filter(bookings::account_id.eq(account))
        .filter(bookings::provider_id.eq(provider))
        .filter(bookings::occupied_start.lt(end))
        .filter(bookings::occupied_start.gt(start.saturating_sub(MAX_OCCUPIED_SECS)))
        .filter(bookings::occupied_end.gt(start))
        .filter(bookings::status.eq_any(ACTIVE))
        // Ids are never empty, so "" excludes nothing.
        .filter(bookings::id.ne(excluding.unwrap_or("")))
        .order(bookings::occupied_start.asc())
        .select((bookings::occupied_start, bookings::occupied_end))
        .load(conn)
        .await
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
                Box::pin(async move { insert_tx(conn, &insert, guard).await })
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
        self.run("busy_times", |conn| {
            let (account, provider, excluding) =
                (account.clone(), provider.clone(), excluding.clone());
            Box::pin(async move {
                let rows = busy_rows(
                    conn,
                    &account,
                    &provider,
                    (start, end),
                    excluding.as_deref(),
                )
                .await?;
                let ranges = rows
                    .into_iter()
                    .map(|(start, end)| {
                        let at = |v: i64| {
                            Timestamp::from_second(v).map_err(|e| corrupt("bookings", &provider, e))
                        };
                        TimeRange::new(at(start)?, at(end)?)
                            .ok_or_else(|| corrupt("bookings", &provider, "empty occupied range"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ranges)
            })
        })
        .await
        .map_err(TxError::storage)
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
