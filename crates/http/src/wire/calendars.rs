//! External calendars: `/v1/providers/{id}/calendars`, `POST /v1/calendar/sync`.

use booking_domain::usecases::SyncReport;
use booking_domain::{CalendarConnection, CalendarSource, OAuthCredentials, ValidationError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::common::{fmt_ts, normalised_url, parse_ts};

/// OAuth credentials of a connection (never echoed back).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialsDto {
    /// A bearer token (a Calendly personal access token is one).
    #[serde(default)]
    pub access_token: Option<String>,
    /// A refresh token, with `client_id` and `client_secret`.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// The OAuth client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The OAuth client secret.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// When `access_token` expires, RFC 3339.
    #[serde(default)]
    pub expires_at: Option<String>,
}

impl CredentialsDto {
    fn try_into_domain(self) -> Result<OAuthCredentials, ValidationError> {
        Ok(OAuthCredentials {
            access_token: self.access_token,
            refresh_token: self.refresh_token,
            client_id: self.client_id,
            client_secret: self.client_secret,
            expires_at: self
                .expires_at
                .map(|t| parse_ts(&t, "credentials.expires_at"))
                .transpose()?,
        })
    }
}

/// `POST /v1/providers/{id}/calendars` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCalendar {
    /// `ics`, `google`, `outlook`, `calendly` or `caldav`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(ics|google|outlook|calendly|caldav)$")]
    pub kind: String,
    /// For `ics`: the calendar's URL (`https://` or `webcal://`); for
    /// `caldav`: the calendar collection's URL.
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// For `caldav`: the account name.
    #[serde(default)]
    pub username: Option<String>,
    /// For `caldav`: the password (an app-specific password for iCloud and
    /// Fastmail); never echoed back.
    #[serde(default)]
    pub password: Option<String>,
    /// Write the provider's bookings into this calendar as events (types
    /// `google`, `outlook` and `caldav`; default `false`).
    #[serde(default)]
    pub write: Option<bool>,
    /// For `google`: `primary` or the calendar's address.
    #[serde(default)]
    pub calendar_id: Option<String>,
    /// For `google`, `outlook`, `calendly`.
    #[serde(default)]
    pub credentials: Option<CredentialsDto>,
}

impl CreateCalendar {
    /// Checks the fields the kind needs; answers the source and whether
    /// bookings are written into it.
    pub fn try_into_domain(self) -> Result<(CalendarSource, bool), ValidationError> {
        let write = self.write.unwrap_or(false);
        self.source().map(|source| (source, write))
    }

    fn source(self) -> Result<CalendarSource, ValidationError> {
        let missing = |field: &str| ValidationError::new(field, "is required for this type");
        let refuse = |field: &str, present: bool| {
            if present {
                Err(ValidationError::new(field, "is not used by this type"))
            } else {
                Ok(())
            }
        };
        let credentials =
            |c: Option<CredentialsDto>| c.ok_or_else(|| missing("credentials"))?.try_into_domain();
        if self.kind != "caldav" {
            refuse("username", self.username.is_some())?;
            refuse("password", self.password.is_some())?;
        }
        match self.kind.as_str() {
            "caldav" => {
                refuse("calendar_id", self.calendar_id.is_some())?;
                refuse("credentials", self.credentials.is_some())?;
                let url = self.url.ok_or_else(|| missing("url"))?;
                Ok(CalendarSource::Caldav {
                    url: normalised_url(&url, "url")?,
                    username: self.username.ok_or_else(|| missing("username"))?,
                    password: self.password.ok_or_else(|| missing("password"))?,
                })
            }
            "ics" => {
                refuse("calendar_id", self.calendar_id.is_some())?;
                refuse("credentials", self.credentials.is_some())?;
                let url = self.url.ok_or_else(|| missing("url"))?;
                // Apple hands out webcal:// links; they are https.
                let url = match url
                    .strip_prefix("webcal://")
                    .or_else(|| url.strip_prefix("webcals://"))
                {
                    Some(rest) => format!("https://{rest}"),
                    None => url,
                };
                Ok(CalendarSource::Ics {
                    url: normalised_url(&url, "url")?,
                })
            }
            "google" => {
                refuse("url", self.url.is_some())?;
                Ok(CalendarSource::Google {
                    calendar_id: self.calendar_id.ok_or_else(|| missing("calendar_id"))?,
                    credentials: credentials(self.credentials)?,
                })
            }
            "outlook" | "calendly" => {
                refuse("url", self.url.is_some())?;
                refuse("calendar_id", self.calendar_id.is_some())?;
                let credentials = credentials(self.credentials)?;
                Ok(if self.kind == "outlook" {
                    CalendarSource::Outlook { credentials }
                } else {
                    CalendarSource::Calendly { credentials }
                })
            }
            _ => Err(ValidationError::new(
                "type",
                "must be one of ics, google, outlook, calendly, caldav",
            )),
        }
    }
}

/// An external calendar connection as returned (never with credentials or
/// the ICS URL, which may carry a secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarOut {
    /// `cal_…`
    pub id: String,
    /// `ics`, `google`, `outlook`, `calendly` or `caldav`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the provider's bookings are written into this calendar.
    pub write: bool,
    /// Why the last write of a booking into the calendar failed (`null`
    /// when the last one succeeded, or none failed).
    pub last_write_error: Option<String>,
    /// `pending`, `synced` or `error`.
    pub status: String,
    /// When the last successful sync finished, RFC 3339.
    #[schema(format = DateTime)]
    pub last_synced_at: Option<String>,
    /// Why the last sync failed (the blocks of the last good one stay).
    pub last_error: Option<String>,
    /// When it failed, RFC 3339.
    #[schema(format = DateTime)]
    pub last_error_at: Option<String>,
    /// Busy blocks from the last good sync.
    pub busy_blocks: u32,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&CalendarConnection> for CalendarOut {
    fn from(c: &CalendarConnection) -> Self {
        CalendarOut {
            id: c.id.to_string(),
            kind: c.source.kind().to_owned(),
            write: c.write,
            last_write_error: c.last_write_error.clone(),
            status: c.status.name().to_owned(),
            last_synced_at: c.last_synced_at.map(fmt_ts),
            last_error: c.last_error.clone(),
            last_error_at: c.last_error_at.map(fmt_ts),
            busy_blocks: c.busy_blocks,
            created_at: fmt_ts(c.created_at),
        }
    }
}

/// A provider's connections.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarList {
    /// In creation order.
    pub data: Vec<CalendarOut>,
}

/// One connection's sync result.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncOut {
    /// `cal_…`
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `synced` or `error`.
    pub status: String,
    /// Busy blocks stored (the previous ones after an error).
    pub busy_blocks: u32,
    /// Why it failed.
    pub error: Option<String>,
}

impl From<&SyncReport> for SyncOut {
    fn from(r: &SyncReport) -> Self {
        SyncOut {
            id: r.id.to_string(),
            kind: r.kind.to_owned(),
            status: r.status.name().to_owned(),
            busy_blocks: r.busy_blocks,
            error: r.error.clone(),
        }
    }
}

/// `POST /v1/calendar/sync` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncList {
    /// One entry per connection of the account.
    pub data: Vec<SyncOut>,
}
