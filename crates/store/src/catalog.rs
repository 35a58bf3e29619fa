//! Providers and services (both stores).

use async_trait::async_trait;
use booking_domain::ports::{
    CreateServiceError, Page, PageRequest, ProviderStore, ServiceStore, StorageError,
};
use booking_domain::{AccountId, Provider, ProviderId, Service, ServiceId};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use duplicate::duplicate_item;

use crate::postgres::PostgresStore;
use crate::rows::{ProviderRow, ServiceRow};
use crate::schema::{providers, services};
use crate::sqlite::SqliteStore;
use crate::{TxError, page, page_limit};

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl ProviderStore for Store {
    async fn create_provider(&self, provider: &Provider) -> Result<(), StorageError> {
        let row = ProviderRow::from_domain(provider);
        self.write("create_provider", move |conn| {
            let row = row.clone();
            Box::pin(async move {
                diesel::insert_into(providers::table)
                    .values(&row)
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .await
        .map_err(TxError::storage)
    }

    async fn get_provider(
        &self,
        account: &AccountId,
        id: &ProviderId,
    ) -> Result<Option<Provider>, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        self.read("get_provider", move |conn| {
            Box::pin(async move {
                let row = providers::table
                    .filter(providers::account_id.eq(&account))
                    .filter(providers::id.eq(&id))
                    .select(ProviderRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(ProviderRow::into_domain).transpose()?)
            })
        })
        .await
    }

    async fn default_provider(
        &self,
        account: &AccountId,
    ) -> Result<Option<Provider>, StorageError> {
        let account = account.as_str().to_owned();
        self.read("default_provider", move |conn| {
            Box::pin(async move {
                let row = providers::table
                    .filter(providers::account_id.eq(&account))
                    .filter(providers::is_default.eq(true))
                    .order(providers::seq.asc())
                    .select(ProviderRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(ProviderRow::into_domain).transpose()?)
            })
        })
        .await
    }

    async fn list_providers(
        &self,
        account: &AccountId,
        page_req: PageRequest,
    ) -> Result<Page<Provider>, StorageError> {
        let account = account.as_str().to_owned();
        let limit = page_limit(&page_req);
        self.read("list_providers", move |conn| {
            Box::pin(async move {
                let rows: Vec<(i64, ProviderRow)> = providers::table
                    .filter(providers::account_id.eq(&account))
                    .filter(providers::seq.gt(page_req.after.unwrap_or(0)))
                    .order(providers::seq.asc())
                    .limit(limit + 1)
                    .select((providers::seq, ProviderRow::as_select()))
                    .load(conn)
                    .await?;
                Ok(page(rows, limit, ProviderRow::into_domain)?)
            })
        })
        .await
    }

    async fn update_provider(&self, provider: &Provider) -> Result<bool, StorageError> {
        let row = ProviderRow::from_domain(provider);
        self.write("update_provider", move |conn| {
            let row = row.clone();
            Box::pin(async move {
                let n = diesel::update(
                    providers::table
                        .filter(providers::account_id.eq(&row.account_id))
                        .filter(providers::id.eq(&row.id)),
                )
                .set(&row)
                .execute(conn)
                .await?;
                Ok(n > 0)
            })
        })
        .await
        .map_err(TxError::storage)
    }
}

/// The unique constraint that makes a service id taken (Postgres names it;
/// SQLite reports no constraint names).
const SERVICES_KEY: &str = "services_account_id_key";

#[duplicate_item(Store; [SqliteStore]; [PostgresStore])]
#[async_trait]
impl ServiceStore for Store {
    async fn create_service(&self, service: &Service) -> Result<(), CreateServiceError> {
        let row = ServiceRow::from_domain(service);
        let result = self
            .write("create_service", move |conn| {
                let row = row.clone();
                Box::pin(async move {
                    match diesel::insert_into(services::table)
                        .values(&row)
                        .execute(conn)
                        .await
                    {
                        Ok(_) => Ok(()),
                        Err(DieselError::DatabaseError(
                            DatabaseErrorKind::UniqueViolation,
                            info,
                        )) if info.constraint_name().is_none_or(|c| c == SERVICES_KEY) => {
                            Err(TxError::AlreadyExists)
                        }
                        Err(e) => Err(e.into()),
                    }
                })
            })
            .await;
        match result {
            Ok(()) => Ok(()),
            Err(TxError::AlreadyExists) => Err(CreateServiceError::AlreadyExists),
            Err(e) => Err(CreateServiceError::Storage(e.storage())),
        }
    }

    async fn get_service(
        &self,
        account: &AccountId,
        id: &ServiceId,
    ) -> Result<Option<Service>, StorageError> {
        let (account, id) = (account.as_str().to_owned(), id.as_str().to_owned());
        self.read("get_service", move |conn| {
            Box::pin(async move {
                let row = services::table
                    .filter(services::account_id.eq(&account))
                    .filter(services::id.eq(&id))
                    .select(ServiceRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                Ok(row.map(ServiceRow::into_domain).transpose()?)
            })
        })
        .await
    }

    /// Through the store's service cache, where it has one (Postgres).
    async fn get_service_cached(
        &self,
        account: &AccountId,
        id: &ServiceId,
    ) -> Result<Option<Service>, StorageError> {
        self.service_cached(account, id, self.get_service(account, id))
            .await
    }

    async fn list_services(
        &self,
        account: &AccountId,
        page_req: PageRequest,
    ) -> Result<Page<Service>, StorageError> {
        let account = account.as_str().to_owned();
        let limit = page_limit(&page_req);
        self.read("list_services", move |conn| {
            Box::pin(async move {
                let rows: Vec<(i64, ServiceRow)> = services::table
                    .filter(services::account_id.eq(&account))
                    .filter(services::archived.eq(false))
                    .filter(services::seq.gt(page_req.after.unwrap_or(0)))
                    .order(services::seq.asc())
                    .limit(limit + 1)
                    .select((services::seq, ServiceRow::as_select()))
                    .load(conn)
                    .await?;
                Ok(page(rows, limit, ServiceRow::into_domain)?)
            })
        })
        .await
    }

    /// One transaction: the update and, when the service exists, the
    /// store's announcement of the change (Postgres: a `NOTIFY` sent at
    /// commit, which makes every instance drop it from its cache).
    async fn update_service(&self, service: &Service) -> Result<bool, StorageError> {
        let row = ServiceRow::from_domain(service);
        let (account, id) = (row.account_id.clone(), row.id.clone());
        let updated = self
            .write("update_service", move |conn| {
                let row = row.clone();
                Box::pin(async move {
                    conn.transaction(async |conn| {
                        let n = diesel::update(
                            services::table
                                .filter(services::account_id.eq(&row.account_id))
                                .filter(services::id.eq(&row.id)),
                        )
                        .set(&row)
                        .execute(conn)
                        .await?;
                        if n > 0 {
                            Self::service_changed_tx(conn, &row.account_id, &row.id).await?;
                        }
                        Ok(n > 0)
                    })
                    .await
                })
            })
            .await
            .map_err(TxError::storage);
        // Committed or not (an error may hide a commit): this process reads
        // the row again, the others once the notification arrives.
        self.service_changed(&account, &id);
        updated
    }
}
