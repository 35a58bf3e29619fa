//! SQLite's own booking writes and busy-time reads: conflicts are checked
//! by the writer, before each insert and after each update, inside the
//! write's savepoint (the writer runs one write at a time, and
//! `BEGIN IMMEDIATE` keeps other processes out meanwhile).

use std::collections::HashMap;
use std::sync::Arc;

use booking_domain::ports::StorageError;
use booking_domain::scheduling::BusySources;
use booking_domain::{AccountId, BookingId, ProviderId, TimeRange};
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;

use super::conn::Conn;
use super::store::SqliteStore;
use crate::TxError;
use crate::bookings::Write;
use crate::rows::{
    ACTIVE_BOOKING, BookedRow, BookingRow, ExternalRow, MAX_BUSY_PIECE_SECS, MAX_OCCUPIED_SECS,
    MAX_TIME_OFF_SECS, TimeOffRow, busy_sources, ranges_of, seat_id, secs, secs_ceil,
};
use crate::schema::{bookings, calendar_busy, calendar_connections, time_off};

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
        .filter(ACTIVE_BOOKING)
        .into_boxed();
    if let Some(id) = excluding {
        // The booking itself: its row, or its seat row for this provider.
        query = query
            .filter(bookings::id.ne(id))
            .filter(bookings::id.ne(seat_id(id, provider)));
    }
    query
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

/// The provider's time off overlapping `[start, end)` (unix seconds), in
/// start order. Time off lasts at most [`MAX_TIME_OFF_SECS`], which bounds
/// the scan of `time_off_provider` (by end).
fn time_off_overlapping<'a>(
    account: &'a str,
    provider: &'a str,
    start: i64,
    end: i64,
) -> time_off::BoxedQuery<'a, Sqlite> {
    time_off::table
        .filter(time_off::account_id.eq(account))
        .filter(time_off::provider_id.eq(provider))
        .filter(time_off::end_at.gt(start))
        .filter(time_off::end_at.le(end.saturating_add(MAX_TIME_OFF_SECS)))
        .filter(time_off::start_at.lt(end))
        .order(time_off::start_at.asc())
        .into_boxed()
}

/// Whether a busy block of the provider's external calendars overlaps the
/// row's occupied range.
async fn blocked_externally(conn: &mut Conn, row: &BookingRow) -> Result<bool, TxError> {
    let found: Option<i64> = external_overlapping(
        &row.account_id,
        &row.provider_id,
        row.occupied_start,
        row.occupied_end,
    )
    .select(calendar_busy::seq)
    .first(conn)
    .await
    .optional()?;
    Ok(found.is_some())
}

impl SqliteStore {
    /// Inserts a booking (unless an active booking or an external busy
    /// block overlaps it: `Conflict`), its events and their deliveries;
    /// returns how many deliveries it queued.
    pub(crate) async fn insert_write(&self, write: Arc<Write>) -> Result<usize, TxError> {
        self.write("insert_booking", move |conn| {
            Box::pin(async move {
                // A collective booking: its row and a seat row per other
                // provider, every one checked, all inserted or none.
                let seats = write.row.seats();
                if write.is_active() {
                    for row in std::iter::once(&write.row).chain(&seats) {
                        if Self::overlaps_another(conn, row).await?
                            || blocked_externally(conn, row).await?
                            || Self::blocked_by_time_off(conn, row).await?
                        {
                            return Err(TxError::Conflict);
                        }
                    }
                }
                // Counted inside the writer's transaction: writes of this
                // process run one at a time and `BEGIN IMMEDIATE` keeps
                // other processes out, so the count is exact.
                if write.is_active()
                    && let Some(cap) = &write.cap
                    && Self::day_is_full(conn, &write.row, cap).await?
                {
                    return Err(TxError::Conflict);
                }
                diesel::insert_into(bookings::table)
                    .values(&write.row)
                    .execute(conn)
                    .await?;
                for seat in &seats {
                    diesel::insert_into(bookings::table)
                        .values(seat)
                        .execute(conn)
                        .await?;
                    // As the Postgres insert statement does for each row.
                    Self::queue_calendar_writes(conn, seat).await?;
                }
                Self::queue_calendar_writes(conn, &write.row).await?;
                Self::insert_events(conn, &write.events).await
            })
        })
        .await
    }

    /// Nothing to lock: the writer is alone.
    pub(crate) async fn lock_provider(_: &mut Conn, _: &str, _: &str) -> Result<(), TxError> {
        Ok(())
    }

    /// Nothing to lock: the writer is alone.
    pub(crate) async fn serialize_tx(_: &mut Conn, _key: String) -> Result<(), TxError> {
        Ok(())
    }

    /// Whether another active booking of the provider overlaps `row`.
    ///
    /// The provider's active bookings never overlap each other (this check
    /// keeps it so), so their ends rise with their starts: if any of them
    /// overlaps `row`, the last one starting before `row` ends does. One
    /// backwards step in `bookings_busy`, not a scan of every booking that
    /// starts within the longest possible booking before it.
    pub(crate) async fn overlaps_another(
        conn: &mut Conn,
        row: &BookingRow,
    ) -> Result<bool, TxError> {
        let last_end: Option<i64> = bookings::table
            .filter(bookings::account_id.eq(&row.account_id))
            .filter(bookings::provider_id.eq(&row.provider_id))
            .filter(bookings::occupied_start.lt(row.occupied_end))
            .filter(
                bookings::occupied_start.gt(row.occupied_start.saturating_sub(MAX_OCCUPIED_SECS)),
            )
            .filter(ACTIVE_BOOKING)
            .filter(bookings::id.ne(&row.id))
            .order(bookings::occupied_start.desc())
            .select(bookings::occupied_end)
            .first(conn)
            .await
            .optional()?;
        Ok(last_end.is_some_and(|end| end > row.occupied_start))
    }

    /// The provider's busy time over `range`: every blocked range of
    /// [`SqliteStore::busy_sources_of`], in start order.
    pub(crate) async fn busy_times_of(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<Vec<TimeRange>, StorageError> {
        // Ranges only: the bookings part is an index-only scan of
        // `bookings_busy` (ids and buffers would need the table), which is
        // what an availability list reads on every request.
        let account = account.as_str().to_owned();
        let provider = provider.as_str().to_owned();
        let excluding = excluding.map(|id| id.as_str().to_owned());
        let (start, end) = (secs(range.start()), secs_ceil(range.end()));
        self.read("busy_times", move |conn| {
            Box::pin(async move {
                let mut rows: Vec<(i64, i64)> =
                    overlapping(&account, &provider, start, end, excluding.as_deref())
                        .order((bookings::occupied_start.asc(), bookings::seq.asc()))
                        .select((bookings::occupied_start, bookings::occupied_end))
                        .load(conn)
                        .await?;
                let off: Vec<(i64, i64)> = time_off_overlapping(&account, &provider, start, end)
                    .select((time_off::start_at, time_off::end_at))
                    .load(conn)
                    .await?;
                let pieces: Vec<(i64, i64)> = external_overlapping(&account, &provider, start, end)
                    .select((calendar_busy::start_at, calendar_busy::end_at))
                    .load(conn)
                    .await?;
                if !off.is_empty() || !pieces.is_empty() {
                    rows.extend(off);
                    rows.extend(pieces);
                    rows.sort_by_key(|&(start, _)| start);
                }
                Ok(ranges_of(rows)?)
            })
        })
        .await
    }

    /// What blocks the provider over `range`, with identities: its active
    /// bookings, its time off and its external busy pieces, in one read.
    pub(crate) async fn busy_sources_of(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<BusySources, StorageError> {
        let account = account.as_str().to_owned();
        let provider = provider.as_str().to_owned();
        let excluding = excluding.map(|id| id.as_str().to_owned());
        let (start, end) = (secs(range.start()), secs_ceil(range.end()));
        self.read("busy_sources", move |conn| {
            Box::pin(async move {
                let booked: Vec<BookedRow> =
                    overlapping(&account, &provider, start, end, excluding.as_deref())
                        .order((bookings::occupied_start.asc(), bookings::seq.asc()))
                        .select((
                            bookings::id,
                            bookings::scheduled_at,
                            bookings::end_at,
                            bookings::buffer_before,
                            bookings::buffer_after,
                        ))
                        .load(conn)
                        .await?;
                let off: Vec<TimeOffRow> = time_off_overlapping(&account, &provider, start, end)
                    .select((time_off::id, time_off::start_at, time_off::end_at))
                    .load(conn)
                    .await?;
                let pieces: Vec<(String, i64, i64)> =
                    external_overlapping(&account, &provider, start, end)
                        .order(calendar_busy::start_at.asc())
                        .select((
                            calendar_busy::calendar_id,
                            calendar_busy::start_at,
                            calendar_busy::end_at,
                        ))
                        .load(conn)
                        .await?;
                let external = if pieces.is_empty() {
                    Vec::new()
                } else {
                    let kinds: HashMap<String, String> = calendar_connections::table
                        .filter(calendar_connections::account_id.eq(&account))
                        .filter(calendar_connections::provider_id.eq(&provider))
                        .select((calendar_connections::id, calendar_connections::kind))
                        .load(conn)
                        .await?
                        .into_iter()
                        .collect();
                    pieces
                        .into_iter()
                        .map(|(calendar, start, end)| {
                            let kind = kinds.get(&calendar).cloned().unwrap_or_default();
                            (calendar, kind, start, end)
                        })
                        .collect::<Vec<ExternalRow>>()
                };
                Ok(busy_sources(booked, off, external)?)
            })
        })
        .await
    }
}
