//! Reminders: the round's scan of candidate bookings, and the exactly-once
//! record of each reminder sent, with its event and deliveries.

use std::collections::HashMap;
use std::sync::Arc;

use booking_domain::ports::StorageError;
use booking_domain::{
    AccountId, Booking, BookingEvent, BookingId, Minutes, REMINDER_WINDOW, ServiceId,
};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::Timestamp;

use crate::bookings::not_a_seat;
use crate::postgres::PostgresStore;
use crate::rows::{ACTIVE_BOOKING, BookingRow, EventRow, corrupt, secs};
use crate::schema::{booking_reminders, bookings, services};
use crate::sqlite::SqliteStore;
use crate::{Condition, TxError};

/// Only services that have reminders (`services.reminders` is `''` for none).
const HAS_REMINDERS: Condition = Condition(
    "EXISTS (SELECT 1 FROM services s WHERE s.account_id = bookings.account_id \
     AND s.id = bookings.service_id AND s.reminders <> '')",
);

#[duplicate_item(Store Conn; [SqliteStore] [crate::sqlite::Conn]; [PostgresStore] [crate::postgres::Conn])]
impl Store {
    /// See [`booking_domain::ports::BookingStore::reminder_candidates`].
    /// The partial index `bookings_active_start` bounds the scan to the
    /// active bookings starting within the window.
    pub(crate) async fn reminder_candidates_of(
        &self,
        now: Timestamp,
        after: Option<(Timestamp, BookingId)>,
        limit: u32,
    ) -> Result<Vec<(Booking, Vec<Minutes>)>, StorageError> {
        let from = secs(now);
        let until = from.saturating_add(REMINDER_WINDOW.as_secs());
        let (after_at, after_id) = after
            .map(|(at, id)| (secs(at), id.as_str().to_owned()))
            .unwrap_or((from, String::new()));
        let rows: Vec<BookingRow> = self
            .read("reminder_candidates", move |conn| {
                Box::pin(async move {
                    Ok(bookings::table
                        .filter(ACTIVE_BOOKING)
                        .filter(bookings::scheduled_at.gt(from))
                        .filter(bookings::scheduled_at.le(until))
                        .filter(
                            bookings::scheduled_at
                                .gt(after_at)
                                .or(bookings::scheduled_at
                                    .eq(after_at)
                                    .and(bookings::id.gt(after_id))),
                        )
                        .filter(not_a_seat())
                        .filter(HAS_REMINDERS)
                        .order((bookings::scheduled_at.asc(), bookings::id.asc()))
                        .limit(i64::from(limit))
                        .select(BookingRow::as_select())
                        .load(conn)
                        .await?)
                })
            })
            .await?;
        let bookings = rows
            .into_iter()
            .map(BookingRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        let mut offsets: HashMap<(AccountId, ServiceId), Vec<Minutes>> = HashMap::new();
        for b in &bookings {
            let key = (b.account_id.clone(), b.service_id.clone());
            if offsets.contains_key(&key) {
                continue;
            }
            let (account, service) = (key.0.as_str().to_owned(), key.1.as_str().to_owned());
            let text: Option<String> = self
                .read("reminder_offsets", move |conn| {
                    Box::pin(async move {
                        Ok(services::table
                            .filter(services::account_id.eq(&account))
                            .filter(services::id.eq(&service))
                            .select(services::reminders)
                            .first(conn)
                            .await
                            .optional()?)
                    })
                })
                .await?;
            let list = match text {
                Some(text) => crate::rows::reminders_column(&text).ok_or_else(|| {
                    corrupt("services", key.1.as_str(), format!("reminders `{text}`"))
                })?,
                // Deleted meanwhile: nothing to remind of.
                None => Vec::new(),
            };
            offsets.insert(key, list);
        }
        Ok(bookings
            .into_iter()
            .map(|b| {
                let list = offsets
                    .get(&(b.account_id.clone(), b.service_id.clone()))
                    .cloned()
                    .unwrap_or_default();
                (b, list)
            })
            .collect())
    }

    /// See [`booking_domain::ports::BookingStore::record_reminder`]. The
    /// record is inserted only while the booking is still active and
    /// unchanged since the round read it (so a cancel or move that
    /// committed first wins); the primary key decides between processes.
    pub(crate) async fn record_reminder_of(
        &self,
        event: &BookingEvent,
        offset: Minutes,
    ) -> Result<bool, StorageError> {
        let row = Arc::new(EventRow::from_domain(event)?);
        let b = &event.booking;
        let key = Arc::new((
            b.account_id.as_str().to_owned(),
            b.id.as_str().to_owned(),
            i64::from(offset.get()),
            secs(b.scheduled_at),
            secs(b.updated_at),
        ));
        let result = self
            .write("record_reminder", move |conn| {
                let (row, key) = (Arc::clone(&row), Arc::clone(&key));
                Box::pin(async move { Self::record_reminder_tx(conn, &row, &key).await })
            })
            .await;
        match result {
            Ok(Some(queued)) => {
                if queued > 0 {
                    self.wake();
                }
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => Err(e.storage()),
        }
    }

    /// The transaction of [`Self::record_reminder_of`]: `None` when the
    /// reminder was recorded before or the booking changed; else how many
    /// deliveries it queued.
    async fn record_reminder_tx(
        conn: &mut Conn,
        row: &EventRow,
        key: &(String, String, i64, i64, i64),
    ) -> Result<Option<usize>, TxError> {
        conn.transaction(async |conn| {
            let (account, booking, offset, scheduled_at, updated_at) = key;
            let source = bookings::table
                .filter(bookings::account_id.eq(account))
                .filter(bookings::id.eq(booking))
                .filter(bookings::scheduled_at.eq(*scheduled_at))
                .filter(bookings::updated_at.eq(*updated_at))
                .filter(ACTIVE_BOOKING)
                .select((
                    bookings::account_id,
                    bookings::id,
                    sql::<BigInt>("").bind::<BigInt, _>(*offset),
                    bookings::scheduled_at,
                    sql::<Text>("").bind::<Text, _>(row.id.clone()),
                    sql::<BigInt>("").bind::<BigInt, _>(row.created_at),
                ));
            let inserted = diesel::insert_into(booking_reminders::table)
                .values(source)
                .into_columns((
                    booking_reminders::account_id,
                    booking_reminders::booking_id,
                    booking_reminders::offset_min,
                    booking_reminders::scheduled_at,
                    booking_reminders::event_id,
                    booking_reminders::created_at,
                ))
                .on_conflict_do_nothing()
                .execute(conn)
                .await?;
            if inserted == 0 {
                return Ok(None);
            }
            let queued = Self::insert_events(conn, std::slice::from_ref(row)).await?;
            Ok(Some(queued))
        })
        .await
    }
}
