//! External calendars: connecting them, syncing their busy time, and the
//! busy time availability and booking see (bookings plus external blocks).

use jiff::{SignedDuration, Timestamp};

use super::port_sets::{BusyPorts, CalendarPorts, SyncPorts};
use crate::ports::{StorageError, SyncResult};
use crate::scheduling::{BusySources, BusyTimes};
use crate::{
    AccountId, BookingId, CalendarConnection, CalendarId, CalendarSource, FetchRequest, Fetched,
    IdKind, OAuthCredentials, ProviderId, SYNC_DAYS_AHEAD, SyncStatus, TimeRange, ValidationError,
    Validators,
};

/// How long a background sync claim lasts (a sync that takes longer is
/// retried by another process).
pub const SYNC_LEASE_SECS: i64 = 300;

/// What blocks a provider over `range`, with identities: its active
/// bookings (with their buffers), its time off and its external calendars'
/// blocks (one `BookingStore::busy_sources` read).
pub async fn provider_busy<'p>(
    ports: impl Into<BusyPorts<'p>>,
    account: &AccountId,
    provider: &ProviderId,
    range: TimeRange,
    excluding: Option<&BookingId>,
) -> Result<BusySources, StorageError> {
    let ports = ports.into();
    ports
        .bookings
        .busy_sources(account, provider, range, excluding.cloned())
        .await
}

/// Errors of calendar management.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// No such provider or connection (404 NOT_FOUND).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The provider has this many connections already (409 LIMIT_REACHED).
    #[error("the provider has {0} calendar connections, the most allowed")]
    LimitReached(u32),
    /// Invalid input (400 VALIDATION_ERROR).
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Storage failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One connection's result of a sync, for `POST /v1/calendar/sync`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The connection.
    pub id: CalendarId,
    /// Its kind (`ics`, `google`, …).
    pub kind: &'static str,
    /// `synced` or `error`.
    pub status: SyncStatus,
    /// Busy blocks stored (the previous ones after a failure).
    pub busy_blocks: u32,
    /// Why it failed.
    pub error: Option<String>,
}

impl SyncReport {
    /// The report of a sync that has not finished: `error`, with why, and
    /// the blocks of the last good sync (which still count).
    pub fn unfinished(connection: &CalendarConnection, why: impl Into<String>) -> SyncReport {
        SyncReport {
            id: connection.id.clone(),
            kind: connection.source.kind(),
            status: SyncStatus::Error,
            busy_blocks: connection.busy_blocks,
            error: Some(why.into()),
        }
    }
}

/// Checks a new connection's source.
fn validate_source(source: CalendarSource) -> Result<CalendarSource, ValidationError> {
    let needs_credentials = |c: &OAuthCredentials| {
        let usable = c.access_token.as_deref().is_some_and(|t| !t.is_empty()) || c.can_refresh();
        if usable {
            Ok(())
        } else {
            Err(ValidationError::new(
                "credentials",
                "needs an access_token, or a refresh_token with client_id and client_secret",
            ))
        }
    };
    let too_long = |v: &Option<String>| v.as_ref().is_some_and(|v| v.len() > 4096);
    if let Some(c) = source.credentials()
        && (too_long(&c.access_token)
            || too_long(&c.refresh_token)
            || too_long(&c.client_id)
            || too_long(&c.client_secret))
    {
        return Err(ValidationError::new(
            "credentials",
            "values must be at most 4096 characters",
        ));
    }
    match source {
        CalendarSource::Ics { url } => {
            // Apple hands out webcal:// links; they are https.
            let url = match url
                .strip_prefix("webcal://")
                .or_else(|| url.strip_prefix("webcals://"))
            {
                Some(rest) => format!("https://{rest}"),
                None => url,
            };
            if url.len() > crate::MAX_URL_LEN {
                return Err(ValidationError::new(
                    "url",
                    "must be at most 2048 characters",
                ));
            }
            Ok(CalendarSource::Ics { url })
        }
        CalendarSource::Google {
            calendar_id,
            credentials,
        } => {
            if calendar_id.trim().is_empty() || calendar_id.len() > 1024 {
                return Err(ValidationError::new(
                    "calendar_id",
                    "must be 1-1024 characters (`primary` or a calendar's address)",
                ));
            }
            needs_credentials(&credentials)?;
            Ok(CalendarSource::Google {
                calendar_id,
                credentials,
            })
        }
        CalendarSource::Outlook { credentials } => {
            needs_credentials(&credentials)?;
            Ok(CalendarSource::Outlook { credentials })
        }
        CalendarSource::Calendly { credentials } => {
            needs_credentials(&credentials)?;
            Ok(CalendarSource::Calendly { credentials })
        }
        CalendarSource::Caldav {
            url,
            username,
            password,
        } => {
            if url.len() > crate::MAX_URL_LEN {
                return Err(ValidationError::new(
                    "url",
                    "must be at most 2048 characters",
                ));
            }
            if username.is_empty() || username.len() > 4096 {
                return Err(ValidationError::new(
                    "username",
                    "must be 1-4096 characters",
                ));
            }
            if password.is_empty() || password.len() > 4096 {
                return Err(ValidationError::new(
                    "password",
                    "must be 1-4096 characters",
                ));
            }
            // A collection URL ends with a slash; its resources are
            // named relative to it.
            let url = if url.ends_with('/') {
                url
            } else {
                format!("{url}/")
            };
            Ok(CalendarSource::Caldav {
                url,
                username,
                password,
            })
        }
    }
}

/// External calendar use cases for one account.
pub struct Calendars<'a> {
    /// The ports.
    pub ports: CalendarPorts<'a>,
    /// The account acting.
    pub account: &'a AccountId,
}

impl Calendars<'_> {
    /// The account's provider `id`, or `NotFound("provider")`.
    pub async fn provider(&self, id: &str) -> Result<ProviderId, CalendarError> {
        let id = ProviderId::parse(id).ok_or(CalendarError::NotFound("provider"))?;
        self.ports
            .providers
            .get_provider(self.account, &id)
            .await?
            .map(|p| p.id)
            .ok_or(CalendarError::NotFound("provider"))
    }

    /// Connects an outside calendar to a provider (synced later, or by
    /// `POST /v1/calendar/sync`), unless the provider has `limit` connections already.
    /// With `write`, the provider's bookings are written into it, starting
    /// with its active bookings that have not ended (queued with the
    /// connection).
    pub async fn connect(
        &self,
        provider: &str,
        source: CalendarSource,
        write: bool,
        limit: u32,
    ) -> Result<CalendarConnection, CalendarError> {
        let provider = self.provider(provider).await?;
        let source = validate_source(source)?;
        if write && !source.can_write() {
            return Err(ValidationError::new(
                "write",
                "bookings can only be written into google, outlook and caldav calendars",
            )
            .into());
        }
        if let CalendarSource::Ics { url } | CalendarSource::Caldav { url, .. } = &source {
            self.ports
                .targets
                .check(url)
                .await
                .map_err(|reason| ValidationError::new("url", reason))?;
        }
        let connection = CalendarConnection {
            id: CalendarId::from_trusted(self.ports.ids.new_id(IdKind::Calendar)),
            account_id: self.account.clone(),
            provider_id: provider,
            source,
            status: SyncStatus::Pending,
            last_synced_at: None,
            last_error: None,
            last_error_at: None,
            busy_blocks: 0,
            validators: Validators::default(),
            write,
            last_write_error: None,
            created_at: self.ports.clock.now(),
        };
        if !self
            .ports
            .calendars
            .create_calendar_within(&connection, limit)
            .await?
        {
            return Err(CalendarError::LimitReached(limit));
        }
        Ok(connection)
    }

    /// The provider's connections.
    pub async fn list(&self, provider: &str) -> Result<Vec<CalendarConnection>, CalendarError> {
        let provider = self.provider(provider).await?;
        Ok(self
            .ports
            .calendars
            .list_calendars(self.account, &provider)
            .await?)
    }

    /// Removes a connection and its busy time.
    pub async fn delete(&self, provider: &str, id: &str) -> Result<(), CalendarError> {
        let provider = self.provider(provider).await?;
        let id = CalendarId::parse(id).ok_or(CalendarError::NotFound("calendar"))?;
        if self
            .ports
            .calendars
            .delete_calendar(self.account, &provider, &id)
            .await?
        {
            Ok(())
        } else {
            Err(CalendarError::NotFound("calendar"))
        }
    }

    /// Every connection of the account (every provider), in creation order.
    pub async fn connections(&self) -> Result<Vec<CalendarConnection>, CalendarError> {
        Ok(self.ports.calendars.account_calendars(self.account).await?)
    }
}

/// The window a sync asks for: from a day ago to [`SYNC_DAYS_AHEAD`] ahead.
pub fn sync_window(now: Timestamp) -> TimeRange {
    let start = now
        .checked_sub(SignedDuration::from_hours(24))
        .unwrap_or(now);
    let end = now
        .checked_add(SignedDuration::from_hours(24 * SYNC_DAYS_AHEAD))
        .unwrap_or(Timestamp::MAX);
    TimeRange::new(start, end)
        .unwrap_or_else(|| TimeRange::starting_at(now, crate::Minutes::new(1)))
}

/// Fetches one connection's busy time and stores the result: new blocks
/// replace the old ones atomically; a failure keeps them and records why.
pub async fn sync_connection(
    ports: SyncPorts<'_>,
    connection: &CalendarConnection,
) -> Result<SyncReport, StorageError> {
    let now = ports.clock.now();
    let fetched = ports
        .busy_source
        .fetch(FetchRequest {
            source: &connection.source,
            window: sync_window(now),
            validators: &connection.validators,
            now,
            writes: connection.write,
        })
        .await;
    let (result, refreshed) = match fetched {
        Ok(outcome) => (
            match outcome.fetched {
                // Merged, so duplicates (overlapping query windows, the same
                // meeting on two calendars) count once.
                Fetched::Busy { blocks, validators } => SyncResult::Busy {
                    blocks: BusyTimes::new(blocks).as_slice().to_vec(),
                    validators,
                },
                Fetched::NotModified => SyncResult::Unchanged,
            },
            outcome.refreshed,
        ),
        Err(e) => (SyncResult::Failed(e.to_string()), None),
    };
    ports
        .calendars
        .record_calendar_sync(
            &connection.account_id,
            &connection.id,
            &result,
            refreshed,
            now,
        )
        .await?;
    let (status, busy_blocks, error) = match result {
        SyncResult::Busy { blocks, .. } => (
            SyncStatus::Synced,
            u32::try_from(blocks.len()).unwrap_or(u32::MAX),
            None,
        ),
        SyncResult::Unchanged => (SyncStatus::Synced, connection.busy_blocks, None),
        SyncResult::Failed(why) => (SyncStatus::Error, connection.busy_blocks, Some(why)),
    };
    Ok(SyncReport {
        id: connection.id.clone(),
        kind: connection.source.kind(),
        status,
        busy_blocks,
        error,
    })
}

/// Background sync, fair between accounts: claims connections last
/// attempted more than `interval` ago, at most `per_account` of any one
/// account and `limit` in all (safe with several processes), in round-robin
/// order across accounts. The caller syncs them ([`sync_connection`]) side
/// by side, with a bound, and claims again until nothing is due: one
/// account's many slow calendars hold the others back by one round at most.
pub async fn claim_due_fairly(
    ports: SyncPorts<'_>,
    interval: SignedDuration,
    limit: u32,
    per_account: u32,
) -> Result<Vec<CalendarConnection>, StorageError> {
    let now = ports.clock.now();
    let before = now.checked_sub(interval).unwrap_or(now);
    let claimed = ports
        .calendars
        .claim_calendar_syncs_fairly(
            before,
            now,
            SignedDuration::from_secs(SYNC_LEASE_SECS),
            limit,
            per_account,
        )
        .await?;
    Ok(crate::fairness::round_robin(
        claimed,
        |c| c.account_id.clone(),
        usize::MAX,
        usize::MAX,
    ))
}
