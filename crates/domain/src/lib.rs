#![doc = include_str!("../README.md")]

mod availability;
mod booking;
mod calendar;
mod error;
mod ids;
mod money;
mod provider;
mod service;
mod time;
mod webhook;

pub mod fairness;
pub mod ports;
pub mod scheduling;
pub mod usecases;

pub use availability::{LocalTime, Weekday, WeekdaySet, WeeklyAvailability};
pub use booking::{
    Booking, BookingEvent, BookingStatus, Customer, Email, EventKind, InvalidTransition, Metadata,
    occupied_range, validate_notes,
};
pub use calendar::{
    BusySource, CalendarConnection, CalendarSource, FetchError, FetchOutcome, FetchRequest,
    Fetched, OAuthCredentials, SYNC_DAYS_AHEAD, SyncStatus, Validators,
};
pub use error::ValidationError;
pub use ids::{
    AccountId, ApiKeyId, BookingId, CalendarId, DeliveryId, EventId, IdKind, ProviderId, ServiceId,
    WebhookId,
};
pub use money::{Currency, Money, Price, PriceType};
pub use provider::{Provider, ProviderPatch, validate_name};
pub use service::{
    NewService, Service, ServicePatch, limits, validate_buffer, validate_description,
    validate_duration,
};
pub use time::{Minutes, TimeRange, Timezone};
pub use webhook::{
    Attempt, Delivery, DeliveryState, EventSet, MAX_URL_LEN, PREVIOUS_SECRET_HOURS,
    WebhookEndpoint, WebhookPatch, validate_webhook_description,
};
