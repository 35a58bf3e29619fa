//! Operations: health and readiness.

use serde::Serialize;
use utoipa::ToSchema;

/// Health answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok`, or `unavailable`.
    pub status: String,
}
