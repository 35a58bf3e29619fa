//! Bookings and their events (both stores; how a booking is inserted and
//! how busy time is read are each store's own, see `sqlite/bookings.rs` and
//! `postgres/bookings.rs`).
//!
//! An update is one transaction: the guarded `UPDATE … WHERE status = … AND
//! scheduled_at = … AND updated_at = …` (no row: stale), the conflict check,
//! then the events and their webhook deliveries. Postgres checks conflicts
//! with its exclusion constraint inside the update itself, behind the
//! provider's advisory lock; SQLite's writer checks them explicitly.

use std::sync::Arc;

use async_trait::async_trait;
use booking_domain::ports::{
    BookingFilter, BookingStore, ConvertHoldError, CreateBookingError, CreateHoldError, DailyCap,
    Page, PageRequest, StorageError, UpdateBookingError,
};
use booking_domain::scheduling::{BusySources, ProviderLoad};
use booking_domain::{
    AccountId, Booking, BookingEvent, BookingId, Hold, HoldId, Minutes, ProviderId, ServiceId,
    TimeRange,
};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::Timestamp;

use crate::calendar_writes::Queue;
use crate::postgres::PostgresStore;
use crate::rows::{
    ACTIVE, ACTIVE_BOOKING, BookingRow, EventRow, HoldColumns, MAX_OCCUPIED_SECS,
    MAX_TIME_OFF_SECS, instant, secs, secs_ceil,
};
use crate::schema::{bookings, events, time_off};

use crate::sqlite::SqliteStore;
use crate::{Condition, TxError, page, page_limit};

/// Postgres's exclusion constraint that keeps active bookings of a provider
/// apart.
const NO_OVERLAP: &str = "bookings_no_overlap";

/// Whether `e` is the violation of [`NO_OVERLAP`] (SQLSTATE 23P01, which
/// diesel-async reports as `ExclusionViolation` with the constraint name).
pub(crate) fn is_overlap(e: &DieselError) -> bool {
    matches!(
        e,
        DieselError::DatabaseError(DatabaseErrorKind::ExclusionViolation, info)
            if info.constraint_name() == Some(NO_OVERLAP)
    )
}

/// Rows that are not Postgres's hold guard rows (status `held`; SQLite has
/// none), written out: the Postgres indexes that only real bookings use are
/// partial on it (migration `2026-12-07-000800_booking_indexes`), and a
/// cached plan can prove their predicate only from literal text.
pub(crate) const NOT_HELD: Condition = Condition("bookings.status <> 'held'");

/// Rows that are bookings, not a collective booking's seats (whose ids
/// hold `~`, see [`crate::rows::seat_id`]).
pub(crate) fn not_a_seat() -> diesel::dsl::NotLike<bookings::id, &'static str> {
    bookings::id.not_like("%~%")
}

/// A service's daily cap as a write checks it: at most `limit` active
/// bookings of the service start in `[day_start, day_end)` (unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CapCheck {
    pub(crate) limit: i64,
    pub(crate) day_start: i64,
    pub(crate) day_end: i64,
}

impl CapCheck {
    fn new(cap: &DailyCap) -> CapCheck {
        CapCheck {
            limit: i64::from(cap.limit),
            day_start: secs(cap.day.start()),
            day_end: secs_ceil(cap.day.end()),
        }
    }

    /// The advisory lock key of the service's day (Postgres): writes that
    /// count the day queue behind each other, so each counts what the one
    /// before it committed.
    pub(crate) fn lock_key(&self, row: &BookingRow) -> String {
        format!(
            "daycap/{}/{}/{}",
            row.account_id, row.service_id, self.day_start
        )
    }
}

/// A booking write: the row and its events' rows, the service's daily
/// cap when it has one, and the hold it turns into a booking (an insert
/// only).
pub(crate) struct Write {
    pub(crate) row: BookingRow,
    pub(crate) events: Vec<EventRow>,
    pub(crate) cap: Option<CapCheck>,
    pub(crate) hold: Option<String>,
    /// The providers an update takes the booking away from (their calendar
    /// writes are queued too, to remove its events).
    pub(crate) left: Vec<String>,
    /// Set inside the write's transaction when it queued calendar writes
    /// (read after the commit, to wake the calendar writer).
    pub(crate) calendar_queued: std::sync::atomic::AtomicBool,
}

impl Write {
    /// The rows of `booking` and its `events`, checked.
    fn new(
        booking: &Booking,
        events: &[BookingEvent],
        cap: Option<&DailyCap>,
    ) -> Result<Write, StorageError> {
        let row = BookingRow::from_domain(booking)?;
        // Refuses rows the bounded conflict and busy-time scans could not
        // see (the schemas check it too; this gives the clearer message).
        let length = row.occupied_end.saturating_sub(row.occupied_start);
        if length <= 0 || length > MAX_OCCUPIED_SECS {
            return Err(StorageError::Internal(format!(
                "booking {}: occupied range of {length} s is outside what the store supports \
                 (1 s to {MAX_OCCUPIED_SECS} s)",
                row.id
            )));
        }
        let events = events
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
            .collect::<Result<_, _>>()?;
        Ok(Write {
            row,
            events,
            cap: cap.map(CapCheck::new),
            hold: None,
            left: Vec::new(),
            calendar_queued: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Whether the write queued calendar writes (after its commit).
    pub(crate) fn queued_calendar_writes(&self) -> bool {
        self.calendar_queued
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes that the write queued `n` calendar writes.
    pub(crate) fn note_calendar_writes(&self, n: usize) {
        if n > 0 {
            self.calendar_queued
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Whether the booking holds its time.
    pub(crate) fn is_active(&self) -> bool {
        ACTIVE.contains(&self.row.status.as_str())
    }
}

#[duplicate_item(Store Conn; [SqliteStore] [crate::sqlite::Conn]; [PostgresStore] [crate::postgres::Conn])]
impl Store {
    /// Inserts the events and queues their webhook deliveries; returns how
    /// many deliveries it queued.
    pub(crate) async fn insert_events(
        conn: &mut Conn,
        rows: &[EventRow],
    ) -> Result<usize, TxError> {
        if rows.is_empty() {
            return Ok(0);
        }
        Self::insert_event_rows(conn, rows).await?;
        Self::queue_deliveries(conn, rows).await
    }

    /// Whether the provider's time off overlaps the row's occupied range.
    /// Time off lasts at most 366 days, which bounds the scan of the
    /// `(account_id, provider_id, end_at)` index.
    pub(crate) async fn blocked_by_time_off(
        conn: &mut Conn,
        row: &BookingRow,
    ) -> Result<bool, TxError> {
        let found: Option<i64> = time_off::table
            .filter(time_off::account_id.eq(&row.account_id))
            .filter(time_off::provider_id.eq(&row.provider_id))
            .filter(time_off::end_at.gt(row.occupied_start))
            .filter(time_off::end_at.le(row.occupied_end.saturating_add(MAX_TIME_OFF_SECS)))
            .filter(time_off::start_at.lt(row.occupied_end))
            .select(time_off::seq)
            .first(conn)
            .await
            .optional()?;
        Ok(found.is_some())
    }

    /// Whether the service's day of `cap` already holds `cap.limit` active
    /// bookings other than the row's.
    pub(crate) async fn day_is_full(
        conn: &mut Conn,
        row: &BookingRow,
        cap: &CapCheck,
    ) -> Result<bool, TxError> {
        let n: i64 = bookings::table
            .filter(bookings::account_id.eq(&row.account_id))
            .filter(bookings::service_id.eq(&row.service_id))
            .filter(bookings::scheduled_at.ge(cap.day_start))
            .filter(bookings::scheduled_at.lt(cap.day_end))
            .filter(ACTIVE_BOOKING)
            .filter(bookings::id.ne(&row.id))
            .filter(not_a_seat())
            .count()
            .get_result(conn)
            .await?;
        Ok(n >= cap.limit)
    }

    /// One transaction: the guarded update (no row = stale), the conflict
    /// check, the events and their deliveries (how many it returns). A move
    /// (the start changes) of an active booking is also checked against the
    /// provider's time off and, when the service has one, its daily cap
    /// (whose lock comes first, before the provider's, as in an insert).
    async fn update_tx(
        conn: &mut Conn,
        write: &Write,
        expected: (&'static str, i64, i64),
    ) -> Result<usize, TxError> {
        conn.transaction(async |conn| {
            let row = &write.row;
            let moved = write.is_active() && expected.1 != row.scheduled_at;
            if moved && let Some(cap) = &write.cap {
                Self::serialize_tx(conn, cap.lock_key(row)).await?;
            }
            // Every provider the row occupies (a collective booking's
            // seats too), in one order, so two writers never wait for each
            // other crosswise.
            let mut providers = row.providers();
            providers.sort();
            for provider in &providers {
                Self::lock_provider(conn, &row.account_id, provider).await?;
            }
            if moved {
                Self::purge_expired_holds(conn, row).await?;
                for seat in row.seats() {
                    Self::purge_expired_holds(conn, &seat).await?;
                }
            }
            let (status, start, updated_at) = expected;
            // The row lock this takes (Postgres) makes a concurrent change of
            // the same booking wait and then find it stale.
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
            .map_err(|e| {
                if is_overlap(&e) {
                    TxError::Conflict
                } else {
                    TxError::Db(e)
                }
            })?;
            if n == 0 {
                return Err(TxError::Stale);
            }
            // A collective booking's seats follow its row: replaced by
            // copies of the updated row (Postgres's exclusion constraint
            // checks each one as it is inserted).
            let seats = row.seats();
            if !seats.is_empty() {
                let ids: Vec<&str> = seats.iter().map(|r| r.id.as_str()).collect();
                diesel::delete(
                    bookings::table
                        .filter(bookings::account_id.eq(&row.account_id))
                        .filter(bookings::id.eq_any(&ids)),
                )
                .execute(conn)
                .await?;
                for seat in &seats {
                    diesel::insert_into(bookings::table)
                        .values(seat)
                        .execute(conn)
                        .await
                        .map_err(|e| {
                            if is_overlap(&e) {
                                TxError::Conflict
                            } else {
                                TxError::Db(e)
                            }
                        })?;
                }
            }
            for r in std::iter::once(row).chain(&seats) {
                if write.is_active() && Self::overlaps_another(conn, r).await? {
                    return Err(TxError::Conflict);
                }
                if moved && Self::held_against(conn, r).await? {
                    return Err(TxError::Conflict);
                }
                if moved && Self::blocked_by_time_off(conn, r).await? {
                    return Err(TxError::Conflict);
                }
            }
            if moved
                && let Some(cap) = &write.cap
                && Self::day_is_full(conn, row, cap).await?
            {
                return Err(TxError::Conflict);
            }
            // Completion changes nothing a calendar shows: not queued.
            if row.status != "completed" || expected.1 != row.scheduled_at {
                write.note_calendar_writes(
                    Self::queue_calendar_writes(conn, row, Queue::Changed { left: &write.left })
                        .await?,
                );
            }
            Self::insert_events(conn, &write.events).await
        })
        .await
    }
}

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
impl Store {
    async fn insert_with(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
        cap: Option<&DailyCap>,
    ) -> Result<(), CreateBookingError> {
        let write = Arc::new(Write::new(booking, events, cap)?);
        match self.insert_write(Arc::clone(&write)).await {
            Ok(queued) => {
                if queued > 0 {
                    self.wake();
                }
                if write.queued_calendar_writes() {
                    self.calendar_wake();
                }
                if write.is_active() {
                    for provider in write.row.providers() {
                        self.busy_changed(&write.row.account_id, &provider);
                    }
                }
                Ok(())
            }
            Err(TxError::Conflict) => Err(CreateBookingError::Conflict),
            Err(e) => Err(CreateBookingError::Storage(e.storage())),
        }
    }

    async fn convert_with(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
        hold: &HoldId,
        cap: Option<DailyCap>,
    ) -> Result<(), ConvertHoldError> {
        let mut write = Write::new(booking, events, cap.as_ref())?;
        write.hold = Some(hold.as_str().to_owned());
        let write = Arc::new(write);
        match self.insert_write(Arc::clone(&write)).await {
            Ok(queued) => {
                if queued > 0 {
                    self.wake();
                }
                if write.queued_calendar_writes() {
                    self.calendar_wake();
                }
                self.busy_changed(&write.row.account_id, &write.row.provider_id);
                self.inner.holds.forget(hold);
                Ok(())
            }
            Err(TxError::HoldGone) => {
                self.inner.holds.forget(hold);
                Err(ConvertHoldError::HoldGone)
            }
            Err(TxError::Conflict) => Err(ConvertHoldError::Conflict),
            Err(e) => Err(ConvertHoldError::Storage(e.storage())),
        }
    }

    async fn update_with(
        &self,
        previous: &Booking,
        updated: &Booking,
        events: &[BookingEvent],
        cap: Option<&DailyCap>,
    ) -> Result<(), UpdateBookingError> {
        if previous.id != updated.id || previous.account_id != updated.account_id {
            return Err(UpdateBookingError::Storage(StorageError::Internal(
                format!(
                    "update_booking: {} cannot replace {}",
                    updated.id, previous.id
                ),
            )));
        }
        let mut write = Write::new(updated, events, cap)?;
        // A round-robin booking moved to another provider: the one it
        // leaves gets its event removed (the writer finds the booking no
        // longer occupies it).
        write.left = previous
            .providers()
            .iter()
            .filter(|p| !updated.providers().contains(p))
            .map(|p| p.as_str().to_owned())
            .collect();
        let write = Arc::new(write);
        let expected = (
            previous.status.name(),
            secs(previous.scheduled_at),
            secs(previous.updated_at),
        );
        let result = self
            .write("update_booking", {
                let write = Arc::clone(&write);
                move |conn| {
                    let write = Arc::clone(&write);
                    Box::pin(async move { Self::update_tx(conn, &write, expected).await })
                }
            })
            .await;
        match result {
            Ok(queued) => {
                if queued > 0 {
                    self.wake();
                }
                if write.queued_calendar_writes() {
                    self.calendar_wake();
                }
                // Every provider it occupied or occupies now (a round-robin
                // booking may have moved to another provider).
                let mut providers = write.row.providers();
                for p in previous.providers() {
                    if !providers.iter().any(|q| q == p.as_str()) {
                        providers.push(p.as_str().to_owned());
                    }
                }
                for provider in providers {
                    self.busy_changed(&write.row.account_id, &provider);
                }
                Ok(())
            }
            Err(TxError::Conflict) => Err(UpdateBookingError::Conflict),
            Err(TxError::Stale) => Err(UpdateBookingError::Stale),
            Err(e) => Err(UpdateBookingError::Storage(e.storage())),
        }
    }
}

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl BookingStore for Store {
    async fn insert_booking(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
    ) -> Result<(), CreateBookingError> {
        self.insert_with(booking, events, None).await
    }

    async fn insert_booking_capped(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
        cap: &DailyCap,
    ) -> Result<(), CreateBookingError> {
        self.insert_with(booking, events, Some(cap)).await
    }

    async fn update_booking(
        &self,
        previous: &Booking,
        updated: &Booking,
        events: &[BookingEvent],
    ) -> Result<(), UpdateBookingError> {
        self.update_with(previous, updated, events, None).await
    }

    async fn update_booking_capped(
        &self,
        previous: &Booking,
        updated: &Booking,
        events: &[BookingEvent],
        cap: &DailyCap,
    ) -> Result<(), UpdateBookingError> {
        self.update_with(previous, updated, events, Some(cap)).await
    }

    async fn busy_sources(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<BusySources, StorageError> {
        self.busy_sources_of(account, provider, range, excluding)
            .await
    }

    async fn service_starts(
        &self,
        account: &AccountId,
        service: &ServiceId,
        range: TimeRange,
        excluding: Option<BookingId>,
    ) -> Result<Vec<Timestamp>, StorageError> {
        let account = account.as_str().to_owned();
        let service = service.as_str().to_owned();
        // Ids are never empty, so "" excludes nothing.
        let excluding = excluding
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        let (start, end) = (secs_ceil(range.start()), secs_ceil(range.end()));
        self.read("service_starts", move |conn| {
            Box::pin(async move {
                let starts: Vec<i64> = bookings::table
                    .filter(bookings::account_id.eq(&account))
                    .filter(bookings::service_id.eq(&service))
                    .filter(bookings::scheduled_at.ge(start))
                    .filter(bookings::scheduled_at.lt(end))
                    .filter(ACTIVE_BOOKING)
                    .filter(bookings::id.ne(&excluding))
                    .filter(not_a_seat())
                    .select(bookings::scheduled_at)
                    .load(conn)
                    .await?;
                Ok(starts
                    .into_iter()
                    .map(|s| instant("bookings", &service, "scheduled_at", s))
                    .collect::<Result<Vec<_>, _>>()?)
            })
        })
        .await
    }

    async fn team_loads(
        &self,
        account: &AccountId,
        service: &ServiceId,
        day: TimeRange,
    ) -> Result<Vec<(ProviderId, ProviderLoad)>, StorageError> {
        let account = account.as_str().to_owned();
        let service = service.as_str().to_owned();
        let (start, end) = (secs_ceil(day.start()), secs_ceil(day.end()));
        self.read("team_loads", move |conn| {
            Box::pin(async move {
                let on_day: Vec<(String, i64)> = bookings::table
                    .filter(bookings::account_id.eq(&account))
                    .filter(bookings::service_id.eq(&service))
                    .filter(bookings::scheduled_at.ge(start))
                    .filter(bookings::scheduled_at.lt(end))
                    .filter(ACTIVE_BOOKING)
                    .filter(not_a_seat())
                    .group_by(bookings::provider_id)
                    .select((bookings::provider_id, diesel::dsl::count_star()))
                    .load(conn)
                    .await?;
                // Bookings of any status, not Postgres's hold guard rows
                // (as on SQLite, where holds are not in `bookings`; written
                // out so the partial `bookings_service_provider` applies).
                let latest: Vec<(String, Option<i64>)> = bookings::table
                    .filter(bookings::account_id.eq(&account))
                    .filter(bookings::service_id.eq(&service))
                    .filter(NOT_HELD)
                    .filter(not_a_seat())
                    .group_by(bookings::provider_id)
                    .select((
                        bookings::provider_id,
                        diesel::dsl::max(bookings::created_at),
                    ))
                    .load(conn)
                    .await?;
                let mut out: Vec<(ProviderId, ProviderLoad)> = Vec::with_capacity(latest.len());
                for (provider, last) in latest {
                    let n = on_day
                        .iter()
                        .find(|(p, _)| *p == provider)
                        .map_or(0, |(_, n)| *n);
                    let load = ProviderLoad {
                        on_day: u32::try_from(n).unwrap_or(u32::MAX),
                        last_booked: last
                            .map(|s| instant("bookings", &provider, "created_at", s))
                            .transpose()?,
                    };
                    out.push((ProviderId::from_trusted(provider), load));
                }
                Ok(out)
            })
        })
        .await
    }

    async fn booking_by_link(&self, hash: &str) -> Result<Option<Booking>, StorageError> {
        let hash = hash.to_owned();
        self.read("booking_by_link", move |conn| {
            Box::pin(async move {
                // Through the partial index `bookings_link_hash`.
                let row = bookings::table
                    .filter(bookings::link_hash.eq(&hash))
                    .filter(bookings::link_hash.is_not_null())
                    .select(BookingRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(BookingRow::into_domain).transpose()?)
            })
        })
        .await
    }

    async fn get_booking(
        &self,
        account: &AccountId,
        id: &BookingId,
    ) -> Result<Option<Booking>, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        self.read("get_booking", move |conn| {
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
    }

    async fn get_bookings(
        &self,
        account: &AccountId,
        ids: &[BookingId],
    ) -> Result<Vec<Booking>, StorageError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let account = account.as_str().to_owned();
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        self.read("get_bookings", move |conn| {
            Box::pin(async move {
                let mut out = Vec::with_capacity(ids.len());
                // Chunks keep each statement's bind parameters under
                // SQLite's limit; through the `(account_id, id)` index.
                for chunk in ids.chunks(500) {
                    let rows = bookings::table
                        .filter(bookings::account_id.eq(&account))
                        .filter(bookings::id.eq_any(chunk))
                        .select(BookingRow::as_select())
                        .load(conn)
                        .await?;
                    for row in rows {
                        out.push(row.into_domain()?);
                    }
                }
                Ok(out)
            })
        })
        .await
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
        self.read("list_bookings", move |conn| {
            Box::pin(async move {
                // Postgres's hold guard rows are not bookings. Written out
                // also beside a status filter (a bound value), so a cached
                // plan can use the indexes that skip them
                // (`bookings_account_seq`, `bookings_account_scheduled`).
                let mut query = bookings::table
                    .filter(bookings::account_id.eq(&account))
                    .filter(bookings::seq.gt(page_req.after.unwrap_or(0)))
                    .filter(NOT_HELD)
                    .into_boxed();
                if let Some(status) = filter.status {
                    query = query.filter(bookings::status.eq(status.name()));
                }
                if let Some(service) = &filter.service_id {
                    query = query.filter(bookings::service_id.eq(service.as_str()));
                }
                match &filter.provider_id {
                    // A collective booking is listed for each of its
                    // providers: through its seat row for all but the first
                    // (a seat reads back as its booking).
                    Some(provider) => {
                        query = query.filter(bookings::provider_id.eq(provider.as_str()));
                    }
                    None => query = query.filter(not_a_seat()),
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
    }

    async fn busy_times(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        range: TimeRange,
        excluding: Option<BookingId>,
        now: Timestamp,
    ) -> Result<Vec<TimeRange>, StorageError> {
        self.busy_times_of(account, provider, range, excluding, now)
            .await
    }

    async fn booking_events(
        &self,
        account: &AccountId,
        id: &BookingId,
    ) -> Result<Vec<BookingEvent>, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        self.read("booking_events", move |conn| {
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
    }

    async fn due_for_completion(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Booking>, StorageError> {
        let now = secs(now);
        self.read("due_for_completion", move |conn| {
            Box::pin(async move {
                // A literal status, so the partial index `bookings_confirmed_end`
                // applies (a bound parameter cannot prove its predicate in a
                // cached plan).
                let rows: Vec<BookingRow> = bookings::table
                    .filter(Condition("bookings.status = 'confirmed'"))
                    .filter(bookings::end_at.le(now))
                    .filter(not_a_seat())
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
    }

    async fn reminder_candidates(
        &self,
        now: Timestamp,
        after: Option<(Timestamp, BookingId)>,
        limit: u32,
    ) -> Result<Vec<(Booking, Vec<Minutes>)>, StorageError> {
        self.reminder_candidates_of(now, after, limit).await
    }

    async fn record_reminder(
        &self,
        event: &BookingEvent,
        offset: Minutes,
    ) -> Result<bool, StorageError> {
        self.record_reminder_of(event, offset).await
    }

    async fn insert_hold(&self, hold: &Hold, max_per_key: u32) -> Result<(), CreateHoldError> {
        let cols = HoldColumns::from_domain(hold);
        let length = cols.occupied_end.saturating_sub(cols.occupied_start);
        if length <= 0 || length > MAX_OCCUPIED_SECS {
            return Err(CreateHoldError::Storage(StorageError::Internal(format!(
                "hold {}: occupied range of {length} s is outside what the store supports",
                cols.id
            ))));
        }
        let (account, provider) = (cols.account_id.clone(), cols.provider_id.clone());
        match self
            .insert_hold_write(Arc::new(cols), i64::from(max_per_key))
            .await
        {
            Ok(()) => {
                self.busy_changed(&account, &provider);
                self.inner.holds.made(hold);
                Ok(())
            }
            Err(TxError::Conflict) => Err(CreateHoldError::Conflict),
            Err(TxError::TooManyHolds(earliest)) => Err(CreateHoldError::TooMany {
                earliest_expiry: earliest.and_then(|s| Timestamp::from_second(s).ok()),
            }),
            Err(e) => Err(CreateHoldError::Storage(e.storage())),
        }
    }

    async fn get_hold(
        &self,
        account: &AccountId,
        id: &HoldId,
    ) -> Result<Option<Hold>, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        self.read("get_hold", move |conn| {
            Box::pin(async move {
                let row = Self::hold_row(conn, &account, &id).await?;
                Ok(row.map(HoldColumns::into_domain).transpose()?)
            })
        })
        .await
    }

    async fn hold_for_booking(
        &self,
        account: &AccountId,
        id: &HoldId,
    ) -> Result<Option<Hold>, StorageError> {
        match self.inner.holds.get(account, id) {
            Some(hold) => Ok(Some(hold)),
            None => self.get_hold(account, id).await,
        }
    }

    async fn delete_hold(&self, account: &AccountId, id: &HoldId) -> Result<bool, StorageError> {
        self.inner.holds.forget(id);
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        let provider = self
            .write("delete_hold", {
                let account = account.clone();
                move |conn| {
                    let (account, id) = (account.clone(), id.clone());
                    Box::pin(async move { Self::delete_hold_row(conn, &account, &id).await })
                }
            })
            .await
            .map_err(TxError::storage)?;
        match provider {
            Some(provider) => {
                self.busy_changed(&account, &provider);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn insert_booking_from_hold(
        &self,
        booking: &Booking,
        events: &[BookingEvent],
        hold: &HoldId,
        cap: Option<DailyCap>,
    ) -> Result<(), ConvertHoldError> {
        self.convert_with(booking, events, hold, cap).await
    }
}
