//! The external-calendar adapters, built from the configuration.

use std::sync::Arc;

use anyhow::Context;
use booking_calendars::{Endpoints, ExternalCalendars};
use booking_domain::BusySource;

use crate::config::Config;

/// The busy-time source for every connection kind: the API adapters on the
/// configured base URLs, and the ICS adapter (under the SSRF guard unless
/// `BOOKING_WEBHOOK_ALLOW_PRIVATE`).
pub fn busy_source(config: &Config) -> anyhow::Result<Arc<dyn BusySource>> {
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
    let calendars = ExternalCalendars::new(&endpoints, Arc::new(ics))
        .context("cannot build the calendar clients")?;
    Ok(Arc::new(calendars))
}
