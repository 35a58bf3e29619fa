//! Providers and services.

use async_trait::async_trait;
use booking_domain::ports::{
    CreateServiceError, Page, PageRequest, ProviderStore, ServiceStore, StorageError,
};
use booking_domain::{AccountId, Provider, ProviderId, Service, ServiceId};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::rows::{ProviderRow, ServiceRow};
use crate::schema::{providers, services};
use crate::{PostgresStore, TxError, cache, page, page_limit};

/// The unique constraint that makes a service id taken.
const SERVICES_KEY: &str = "services_account_id_key";

#[async_trait]
impl ProviderStore for PostgresStore {
    async fn create_provider(&self, provider: &Provider) -> Result<(), StorageError> {
        let row = ProviderRow::from(provider);
        self.run("create_provider", |conn| {
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
        self.run("get_provider", |conn| {
            let (account, id) = (account.clone(), id.clone());
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
        .map_err(TxError::storage)
    }

    async fn default_provider(
        &self,
        account: &AccountId,
    ) -> Result<Option<Provider>, StorageError> {
        let account = account.as_str().to_owned();
        self.run("default_provider", |conn| {
            let account = account.clone();
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
        .map_err(TxError::storage)
    }

    async fn list_providers(
        &self,
        account: &AccountId,
        page_req: PageRequest,
    ) -> Result<Page<Provider>, StorageError> {
        let account = account.as_str().to_owned();
        let limit = page_limit(&page_req);
        self.run("list_providers", |conn| {
            let account = account.clone();
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
        .map_err(TxError::storage)
    }

    async fn update_provider(&self, provider: &Provider) -> Result<bool, StorageError> {
        let row = ProviderRow::from(provider);
        self.run("update_provider", |conn| {
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

#[async_trait]
impl ServiceStore for PostgresStore {
    async fn create_service(&self, service: &Service) -> Result<(), CreateServiceError> {
        let row = ServiceRow::from(service);
        let result = self
            .run("create_service", |conn| {
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
                        )) if info.constraint_name() == Some(SERVICES_KEY) => {
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
        self.run("get_service", |conn| {
            let (account, id) = (account.clone(), id.clone());
            Box::pin(async move { read_service(conn, &account, &id).await })
        })
        .await
        .map_err(TxError::storage)
    }

    /// From the services' cache (see `cache.rs`): only services that exist
    /// are cached, so one created anywhere is found at once.
    async fn get_service_cached(
        &self,
        account: &AccountId,
        id: &ServiceId,
    ) -> Result<Option<Service>, StorageError> {
        let group = cache::group(account.as_str(), id.as_str());
        let epoch = match self.inner.services.get(&group, "") {
            Ok(cached) => return Ok(Some(cached)),
            Err(epoch) => epoch,
        };
        let service = self.get_service(account, id).await?;
        if let Some(service) = &service {
            self.inner
                .services
                .fill(&group, "", service.clone(), 1, epoch);
        }
        Ok(service)
    }

    async fn list_services(
        &self,
        account: &AccountId,
        page_req: PageRequest,
    ) -> Result<Page<Service>, StorageError> {
        let account = account.as_str().to_owned();
        let limit = page_limit(&page_req);
        self.run("list_services", |conn| {
            let account = account.clone();
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
        .map_err(TxError::storage)
    }

    async fn update_service(&self, service: &Service) -> Result<bool, StorageError> {
        let row = ServiceRow::from(service);
        let group = cache::group(&row.account_id, &row.id);
        let updated = self
            .run("update_service", |conn| {
                let (row, group) = (row.clone(), group.clone());
                Box::pin(async move { update_service_tx(conn, &row, group).await })
            })
            .await
            .map_err(TxError::storage);
        // Committed or not (an error may hide a commit): this process reads
        // the row again, the others once the notification arrives.
        self.inner.services.invalidate(&group);
        updated
    }
}

/// The service, archived or not.
async fn read_service(
    conn: &mut AsyncPgConnection,
    account: &str,
    id: &str,
) -> Result<Option<Service>, TxError> {
    let row = services::table
        .filter(services::account_id.eq(account))
        .filter(services::id.eq(id))
        .select(ServiceRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(row.map(ServiceRow::into_domain).transpose()?)
}

/// One transaction: the update, and the notification that makes every
/// store drop the service from its cache (sent at commit). Whether the
/// service exists.
async fn update_service_tx(
    conn: &mut AsyncPgConnection,
    row: &ServiceRow,
    group: String,
) -> Result<bool, TxError> {
    conn.transaction(async |conn| {
        let n = diesel::update(
            services::table
                .filter(services::account_id.eq(&row.account_id))
                .filter(services::id.eq(&row.id)),
        )
        .set(row)
        .execute(conn)
        .await?;
        if n > 0 {
            crate::listen::notify(conn, cache::SERVICES, group).await?;
        }
        Ok(n > 0)
    })
    .await
}
