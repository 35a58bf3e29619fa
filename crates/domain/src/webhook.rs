//! Webhook endpoints and the deliveries of booking events to them.
//!
//! Every booking event is written with the booking change (the outbox); in the
//! same transaction the store queues one [`Delivery`] per enabled endpoint
//! subscribed to the event's kind. Delivery is at least once: a delivery is
//! attempted until a 2xx answer, up to `1 + retries` times per round, and
//! `redeliver` starts a new round.

use std::fmt;

use jiff::{SignedDuration, Timestamp};

use crate::{AccountId, DeliveryId, EventId, EventKind, ValidationError, WebhookId};

/// How long the secret replaced by a rotation keeps signing.
pub const PREVIOUS_SECRET_HOURS: i64 = 24;

/// The longest webhook URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// A set of event kinds (stored as a bit mask, bit `i` for `EventKind::ALL[i]`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventSet(u8);

impl EventSet {
    /// Every kind.
    pub fn all() -> EventSet {
        EventKind::ALL.into_iter().collect()
    }

    /// An endpoint's events when it names none: every kind but
    /// `booking.reminder`, which is sent only to endpoints that ask for it.
    pub fn defaults() -> EventSet {
        EventKind::ALL
            .into_iter()
            .filter(|k| *k != EventKind::Reminder)
            .collect()
    }

    /// The bit of one kind.
    pub fn bit(kind: EventKind) -> i64 {
        let index = EventKind::ALL
            .iter()
            .position(|k| *k == kind)
            .unwrap_or_default();
        1 << index
    }

    /// Whether `kind` is in the set.
    pub fn contains(self, kind: EventKind) -> bool {
        i64::from(self.0) & EventSet::bit(kind) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The mask as stored.
    pub fn bits(self) -> i64 {
        i64::from(self.0)
    }

    /// The set a stored mask stands for; `None` for bits beyond the kinds.
    pub fn from_bits(bits: i64) -> Option<EventSet> {
        let all = EventSet::all().bits();
        (bits & !all == 0 && bits >= 0).then(|| EventSet(u8::try_from(bits).unwrap_or_default()))
    }

    /// The kinds, in [`EventKind::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = EventKind> {
        EventKind::ALL
            .into_iter()
            .filter(move |k| self.contains(*k))
    }

    /// Parses wire names (`booking.created`, …); `field` names the list in
    /// errors. An empty list is refused: an endpoint that wants nothing
    /// should be disabled instead.
    pub fn parse<'a>(
        names: impl IntoIterator<Item = &'a str>,
        field: &str,
    ) -> Result<EventSet, ValidationError> {
        let mut set = EventSet::default();
        for (i, name) in names.into_iter().enumerate() {
            let kind = EventKind::parse(name).ok_or_else(|| {
                ValidationError::new(
                    format!("{field}[{i}]"),
                    "must be one of booking.created, booking.confirmed, booking.cancelled, \
                     booking.rescheduled, booking.completed, booking.reminder",
                )
            })?;
            set = set.with(kind);
        }
        if set.is_empty() {
            return Err(ValidationError::new(field, "must name at least one event"));
        }
        Ok(set)
    }

    /// The set plus `kind`.
    pub fn with(self, kind: EventKind) -> EventSet {
        EventSet(self.0 | u8::try_from(EventSet::bit(kind)).unwrap_or_default())
    }
}

impl FromIterator<EventKind> for EventSet {
    fn from_iter<I: IntoIterator<Item = EventKind>>(iter: I) -> Self {
        iter.into_iter()
            .fold(EventSet::default(), |set, k| set.with(k))
    }
}

impl fmt::Debug for EventSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(EventKind::name))
            .finish()
    }
}

/// A URL that booking events are posted to.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Id (`wh_…`).
    pub id: WebhookId,
    /// Owning account.
    pub account_id: AccountId,
    /// Where events are posted (checked against private targets when saved
    /// and again at each attempt).
    pub url: String,
    /// The kinds it receives.
    pub events: EventSet,
    /// Free text, at most 500 characters.
    pub description: Option<String>,
    /// Disabled endpoints get no new deliveries, and queued ones wait.
    pub enabled: bool,
    /// The signing secret (`whsec_…`). Never logged; shown once.
    pub secret: String,
    /// The secret a rotation replaced, which keeps signing until
    /// `previous_secret_expires_at`.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_secret_expires_at: Option<Timestamp>,
    /// Creation instant.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

impl fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Secrets and the URL (it may carry a token) stay out of logs.
        f.debug_struct("WebhookEndpoint")
            .field("id", &self.id)
            .field("account_id", &self.account_id)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

impl WebhookEndpoint {
    /// The secrets that sign at `now`: the current one, then the previous
    /// one while its grace period lasts.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<String> {
        let mut secrets = vec![self.secret.clone()];
        if let (Some(previous), Some(until)) =
            (&self.previous_secret, self.previous_secret_expires_at)
            && now < until
        {
            secrets.push(previous.clone());
        }
        secrets
    }

    /// The endpoint with a new secret; the old one keeps signing for
    /// [`PREVIOUS_SECRET_HOURS`].
    pub fn rotated(&self, secret: String, now: Timestamp) -> WebhookEndpoint {
        let until = now
            .checked_add(SignedDuration::from_hours(PREVIOUS_SECRET_HOURS))
            .unwrap_or(Timestamp::MAX);
        WebhookEndpoint {
            previous_secret: Some(self.secret.clone()),
            previous_secret_expires_at: Some(until),
            secret,
            updated_at: now,
            ..self.clone()
        }
    }
}

/// Validates an endpoint description (at most 500 characters).
pub fn validate_webhook_description(text: &str) -> Result<String, ValidationError> {
    if text.chars().count() > 500 {
        return Err(ValidationError::new(
            "description",
            "must be at most 500 characters",
        ));
    }
    Ok(text.to_owned())
}

/// Changes to an endpoint; `None` keeps the field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    /// New URL (checked like a new endpoint's).
    pub url: Option<String>,
    /// New event kinds.
    pub events: Option<EventSet>,
    /// Enable or disable.
    pub enabled: Option<bool>,
    /// New description; `Some(None)` clears it.
    pub description: Option<Option<String>>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer came back.
    Succeeded,
    /// Every attempt of the round failed.
    Failed,
}

impl DeliveryState {
    /// Wire name.
    pub fn name(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<DeliveryState> {
        [
            DeliveryState::Pending,
            DeliveryState::Succeeded,
            DeliveryState::Failed,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// When it started.
    pub at: Timestamp,
    /// The receiver's status code, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed without an answer (timeout, refused connection, …).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

/// One event's delivery to one endpoint, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Id (`whd_…`).
    pub id: DeliveryId,
    /// Owning account.
    pub account_id: AccountId,
    /// The endpoint.
    pub endpoint_id: WebhookId,
    /// The event (and `webhook-id`).
    pub event_id: EventId,
    /// The event's kind.
    pub event: EventKind,
    /// Where it stands.
    pub state: DeliveryState,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<Timestamp>,
    /// Every attempt, oldest first.
    pub attempts: Vec<Attempt>,
    /// When it was queued.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_sets_round_trip_through_bits_and_names() {
        let all = EventSet::all();
        assert_eq!(all.bits(), 0b111111);
        assert_eq!(EventSet::from_bits(all.bits()), Some(all));
        assert_eq!(EventSet::from_bits(1 << 6), None);
        assert!(!EventSet::defaults().contains(EventKind::Reminder));
        assert_eq!(EventSet::defaults().iter().count(), 5);
        assert_eq!(EventSet::from_bits(-1), None);
        let set = EventSet::parse(["booking.cancelled", "booking.created"], "events").unwrap();
        assert!(set.contains(EventKind::Created) && set.contains(EventKind::Cancelled));
        assert!(!set.contains(EventKind::Confirmed));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [EventKind::Created, EventKind::Cancelled]
        );
        assert_eq!(
            EventSet::parse(["booking.created", "nope"], "events")
                .unwrap_err()
                .field,
            "events[1]"
        );
        assert!(EventSet::parse([], "events").is_err());
    }

    #[test]
    fn rotation_keeps_the_old_secret_for_a_day() {
        let now: Timestamp = "2027-01-01T00:00:00Z".parse().unwrap();
        let endpoint = WebhookEndpoint {
            id: WebhookId::from_trusted("wh_1"),
            account_id: AccountId::from_trusted("acc_1"),
            url: "https://example.com/hook?token=secret".into(),
            events: EventSet::all(),
            description: None,
            enabled: true,
            secret: "whsec_old".into(),
            previous_secret: None,
            previous_secret_expires_at: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(endpoint.signing_secrets(now), ["whsec_old"]);
        let rotated = endpoint.rotated("whsec_new".into(), now);
        assert_eq!(rotated.signing_secrets(now), ["whsec_new", "whsec_old"]);
        let later = now.checked_add(SignedDuration::from_hours(24)).unwrap();
        assert_eq!(rotated.signing_secrets(later), ["whsec_new"]);
        let debug = format!("{rotated:?}");
        assert!(
            !debug.contains("whsec") && !debug.contains("token"),
            "{debug}"
        );
    }
}
