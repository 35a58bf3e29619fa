//! Providers: the people or resources that are booked.

use jiff::Timestamp;

use crate::{AccountId, Email, ProviderId, ValidationError};

/// A provider. Bookings conflict per provider, whatever their service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Id (`prv_…`).
    pub id: ProviderId,
    /// Owning account.
    pub account_id: AccountId,
    /// Display name, 1-200 characters.
    pub name: String,
    /// Contact address, if given.
    pub email: Option<Email>,
    /// Whether this is the account's default provider (used when a service names none).
    pub is_default: bool,
    /// Creation instant.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Validates a display name: trimmed length 1-200 characters.
pub fn validate_name(name: &str, field: &str) -> Result<String, ValidationError> {
    let count = name.trim().chars().count();
    if count == 0 || name.chars().count() > 200 {
        return Err(ValidationError::new(field, "must be 1-200 characters"));
    }
    Ok(name.to_owned())
}

/// Changes to a provider; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderPatch {
    /// New name.
    pub name: Option<String>,
    /// New email (`Some(None)` clears it).
    pub email: Option<Option<Email>>,
}

impl Provider {
    /// Applies a patch.
    pub fn apply(&mut self, patch: ProviderPatch, now: Timestamp) {
        if let Some(name) = patch.name {
            self.name = name;
        }
        if let Some(email) = patch.email {
            self.email = email;
        }
        self.updated_at = now;
    }
}
