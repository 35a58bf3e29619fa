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
use crate::calendar_writes::Queue;
use crate::rows::{
    ACTIVE_BOOKING, BookedRow, BookingRow, ExternalRow, HeldRow, HoldColumns, MAX_BUSY_PIECE_SECS,
    MAX_OCCUPIED_SECS, MAX_TIME_OFF_SECS, TimeOffRow, busy_sources, ranges_of, seat_id, secs,
    secs_ceil,
};
use crate::schema::{bookings, calendar_busy, calendar_connections, holds, time_off};

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

/// The provider's holds whose occupied range overlaps `[start, end)` (unix
/// seconds), expired or not (callers filter by `expires_at`). A hold
/// occupies at most [`MAX_OCCUPIED_SECS`], which bounds the index scan.
fn holds_overlapping<'a>(
    account: &'a str,
    provider: &'a str,
    start: i64,
    end: i64,
) -> holds::BoxedQuery<'a, Sqlite> {
    holds::table
        .filter(holds::account_id.eq(account))
        .filter(holds::provider_id.eq(provider))
        .filter(holds::occupied_start.lt(end))
        .filter(holds::occupied_start.gt(start.saturating_sub(MAX_OCCUPIED_SECS)))
        .filter(holds::occupied_end.gt(start))
        .into_boxed()
}

/// Whether a hold of the provider other than `except`, unexpired at `now`,
/// overlaps `[start, end)`.
async fn held(
    conn: &mut Conn,
    (account, provider): (&str, &str),
    (start, end): (i64, i64),
    now: i64,
    except: &str,
) -> Result<bool, TxError> {
    let found: Option<i64> = holds_overlapping(account, provider, start, end)
        .filter(holds::expires_at.gt(now))
        .filter(holds::id.ne(except))
        .select(holds::seq)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
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
    ///
    /// With `write.hold`, the hold must be the account's and unexpired at
    /// the booking's `created_at` (else `HoldGone`); it does not conflict
    /// with its booking and is deleted with the insert.
    pub(crate) async fn insert_write(&self, write: Arc<Write>) -> Result<usize, TxError> {
        self.write("insert_booking", move |conn| {
            Box::pin(async move {
                let row = &write.row;
                let hold = write.hold.as_deref().unwrap_or_default();
                if let Some(id) = &write.hold {
                    let live: Option<i64> = holds::table
                        .filter(holds::account_id.eq(&row.account_id))
                        .filter(holds::id.eq(id))
                        .filter(holds::expires_at.gt(row.created_at))
                        .select(holds::seq)
                        .first(conn)
                        .await
                        .optional()?;
                    if live.is_none() {
                        return Err(TxError::HoldGone);
                    }
                }
                // A collective booking: its row and a seat row per other
                // provider, every one checked, all inserted or none.
                let seats = write.row.seats();
                if write.is_active() {
                    for row in std::iter::once(&write.row).chain(&seats) {
                        if Self::overlaps_another(conn, row).await?
                            || held(
                                conn,
                                (&row.account_id, &row.provider_id),
                                (row.occupied_start, row.occupied_end),
                                row.created_at,
                                hold,
                            )
                            .await?
                            || blocked_externally(conn, row).await?
                            || Self::blocked_by_time_off(conn, row).await?
                        {
                            return Err(TxError::Conflict);
                        }
                    }
                }
                if let Some(id) = &write.hold {
                    diesel::delete(
                        holds::table
                            .filter(holds::account_id.eq(&row.account_id))
                            .filter(holds::id.eq(id)),
                    )
                    .execute(conn)
                    .await?;
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
                }
                // Every provider's writing connections, seats' too, under
                // the booking's id.
                write.note_calendar_writes(
                    Self::queue_calendar_writes(conn, &write.row, Queue::New).await?,
                );
                Self::insert_events(conn, &write.events).await
            })
        })
        .await
    }

    /// Inserts a hold unless an active booking, another unexpired hold,
    /// time off or external busy time overlaps it (`Conflict`), or its key
    /// has `max` unexpired holds (`TooManyHolds`). Expired holds of the
    /// provider near it are removed on the way (nothing needs them).
    pub(crate) async fn insert_hold_write(
        &self,
        hold: Arc<HoldColumns>,
        max: i64,
    ) -> Result<(), TxError> {
        self.write("insert_hold", move |conn| {
            let hold = Arc::clone(&hold);
            Box::pin(async move {
                let h = &*hold;
                let now = h.created_at;
                let live_of_key = holds::table
                    .filter(holds::account_id.eq(&h.account_id))
                    .filter(holds::key_id.eq(&h.key_id))
                    .filter(holds::expires_at.gt(now));
                let active: i64 = live_of_key.count().get_result(conn).await?;
                if active >= max {
                    let earliest: Option<i64> = live_of_key
                        .select(diesel::dsl::min(holds::expires_at))
                        .first(conn)
                        .await?;
                    return Err(TxError::TooManyHolds(earliest));
                }
                // The booking the hold stands for, as the checks see it.
                let probe = BookingRow {
                    id: h.id.clone(),
                    account_id: h.account_id.clone(),
                    service_id: h.service_id.clone(),
                    provider_id: h.provider_id.clone(),
                    duration_min: h.duration_min,
                    scheduled_at: h.scheduled_at,
                    end_at: h.end_at(),
                    occupied_start: h.occupied_start,
                    occupied_end: h.occupied_end,
                    buffer_before: h.buffer_before,
                    buffer_after: h.buffer_after,
                    status: "pending".to_owned(),
                    customer_email: String::new(),
                    customer_name: String::new(),
                    price_minor: 0,
                    currency: String::new(),
                    notes: None,
                    metadata: crate::schema::JsonText("{}".to_owned()),
                    cancel_reason: None,
                    sequence: 0,
                    created_at: now,
                    updated_at: now,
                    provider_ids: None,
                    link_salt: None,
                    link_hash: None,
                };
                if Self::overlaps_another(conn, &probe).await?
                    || held(
                        conn,
                        (&h.account_id, &h.provider_id),
                        (h.occupied_start, h.occupied_end),
                        now,
                        "",
                    )
                    .await?
                    || blocked_externally(conn, &probe).await?
                    || Self::blocked_by_time_off(conn, &probe).await?
                {
                    return Err(TxError::Conflict);
                }
                diesel::delete(
                    holds::table
                        .filter(holds::account_id.eq(&h.account_id))
                        .filter(holds::provider_id.eq(&h.provider_id))
                        .filter(holds::occupied_start.lt(h.occupied_end))
                        .filter(
                            holds::occupied_start
                                .gt(h.occupied_start.saturating_sub(MAX_OCCUPIED_SECS)),
                        )
                        .filter(holds::expires_at.le(now)),
                )
                .execute(conn)
                .await?;
                diesel::insert_into(holds::table)
                    .values(h)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Whether an unexpired hold of the provider overlaps the (moved,
    /// active) row, unexpired at its `updated_at`.
    pub(crate) async fn held_against(conn: &mut Conn, row: &BookingRow) -> Result<bool, TxError> {
        held(
            conn,
            (&row.account_id, &row.provider_id),
            (row.occupied_start, row.occupied_end),
            row.updated_at,
            "",
        )
        .await
    }

    /// Nothing to remove: SQLite's checks compare `expires_at` with the
    /// clock themselves.
    pub(crate) async fn purge_expired_holds(_: &mut Conn, _: &BookingRow) -> Result<(), TxError> {
        Ok(())
    }

    /// The account's hold `id` (expired or not), from `holds`.
    pub(crate) async fn hold_row(
        conn: &mut Conn,
        account: &str,
        id: &str,
    ) -> Result<Option<HoldColumns>, TxError> {
        Ok(holds::table
            .filter(holds::account_id.eq(account))
            .filter(holds::id.eq(id))
            .select(HoldColumns::as_select())
            .first(conn)
            .await
            .optional()?)
    }

    /// Deletes the account's hold `id` (its `holds` row; no guard rows on
    /// SQLite, whose writer checks holds itself); its provider, or `None`
    /// when there was no such hold.
    pub(crate) async fn delete_hold_row(
        conn: &mut Conn,
        account: &str,
        id: &str,
    ) -> Result<Option<String>, TxError> {
        Ok(diesel::delete(
            holds::table
                .filter(holds::account_id.eq(account))
                .filter(holds::id.eq(id)),
        )
        .returning(holds::provider_id)
        .get_result(conn)
        .await
        .optional()?)
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
        now: jiff::Timestamp,
    ) -> Result<Vec<TimeRange>, StorageError> {
        let now = secs(now);
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
                let held: Vec<(i64, i64)> = holds_overlapping(&account, &provider, start, end)
                    .filter(holds::expires_at.gt(now))
                    .select((holds::occupied_start, holds::occupied_end))
                    .load(conn)
                    .await?;
                if !off.is_empty() || !pieces.is_empty() || !held.is_empty() {
                    rows.extend(off);
                    rows.extend(pieces);
                    rows.extend(held);
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
                let held: Vec<HeldRow> = holds_overlapping(&account, &provider, start, end)
                    .order(holds::occupied_start.asc())
                    .select((
                        holds::id,
                        holds::occupied_start,
                        holds::occupied_end,
                        holds::expires_at,
                    ))
                    .load(conn)
                    .await?;
                Ok(busy_sources(booked, off, external, held)?)
            })
        })
        .await
    }
}
