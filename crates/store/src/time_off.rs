//! Providers' time off (both stores).
//!
//! Creating time off is one transaction behind the provider's lock (the
//! Postgres advisory lock booking writes take; SQLite's one writer): the
//! insert, then the read of the provider's active bookings whose appointment
//! overlaps it, a bounded scan of `bookings_busy` like the conflict checks.
//! Creating and deleting both drop the provider's cached busy time.

use async_trait::async_trait;
use booking_domain::ports::{Page, PageRequest, StorageError, TimeOffStore};
use booking_domain::{AccountId, BookingId, ProviderId, TimeOff, TimeOffId};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;
use jiff::Timestamp;

use crate::postgres::PostgresStore;
use crate::rows::{ACTIVE_BOOKING, MAX_OCCUPIED_SECS, TimeOffColumns, booking_of, secs, secs_ceil};
use crate::schema::{bookings, time_off};
use crate::sqlite::SqliteStore;
use crate::{TxError, page, page_limit};

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl TimeOffStore for Store {
    async fn create_time_off(&self, time_off: &TimeOff) -> Result<Vec<BookingId>, StorageError> {
        let row = TimeOffColumns::from_domain(time_off);
        let (account, provider) = (row.account_id.clone(), row.provider_id.clone());
        let ids = self
            .write("create_time_off", move |conn| {
                let row = row.clone();
                Box::pin(async move {
                    conn.transaction(async |conn| {
                        Self::lock_provider(conn, &row.account_id, &row.provider_id).await?;
                        diesel::insert_into(time_off::table)
                            .values(&row)
                            .execute(conn)
                            .await?;
                        // An appointment overlapping the time off starts
                        // before its end, and its occupied range (at most
                        // MAX_OCCUPIED_SECS long) ends after its start.
                        let ids: Vec<String> = bookings::table
                            .filter(bookings::account_id.eq(&row.account_id))
                            .filter(bookings::provider_id.eq(&row.provider_id))
                            .filter(bookings::occupied_start.lt(row.end_at))
                            .filter(
                                bookings::occupied_start
                                    .gt(row.start_at.saturating_sub(MAX_OCCUPIED_SECS)),
                            )
                            .filter(bookings::scheduled_at.lt(row.end_at))
                            .filter(bookings::end_at.gt(row.start_at))
                            .filter(ACTIVE_BOOKING)
                            .order((bookings::scheduled_at.asc(), bookings::id.asc()))
                            .select(bookings::id)
                            .load(conn)
                            .await?;
                        Ok(ids)
                    })
                    .await
                })
            })
            .await
            .map_err(TxError::storage)?;
        self.busy_changed(&account, &provider);
        // A collective booking's seat row names its booking.
        Ok(ids
            .iter()
            .map(|id| BookingId::from_trusted(booking_of(id).to_owned()))
            .collect())
    }

    async fn list_time_off(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
        page_req: PageRequest,
    ) -> Result<Page<TimeOff>, StorageError> {
        let (account, provider) = (account.as_str().to_owned(), provider.as_str().to_owned());
        // Open ends as the widest bounds: one cached statement for every query.
        let after = from.map_or(i64::MIN, secs);
        let before = to.map_or(i64::MAX, secs_ceil);
        let limit = page_limit(&page_req);
        self.read("list_time_off", move |conn| {
            Box::pin(async move {
                let rows: Vec<(i64, TimeOffColumns)> = time_off::table
                    .filter(time_off::account_id.eq(&account))
                    .filter(time_off::provider_id.eq(&provider))
                    .filter(time_off::end_at.gt(after))
                    .filter(time_off::start_at.lt(before))
                    .filter(time_off::seq.gt(page_req.after.unwrap_or(0)))
                    .order(time_off::seq.asc())
                    .limit(limit + 1)
                    .select((time_off::seq, TimeOffColumns::as_select()))
                    .load(conn)
                    .await?;
                Ok(page(rows, limit, TimeOffColumns::into_domain)?)
            })
        })
        .await
    }

    async fn delete_time_off(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        id: &TimeOffId,
    ) -> Result<bool, StorageError> {
        let (account, provider, id) = (
            account.as_str().to_owned(),
            provider.as_str().to_owned(),
            id.as_str().to_owned(),
        );
        let deleted = self
            .write("delete_time_off", {
                let (account, provider) = (account.clone(), provider.clone());
                move |conn| {
                    let (account, provider, id) = (account.clone(), provider.clone(), id.clone());
                    Box::pin(async move {
                        let n = diesel::delete(
                            time_off::table
                                .filter(time_off::account_id.eq(&account))
                                .filter(time_off::provider_id.eq(&provider))
                                .filter(time_off::id.eq(&id)),
                        )
                        .execute(conn)
                        .await?;
                        Ok(n > 0)
                    })
                }
            })
            .await
            .map_err(TxError::storage)?;
        if deleted {
            self.busy_changed(&account, &provider);
        }
        Ok(deleted)
    }
}
