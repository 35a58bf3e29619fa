//! Providers and services.

use async_trait::async_trait;
use booking_domain::ports::{
    CreateServiceError, Page, PageRequest, ProviderStore, ServiceStore, StorageError,
};
use booking_domain::{AccountId, Provider, ProviderId, Service, ServiceId};
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::rows::{ProviderRow, ServiceRow};
use crate::schema::{providers, services};
use crate::{SqliteStore, TxError, page, page_limit};

#[async_trait]
impl ProviderStore for SqliteStore {
    async fn create_provider(&self, provider: &Provider) -> Result<(), StorageError> {
        let row = ProviderRow::from(provider);
        self.run("create_provider", move |conn| {
            diesel::insert_into(providers::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
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
        self.run("get_provider", move |conn| {
            let row = providers::table
                .filter(providers::account_id.eq(&account))
                .filter(providers::id.eq(&id))
                .select(ProviderRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(ProviderRow::into_domain).transpose()?)
        })
        .await
        .map_err(TxError::storage)
    }

    async fn default_provider(
        &self,
        account: &AccountId,
    ) -> Result<Option<Provider>, StorageError> {
        let account = account.as_str().to_owned();
        self.run("default_provider", move |conn| {
            let row = providers::table
                .filter(providers::account_id.eq(&account))
                .filter(providers::is_default.eq(true))
                .order(providers::seq.asc())
                .select(ProviderRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(ProviderRow::into_domain).transpose()?)
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
        self.run("list_providers", move |conn| {
            let rows: Vec<(i64, ProviderRow)> = providers::table
                .filter(providers::account_id.eq(&account))
                .filter(providers::seq.gt(page_req.after.unwrap_or(0)))
                .order(providers::seq.asc())
                .limit(limit + 1)
                .select((providers::seq, ProviderRow::as_select()))
                .load(conn)?;
            Ok(page(rows, limit, ProviderRow::into_domain)?)
        })
        .await
        .map_err(TxError::storage)
    }

    async fn update_provider(&self, provider: &Provider) -> Result<bool, StorageError> {
        let row = ProviderRow::from(provider);
        self.run("update_provider", move |conn| {
            let n = diesel::update(
                providers::table
                    .filter(providers::account_id.eq(&row.account_id))
                    .filter(providers::id.eq(&row.id)),
            )
            .set(&row)
            .execute(conn)?;
            Ok(n > 0)
        })
        .await
        .map_err(TxError::storage)
    }
}

#[async_trait]
impl ServiceStore for SqliteStore {
    async fn create_service(&self, service: &Service) -> Result<(), CreateServiceError> {
        let row = ServiceRow::from(service);
        let result = self
            .run("create_service", move |conn| {
                match diesel::insert_into(services::table)
                    .values(&row)
                    .execute(conn)
                {
                    Ok(_) => Ok(()),
                    Err(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => {
                        Err(TxError::AlreadyExists)
                    }
                    Err(e) => Err(e.into()),
                }
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
        self.run("get_service", move |conn| {
            let row = services::table
                .filter(services::account_id.eq(&account))
                .filter(services::id.eq(&id))
                .select(ServiceRow::as_select())
                .first(conn)
                .optional()?;
            Ok(row.map(ServiceRow::into_domain).transpose()?)
        })
        .await
        .map_err(TxError::storage)
    }

    async fn list_services(
        &self,
        account: &AccountId,
        page_req: PageRequest,
    ) -> Result<Page<Service>, StorageError> {
        let account = account.as_str().to_owned();
        let limit = page_limit(&page_req);
        self.run("list_services", move |conn| {
            let rows: Vec<(i64, ServiceRow)> = services::table
                .filter(services::account_id.eq(&account))
                .filter(services::archived.eq(false))
                .filter(services::seq.gt(page_req.after.unwrap_or(0)))
                .order(services::seq.asc())
                .limit(limit + 1)
                .select((services::seq, ServiceRow::as_select()))
                .load(conn)?;
            Ok(page(rows, limit, ServiceRow::into_domain)?)
        })
        .await
        .map_err(TxError::storage)
    }

    async fn update_service(&self, service: &Service) -> Result<bool, StorageError> {
        let row = ServiceRow::from(service);
        self.run("update_service", move |conn| {
            let n = diesel::update(
                services::table
                    .filter(services::account_id.eq(&row.account_id))
                    .filter(services::id.eq(&row.id)),
            )
            .set(&row)
            .execute(conn)?;
            Ok(n > 0)
        })
        .await
        .map_err(TxError::storage)
    }
}
