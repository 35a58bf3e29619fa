//! Services: what is sold, for how long, at what price, in which hours.

use jiff::Timestamp;

use crate::scheduling::SlotRules;
use crate::{
    AccountId, Minutes, Price, ProviderId, ServiceId, ValidationError, WeeklyAvailability,
};

/// Limits from the contract.
pub mod limits {
    /// Longest service, minutes.
    pub const MAX_DURATION: u32 = 1440;
    /// Largest buffer or notice, minutes (one week).
    pub const MAX_BUFFER: u32 = 10080;
    /// Longest description, characters.
    pub const MAX_DESCRIPTION: usize = 5000;
}

/// A bookable service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Id (`srv_…`), generated or chosen by the caller.
    pub id: ServiceId,
    /// Owning account.
    pub account_id: AccountId,
    /// The provider booked by this service.
    pub provider_id: ProviderId,
    /// Name, 1-200 characters.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Length of one booking, 1-1440 minutes.
    pub duration: Minutes,
    /// Price.
    pub price: Price,
    /// Weekly hours.
    pub availability: WeeklyAvailability,
    /// Free time needed before each booking, 0-10080 minutes.
    pub buffer_before: Minutes,
    /// Free time needed after each booking, 0-10080 minutes.
    pub buffer_after: Minutes,
    /// How far ahead a booking must be made, 0-10080 minutes.
    pub minimum_notice: Minutes,
    /// Whether new bookings start `confirmed` instead of `pending`.
    pub auto_confirm: bool,
    /// Archived services keep their bookings but take no new ones.
    pub archived: bool,
    /// Creation instant.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl Service {
    /// The scheduling rules of this service.
    pub fn slot_rules(&self) -> SlotRules<'_> {
        SlotRules {
            availability: &self.availability,
            duration: self.duration,
            buffer_before: self.buffer_before,
            buffer_after: self.buffer_after,
            minimum_notice: self.minimum_notice,
        }
    }

    /// Applies a validated patch.
    pub fn apply(&mut self, patch: ServicePatch, now: Timestamp) {
        let ServicePatch {
            name,
            description,
            duration,
            price,
            availability,
            provider_id,
            buffer_before,
            buffer_after,
            minimum_notice,
            auto_confirm,
        } = patch;
        if let Some(v) = name {
            self.name = v;
        }
        if let Some(v) = description {
            self.description = v;
        }
        if let Some(v) = duration {
            self.duration = v;
        }
        if let Some(v) = price {
            self.price = v;
        }
        if let Some(v) = availability {
            self.availability = v;
        }
        if let Some(v) = provider_id {
            self.provider_id = v;
        }
        if let Some(v) = buffer_before {
            self.buffer_before = v;
        }
        if let Some(v) = buffer_after {
            self.buffer_after = v;
        }
        if let Some(v) = minimum_notice {
            self.minimum_notice = v;
        }
        if let Some(v) = auto_confirm {
            self.auto_confirm = v;
        }
        self.updated_at = now;
    }
}

/// Validates a service description (at most 5,000 characters).
pub fn validate_description(text: &str) -> Result<String, ValidationError> {
    if text.chars().count() > limits::MAX_DESCRIPTION {
        return Err(ValidationError::new(
            "description",
            "must be at most 5000 characters",
        ));
    }
    Ok(text.to_owned())
}

/// Validates a duration (1-1440 minutes).
pub fn validate_duration(value: i64) -> Result<Minutes, ValidationError> {
    Minutes::in_range(value, 1, limits::MAX_DURATION, "duration")
}

/// Validates a buffer or notice (0-10080 minutes).
pub fn validate_buffer(value: i64, field: &str) -> Result<Minutes, ValidationError> {
    Minutes::in_range(value, 0, limits::MAX_BUFFER, field)
}

/// A new service, validated field by field by the caller's constructors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewService {
    /// Chosen id, or `None` to generate one.
    pub id: Option<ServiceId>,
    /// Provider, or `None` for the account's default provider.
    pub provider_id: Option<ProviderId>,
    /// Name (see [`crate::validate_name`]).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Duration.
    pub duration: Minutes,
    /// Price.
    pub price: Price,
    /// Weekly hours.
    pub availability: WeeklyAvailability,
    /// Buffer before.
    pub buffer_before: Minutes,
    /// Buffer after.
    pub buffer_after: Minutes,
    /// Minimum notice.
    pub minimum_notice: Minutes,
    /// Auto-confirm.
    pub auto_confirm: bool,
}

/// Changes to a service; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServicePatch {
    /// New name.
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New duration.
    pub duration: Option<Minutes>,
    /// New price.
    pub price: Option<Price>,
    /// New weekly hours.
    pub availability: Option<WeeklyAvailability>,
    /// New provider.
    pub provider_id: Option<ProviderId>,
    /// New buffer before.
    pub buffer_before: Option<Minutes>,
    /// New buffer after.
    pub buffer_after: Option<Minutes>,
    /// New minimum notice.
    pub minimum_notice: Option<Minutes>,
    /// New auto-confirm.
    pub auto_confirm: Option<bool>,
}
