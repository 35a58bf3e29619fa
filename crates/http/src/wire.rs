//! Wire types (DTOs): the JSON shapes of the contract, and their fallible
//! conversion into domain values (`try_into_domain`). Only this crate knows JSON.
//!
//! One module per resource, as in `routes/`; what they share (instants,
//! dates, URLs, money, whole-number and nullable fields, the page of a list)
//! is in `common`, below all of them. Every type is re-exported here, so
//! callers name `crate::wire::X` whatever file defines it.

mod availability;
mod bookings;
mod calendar;
mod calendars;
mod common;
mod errors;
mod holds;
mod manage;
mod ops;
mod providers;
mod services;
pub mod text;
mod time_off;
mod webhooks;

pub use availability::{
    AvailabilityOut, ExplainOut, ProviderExplainOut, RangeOut, ReasonOut, SlotOut, Slots,
};
pub use bookings::{
    BookingList, BookingOut, BookingPrice, BookingStatusName, CancelBooking, CreateBooking,
    CustomerDto, Links, RescheduleBooking,
};
pub use calendar::FeedUrl;
pub use calendars::{CalendarList, CalendarOut, CreateCalendar, CredentialsDto, SyncList, SyncOut};
pub use common::{NoFields, fmt_ts, parse_date, parse_ts};
pub use errors::{ErrorBody, ErrorDetails, ErrorObject};
pub use holds::{CreateHold, HoldOut};
pub use manage::{
    CancelForm, ManageCancel, ManageReschedule, ManagedBookingOut, ManagedService, ManagedSlots,
    RescheduleForm, SlotTimes,
};
pub use ops::HealthOut;
pub use providers::{CreateProvider, ProviderList, ProviderOut, UpdateProvider};
pub use services::{
    AssignmentName, AvailabilityDto, CreateService, DayName, HoursDto, OverrideDto, PriceDto,
    PriceKind, ReminderOffset, ServiceList, ServiceOut, UpdateService, WeeklyDto,
};
pub use time_off::{CreateTimeOff, TimeOffCreated, TimeOffList, TimeOffOut};
pub use webhooks::{
    AttemptOut, CreateWebhook, DeliveryList, DeliveryOut, UpdateWebhook, WebhookBooking,
    WebhookList, WebhookOut, WebhookPayload, WebhookWithSecret, webhook_body,
};

#[cfg(test)]
mod tests;
