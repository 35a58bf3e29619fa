//! The tables of `migrations/sqlite`, written by hand.

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
    }
}

diesel::table! {
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
        metadata -> Text,
        cancel_reason -> Nullable<Text>,
        sequence -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        account_id -> Text,
        booking_id -> Text,
        kind -> Text,
        previous_scheduled_at -> Nullable<BigInt>,
        created_at -> BigInt,
        booking -> Text,
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

diesel::joinable!(api_keys -> accounts (account_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    api_keys,
    providers,
    services,
    bookings,
    events,
    idempotency_keys,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts,
    server_secrets,
    calendar_connections,
    calendar_busy,
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
