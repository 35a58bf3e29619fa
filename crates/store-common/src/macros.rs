//! [`sql_rows!`](crate::sql_rows): the diesel row structs of a SQL store.

/// Declares a store's diesel row structs `ProviderRow`, `ServiceRow`,
/// `BookingRow`, `EventRow`, `WebhookRow`, `DeliveryRow` and `AttemptRow`
/// (crate-visible), checked against `backend`,
/// with JSON columns held as `json` (a [`JsonColumn`](crate::JsonColumn)).
/// Each row has the fields of its column struct ([`ProviderColumns`](crate::ProviderColumns),
/// …), converts to and from it field by field, and gets the store-facing
/// conversions: `From<&Provider>`/`From<&Service>`, `BookingRow::from_domain`,
/// `EventRow::from_domain`, and `into_domain` on each.
///
/// Expanded in the store, so this crate needs no diesel: the store must
/// depend on `diesel` and have the table modules `providers`, `services`,
/// `bookings`, `events`, `webhook_endpoints`, `webhook_deliveries` and
/// `webhook_attempts` and `calendar_connections` in scope.
///
/// ```ignore
/// use crate::schema::{bookings, events, providers, services};
/// booking_store_common::sql_rows!(backend = diesel::sqlite::Sqlite, json = String);
/// ```
#[macro_export]
macro_rules! sql_rows {
    (backend = $($backend:ident)::+, json = $($json:ident)::+ $(,)?) => {
        $crate::__sql_row! {
            /// A `providers` row (without `seq`).
            #[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, diesel::Insertable, diesel::AsChangeset)]
            #[diesel(table_name = providers, check_for_backend($($backend)::+))]
            #[diesel(treat_none_as_null = true)]
            ProviderRow <=> $crate::ProviderColumns {
                id: String,
                account_id: String,
                name: String,
                email: Option<String>,
                is_default: bool,
                created_at: i64,
                updated_at: i64,
            }
        }

        $crate::__sql_row! {
            /// A `services` row (without `seq`).
            #[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, diesel::Insertable, diesel::AsChangeset)]
            #[diesel(table_name = services, check_for_backend($($backend)::+))]
            #[diesel(treat_none_as_null = true)]
            ServiceRow <=> $crate::ServiceColumns {
                id: String,
                account_id: String,
                provider_id: String,
                name: String,
                description: Option<String>,
                duration_min: i64,
                price_minor: i64,
                currency: String,
                price_type: String,
                days: i64,
                start_min: i64,
                end_min: i64,
                timezone: String,
                buffer_before: i64,
                buffer_after: i64,
                minimum_notice: i64,
                auto_confirm: bool,
                archived: bool,
                created_at: i64,
                updated_at: i64,
            }
        }

        $crate::__sql_row! {
            /// A `bookings` row (without `seq`). `end_at` and the occupied
            /// range are derived from the booking when it is written.
            #[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, diesel::Insertable, diesel::AsChangeset)]
            #[diesel(table_name = bookings, check_for_backend($($backend)::+))]
            #[diesel(treat_none_as_null = true)]
            BookingRow <=> $crate::BookingColumns<$($json)::+> {
                id: String,
                account_id: String,
                service_id: String,
                provider_id: String,
                duration_min: i64,
                scheduled_at: i64,
                end_at: i64,
                occupied_start: i64,
                occupied_end: i64,
                buffer_before: i64,
                buffer_after: i64,
                status: String,
                customer_email: String,
                customer_name: String,
                price_minor: i64,
                currency: String,
                notes: Option<String>,
                metadata: $($json)::+,
                cancel_reason: Option<String>,
                sequence: i64,
                created_at: i64,
                updated_at: i64,
            }
        }

        $crate::__sql_row! {
            /// An `events` row (without `seq`).
            #[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, diesel::Insertable)]
            #[diesel(table_name = events, check_for_backend($($backend)::+))]
            EventRow <=> $crate::EventColumns<$($json)::+> {
                id: String,
                account_id: String,
                booking_id: String,
                kind: String,
                previous_scheduled_at: Option<i64>,
                created_at: i64,
                booking: $($json)::+,
            }
        }

        $crate::__sql_row! {
            /// A `webhook_endpoints` row (without `seq`).
            #[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, diesel::Insertable, diesel::AsChangeset)]
            #[diesel(table_name = webhook_endpoints, check_for_backend($($backend)::+))]
            #[diesel(treat_none_as_null = true)]
            WebhookRow <=> $crate::WebhookColumns {
                id: String,
                account_id: String,
                url: String,
                events: i64,
                description: Option<String>,
                enabled: bool,
                secret: String,
                previous_secret: Option<String>,
                previous_secret_expires_at: Option<i64>,
                created_at: i64,
                updated_at: i64,
            }
        }

        $crate::__sql_row! {
            /// The columns of a `webhook_deliveries` row the log shows.
            #[derive(Debug, Clone, diesel::Queryable, diesel::Selectable)]
            #[diesel(table_name = webhook_deliveries, check_for_backend($($backend)::+))]
            DeliveryRow <=> $crate::DeliveryColumns {
                seq: i64,
                id: String,
                account_id: String,
                endpoint_id: String,
                event_id: String,
                event_kind: String,
                state: String,
                next_attempt_at: Option<i64>,
                created_at: i64,
            }
        }

        $crate::__sql_row! {
            /// A `webhook_attempts` row (without `seq`).
            #[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, diesel::Insertable)]
            #[diesel(table_name = webhook_attempts, check_for_backend($($backend)::+))]
            AttemptRow <=> $crate::AttemptColumns {
                account_id: String,
                delivery_seq: i64,
                at: i64,
                status_code: Option<i32>,
                error: Option<String>,
                duration_ms: i64,
            }
        }

        $crate::__sql_row! {
            /// The stored columns of a `calendar_connections` row.
            #[derive(Debug, Clone, diesel::Queryable, diesel::Selectable, diesel::Insertable)]
            #[diesel(table_name = calendar_connections, check_for_backend($($backend)::+))]
            CalendarRow <=> $crate::CalendarColumns {
                id: String,
                account_id: String,
                provider_id: String,
                kind: String,
                url: Option<String>,
                calendar_id: Option<String>,
                access_token: Option<String>,
                refresh_token: Option<String>,
                client_id: Option<String>,
                client_secret: Option<String>,
                expires_at: Option<i64>,
                status: String,
                last_synced_at: Option<i64>,
                last_error: Option<String>,
                last_error_at: Option<i64>,
                busy_blocks: i64,
                etag: Option<String>,
                last_modified: Option<String>,
                created_at: i64,
                updated_at: i64,
            }
        }

        impl CalendarRow {
            /// The row for a connection.
            pub fn from_domain(c: &$crate::__private::CalendarConnection) -> Self {
                $crate::CalendarColumns::from_domain(c).into()
            }

            /// Rebuilds the connection.
            pub fn into_domain(
                self,
            ) -> ::core::result::Result<$crate::__private::CalendarConnection, $crate::__private::StorageError> {
                $crate::CalendarColumns::from(self).into_domain()
            }
        }

        impl ::core::convert::From<&$crate::__private::WebhookEndpoint> for WebhookRow {
            fn from(e: &$crate::__private::WebhookEndpoint) -> Self {
                $crate::WebhookColumns::from_domain(e).into()
            }
        }

        impl WebhookRow {
            /// Rebuilds the endpoint.
            pub fn into_domain(
                self,
            ) -> ::core::result::Result<$crate::__private::WebhookEndpoint, $crate::__private::StorageError> {
                $crate::WebhookColumns::from(self).into_domain()
            }
        }

        impl ::core::convert::From<&$crate::__private::Provider> for ProviderRow {
            fn from(p: &$crate::__private::Provider) -> Self {
                $crate::ProviderColumns::from_domain(p).into()
            }
        }

        impl ProviderRow {
            /// Rebuilds the provider.
            pub fn into_domain(
                self,
            ) -> ::core::result::Result<$crate::__private::Provider, $crate::__private::StorageError> {
                $crate::ProviderColumns::from(self).into_domain()
            }
        }

        impl ::core::convert::From<&$crate::__private::Service> for ServiceRow {
            fn from(s: &$crate::__private::Service) -> Self {
                $crate::ServiceColumns::from_domain(s).into()
            }
        }

        impl ServiceRow {
            /// Rebuilds the service.
            pub fn into_domain(
                self,
            ) -> ::core::result::Result<$crate::__private::Service, $crate::__private::StorageError> {
                $crate::ServiceColumns::from(self).into_domain()
            }
        }

        impl BookingRow {
            /// The row for a booking.
            pub fn from_domain(
                b: &$crate::__private::Booking,
            ) -> ::core::result::Result<Self, $crate::__private::StorageError> {
                $crate::BookingColumns::from_domain(b).map(Self::from)
            }

            /// Rebuilds the booking.
            pub fn into_domain(
                self,
            ) -> ::core::result::Result<$crate::__private::Booking, $crate::__private::StorageError> {
                $crate::BookingColumns::from(self).into_domain()
            }
        }

        impl EventRow {
            /// The row for an event, with its booking snapshot as JSON.
            pub fn from_domain(
                e: &$crate::__private::BookingEvent,
            ) -> ::core::result::Result<Self, $crate::__private::StorageError> {
                $crate::EventColumns::from_domain(e).map(Self::from)
            }

            /// Rebuilds the event and its booking snapshot.
            pub fn into_domain(
                self,
            ) -> ::core::result::Result<$crate::__private::BookingEvent, $crate::__private::StorageError> {
                $crate::EventColumns::from(self).into_domain()
            }
        }
    };
}

/// One row struct of [`sql_rows!`](crate::sql_rows) and its field-by-field
/// conversions to and from its column struct.
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_row {
    (
        $(#[$attr:meta])*
        $row:ident <=> $columns:ty { $($field:ident: $ty:ty),* $(,)? }
    ) => {
        $(#[$attr])*
        pub(crate) struct $row {
            $(pub $field: $ty,)*
        }

        impl ::core::convert::From<$columns> for $row {
            fn from(c: $columns) -> Self {
                $row { $($field: c.$field),* }
            }
        }

        impl ::core::convert::From<$row> for $columns {
            fn from(r: $row) -> Self {
                Self { $($field: r.$field),* }
            }
        }
    };
}
