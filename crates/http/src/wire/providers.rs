//! Providers: `/v1/providers`.

use booking_domain::{Email, Provider, ProviderPatch, ValidationError, validate_name};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{double_option, fmt_ts, list_type, present};

list_type!(ProviderList, ProviderOut);

/// A provider as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderOut {
    /// `prv_…`
    pub id: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: Option<String>,
    /// Whether services without a provider use this one.
    pub is_default: bool,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339 UTC.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Provider> for ProviderOut {
    fn from(p: &Provider) -> Self {
        ProviderOut {
            id: p.id.to_string(),
            name: p.name.clone(),
            email: p.email.as_ref().map(|e| e.to_string()),
            is_default: p.is_default,
            created_at: fmt_ts(p.created_at),
            updated_at: fmt_ts(p.updated_at),
        }
    }
}

/// `POST /v1/providers` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProvider {
    /// 1-200 characters.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    pub name: String,
    /// Optional email.
    #[serde(default)]
    #[schema(max_length = 254, pattern = "^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$")]
    pub email: Option<String>,
}

impl CreateProvider {
    /// Validates into name and email.
    pub fn try_into_domain(self) -> Result<(String, Option<Email>), ValidationError> {
        let name = validate_name(&self.name, "name")?;
        let email = self.email.map(|e| Email::parse(&e, "email")).transpose()?;
        Ok((name, email))
    }
}

/// `PATCH /v1/providers/{id}` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProvider {
    /// New name.
    #[serde(default, deserialize_with = "present")]
    #[schema(min_length = 1, max_length = 200, pattern = "\\S", nullable = false)]
    pub name: Option<String>,
    /// New email, or `null` to clear it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 254, pattern = "^[^@\\s]+@[^@\\s.]+(\\.[^@\\s.]+)+$")]
    pub email: Option<Option<String>>,
}

impl UpdateProvider {
    /// Validates into a patch.
    pub fn try_into_domain(self) -> Result<ProviderPatch, ValidationError> {
        Ok(ProviderPatch {
            name: self.name.map(|n| validate_name(&n, "name")).transpose()?,
            email: self
                .email
                .map(|e| e.map(|e| Email::parse(&e, "email")).transpose())
                .transpose()?,
        })
    }
}
