//! The tables of `migrations/sqlite` and `migrations/postgres`, written by
//! hand, once: the two schemas have the same tables and columns
//! (`rate_limits` is Postgres's alone, `holds` SQLite's: on Postgres a hold
//! is its guard row in `bookings`, whose `hold_expires_at`, `hold_key_id`
//! and `hold_slot` are not listed here, read and written by Postgres's own
//! statements). A JSON column is [`Json`]: `jsonb` on Postgres, `TEXT` on
//! SQLite, held as its text ([`JsonText`]) on both.

use std::io::Write as _;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sqlite::{Sqlite, SqliteValue};

/// The SQL type of a JSON column (`jsonb` = OID 3802, its array 3807).
#[derive(
    Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
pub struct Json;

/// The text of a JSON value, as a [`Json`] column holds it.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = Json)]
pub struct JsonText(pub String);

/// `jsonb`'s binary format: a version byte (1), then the text.
impl ToSql<Json, Pg> for JsonText {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&[1])?;
        out.write_all(self.0.as_bytes())?;
        Ok(IsNull::No)
    }
}

impl FromSql<Json, Pg> for JsonText {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
        match value.as_bytes().split_first() {
            Some((1, text)) => Ok(JsonText(String::from_utf8(text.to_vec())?)),
            _ => Err("unsupported jsonb format".into()),
        }
    }
}

impl ToSql<Json, Sqlite> for JsonText {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.as_str());
        Ok(IsNull::No)
    }
}

impl FromSql<Json, Sqlite> for JsonText {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        <String as FromSql<diesel::sql_types::Text, Sqlite>>::from_sql(value).map(JsonText)
    }
}

diesel::table! {
    accounts (id) {
        id -> Text,
        name -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        account_id -> Text,
        lookup -> Text,
        hash -> Text,
        revoked_at -> Nullable<BigInt>,
        created_at -> BigInt,
    }
}

diesel::table! {
    providers (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        name -> Text,
        email -> Nullable<Text>,
        is_default -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        feed_generation -> BigInt,
        feed_token_hash -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::Json;

    services (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        provider_id -> Text,
        name -> Text,
        description -> Nullable<Text>,
        duration_min -> BigInt,
        price_minor -> BigInt,
        currency -> Text,
        price_type -> Text,
        days -> BigInt,
        start_min -> BigInt,
        end_min -> BigInt,
        timezone -> Text,
        buffer_before -> BigInt,
        buffer_after -> BigInt,
        minimum_notice -> BigInt,
        auto_confirm -> Bool,
        archived -> Bool,
        created_at -> BigInt,
        updated_at -> BigInt,
        hours -> Nullable<Json>,
        slot_interval -> Nullable<BigInt>,
        booking_horizon -> Nullable<BigInt>,
        max_bookings_per_day -> Nullable<BigInt>,
        provider_ids -> Nullable<Text>,
        assignment -> Nullable<Text>,
        cancel_cutoff -> BigInt,
        reschedule_cutoff -> BigInt,
        reminders -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::Json;

    bookings (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        service_id -> Text,
        provider_id -> Text,
        duration_min -> BigInt,
        scheduled_at -> BigInt,
        end_at -> BigInt,
        occupied_start -> BigInt,
        occupied_end -> BigInt,
        buffer_before -> BigInt,
        buffer_after -> BigInt,
        status -> Text,
        customer_email -> Text,
        customer_name -> Text,
        price_minor -> BigInt,
        currency -> Text,
        notes -> Nullable<Text>,
        metadata -> Json,
        cancel_reason -> Nullable<Text>,
        sequence -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
        provider_ids -> Nullable<Text>,
        link_salt -> Nullable<Text>,
        link_hash -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::Json;

    events (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        booking_id -> Text,
        kind -> Text,
        previous_scheduled_at -> Nullable<BigInt>,
        created_at -> BigInt,
        booking -> Json,
        actor -> Text,
        reminder_offset -> Nullable<BigInt>,
    }
}

diesel::table! {
    idempotency_keys (account_id, key) {
        account_id -> Text,
        key -> Text,
        request_hash -> Text,
        status -> Nullable<Integer>,
        body -> Nullable<Binary>,
        created_at -> BigInt,
    }
}

// Postgres only (UNLOGGED, the GCRA limiter's).
diesel::table! {
    rate_limits (key, name) {
        key -> Text,
        name -> Text,
        tat -> BigInt,
        allowed -> Bool,
    }
}

diesel::joinable!(api_keys -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    api_keys,
    providers,
    services,
    bookings,
    events,
    idempotency_keys,
    rate_limits,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts,
    server_secrets,
    calendar_connections,
    calendar_busy,
    time_off,
    calendar_writes,
    holds,
    booking_reminders,
);

diesel::table! {
    webhook_endpoints (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        url -> Text,
        events -> BigInt,
        description -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhook_deliveries (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        endpoint_id -> Text,
        event_id -> Text,
        event_kind -> Text,
        state -> Text,
        round_attempts -> Integer,
        next_attempt_at -> Nullable<BigInt>,
        claimed_by -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    webhook_attempts (seq) {
        seq -> BigInt,
        account_id -> Text,
        delivery_seq -> BigInt,
        at -> BigInt,
        status_code -> Nullable<Integer>,
        error -> Nullable<Text>,
        duration_ms -> BigInt,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    calendar_connections (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        provider_id -> Text,
        kind -> Text,
        url -> Nullable<Text>,
        calendar_id -> Nullable<Text>,
        access_token -> Nullable<Text>,
        refresh_token -> Nullable<Text>,
        client_id -> Nullable<Text>,
        client_secret -> Nullable<Text>,
        expires_at -> Nullable<BigInt>,
        status -> Text,
        last_synced_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<BigInt>,
        busy_blocks -> BigInt,
        etag -> Nullable<Text>,
        last_modified -> Nullable<Text>,
        sync_attempted_at -> Nullable<BigInt>,
        sync_claimed_until -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        write -> Bool,
        username -> Nullable<Text>,
        password -> Nullable<Text>,
        last_write_error -> Nullable<Text>,
        last_write_error_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    calendar_busy (seq) {
        seq -> BigInt,
        account_id -> Text,
        provider_id -> Text,
        calendar_id -> Text,
        start_at -> BigInt,
        end_at -> BigInt,
    }
}

diesel::table! {
    time_off (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        provider_id -> Text,
        start_at -> BigInt,
        end_at -> BigInt,
        reason -> Nullable<Text>,
        created_at -> BigInt,
    }
}

diesel::table! {
    calendar_writes (seq) {
        seq -> BigInt,
        account_id -> Text,
        calendar_id -> Text,
        booking_id -> Text,
        version -> BigInt,
        attempts -> Integer,
        next_attempt_at -> Nullable<BigInt>,
        lease_until -> Nullable<BigInt>,
        written -> Bool,
        remote_id -> Nullable<Text>,
        remote_etag -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    holds (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        key_id -> Text,
        service_id -> Text,
        provider_id -> Text,
        scheduled_at -> BigInt,
        duration_min -> BigInt,
        buffer_before -> BigInt,
        buffer_after -> BigInt,
        occupied_start -> BigInt,
        occupied_end -> BigInt,
        expires_at -> BigInt,
        created_at -> BigInt,
    }
}

diesel::table! {
    booking_reminders (account_id, booking_id, offset_min, scheduled_at) {
        account_id -> Text,
        booking_id -> Text,
        offset_min -> BigInt,
        scheduled_at -> BigInt,
        event_id -> Text,
        created_at -> BigInt,
    }
}
