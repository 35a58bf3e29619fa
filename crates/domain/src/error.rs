//! The validation error shared by every constructor in the domain.

use std::fmt;

/// Input that breaks a rule of the domain. `field` names the offending field
/// with the wire name (`duration`, `availability.hours.start`, `customer.email`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// Dotted path of the field at fault.
    pub field: String,
    /// Human-readable explanation.
    pub message: String,
}

impl ValidationError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error with its field nested under `parent` (`hours.start` → `availability.hours.start`).
    pub fn within(mut self, parent: &str) -> Self {
        self.field = format!("{parent}.{}", self.field);
        self
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
