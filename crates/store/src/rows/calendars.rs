//! The columns of `calendar_connections` and `calendar_busy`, and how busy
//! blocks are cut into stored pieces.

use booking_domain::ports::StorageError;
use booking_domain::{
    AccountId, CalendarConnection, CalendarId, CalendarSource, OAuthCredentials, ProviderId,
    SyncStatus, TimeRange, Validators,
};

use super::values::{corrupt, instant, secs, secs_ceil};
use crate::secrets::{Field, Keyring, tenant_row};

/// The longest stored busy piece, in seconds (the schema checks it): a
/// lookup around a range only scans pieces starting up to a day before it.
pub const MAX_BUSY_PIECE_SECS: i64 = 86_400;

/// The stored columns of a `calendar_connections` row (without `seq` and
/// the background-sync claim columns).
#[derive(
    Debug, Clone, PartialEq, Eq, diesel::Queryable, diesel::Selectable, diesel::Insertable,
)]
#[diesel(table_name = crate::schema::calendar_connections, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct CalendarRow {
    pub id: String,
    pub account_id: String,
    pub provider_id: String,
    pub kind: String,
    pub url: Option<String>,
    pub calendar_id: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub expires_at: Option<i64>,
    pub status: String,
    pub last_synced_at: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
    pub busy_blocks: i64,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub write: bool,
    pub username: Option<String>,
    pub password: Option<String>,
    pub last_write_error: Option<String>,
    pub last_write_error_at: Option<i64>,
}

impl CalendarRow {
    /// The columns for a connection, its URL and credentials sealed with
    /// `keys`.
    pub fn from_domain(
        c: &CalendarConnection,
        keys: &Keyring,
    ) -> Result<CalendarRow, StorageError> {
        let row = tenant_row(c.account_id.as_str(), c.id.as_str());
        let (url, calendar_id) = match &c.source {
            CalendarSource::Ics { url } | CalendarSource::Caldav { url, .. } => {
                (Some(url.clone()), None)
            }
            CalendarSource::Google { calendar_id, .. } => (None, Some(calendar_id.clone())),
            _ => (None, None),
        };
        let (username, password) = match &c.source {
            CalendarSource::Caldav {
                username, password, ..
            } => (Some(username.clone()), Some(password.as_str())),
            _ => (None, None),
        };
        let creds = c.source.credentials().cloned().unwrap_or_default();
        Ok(CalendarRow {
            id: c.id.as_str().to_owned(),
            account_id: c.account_id.as_str().to_owned(),
            provider_id: c.provider_id.as_str().to_owned(),
            kind: c.source.kind().to_owned(),
            url: keys.seal_opt(Field::CalendarUrl, &row, url.as_deref())?,
            calendar_id,
            access_token: keys.seal_opt(
                Field::CalendarAccessToken,
                &row,
                creds.access_token.as_deref(),
            )?,
            refresh_token: keys.seal_opt(
                Field::CalendarRefreshToken,
                &row,
                creds.refresh_token.as_deref(),
            )?,
            client_id: creds.client_id,
            client_secret: keys.seal_opt(
                Field::CalendarClientSecret,
                &row,
                creds.client_secret.as_deref(),
            )?,
            expires_at: creds.expires_at.map(secs),
            status: c.status.name().to_owned(),
            last_synced_at: c.last_synced_at.map(secs),
            last_error: c.last_error.clone(),
            last_error_at: c.last_error_at.map(secs),
            busy_blocks: i64::from(c.busy_blocks),
            etag: c.validators.etag.clone(),
            last_modified: c.validators.last_modified.clone(),
            created_at: secs(c.created_at),
            updated_at: secs(c.created_at),
            write: c.write,
            username,
            password: keys.seal_opt(Field::CalendarPassword, &row, password)?,
            last_write_error: c.last_write_error.clone(),
            last_write_error_at: None,
        })
    }

    /// Rebuilds the connection, opening its URL and credentials with `keys`.
    pub fn into_domain(self, keys: &Keyring) -> Result<CalendarConnection, StorageError> {
        const T: &str = "calendar_connections";
        let id = self.id.as_str();
        let row = tenant_row(&self.account_id, id);
        let at = |field: &str, v: Option<i64>| v.map(|s| instant(T, id, field, s)).transpose();
        let open = |field: Field, v: &Option<String>| keys.open_opt(field, &row, v.as_deref());
        let credentials = OAuthCredentials {
            access_token: open(Field::CalendarAccessToken, &self.access_token)?,
            refresh_token: open(Field::CalendarRefreshToken, &self.refresh_token)?,
            client_id: self.client_id.clone(),
            client_secret: open(Field::CalendarClientSecret, &self.client_secret)?,
            expires_at: at("expires_at", self.expires_at)?,
        };
        let source = match self.kind.as_str() {
            "ics" => CalendarSource::Ics {
                url: open(Field::CalendarUrl, &self.url)?
                    .ok_or_else(|| corrupt(T, id, "ics without url"))?,
            },
            "google" => CalendarSource::Google {
                calendar_id: self
                    .calendar_id
                    .clone()
                    .ok_or_else(|| corrupt(T, id, "google without calendar_id"))?,
                credentials,
            },
            "outlook" => CalendarSource::Outlook { credentials },
            "calendly" => CalendarSource::Calendly { credentials },
            "caldav" => CalendarSource::Caldav {
                url: open(Field::CalendarUrl, &self.url)?
                    .ok_or_else(|| corrupt(T, id, "caldav without url"))?,
                username: self
                    .username
                    .clone()
                    .ok_or_else(|| corrupt(T, id, "caldav without username"))?,
                password: open(Field::CalendarPassword, &self.password)?
                    .ok_or_else(|| corrupt(T, id, "caldav without password"))?,
            },
            other => return Err(corrupt(T, id, format!("unknown kind `{other}`"))),
        };
        let status = SyncStatus::parse(&self.status)
            .ok_or_else(|| corrupt(T, id, format!("unknown status `{}`", self.status)))?;
        Ok(CalendarConnection {
            source,
            status,
            last_synced_at: at("last_synced_at", self.last_synced_at)?,
            last_error_at: at("last_error_at", self.last_error_at)?,
            created_at: instant(T, id, "created_at", self.created_at)?,
            busy_blocks: u32::try_from(self.busy_blocks).unwrap_or_default(),
            validators: Validators {
                etag: self.etag,
                last_modified: self.last_modified,
            },
            last_error: self.last_error,
            write: self.write,
            last_write_error: self.last_write_error,
            id: CalendarId::from_trusted(self.id),
            account_id: AccountId::from_trusted(self.account_id),
            provider_id: ProviderId::from_trusted(self.provider_id),
        })
    }
}

/// Busy blocks as stored pieces `(start, end)` in unix seconds: merged, then
/// cut into pieces of at most [`MAX_BUSY_PIECE_SECS`].
pub fn busy_pieces(blocks: &[TimeRange]) -> Vec<(i64, i64)> {
    let merged = booking_domain::scheduling::BusyTimes::new(blocks.iter().copied());
    let mut pieces = Vec::new();
    for block in merged.as_slice() {
        let (mut start, end) = (secs(block.start()), secs_ceil(block.end()));
        while start < end {
            let piece_end = end.min(start.saturating_add(MAX_BUSY_PIECE_SECS));
            pieces.push((start, piece_end));
            start = piece_end;
        }
    }
    pieces
}

/// A calendar write outbox row's key: `(account, calendar, booking)`.
pub type WriteKey = (String, String, String);

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    #[test]
    fn long_blocks_are_cut_into_day_pieces_and_overlaps_merged() {
        let t = |s: i64| Timestamp::from_second(s).unwrap();
        let r = |a, b| TimeRange::new(t(a), t(b)).unwrap();
        let pieces = busy_pieces(&[r(0, 200_000), r(100, 300), r(300_000, 300_060)]);
        assert_eq!(
            pieces,
            [
                (0, 86_400),
                (86_400, 172_800),
                (172_800, 200_000),
                (300_000, 300_060)
            ]
        );
    }
}
