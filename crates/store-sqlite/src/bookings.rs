//! Bookings and their events.

use async_trait::async_trait;
use booking_domain::ports::{
    BookingFilter, BookingStore, CreateBookingError, Page, PageRequest, StorageError,
    UpdateBookingError,
};
use booking_domain::{AccountId, Booking, BookingEvent, BookingId, ProviderId, TimeRange};
use booking_store_common::{MAX_BUSY_PIECE_SECS, busy_ranges};
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use jiff::Timestamp;

use crate::rows::{ACTIVE, BookingRow, EventRow, MAX_OCCUPIED_SECS, secs, secs_ceil};
use crate::schema::{bookings, calendar_busy, events};
use crate::{SqliteStore, TxError, page, page_limit};

/// The active bookings of a provider whose occupied range overlaps
/// `[start, end)` (unix seconds), except `excluding`. The lower bound on
/// `occupied_start` lets the `(account_id, provider_id, occupied_start)`
/// index bound the scan to rows near the range.
fn overlapping<'a>(
    account: &'a str,
    provider: &'a str,
    start: i64,
    end: i64,
    excluding: Option<&'a str>,
) -> bookings::BoxedQuery<'a, Sqlite> {
    let mut query = bookings::table
        .filter(bookings::account_id.eq(account))
        .filter(bookings::provider_id.eq(provider))
        .filter(bookings::occupied_start.lt(end))
        .filter(bookings::occupied_start.gt(start.saturating_sub(MAX_OCCUPIED_SECS)))
        .filter(bookings::occupied_end.gt(start))
        .filter(bookings::status.eq_any(ACTIVE))
        .into_boxed();
    if let Some(id) = excluding {
        query = query.filter(bookings::id.ne(id));
    }
    query
}

/// Refuses rows the bounded conflict scan could not see.
fn check_length(row: &BookingRow) -> Result<(), TxError> {
    let length = row.occupied_end.saturating_sub(row.occupied_start);
    if length <= 0 || length > MAX_OCCUPIED_SECS {
        return Err(TxError::Storage(StorageError::Internal(format!(
            "booking {}: occupied range of {length} s is outside what the store supports \
             (1 s to {MAX_OCCUPIED_SECS} s)",
            row.id
        ))));
    }
    Ok(())
}

/// Whether another active booking of the provider overlaps `row`.
fn conflicts(conn: &mut SqliteConnection, row: &BookingRow) -> Result<bool, TxError> {
    let found: Option<String> = overlapping(
        &row.account_id,
        &row.provider_id,
        row.occupied_start,
        row.occupied_end,
        Some(&row.id),
    )
    .select(bookings::id)
    .first(conn)
    .optional()?;
    Ok(found.is_some())
}

/// The provider's external busy pieces overlapping `[start, end)` (unix
/// seconds). Pieces are at most [`MAX_BUSY_PIECE_SECS`] long, which bounds
/// the index range scanned.
fn external_overlapping<'a>(
    account: &'a str,
    provider: &'a str,
    start: i64,
    end: i64,
) -> calendar_busy::BoxedQuery<'a, Sqlite> {
    calendar_busy::table
        .filter(calendar_busy::account_id.eq(account))
        .filter(calendar_busy::provider_id.eq(provider))
        .filter(calendar_busy::start_at.lt(end))
        .filter(calendar_busy::start_at.gt(start.saturating_sub(MAX_BUSY_PIECE_SECS)))
        .filter(calendar_busy::end_at.gt(start))
        .into_boxed()
}

/// Whether a busy block of the provider's external calendars overlaps the
/// row's occupied range.
fn blocked_externally(conn: &mut SqliteConnection, row: &BookingRow) -> Result<bool, TxError> {
    let found: Option<i64> = external_overlapping(
        &row.account_id,
        &row.provider_id,
        row.occupied_start,
        row.occupied_end,
    )
    .select(calendar_busy::seq)
    .first(conn)
    .optional()?;
    Ok(found.is_some())
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

/// Inserts the events and queues their webhook deliveries; returns how many
/// deliveries it queued.
fn insert_events(conn: &mut SqliteConnection, rows: &[EventRow]) -> Result<usize, TxError> {
    if rows.is_empty() {
        return Ok(0);
    }
    diesel::insert_into(events::table)
        .values(rows)
        .execute(conn)?;
    crate::webhooks::queue_deliveries(conn, rows)
}

fn is_active(status: &str) -> bool {
    ACTIVE.contains(&status)
}

#[async_trait]
impl BookingStore for SqliteStore {
    async fn insert_booking(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
    ) -> Result<(), CreateBookingError> {
        let row = BookingRow::from_domain(booking)?;
        let event_rows = event_rows(booking, events)?;
        let result = self
            .run("insert_booking", move |conn| {
                check_length(&row)?;
                conn.immediate_transaction(|conn| {
                    if is_active(&row.status)
                        && (conflicts(conn, &row)? || blocked_externally(conn, &row)?)
                    {
                        return Err(TxError::Conflict);
                    }
                    diesel::insert_into(bookings::table)
                        .values(&row)
                        .execute(conn)?;
                    insert_events(conn, &event_rows)
                })
            })
            .await;
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
        let event_rows = event_rows(updated, events)?;
        let expected = (
            previous.status.name(),
            secs(previous.scheduled_at),
            secs(previous.updated_at),
        );
        let result = self
            .run("update_booking", move |conn| {
                check_length(&row)?;
                conn.immediate_transaction(|conn| {
                    let stored: Option<(String, i64, i64)> = bookings::table
                        .filter(bookings::account_id.eq(&row.account_id))
                        .filter(bookings::id.eq(&row.id))
                        .select((
                            bookings::status,
                            bookings::scheduled_at,
                            bookings::updated_at,
                        ))
                        .first(conn)
                        .optional()?;
                    let current = stored
                        .as_ref()
                        .map(|(status, start, updated)| (status.as_str(), *start, *updated));
                    if current != Some(expected) {
                        return Err(TxError::Stale);
                    }
                    if is_active(&row.status) && conflicts(conn, &row)? {
                        return Err(TxError::Conflict);
                    }
                    diesel::update(
                        bookings::table
                            .filter(bookings::account_id.eq(&row.account_id))
                            .filter(bookings::id.eq(&row.id)),
                    )
                    .set(&row)
                    .execute(conn)?;
                    insert_events(conn, &event_rows)
                })
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
        self.run("get_booking", move |conn| {
            let row = bookings::table
                .filter(bookings::account_id.eq(&account))
                .filter(bookings::id.eq(&id))
                .select(BookingRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(BookingRow::into_domain).transpose()?)
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
        self.run("list_bookings", move |conn| {
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
                .load(conn)?;
            Ok(page(rows, limit, BookingRow::into_domain)?)
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
        self.run("busy_times", move |conn| {
            // One read of both tables (one trip to the blocking pool).
            let mut rows: Vec<(i64, i64)> =
                overlapping(&account, &provider, start, end, excluding.as_deref())
                    .order((bookings::occupied_start.asc(), bookings::seq.asc()))
                    .select((bookings::occupied_start, bookings::occupied_end))
                    .load(conn)?;
            let pieces: Vec<(i64, i64)> = external_overlapping(&account, &provider, start, end)
                .order(calendar_busy::start_at.asc())
                .select((calendar_busy::start_at, calendar_busy::end_at))
                .load(conn)?;
            if !pieces.is_empty() {
                rows.extend(pieces);
                rows.sort_by_key(|&(start, _)| start);
            }
            Ok(busy_ranges(rows)?)
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
        self.run("booking_events", move |conn| {
            let rows: Vec<EventRow> = events::table
                .filter(events::account_id.eq(&account))
                .filter(events::booking_id.eq(&id))
                .order(events::seq.asc())
                .select(EventRow::as_select())
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(EventRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?)
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
        self.run("due_for_completion", move |conn| {
            // A literal status, so the partial index `bookings_confirmed_end`
            // applies (a bound parameter could not prove its predicate).
            let rows: Vec<BookingRow> = bookings::table
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "status = 'confirmed'",
                ))
                .filter(bookings::end_at.le(now))
                .order(bookings::end_at.asc())
                .limit(i64::from(limit))
                .select(BookingRow::as_select())
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(BookingRow::into_domain)
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .map_err(TxError::storage)
    }
}
