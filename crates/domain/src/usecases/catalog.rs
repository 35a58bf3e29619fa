//! Providers and services.

use super::port_sets::CatalogPorts;
use crate::ports::{CreateServiceError, Page, PageRequest, StorageError};
use crate::{
    AccountId, Email, IdKind, NewService, Provider, ProviderId, ProviderPatch, Service, ServiceId,
    ServicePatch, ServiceProviders, Team, ValidationError,
};

/// Errors of provider and service management.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No such provider (404 NOT_FOUND).
    #[error("provider not found")]
    ProviderNotFound,
    /// No such service (404 INVALID_SERVICE).
    #[error("service not found")]
    ServiceNotFound,
    /// A chosen service id is taken (409 ALREADY_EXISTS).
    #[error("a service with this id already exists")]
    AlreadyExists,
    /// Invalid input.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Provider and service use cases for one account.
pub struct Catalog<'a> {
    /// The ports.
    pub ports: CatalogPorts<'a>,
    /// The account acting.
    pub account: &'a AccountId,
}

impl Catalog<'_> {
    /// Creates a provider.
    pub async fn create_provider(
        &self,
        name: String,
        email: Option<Email>,
    ) -> Result<Provider, CatalogError> {
        let now = self.ports.clock.now();
        let provider = Provider {
            id: ProviderId::from_trusted(self.ports.ids.new_id(IdKind::Provider)),
            account_id: self.account.clone(),
            name,
            email,
            is_default: false,
            created_at: now,
            updated_at: now,
        };
        self.ports.providers.create_provider(&provider).await?;
        Ok(provider)
    }

    /// A provider.
    pub async fn provider(&self, id: &str) -> Result<Provider, CatalogError> {
        let id = ProviderId::parse(id).ok_or(CatalogError::ProviderNotFound)?;
        self.ports
            .providers
            .get_provider(self.account, &id)
            .await?
            .ok_or(CatalogError::ProviderNotFound)
    }

    /// The account's providers.
    pub async fn providers(&self, page: PageRequest) -> Result<Page<Provider>, CatalogError> {
        Ok(self
            .ports
            .providers
            .list_providers(self.account, page)
            .await?)
    }

    /// Changes a provider.
    pub async fn update_provider(
        &self,
        id: &str,
        patch: ProviderPatch,
    ) -> Result<Provider, CatalogError> {
        let mut provider = self.provider(id).await?;
        provider.apply(patch, self.ports.clock.now());
        if self.ports.providers.update_provider(&provider).await? {
            Ok(provider)
        } else {
            Err(CatalogError::ProviderNotFound)
        }
    }

    async fn resolve_provider(&self, id: Option<&ProviderId>) -> Result<ProviderId, CatalogError> {
        let provider = match id {
            Some(id) => self.ports.providers.get_provider(self.account, id).await?,
            None => self.ports.providers.default_provider(self.account).await?,
        };
        provider
            .map(|p| p.id)
            .ok_or_else(|| ValidationError::new("provider_id", "no such provider").into())
    }

    /// Checks that every provider of a team exists in the account; errors
    /// name `provider_ids`.
    async fn check_team(&self, team: &Team) -> Result<(), CatalogError> {
        for id in team.providers() {
            if self
                .ports
                .providers
                .get_provider(self.account, id)
                .await?
                .is_none()
            {
                return Err(ValidationError::new(
                    "provider_ids",
                    format!("no such provider: {id}"),
                )
                .into());
            }
        }
        Ok(())
    }

    /// Creates a service; with no provider it goes to the account's default
    /// one, with a team to the team (every member must exist).
    pub async fn create_service(&self, new: NewService) -> Result<Service, CatalogError> {
        let provider_id = match &new.team {
            Some(team) => {
                if new.provider_id.is_some() {
                    return Err(ValidationError::new(
                        "provider_ids",
                        "give either provider_id or provider_ids, not both",
                    )
                    .into());
                }
                self.check_team(team).await?;
                team.providers()
                    .first()
                    .cloned()
                    .ok_or_else(|| ValidationError::new("provider_ids", "must not be empty"))?
            }
            None => self.resolve_provider(new.provider_id.as_ref()).await?,
        };
        let now = self.ports.clock.now();
        let id = match new.id {
            Some(id) => id,
            None => ServiceId::from_trusted(self.ports.ids.new_id(IdKind::Service)),
        };
        let service = Service {
            id,
            account_id: self.account.clone(),
            provider_id,
            team: new.team,
            name: new.name,
            description: new.description,
            duration: new.duration,
            price: new.price,
            availability: new.availability,
            buffer_before: new.buffer_before,
            buffer_after: new.buffer_after,
            minimum_notice: new.minimum_notice,
            auto_confirm: new.auto_confirm,
            slot_interval: new.slot_interval,
            booking_horizon: new.booking_horizon,
            max_bookings_per_day: new.max_bookings_per_day,
            cancel_cutoff: new.cancel_cutoff,
            reschedule_cutoff: new.reschedule_cutoff,
            reminders: new.reminders,
            archived: false,
            created_at: now,
            updated_at: now,
        };
        match self.ports.services.create_service(&service).await {
            Ok(()) => Ok(service),
            Err(CreateServiceError::AlreadyExists) => Err(CatalogError::AlreadyExists),
            Err(CreateServiceError::Storage(e)) => Err(e.into()),
        }
    }

    /// A service that is not archived.
    pub async fn service(&self, id: &str) -> Result<Service, CatalogError> {
        let id = ServiceId::parse(id).ok_or(CatalogError::ServiceNotFound)?;
        match self.ports.services.get_service(self.account, &id).await? {
            Some(s) if !s.archived => Ok(s),
            _ => Err(CatalogError::ServiceNotFound),
        }
    }

    /// [`Catalog::service`] for availability, which reads it on every
    /// request: may come from the store's cache
    /// ([`ServiceStore::get_service_cached`](crate::ports::ServiceStore::get_service_cached)).
    pub async fn bookable_service(&self, id: &str) -> Result<Service, CatalogError> {
        let id = ServiceId::parse(id).ok_or(CatalogError::ServiceNotFound)?;
        match self
            .ports
            .services
            .get_service_cached(self.account, &id)
            .await?
        {
            Some(s) if !s.archived => Ok(s),
            _ => Err(CatalogError::ServiceNotFound),
        }
    }

    /// The account's services that are not archived.
    pub async fn services(&self, page: PageRequest) -> Result<Page<Service>, CatalogError> {
        Ok(self
            .ports
            .services
            .list_services(self.account, page)
            .await?)
    }

    /// Changes a service. Existing bookings keep the duration, buffers and
    /// price they were made with.
    pub async fn update_service(
        &self,
        id: &str,
        patch: ServicePatch,
    ) -> Result<Service, CatalogError> {
        let mut service = self.service(id).await?;
        match &patch.providers {
            Some(ServiceProviders::Single(provider)) => {
                self.resolve_provider(Some(provider)).await?;
            }
            Some(ServiceProviders::Team(team)) => self.check_team(team).await?,
            None => {}
        }
        service.apply(patch, self.ports.clock.now());
        if self.ports.services.update_service(&service).await? {
            Ok(service)
        } else {
            Err(CatalogError::ServiceNotFound)
        }
    }

    /// Archives a service: its bookings stay, new bookings are refused.
    pub async fn archive_service(&self, id: &str) -> Result<(), CatalogError> {
        let mut service = self.service(id).await?;
        service.archived = true;
        service.updated_at = self.ports.clock.now();
        if self.ports.services.update_service(&service).await? {
            Ok(())
        } else {
            Err(CatalogError::ServiceNotFound)
        }
    }
}
