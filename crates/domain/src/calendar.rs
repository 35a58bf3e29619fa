//! External calendars whose busy time blocks a provider's availability.
//!
//! A connection names a source (an iCal URL, Google, Outlook or Calendly,
//! with its credentials); a sync asks the [`BusySource`] port for the busy
//! blocks of a window and the store replaces the connection's previous
//! blocks with them atomically. Availability and booking creation then treat
//! those blocks exactly as bookings (with the service's buffers).

use std::fmt;

use async_trait::async_trait;
use jiff::Timestamp;

use crate::TimeRange;

/// OAuth (or personal access token) credentials of a connection. Never
/// echoed back by the API, never logged (`Debug` redacts every secret).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OAuthCredentials {
    /// A bearer token (Calendly personal access tokens are plain access tokens).
    pub access_token: Option<String>,
    /// A refresh token, with the OAuth client that can use it.
    pub refresh_token: Option<String>,
    /// The OAuth client id.
    pub client_id: Option<String>,
    /// The OAuth client secret.
    pub client_secret: Option<String>,
    /// When `access_token` expires, if known.
    pub expires_at: Option<Timestamp>,
}

impl fmt::Debug for OAuthCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: &Option<String>| if v.is_some() { "<redacted>" } else { "-" };
        f.debug_struct("OAuthCredentials")
            .field("access_token", &shown(&self.access_token))
            .field("refresh_token", &shown(&self.refresh_token))
            .field("client_id", &self.client_id)
            .field("client_secret", &shown(&self.client_secret))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl OAuthCredentials {
    /// Whether a token refresh is possible.
    pub fn can_refresh(&self) -> bool {
        self.refresh_token.is_some() && self.client_id.is_some() && self.client_secret.is_some()
    }
}

/// Where a connection's busy time comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum CalendarSource {
    /// Any iCalendar URL (Google's secret address, an Outlook published
    /// calendar, an iCloud public calendar, a CalDAV export).
    Ics {
        /// The URL (may carry a secret: never logged).
        url: String,
    },
    /// Google Calendar API v3 `freeBusy` for one calendar.
    Google {
        /// The calendar id (`primary`, or an address).
        calendar_id: String,
        /// OAuth credentials.
        credentials: OAuthCredentials,
    },
    /// Microsoft Graph `calendarView` of the signed-in user.
    Outlook {
        /// OAuth credentials.
        credentials: OAuthCredentials,
    },
    /// Calendly API v2 `scheduled_events` of the token's user.
    Calendly {
        /// A personal access token or OAuth credentials.
        credentials: OAuthCredentials,
    },
    /// A CalDAV calendar collection (iCloud, Fastmail, Nextcloud, Radicale),
    /// read with a `calendar-query` REPORT, written with `PUT`.
    Caldav {
        /// The collection's URL.
        url: String,
        /// The account name (HTTP Basic).
        username: String,
        /// The password (an app password); never logged or echoed.
        password: String,
    },
}

impl fmt::Debug for CalendarSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL and the credentials stay out of logs.
        f.write_str(self.kind())
    }
}

impl CalendarSource {
    /// Wire name of the kind: `ics`, `google`, `outlook`, `calendly`.
    pub fn kind(&self) -> &'static str {
        match self {
            CalendarSource::Ics { .. } => "ics",
            CalendarSource::Google { .. } => "google",
            CalendarSource::Outlook { .. } => "outlook",
            CalendarSource::Calendly { .. } => "calendly",
            CalendarSource::Caldav { .. } => "caldav",
        }
    }

    /// Whether bookings can be written into this kind of calendar.
    pub fn can_write(&self) -> bool {
        matches!(
            self,
            CalendarSource::Google { .. }
                | CalendarSource::Outlook { .. }
                | CalendarSource::Caldav { .. }
        )
    }

    /// The credentials, for the kinds that have them.
    pub fn credentials(&self) -> Option<&OAuthCredentials> {
        match self {
            CalendarSource::Ics { .. } | CalendarSource::Caldav { .. } => None,
            CalendarSource::Google { credentials, .. }
            | CalendarSource::Outlook { credentials }
            | CalendarSource::Calendly { credentials } => Some(credentials),
        }
    }
}

/// HTTP validators of the last good ICS download, for conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// The `ETag` the server sent.
    pub etag: Option<String>,
    /// The `Last-Modified` the server sent.
    pub last_modified: Option<String>,
}

/// What a sync asks of a [`BusySource`].
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    /// Where from.
    pub source: &'a CalendarSource,
    /// The window whose busy time is wanted.
    pub window: TimeRange,
    /// Validators of the last good download (ICS only).
    pub validators: &'a Validators,
    /// Now, for token expiry.
    pub now: Timestamp,
    /// Whether the connection also writes bookings (its OAuth tokens are
    /// refreshed with write access, and the events it wrote are left out).
    pub writes: bool,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The busy blocks overlapping the window (any order, may overlap), and
    /// the validators to send next time.
    Busy {
        /// Busy time.
        blocks: Vec<TimeRange>,
        /// For the next conditional GET (ICS only; default otherwise).
        validators: Validators,
    },
    /// The ICS resource has not changed since the validators were issued:
    /// keep the previous blocks.
    NotModified,
}

/// A successful fetch, and credentials to store if a token was refreshed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOutcome {
    /// The busy time.
    pub fetched: Fetched,
    /// New credentials (a refreshed access token and its expiry).
    pub refreshed: Option<OAuthCredentials>,
}

/// Why a fetch failed. Messages are safe to show to the account (no
/// tokens, no URLs with secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The credentials were refused and could not be refreshed.
    #[error("credentials refused: {0}")]
    Unauthorized(String),
    /// The target is not allowed (private address, not https, …).
    #[error("target refused: {0}")]
    Refused(String),
    /// The outside service failed (after retries), timed out, or answered
    /// something that could not be read.
    #[error("{0}")]
    Upstream(String),
}

/// Fetches busy time from outside calendars.
#[async_trait]
pub trait BusySource: Send + Sync {
    /// The busy time of `request.window`. Implementations retry 429 and 5xx
    /// answers with backoff (honouring `Retry-After`) within the call, bound
    /// the download's size and time, and refresh expired OAuth tokens.
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchOutcome, FetchError>;
}

/// Where a connection's last sync left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncStatus {
    /// Never synced yet.
    Pending,
    /// The last sync succeeded.
    Synced,
    /// The last sync failed; the blocks of the last good one stay.
    Error,
}

impl SyncStatus {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            SyncStatus::Pending => "pending",
            SyncStatus::Synced => "synced",
            SyncStatus::Error => "error",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<SyncStatus> {
        [SyncStatus::Pending, SyncStatus::Synced, SyncStatus::Error]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// A provider's connection to an outside calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarConnection {
    /// Id (`cal_…`).
    pub id: crate::CalendarId,
    /// Owning account.
    pub account_id: crate::AccountId,
    /// The provider whose availability it blocks.
    pub provider_id: crate::ProviderId,
    /// Where the busy time comes from (with its credentials).
    pub source: CalendarSource,
    /// The last sync's outcome.
    pub status: SyncStatus,
    /// When the last successful sync finished.
    pub last_synced_at: Option<Timestamp>,
    /// Why the last sync failed, when it did.
    pub last_error: Option<String>,
    /// When it failed.
    pub last_error_at: Option<Timestamp>,
    /// How many busy blocks the last good sync stored.
    pub busy_blocks: u32,
    /// Validators of the last good ICS download.
    pub validators: Validators,
    /// Whether the provider's active bookings are written into it.
    pub write: bool,
    /// Why the last write of a booking into it failed (`None` once one
    /// succeeds).
    pub last_write_error: Option<String>,
    /// Creation instant.
    pub created_at: Timestamp,
}

/// How far ahead (days) a sync asks outside calendars for busy time, and how
/// far back (one day, for bookings starting now).
pub const SYNC_DAYS_AHEAD: i64 = 90;

/// The domain of the `UID` of every event the server writes or publishes
/// (`{booking id}@booking-api`): events with it are never read back as
/// busy time.
pub const EVENT_UID_DOMAIN: &str = "booking-api";

/// The `UID` of a booking's event.
pub fn event_uid(booking: &crate::BookingId) -> String {
    format!("{}@{EVENT_UID_DOMAIN}", booking.as_str())
}

/// The event a booking becomes in a provider's calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventDraft {
    /// The appointment (without buffers).
    pub range: TimeRange,
    /// The title: the service and the customer's name.
    pub summary: String,
    /// The body: the customer, their notes, the booking id.
    pub description: String,
    /// Pending bookings are tentative events.
    pub tentative: bool,
    /// Raised on each reschedule (iCalendar `SEQUENCE`).
    pub sequence: u32,
    /// When the booking last changed (iCalendar `DTSTAMP`).
    pub stamp: Timestamp,
}

/// What the server knows of a booking's event in one calendar.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteEvent {
    /// Whether the event exists there.
    pub written: bool,
    /// The event's id where the provider chooses it (Outlook).
    pub id: Option<String>,
    /// The resource's `ETag` (CalDAV), for `If-Match`.
    pub etag: Option<String>,
}

/// What a [`CalendarWriter`] is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct WriteRequest<'a> {
    /// The calendar (with its credentials).
    pub source: &'a CalendarSource,
    /// The booking whose event it is (the event's stable identity).
    pub booking: &'a crate::BookingId,
    /// The event to create or update, or `None` to remove it.
    pub event: Option<&'a EventDraft>,
    /// The booking's time, also when it is cancelled (`None`: the booking
    /// is gone): where to look for an event made by an attempt whose answer
    /// was lost, when its removal has no id to go by.
    pub span: Option<crate::TimeRange>,
    /// What the last successful write left.
    pub remote: &'a RemoteEvent,
    /// Now, for token expiry.
    pub now: Timestamp,
}

/// A successful write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// The event as it now is.
    pub remote: RemoteEvent,
    /// New credentials (a refreshed access token and its expiry).
    pub refreshed: Option<OAuthCredentials>,
}

/// Writes bookings into outside calendars.
#[async_trait]
pub trait CalendarWriter: Send + Sync {
    /// Creates, updates or removes the booking's event so the calendar
    /// matches `request.event`. MUST be idempotent: a retry after a failure
    /// or a crash (when the event may exist already) never makes a second
    /// event (the identity is derived from the booking). Implementations
    /// retry 429 and 5xx answers within the call (honouring
    /// `Retry-After`) and refresh expired OAuth tokens.
    async fn write(&self, request: WriteRequest<'_>) -> Result<WriteOutcome, FetchError>;
}
