//! iCalendar (ICS) URLs as busy time: Google's secret address, Outlook
//! published calendars, iCloud public calendars, CalDAV exports, `webcal://`
//! links.
//!
//! [`IcsSource`] implements the [`BusySource`] port for
//! [`CalendarSource::Ics`]: it downloads the URL (module `fetch`: SSRF guard on
//! every redirect hop, conditional GET, a streamed size limit, bounded
//! retries), parses it with the `icalendar` crate's parser (module `parse`),
//! resolves time zones with jiff (module `zones`: IANA, Windows and `VTIMEZONE`
//! definitions) and expands recurrences with the `rrule` crate on the wall
//! clock (module `expand`), keeping only what overlaps the requested window.
//!
//! Why it is built this way:
//!
//! - **Everything that can be wrong in a feed is, somewhere.** Exports
//!   differ in line endings, folding, zone naming (IANA, Windows, vendor
//!   paths, custom `VTIMEZONE`s) and recurrence details, so each step is
//!   lenient where leniency is safe and one broken event is skipped rather
//!   than failing the whole calendar. A file that is not iCalendar at all,
//!   or whose structure is broken, fails with an [`FetchError::Upstream`]
//!   that says so (and on which line), and the connection keeps its last
//!   good blocks.
//! - **What counts as busy.** Every `VEVENT` except those with
//!   `STATUS:CANCELLED`, `TRANSP:TRANSPARENT` or Outlook's
//!   `X-MICROSOFT-CDO-BUSYSTATUS:FREE`; tentative events are busy. Busy
//!   periods of `VFREEBUSY` components (`FREEBUSY` other than
//!   `FBTYPE=FREE`) count too, for "free/busy only" publications. Whether
//!   the calendar's owner declined an invitation is not knowable from an
//!   export (the owner's address is not in it), so declined events are busy.
//! - **Zones.** A `TZID` is read as an IANA name, else a Windows name
//!   (Outlook), else an IANA name at the end of a vendor path, else the
//!   file's own `VTIMEZONE` (its current yearly rule), else UTC; `Z` times
//!   are UTC.
//!   Floating times (no zone) and all-day DATE values are read in the
//!   calendar's zone: `X-WR-TIMEZONE` when present and known (Google and
//!   Apple write it), else UTC. So an all-day event blocks that whole local
//!   day, midnight to midnight, in the calendar's zone.
//! - **Bounded work.** Downloads are capped in bytes and time; expansion is
//!   driven by the window (a rule begun decades ago is fast-forwarded, not
//!   replayed) and capped per rule ([`MAX_OCCURRENCES_PER_RULE`]) and per
//!   calendar ([`MAX_OCCURRENCES_PER_CALENDAR`], [`EXPANSION_TIME_BUDGET`]:
//!   past either the fetch fails rather than return partial busy time).
//!   Parsing and expansion run on the blocking pool, so a large file never
//!   stalls the async workers.
//! - **Secrets.** The URL is never logged nor put in an error.
//!
//! The blocks returned are sorted and merged (overlapping or touching blocks
//! become one); they are not clipped to the window.

mod config;
mod error;
mod expand;
mod fetch;
mod parse;
mod values;
mod windows_zones;
mod zones;

use std::time::Duration;

use async_trait::async_trait;
use booking_domain::{
    BusySource, CalendarSource, FetchError, FetchOutcome, FetchRequest, Fetched, TimeRange,
    Validators,
};

pub use config::{IcsConfig, MAX_BODY_BYTES, USER_AGENT, effective_url};
pub use error::{IcsBuildError, IcsError};
pub use expand::{EXPANSION_TIME_BUDGET, MAX_OCCURRENCES_PER_CALENDAR, MAX_OCCURRENCES_PER_RULE};

/// The busy blocks of an iCalendar text overlapping `window`, sorted and
/// merged. No I/O; the monotonic clock is read only to bound the work by
/// [`EXPANSION_TIME_BUDGET`]. CPU-bound: call it off the async workers.
pub fn busy_blocks(text: &str, window: TimeRange) -> Result<Vec<TimeRange>, IcsError> {
    busy_blocks_within(text, window, EXPANSION_TIME_BUDGET)
}

/// [`busy_blocks`] with another time budget (tests).
fn busy_blocks_within(
    text: &str,
    window: TimeRange,
    time_budget: Duration,
) -> Result<Vec<TimeRange>, IcsError> {
    let parsed = parse::parse(text)?;
    if parsed.skipped > 0 || parsed.unknown_zones > 0 {
        tracing::debug!(
            skipped_events = parsed.skipped,
            unknown_zones = parsed.unknown_zones,
            "ICS calendar read with omissions"
        );
    }
    expand::busy_blocks(&parsed, window, &mut expand::Budget::new(time_budget))
}

/// The [`BusySource`] for [`CalendarSource::Ics`]. Holds one pooled HTTP
/// client; cheap to clone and share.
#[derive(Debug, Clone)]
pub struct IcsSource {
    downloader: fetch::Downloader,
}

impl IcsSource {
    /// The adapter with the production configuration ([`IcsConfig::new`]).
    pub fn new(allow_private: bool) -> Result<IcsSource, IcsBuildError> {
        IcsSource::with_config(IcsConfig::new(allow_private))
    }

    /// The adapter with a custom configuration.
    pub fn with_config(config: IcsConfig) -> Result<IcsSource, IcsBuildError> {
        Ok(IcsSource {
            downloader: fetch::Downloader::new(config)?,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &IcsConfig {
        self.downloader.config()
    }

    /// Downloads `url` (conditionally on `validators`) and returns its busy
    /// blocks overlapping `window`, or [`Fetched::NotModified`] on a 304.
    pub async fn fetch_url(
        &self,
        url: &str,
        window: TimeRange,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        let (bytes, validators) = match self.downloader.download(url, validators).await? {
            fetch::Download::NotModified => return Ok(Fetched::NotModified),
            fetch::Download::Body { bytes, validators } => (bytes, validators),
        };
        let blocks = tokio::task::spawn_blocking(move || {
            let text = String::from_utf8_lossy(&bytes);
            busy_blocks(&text, window)
        })
        .await
        .map_err(|_| FetchError::Upstream("the calendar could not be read".to_owned()))??;
        Ok(Fetched::Busy { blocks, validators })
    }
}

#[async_trait]
impl BusySource for IcsSource {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        let CalendarSource::Ics { url } = request.source else {
            return Err(FetchError::Refused(format!(
                "a {} connection is not an iCal URL",
                request.source.kind()
            )));
        };
        let fetched = self
            .fetch_url(url, request.window, request.validators)
            .await?;
        Ok(FetchOutcome {
            fetched,
            refreshed: None,
        })
    }
}

#[cfg(test)]
mod tests;
