//! Integration tests of booking-calendars: one binary, a module per adapter.

mod ics;

// Google, Outlook, Calendly and OAuth against a local stand-in of the APIs.
mod calendly;
mod dispatch;
mod google;
mod mock_api;
mod oauth;
mod outlook;
