//! Calendar feeds: token hashes on providers, the bookings a feed shows, and
//! server-wide secrets (both stores).

use async_trait::async_trait;
use booking_domain::ports::{FeedBooking, FeedStore, StorageError};
use booking_domain::{AccountId, Provider, ProviderId};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use duplicate::duplicate_item;
use jiff::Timestamp;

use crate::TxError;
use crate::postgres::PostgresStore;
use crate::rows::{BookingRow, MAX_OCCUPIED_SECS, ProviderRow, secs, secs_ceil};
use crate::schema::{bookings, providers, server_secrets, services};
use crate::secrets::Field;
use crate::sqlite::SqliteStore;

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl FeedStore for Store {
    async fn feed_state(
        &self,
        account: &AccountId,
        provider: &ProviderId,
    ) -> Result<Option<(i64, Option<String>)>, StorageError> {
        let (account, provider) = (account.as_str().to_owned(), provider.as_str().to_owned());
        self.read("feed_state", move |conn| {
            Box::pin(async move {
                Ok(providers::table
                    .filter(providers::account_id.eq(&account))
                    .filter(providers::id.eq(&provider))
                    .select((providers::feed_generation, providers::feed_token_hash))
                    .first(conn)
                    .await
                    .optional()?)
            })
        })
        .await
    }

    async fn set_feed_token(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        expected: i64,
        generation: i64,
        token_hash: &str,
    ) -> Result<bool, StorageError> {
        let (account, provider) = (account.as_str().to_owned(), provider.as_str().to_owned());
        let hash = token_hash.to_owned();
        self.write("set_feed_token", move |conn| {
            let (account, provider, hash) = (account.clone(), provider.clone(), hash.clone());
            Box::pin(async move {
                let n = diesel::update(
                    providers::table
                        .filter(providers::account_id.eq(&account))
                        .filter(providers::id.eq(&provider))
                        .filter(providers::feed_generation.eq(expected)),
                )
                .set((
                    providers::feed_generation.eq(generation),
                    providers::feed_token_hash.eq(Some(&hash)),
                ))
                .execute(conn)
                .await?;
                Ok(n > 0)
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn provider_by_feed_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Provider>, StorageError> {
        let hash = token_hash.to_owned();
        self.read("provider_by_feed_token", move |conn| {
            Box::pin(async move {
                let row = providers::table
                    .filter(providers::feed_token_hash.eq(&hash))
                    .select(ProviderRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(ProviderRow::into_domain).transpose()?)
            })
        })
        .await
    }

    async fn feed_bookings(
        &self,
        account: &AccountId,
        provider: &ProviderId,
        from: Timestamp,
    ) -> Result<Vec<FeedBooking>, StorageError> {
        let (account, provider) = (account.as_str().to_owned(), provider.as_str().to_owned());
        let from = secs_ceil(from);
        self.read("feed_bookings", move |conn| {
            Box::pin(async move {
                // The occupied start bound lets the (account, provider,
                // occupied_start) index bound the scan.
                let rows: Vec<(BookingRow, String)> = bookings::table
                    .inner_join(
                        services::table.on(services::account_id
                            .eq(bookings::account_id)
                            .and(services::id.eq(bookings::service_id))),
                    )
                    .filter(bookings::account_id.eq(&account))
                    .filter(bookings::provider_id.eq(&provider))
                    .filter(bookings::occupied_start.ge(from.saturating_sub(MAX_OCCUPIED_SECS)))
                    .filter(bookings::scheduled_at.ge(from))
                    // Postgres's hold guard rows are not bookings.
                    .filter(crate::bookings::NOT_HELD)
                    .order((bookings::scheduled_at.asc(), bookings::seq.asc()))
                    .select((BookingRow::as_select(), services::name))
                    .load(conn)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(row, service_name)| {
                        row.into_domain().map(|booking| FeedBooking {
                            booking,
                            service_name,
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?)
            })
        })
        .await
    }

    async fn server_secret(&self, name: &str, candidate: &str) -> Result<String, StorageError> {
        let keys = self.secret_keys();
        // Sealed before the insert: what is stored is never the plaintext.
        let sealed = keys.seal(Field::ServerSecret, name, candidate)?;
        let name = name.to_owned();
        let now = secs(Timestamp::now());
        let stored = self
            .write("server_secret", {
                let name = name.clone();
                move |conn| {
                    let (name, sealed) = (name.clone(), sealed.clone());
                    Box::pin(async move {
                        // After the insert (or the conflicting one it waited
                        // for) commits, the row is there for every caller.
                        diesel::insert_into(server_secrets::table)
                            .values((
                                server_secrets::name.eq(&name),
                                server_secrets::value.eq(&sealed),
                                server_secrets::created_at.eq(now),
                            ))
                            .on_conflict_do_nothing()
                            .execute(conn)
                            .await?;
                        Ok(server_secrets::table
                            .filter(server_secrets::name.eq(&name))
                            .select(server_secrets::value)
                            .first::<String>(conn)
                            .await?)
                    })
                }
            })
            .await
            .map_err(TxError::storage)?;
        keys.open(Field::ServerSecret, &name, &stored)
    }
}
