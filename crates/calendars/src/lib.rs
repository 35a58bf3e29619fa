//! External calendars as busy time: the [`BusySource`](booking_domain::BusySource)
//! port for iCal URLs, Google Calendar, Microsoft Graph (Outlook) and
//! Calendly.
