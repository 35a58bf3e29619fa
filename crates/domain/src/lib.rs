#![doc = include_str!("../README.md")]

mod availability;
mod booking;
mod calendar;
mod error;
mod hold;
mod ids;
mod money;
mod provider;
mod reminder;
mod service;
mod time;
mod time_off;
mod webhook;

pub mod fairness;
pub mod ports;
pub mod scheduling;
pub mod usecases;

pub use availability::{
    DateOverride, DayHours, LocalTime, MAX_OVERRIDES, MAX_WINDOWS_PER_DAY, SeedHours, Weekday,
    WeekdaySet, WeeklyAvailability, Window,
};
pub use booking::{
    Actor, Booking, BookingEvent, BookingStatus, Customer, Email, EventKind, InvalidTransition,
    ManageLink, Metadata, occupied_range, validate_notes,
};
pub use calendar::{
    BusySource, CalendarConnection, CalendarSource, CalendarWriter, EVENT_UID_DOMAIN, EventDraft,
    FetchError, FetchOutcome, FetchRequest, Fetched, OAuthCredentials, RemoteEvent,
    SYNC_DAYS_AHEAD, SyncStatus, Validators, WriteOutcome, WriteRequest, event_uid,
};
pub use error::ValidationError;
pub use hold::{
    DEFAULT_HOLD_TTL_SECS, Hold, MAX_ACTIVE_HOLDS_PER_KEY, MAX_HOLD_TTL_SECS, MIN_HOLD_TTL_SECS,
    validate_hold_ttl,
};
pub use ids::{
    AccountId, ApiKeyId, BookingId, CalendarId, DeliveryId, EventId, HoldId, IdKind, ProviderId,
    ServiceId, TimeOffId, WebhookId,
};
pub use money::{Currency, Money, Price, PriceType};
pub use provider::{Provider, ProviderPatch, validate_name};
pub use reminder::{REMINDER_WINDOW, due_offsets};
pub use service::{
    Assignment, NewService, Service, ServicePatch, ServiceProviders, Team, limits,
    validate_booking_horizon, validate_buffer, validate_cutoff, validate_description,
    validate_duration, validate_max_bookings_per_day, validate_reminders, validate_slot_interval,
};
pub use time::{Minutes, TimeRange, Timezone};
pub use time_off::{
    MAX_TIME_OFF_DAYS, MAX_TIME_OFF_REASON, NewTimeOff, TimeOff, validate_time_off_range,
    validate_time_off_reason,
};
pub use webhook::{
    Attempt, Delivery, DeliveryState, EventSet, MAX_URL_LEN, PREVIOUS_SECRET_HOURS,
    WebhookEndpoint, WebhookPatch, validate_webhook_description,
};
