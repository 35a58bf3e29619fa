//! The external-calendar adapters, built from the configuration.

use std::sync::Arc;

use anyhow::Context;
use booking_calendars::caldav::CaldavCalendar;
use booking_calendars::client::HttpOptions;
use booking_calendars::{Endpoints, ExternalCalendars};

use crate::config::Config;

/// The adapters for every connection kind, as the busy-time source and the
/// writer of bookings: the API adapters on the configured base URLs, and the
/// ICS and CalDAV adapters (under the SSRF guard unless
/// `BOOKING_WEBHOOK_ALLOW_PRIVATE`).
pub fn external_calendars(config: &Config) -> anyhow::Result<Arc<ExternalCalendars>> {
    let urls = &config.calendar_urls;
    let defaults = Endpoints::default();
    let endpoints = Endpoints {
        google_api: urls.google_api.clone().unwrap_or(defaults.google_api),
        google_token: urls.google_token.clone().unwrap_or(defaults.google_token),
        graph_api: urls.graph_api.clone().unwrap_or(defaults.graph_api),
        microsoft_token: urls
            .microsoft_token
            .clone()
            .unwrap_or(defaults.microsoft_token),
        calendly_api: urls.calendly_api.clone().unwrap_or(defaults.calendly_api),
    };
    let ics = booking_calendars::ics::IcsSource::new(config.webhook_allow_private)
        .context("cannot build the ICS calendar client")?;
    let caldav = CaldavCalendar::new(HttpOptions::default(), config.webhook_allow_private)
        .context("cannot build the CalDAV client")?;
    let calendars = ExternalCalendars::new(&endpoints, Arc::new(ics))
        .context("cannot build the calendar clients")?
        .with_caldav(caldav);
    Ok(Arc::new(calendars))
}
