//! [`ExternalCalendars`]: the one [`BusySource`] the server wires in, which
//! hands each connection to the adapter of its kind.
//!
//! Why a dispatcher: the sync worker holds a single `Arc<dyn BusySource>`
//! and should not know which providers exist. The Google, Outlook and
//! Calendly adapters share one pooled HTTP client (same limits, one
//! connection pool); iCal URLs go to the ICS adapter, which is built
//! separately (it needs the SSRF guard, since its URLs are chosen by API
//! clients, and conditional GET) and handed in as an `Arc<dyn BusySource>`.
//!
//! The dispatcher depends on the adapters, never the other way round: what
//! the adapters share (the overall time bound of a fetch, the refusal of a
//! source of another kind) lives in [`crate::client`], below them all.

use std::sync::Arc;

use async_trait::async_trait;
use booking_domain::{
    BusySource, CalendarSource, CalendarWriter, FetchError, FetchOutcome, FetchRequest,
    WriteOutcome, WriteRequest,
};

use crate::caldav::CaldavCalendar;
use crate::calendly::CalendlyCalendar;
use crate::client::{ClientError, HttpClient, HttpOptions};
use crate::endpoints::{EndpointError, Endpoints};
use crate::google::GoogleCalendar;
use crate::outlook::OutlookCalendar;

/// Why [`ExternalCalendars`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// A configured URL is unusable.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] ClientError),
}

/// Busy time from every kind of outside calendar: Google, Outlook and
/// Calendly through their APIs, iCal URLs through the ICS adapter given at
/// construction.
#[derive(Clone)]
pub struct ExternalCalendars {
    google: GoogleCalendar,
    outlook: OutlookCalendar,
    calendly: CalendlyCalendar,
    caldav: CaldavCalendar,
    ics: Arc<dyn BusySource>,
}

impl std::fmt::Debug for ExternalCalendars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalCalendars")
            .field("google", &self.google)
            .field("outlook", &self.outlook)
            .field("calendly", &self.calendly)
            .field("caldav", &self.caldav)
            .finish_non_exhaustive()
    }
}

impl ExternalCalendars {
    /// The adapters on `endpoints` with the default [`HttpOptions`]
    /// (15 s per request, 5 MiB per answer, 3 attempts); `CalendarSource::Ics`
    /// goes to `ics`.
    pub fn new(endpoints: &Endpoints, ics: Arc<dyn BusySource>) -> Result<Self, BuildError> {
        ExternalCalendars::with_options(endpoints, HttpOptions::default(), ics)
    }

    /// As [`ExternalCalendars::new`], with other limits.
    pub fn with_options(
        endpoints: &Endpoints,
        options: HttpOptions,
        ics: Arc<dyn BusySource>,
    ) -> Result<Self, BuildError> {
        endpoints.validate()?;
        let http = HttpClient::new(options.clone())?;
        Ok(ExternalCalendars {
            google: GoogleCalendar::new(http.clone(), endpoints)?,
            outlook: OutlookCalendar::new(http.clone(), endpoints)?,
            calendly: CalendlyCalendar::new(http, endpoints)?,
            caldav: CaldavCalendar::new(options, false)?,
            ics,
        })
    }

    /// With this CalDAV adapter (the default one refuses private targets).
    pub fn with_caldav(mut self, caldav: CaldavCalendar) -> Self {
        self.caldav = caldav;
        self
    }

    /// The Google adapter.
    pub fn google(&self) -> &GoogleCalendar {
        &self.google
    }

    /// The Outlook adapter.
    pub fn outlook(&self) -> &OutlookCalendar {
        &self.outlook
    }

    /// The Calendly adapter.
    pub fn calendly(&self) -> &CalendlyCalendar {
        &self.calendly
    }
}

#[async_trait]
impl BusySource for ExternalCalendars {
    async fn fetch(&self, request: FetchRequest<'_>) -> Result<FetchOutcome, FetchError> {
        match request.source {
            CalendarSource::Ics { .. } => self.ics.fetch(request).await,
            CalendarSource::Google { .. } => self.google.fetch(request).await,
            CalendarSource::Outlook { .. } => self.outlook.fetch(request).await,
            CalendarSource::Calendly { .. } => self.calendly.fetch(request).await,
            CalendarSource::Caldav { .. } => self.caldav.fetch(request).await,
        }
    }
}

#[async_trait]
impl CalendarWriter for ExternalCalendars {
    async fn write(&self, request: WriteRequest<'_>) -> Result<WriteOutcome, FetchError> {
        match request.source {
            CalendarSource::Google { .. } => self.google.write(request).await,
            CalendarSource::Outlook { .. } => self.outlook.write(request).await,
            CalendarSource::Caldav { .. } => self.caldav.write(request).await,
            CalendarSource::Ics { .. } | CalendarSource::Calendly { .. } => {
                Err(FetchError::Refused(format!(
                    "bookings cannot be written into a {} calendar",
                    request.source.kind()
                )))
            }
        }
    }
}
