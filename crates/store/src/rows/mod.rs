//! The row structs of both stores (diesel `Queryable`/`Insertable`,
//! checked against SQLite and Postgres) and their conversions to and from the
//! domain, and the value helpers they use. A [`BookingRow`] is also the JSON
//! snapshot of a booking kept with each event.
//!
//! Stored values are rebuilt through the domain's constructors; a value that
//! does not rebuild is corrupt data: [`StorageError::Internal`], never a panic.

mod busy;
mod calendars;
mod columns;
mod holds;
mod time_off;
mod values;
mod webhooks;

pub use busy::{
    BookedRow, BusyRead, ExternalRow, MAX_TIME_OFF_SECS, TimeOffRow, busy_sources, ranges_of,
};
pub use calendars::{CalendarRow, MAX_BUSY_PIECE_SECS, WriteKey, busy_pieces};
pub use columns::{
    BookingRow, EventRow, ProviderRow, ServiceRow, booking_of, reminders_column, seat_id,
};
pub use holds::{HeldRow, HoldColumns};
pub use time_off::TimeOffColumns;
pub use values::{ACTIVE, MAX_OCCUPIED_SECS, corrupt, secs, secs_ceil};
pub(crate) use values::{ACTIVE_BOOKING, instant};
pub use webhooks::{AttemptRow, DeliveryRow, WebhookRow, assemble_deliveries, outcome_columns};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_shape_is_pinned() {
        // The webhooks worker reads this from either store: keep it stable.
        let snapshot = BookingRow {
            id: "bk_1".into(),
            account_id: "acc_1".into(),
            service_id: "svc_1".into(),
            provider_id: "prv_1".into(),
            provider_ids: None,
            duration_min: 30,
            scheduled_at: 1_700_000_000,
            end_at: 1_700_001_800,
            occupied_start: 1_699_999_400,
            occupied_end: 1_700_002_400,
            buffer_before: 10,
            buffer_after: 10,
            status: "pending".into(),
            customer_email: "a@example.com".into(),
            customer_name: "A".into(),
            price_minor: 1500,
            currency: "EUR".into(),
            notes: None,
            metadata: crate::schema::JsonText(r#"{"k":"v"}"#.into()),
            cancel_reason: None,
            sequence: 0,
            created_at: 1_690_000_000,
            updated_at: 1_690_000_000,
            link_salt: None,
            link_hash: None,
        };
        let json = serde_json::to_value(&snapshot).unwrap();
        let mut keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        let mut expected = vec![
            "id",
            "account_id",
            "service_id",
            "provider_id",
            "duration_min",
            "scheduled_at",
            "end_at",
            "occupied_start",
            "occupied_end",
            "buffer_before",
            "buffer_after",
            "status",
            "customer_email",
            "customer_name",
            "price_minor",
            "currency",
            "notes",
            "metadata",
            "cancel_reason",
            "sequence",
            "created_at",
            "updated_at",
        ];
        expected.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(json["metadata"], serde_json::json!({"k": "v"}));
        let back: BookingRow = serde_json::from_value(json).unwrap();
        assert_eq!(back, snapshot);
        // A booking with a link: both parts, and back.
        let linked = BookingRow {
            link_salt: Some("salt".into()),
            link_hash: Some("hash".into()),
            ..snapshot
        };
        let json = serde_json::to_value(&linked).unwrap();
        assert_eq!(
            (&json["link_salt"], &json["link_hash"]),
            (&"salt".into(), &"hash".into())
        );
        assert_eq!(serde_json::from_value::<BookingRow>(json).unwrap(), linked);
    }
}
