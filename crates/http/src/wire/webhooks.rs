//! Webhook endpoints (`/v1/webhooks`), their deliveries, and the body
//! posted to them.

use booking_domain::usecases::NewWebhook;
use booking_domain::{
    BookingEvent, Delivery, EventSet, ValidationError, WebhookEndpoint, WebhookPatch,
    validate_webhook_description,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::bookings::BookingOut;
use super::common::{double_option, fmt_ts, list_type, normalised_url, present};

list_type!(WebhookList, WebhookOut);
list_type!(DeliveryList, DeliveryOut);

/// `POST /v1/webhooks` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// `https://…` (or `http://` where the operator allows private targets).
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = "^https://[^\\s/?#@]+[^\\s]*$"
    )]
    pub url: String,
    /// Event kinds to receive; when absent, every kind but
    /// `booking.reminder` (sent only to endpoints that list it).
    #[serde(default)]
    #[schema(min_items = 1, example = json!(["booking.created", "booking.cancelled"]))]
    pub events: Option<Vec<String>>,
    /// Up to 500 characters.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

impl CreateWebhook {
    /// Validates the fields (the URL's target is checked by the use case).
    pub fn try_into_domain(self) -> Result<NewWebhook, ValidationError> {
        Ok(NewWebhook {
            url: normalised_url(&self.url, "url")?,
            events: self
                .events
                .map(|e| EventSet::parse(e.iter().map(String::as_str), "events"))
                .transpose()?,
            description: self
                .description
                .map(|d| validate_webhook_description(&d))
                .transpose()?,
        })
    }
}

/// `PATCH /v1/webhooks/{id}` body: any subset.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    /// New URL.
    #[serde(default, deserialize_with = "present")]
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = "^https://[^\\s/?#@]+[^\\s]*$",
        nullable = false
    )]
    pub url: Option<String>,
    /// New event kinds.
    #[serde(default, deserialize_with = "present")]
    #[schema(min_items = 1, nullable = false)]
    pub events: Option<Vec<String>>,
    /// Enable or disable (disabled endpoints get no new deliveries; queued
    /// ones wait).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    pub enabled: Option<bool>,
    /// New description, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
}

impl UpdateWebhook {
    /// Validates every given field.
    pub fn try_into_domain(self) -> Result<WebhookPatch, ValidationError> {
        Ok(WebhookPatch {
            url: self.url.map(|u| normalised_url(&u, "url")).transpose()?,
            events: self
                .events
                .map(|e| EventSet::parse(e.iter().map(String::as_str), "events"))
                .transpose()?,
            enabled: self.enabled,
            description: self
                .description
                .map(|d| d.map(|d| validate_webhook_description(&d)).transpose())
                .transpose()?,
        })
    }
}

/// A webhook endpoint as returned (never with its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookOut {
    /// `wh_…`
    pub id: String,
    /// Target URL.
    pub url: String,
    /// Event kinds it receives.
    pub events: Vec<String>,
    /// Description.
    pub description: Option<String>,
    /// Whether it receives events.
    pub enabled: bool,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&WebhookEndpoint> for WebhookOut {
    fn from(e: &WebhookEndpoint) -> Self {
        WebhookOut {
            id: e.id.to_string(),
            url: e.url.clone(),
            events: e.events.iter().map(|k| k.name().to_owned()).collect(),
            description: e.description.clone(),
            enabled: e.enabled,
            created_at: fmt_ts(e.created_at),
        }
    }
}

/// A webhook endpoint with its signing secret: only in the answers to
/// creation and to secret rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: WebhookOut,
    /// `whsec_…`: base64 of 32 random bytes. Shown only here.
    pub secret: String,
}

impl From<&WebhookEndpoint> for WebhookWithSecret {
    fn from(e: &WebhookEndpoint) -> Self {
        WebhookWithSecret {
            endpoint: WebhookOut::from(e),
            secret: e.secret.clone(),
        }
    }
}

/// One attempt at a delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    /// When it started, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub at: String,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed without an answer.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryOut {
    /// `whd_…`
    pub id: String,
    /// The event (`webhook-id`).
    pub event_id: String,
    /// Its kind (`booking.created`, …).
    pub event: String,
    /// `pending`, `succeeded` or `failed`.
    pub state: String,
    /// When the next attempt is due, while pending.
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    /// Attempts, oldest first (the latest 100).
    pub attempts: Vec<AttemptOut>,
    /// When it was queued.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Delivery> for DeliveryOut {
    fn from(d: &Delivery) -> Self {
        DeliveryOut {
            id: d.id.to_string(),
            event_id: d.event_id.to_string(),
            event: d.event.name().to_owned(),
            state: d.state.name().to_owned(),
            next_attempt_at: d.next_attempt_at.map(fmt_ts),
            attempts: d
                .attempts
                .iter()
                .map(|a| AttemptOut {
                    at: fmt_ts(a.at),
                    status_code: a.status_code,
                    error: a.error.clone(),
                    duration_ms: a.duration_ms,
                })
                .collect(),
            created_at: fmt_ts(d.created_at),
        }
    }
}

/// The booking in a webhook body: as the API returns it, plus the start
/// before the change on `booking.rescheduled`.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookBooking {
    /// The booking.
    #[serde(flatten)]
    pub booking: BookingOut,
    /// On `booking.rescheduled` only: the start before the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub previous_scheduled_at: Option<String>,
    /// On `booking.reminder` only: the reminder's offset, minutes before
    /// the start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminder_offset: Option<u32>,
}

/// The JSON body posted to webhook endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookPayload {
    /// `evt_…`, also the `webhook-id` header: the same on every retry.
    pub id: String,
    /// `booking.created`, `booking.confirmed`, `booking.cancelled`,
    /// `booking.rescheduled`, `booking.completed` or `booking.reminder`.
    pub event: String,
    /// Who caused it: `api` (an API key holder), `customer` (through the
    /// booking's customer link) or `system` (automatic completion, reminders).
    #[schema(example = "api")]
    pub actor: String,
    /// When the event happened, RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The booking right after the change.
    pub data: WebhookBooking,
}

impl From<&BookingEvent> for WebhookPayload {
    fn from(e: &BookingEvent) -> Self {
        WebhookPayload {
            id: e.id.to_string(),
            event: e.kind.name().to_owned(),
            actor: e.actor.name().to_owned(),
            created_at: fmt_ts(e.created_at),
            data: WebhookBooking {
                // Without the customer link: a body must be the same bytes
                // on every attempt, and a link depends on configuration
                // (`BOOKING_PUBLIC_URL`, the key) that may change between
                // attempts across a restart. `GET /v1/bookings/{id}` has it.
                booking: BookingOut::unlinked(&e.booking),
                previous_scheduled_at: e.previous_scheduled_at.map(fmt_ts),
                reminder_offset: e.reminder_offset.map(|m| m.get()),
            },
        }
    }
}

/// The body posted for an event: the same bytes for every attempt.
pub fn webhook_body(event: &BookingEvent) -> Vec<u8> {
    // Serializing plain strings, numbers and maps cannot fail.
    serde_json::to_vec(&WebhookPayload::from(event)).unwrap_or_default()
}
