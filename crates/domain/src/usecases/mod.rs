//! Use cases: validate, compute, and call the store once per change.
//!
//! Each use case has its own error enum; the HTTP layer maps them to status
//! codes in one place. Storage errors always pass through as
//! `Storage(StorageError)`, never as "not found".

mod accounts;
mod availability;
mod bookings;
mod calendar_writes;
mod calendars;
mod catalog;
mod feeds;
mod holds;
mod links;
mod manage;
mod port_sets;
mod reminders;
mod time_off;
mod webhooks;

pub use accounts::{
    ApiKeys, AuthError, Authenticated, CreatedKey, KeyError, generate_key, hash_key,
};
pub use availability::{
    Availability, AvailabilityAnswer, AvailabilityError, AvailabilityQuery, Bound, ExplainAnswer,
    MAX_RANGE_DAYS,
};
pub use bookings::{
    BookingError, Bookings, NEXT_AVAILABLE_HORIZON_DAYS, NewBooking, complete_ended,
};
pub use calendar_writes::{
    WRITE_LEASE_SECS, WriteTarget, claim_calendar_writes, read_write_targets,
    record_calendar_writes, send_write,
};
pub use calendars::{
    CalendarError, Calendars, SYNC_LEASE_SECS, SyncReport, claim_due_fairly, provider_busy,
    sync_connection, sync_window,
};
pub use catalog::{Catalog, CatalogError};
pub use feeds::{Feeds, derive_feed_token, hash_feed_token, plausible_feed_token};
pub use holds::{HoldError, Holds, NewHold};
pub use links::{
    check_form_token, derive_manage_token, form_token, hash_manage_token, manage_token,
    plausible_manage_token,
};
pub use manage::{Manage, ManageError, Opened};
pub use port_sets::{
    AvailabilityPorts, BookingPorts, BusyPorts, CalendarPorts, CalendarWritePorts, CatalogPorts,
    CompletionPorts, FeedPorts, HoldPorts, ManagePorts, ReminderPorts, SyncPorts, TimeOffPorts,
    WebhookPorts,
};
pub use reminders::send_due_reminders;
pub use time_off::{CreatedTimeOff, TimeOffError, TimeOffs};
pub use webhooks::{NewWebhook, WebhookError, Webhooks};

#[cfg(test)]
mod tests;
