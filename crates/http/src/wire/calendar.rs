//! A provider's calendar feed: `/v1/providers/{id}/calendar/feed`.

use serde::Serialize;
use utoipa::ToSchema;

/// A provider's private calendar feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedUrl {
    /// `https://…/calendar/feed/<token>.ics` under `BOOKING_PUBLIC_URL`:
    /// paste into Google Calendar or Outlook on the web ("subscribe from URL").
    pub url: String,
    /// The same feed as `webcal://…` (opens Apple Calendar and Outlook for
    /// desktop directly).
    pub webcal_url: String,
}
