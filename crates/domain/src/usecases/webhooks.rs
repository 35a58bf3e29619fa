//! Webhook endpoints: management, the delivery log and redelivery.

use super::port_sets::WebhookPorts;
use crate::ports::{Page, PageRequest, StorageError};
use crate::{
    AccountId, Delivery, DeliveryId, EventSet, IdKind, MAX_URL_LEN, ValidationError,
    WebhookEndpoint, WebhookId, WebhookPatch,
};

/// Errors of webhook management.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No such endpoint or delivery (404 NOT_FOUND).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The account has this many endpoints already (409 LIMIT_REACHED).
    #[error("the account has {0} webhook endpoints, the most allowed")]
    LimitReached(u32),
    /// Invalid input, a refused URL included (400 VALIDATION_ERROR).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A new endpoint's fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Target URL.
    pub url: String,
    /// Kinds; `None` means all five.
    pub events: Option<EventSet>,
    /// Description.
    pub description: Option<String>,
}

/// Webhook use cases for one account.
pub struct Webhooks<'a> {
    /// The ports.
    pub ports: WebhookPorts<'a>,
    /// The account acting.
    pub account: &'a AccountId,
}

impl Webhooks<'_> {
    /// Refuses URLs that are too long or that the SSRF guard refuses.
    async fn check_url(&self, url: &str) -> Result<(), WebhookError> {
        if url.len() > MAX_URL_LEN {
            return Err(ValidationError::new(
                "url",
                format!("must be at most {MAX_URL_LEN} characters"),
            )
            .into());
        }
        self.ports
            .targets
            .check(url)
            .await
            .map_err(|reason| ValidationError::new("url", reason).into())
    }

    /// Creates an endpoint with a new secret (returned once, in the
    /// endpoint), unless the account has `limit` endpoints already.
    pub async fn create(
        &self,
        new: NewWebhook,
        limit: u32,
    ) -> Result<WebhookEndpoint, WebhookError> {
        self.check_url(&new.url).await?;
        let now = self.ports.clock.now();
        let endpoint = WebhookEndpoint {
            id: WebhookId::from_trusted(self.ports.ids.new_id(IdKind::Webhook)),
            account_id: self.account.clone(),
            url: new.url,
            events: new.events.unwrap_or_else(EventSet::defaults),
            description: new.description,
            enabled: true,
            secret: self.ports.ids.webhook_secret(),
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: now,
            updated_at: now,
        };
        if !self
            .ports
            .webhooks
            .create_webhook_within(&endpoint, limit)
            .await?
        {
            return Err(WebhookError::LimitReached(limit));
        }
        Ok(endpoint)
    }

    /// An endpoint.
    pub async fn get(&self, id: &str) -> Result<WebhookEndpoint, WebhookError> {
        let id = WebhookId::parse(id).ok_or(WebhookError::NotFound("webhook"))?;
        self.ports
            .webhooks
            .get_webhook(self.account, &id)
            .await?
            .ok_or(WebhookError::NotFound("webhook"))
    }

    /// The account's endpoints.
    pub async fn list(&self, page: PageRequest) -> Result<Page<WebhookEndpoint>, WebhookError> {
        Ok(self
            .ports
            .webhooks
            .list_webhooks(self.account, page)
            .await?)
    }

    /// Changes an endpoint.
    pub async fn update(
        &self,
        id: &str,
        patch: WebhookPatch,
    ) -> Result<WebhookEndpoint, WebhookError> {
        let current = self.get(id).await?;
        if let Some(url) = &patch.url {
            self.check_url(url).await?;
        }
        let updated = WebhookEndpoint {
            url: patch.url.unwrap_or_else(|| current.url.clone()),
            events: patch.events.unwrap_or(current.events),
            enabled: patch.enabled.unwrap_or(current.enabled),
            description: patch
                .description
                .unwrap_or_else(|| current.description.clone()),
            updated_at: self.ports.clock.now(),
            ..current
        };
        self.store(updated).await
    }

    async fn store(&self, endpoint: WebhookEndpoint) -> Result<WebhookEndpoint, WebhookError> {
        if self.ports.webhooks.update_webhook(&endpoint).await? {
            Ok(endpoint)
        } else {
            Err(WebhookError::NotFound("webhook"))
        }
    }

    /// Deletes an endpoint with its delivery log.
    pub async fn delete(&self, id: &str) -> Result<(), WebhookError> {
        let id = WebhookId::parse(id).ok_or(WebhookError::NotFound("webhook"))?;
        if self
            .ports
            .webhooks
            .delete_webhook(self.account, &id)
            .await?
        {
            Ok(())
        } else {
            Err(WebhookError::NotFound("webhook"))
        }
    }

    /// Gives the endpoint a new secret; the old one keeps signing for a day.
    pub async fn rotate_secret(&self, id: &str) -> Result<WebhookEndpoint, WebhookError> {
        let current = self.get(id).await?;
        let rotated = current.rotated(self.ports.ids.webhook_secret(), self.ports.clock.now());
        self.store(rotated).await
    }

    /// The endpoint's deliveries, newest first.
    pub async fn deliveries(
        &self,
        id: &str,
        page: PageRequest,
    ) -> Result<Page<Delivery>, WebhookError> {
        let endpoint = self.get(id).await?;
        Ok(self
            .ports
            .webhooks
            .list_deliveries(self.account, &endpoint.id, page)
            .await?)
    }

    /// Queues a delivery again.
    pub async fn redeliver(&self, id: &str, delivery: &str) -> Result<Delivery, WebhookError> {
        let endpoint = self.get(id).await?;
        let delivery = DeliveryId::parse(delivery).ok_or(WebhookError::NotFound("delivery"))?;
        self.ports
            .webhooks
            .redeliver(
                self.account,
                &endpoint.id,
                &delivery,
                self.ports.clock.now(),
            )
            .await?
            .ok_or(WebhookError::NotFound("delivery"))
    }
}
