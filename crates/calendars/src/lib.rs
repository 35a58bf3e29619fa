//! External calendars as busy time: the [`BusySource`](booking_domain::BusySource)
//! port for iCal URLs, Google Calendar, Microsoft Graph (Outlook) and
//! Calendly.

pub mod caldav;
pub mod calendly;
pub mod client;
pub mod endpoints;
pub mod external;
pub mod google;
pub mod ics;
pub mod oauth;
pub mod outlook;

pub use endpoints::Endpoints;
pub use external::ExternalCalendars;
