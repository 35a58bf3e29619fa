//! The columns of the webhook tables and their conversions to and from the
//! domain, and the rules both SQL stores follow for the outbox.

use std::collections::HashMap;

use booking_domain::ports::{DeliveryOutcome, StorageError};
use booking_domain::{
    AccountId, Attempt, Delivery, DeliveryId, DeliveryState, EventId, EventKind, EventSet,
    WebhookEndpoint, WebhookId,
};

use super::values::{corrupt, instant, secs};
use crate::secrets::{Field, Keyring, tenant_row};

/// How many deliveries of one page carry their attempts: a page is at most
/// 200 deliveries and each round is at most 21 attempts, but redeliveries
/// add rounds, so attempts are capped per delivery when listed.
pub const MAX_LISTED_ATTEMPTS: usize = 100;

/// The columns of a `webhook_endpoints` row (without `seq`).
#[derive(
    Debug,
    Clone,
    PartialEq,
    Eq,
    diesel::Queryable,
    diesel::Selectable,
    diesel::Insertable,
    diesel::AsChangeset,
)]
#[diesel(table_name = crate::schema::webhook_endpoints, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
#[diesel(treat_none_as_null = true)]
pub struct WebhookRow {
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub events: i64,
    pub description: Option<String>,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookRow {
    /// The columns for an endpoint, its secrets sealed with `keys`.
    pub fn from_domain(e: &WebhookEndpoint, keys: &Keyring) -> Result<WebhookRow, StorageError> {
        let row = tenant_row(e.account_id.as_str(), e.id.as_str());
        Ok(WebhookRow {
            id: e.id.as_str().to_owned(),
            account_id: e.account_id.as_str().to_owned(),
            url: e.url.clone(),
            events: e.events.bits(),
            description: e.description.clone(),
            enabled: e.enabled,
            secret: keys.seal(Field::WebhookSecret, &row, &e.secret)?,
            previous_secret: keys.seal_opt(
                Field::WebhookPreviousSecret,
                &row,
                e.previous_secret.as_deref(),
            )?,
            previous_secret_expires_at: e.previous_secret_expires_at.map(secs),
            created_at: secs(e.created_at),
            updated_at: secs(e.updated_at),
        })
    }

    /// Rebuilds the endpoint, opening its secrets with `keys`.
    pub fn into_domain(self, keys: &Keyring) -> Result<WebhookEndpoint, StorageError> {
        const T: &str = "webhook_endpoints";
        let id = self.id.as_str();
        let row = tenant_row(&self.account_id, id);
        let secret = keys.open(Field::WebhookSecret, &row, &self.secret)?;
        let previous_secret = keys.open_opt(
            Field::WebhookPreviousSecret,
            &row,
            self.previous_secret.as_deref(),
        )?;
        let events = EventSet::from_bits(self.events)
            .ok_or_else(|| corrupt(T, id, format!("events: bad mask {}", self.events)))?;
        Ok(WebhookEndpoint {
            events,
            previous_secret_expires_at: self
                .previous_secret_expires_at
                .map(|s| instant(T, id, "previous_secret_expires_at", s))
                .transpose()?,
            created_at: instant(T, id, "created_at", self.created_at)?,
            updated_at: instant(T, id, "updated_at", self.updated_at)?,
            id: WebhookId::from_trusted(self.id),
            account_id: AccountId::from_trusted(self.account_id),
            url: self.url,
            description: self.description,
            enabled: self.enabled,
            secret,
            previous_secret,
        })
    }
}

/// The columns of a `webhook_deliveries` row that the log shows.
#[derive(Debug, Clone, PartialEq, Eq, diesel::Queryable, diesel::Selectable)]
#[diesel(table_name = crate::schema::webhook_deliveries, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct DeliveryRow {
    pub seq: i64,
    pub id: String,
    pub account_id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_kind: String,
    pub state: String,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
}

/// The columns of a `webhook_attempts` row (without `seq`).
#[derive(
    Debug, Clone, PartialEq, Eq, diesel::Queryable, diesel::Selectable, diesel::Insertable,
)]
#[diesel(table_name = crate::schema::webhook_attempts, check_for_backend(diesel::sqlite::Sqlite, diesel::pg::Pg))]
pub struct AttemptRow {
    pub account_id: String,
    pub delivery_seq: i64,
    pub at: i64,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

impl AttemptRow {
    /// The columns for an attempt of the delivery at `delivery_seq`.
    pub fn from_domain(account_id: &str, delivery_seq: i64, a: &Attempt) -> AttemptRow {
        AttemptRow {
            account_id: account_id.to_owned(),
            delivery_seq,
            at: secs(a.at),
            status_code: a.status_code.map(i32::from),
            // Bounded: an error text is a short reason, never a body.
            error: a.error.as_ref().map(|e| e.chars().take(500).collect()),
            duration_ms: i64::try_from(a.duration_ms).unwrap_or(i64::MAX),
        }
    }

    fn into_domain(self) -> Result<Attempt, StorageError> {
        const T: &str = "webhook_attempts";
        let id = self.delivery_seq.to_string();
        Ok(Attempt {
            at: instant(T, &id, "at", self.at)?,
            status_code: self
                .status_code
                .map(|c| u16::try_from(c).map_err(|_| corrupt(T, &id, format!("status_code {c}"))))
                .transpose()?,
            error: self.error,
            duration_ms: u64::try_from(self.duration_ms).unwrap_or_default(),
        })
    }
}

/// Deliveries with their attempts (attempts in any order of delivery,
/// oldest first within one; at most [`MAX_LISTED_ATTEMPTS`] each, the latest).
pub fn assemble_deliveries(
    rows: Vec<DeliveryRow>,
    attempts: Vec<AttemptRow>,
) -> Result<Vec<Delivery>, StorageError> {
    let mut by_delivery: HashMap<i64, Vec<Attempt>> = HashMap::new();
    for a in attempts {
        let seq = a.delivery_seq;
        by_delivery.entry(seq).or_default().push(a.into_domain()?);
    }
    rows.into_iter()
        .map(|r| {
            const T: &str = "webhook_deliveries";
            let id = r.id.as_str();
            let event = EventKind::parse(&r.event_kind)
                .ok_or_else(|| corrupt(T, id, format!("event_kind `{}`", r.event_kind)))?;
            let state = DeliveryState::parse(&r.state)
                .ok_or_else(|| corrupt(T, id, format!("state `{}`", r.state)))?;
            let mut attempts = by_delivery.remove(&r.seq).unwrap_or_default();
            if attempts.len() > MAX_LISTED_ATTEMPTS {
                attempts.drain(..attempts.len() - MAX_LISTED_ATTEMPTS);
            }
            Ok(Delivery {
                state,
                event,
                attempts,
                next_attempt_at: r
                    .next_attempt_at
                    .map(|s| instant(T, id, "next_attempt_at", s))
                    .transpose()?,
                created_at: instant(T, id, "created_at", r.created_at)?,
                id: DeliveryId::from_trusted(r.id),
                account_id: AccountId::from_trusted(r.account_id),
                endpoint_id: WebhookId::from_trusted(r.endpoint_id),
                event_id: EventId::from_trusted(r.event_id),
            })
        })
        .collect()
}

/// The `(state, next_attempt_at)` a delivery takes after an attempt.
pub fn outcome_columns(outcome: DeliveryOutcome) -> (&'static str, Option<i64>) {
    match outcome {
        DeliveryOutcome::Succeeded => (DeliveryState::Succeeded.name(), None),
        DeliveryOutcome::Failed => (DeliveryState::Failed.name(), None),
        DeliveryOutcome::RetryAt(at) => (DeliveryState::Pending.name(), Some(secs(at))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    #[test]
    fn endpoints_round_trip() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let e = WebhookEndpoint {
            id: WebhookId::from_trusted("wh_1"),
            account_id: AccountId::from_trusted("acc_1"),
            url: "https://example.com/h".into(),
            events: EventSet::all(),
            description: Some("d".into()),
            enabled: false,
            secret: "whsec_a".into(),
            previous_secret: Some("whsec_b".into()),
            previous_secret_expires_at: Some(now),
            created_at: now,
            updated_at: now,
        };
        let keys = crate::secrets::test_keys();
        let row = WebhookRow::from_domain(&e, &keys).unwrap();
        assert!(row.secret.starts_with("enc:v1:"), "{}", row.secret);
        assert!(!row.secret.contains("whsec_a"));
        assert!(
            row.previous_secret
                .as_deref()
                .unwrap()
                .starts_with("enc:v1:")
        );
        assert_eq!(row.clone().into_domain(&keys).unwrap(), e);
        let mut bad = row.clone();
        bad.events = 1 << 9;
        assert!(matches!(
            bad.into_domain(&keys),
            Err(StorageError::Internal(_))
        ));
        // The secrets are bound to the endpoint: another row's do not open.
        let mut swapped = row;
        swapped.id = "wh_2".into();
        assert!(matches!(
            swapped.into_domain(&keys),
            Err(StorageError::Internal(_))
        ));
    }

    #[test]
    fn deliveries_get_their_latest_attempts() {
        let row = DeliveryRow {
            seq: 7,
            id: "whd_1".into(),
            account_id: "acc_1".into(),
            endpoint_id: "wh_1".into(),
            event_id: "evt_1".into(),
            event_kind: "booking.created".into(),
            state: "failed".into(),
            next_attempt_at: None,
            created_at: 10,
        };
        let attempts = (0..150)
            .map(|i| AttemptRow {
                account_id: "acc_1".into(),
                delivery_seq: 7,
                at: 10 + i,
                status_code: Some(500),
                error: None,
                duration_ms: 3,
            })
            .collect();
        let d = assemble_deliveries(vec![row], attempts).unwrap();
        assert_eq!(d[0].attempts.len(), MAX_LISTED_ATTEMPTS);
        assert_eq!(d[0].attempts[0].at.as_second(), 60);
        assert_eq!(d[0].state, DeliveryState::Failed);
    }
}
