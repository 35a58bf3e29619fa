//! The store contract suite (`contract`, and `calendars`, `feeds`, `holds`,
//! `time_off` and `webhooks` for their ports), run against every store we ship: the tests
//! are listed once, in [`for_each_contract_test!`], and each store's module
//! (`sqlite`, `postgres`) runs every one of them on a fresh store of its
//! kind, beside the tests only its store has.

/// Hands `$run!` every contract test, as `module::name` (each an
/// `async fn(&store)` in that module), so no store can miss one.
macro_rules! for_each_contract_test {
    ($run:ident) => {
        $run!(
            contract::key_creates_account_and_default_provider,
            contract::keys_by_lookup_returns_every_match,
            contract::revoke_key_reports_existence_and_keeps_first_instant,
            contract::providers_are_isolated_per_account,
            contract::services_round_trip_and_are_isolated,
            contract::paging_is_stable_and_complete,
            contract::bookings_round_trip_and_are_isolated,
            contract::bookings_are_found_by_their_link_and_events_keep_their_actor,
            contract::insert_refuses_overlaps_of_active_bookings,
            contract::conflicts_see_the_longest_bookings,
            contract::update_checks_staleness_and_conflicts,
            contract::list_bookings_applies_filters,
            contract::busy_times_are_bounded_sorted_and_exclusive,
            contract::idempotency_keys_follow_their_lifecycle,
            contract::idempotency_begin_is_exclusive,
            contract::idempotency_keys_are_purged_after_their_ttl,
            contract::ping_answers,
            calendars::connections_round_trip_and_are_isolated,
            calendars::syncs_replace_blocks_and_failures_keep_them,
            calendars::busy_times_find_long_external_blocks_from_anywhere_in_them,
            calendars::inserts_refuse_times_blocked_by_external_calendars,
            calendars::background_claims_are_exclusive_and_lease_bound,
            calendars::calendar_creates_stay_within_the_limit_under_concurrency,
            calendars::fair_claims_share_between_accounts,
            calendars::booking_writes_are_queued_claimed_once_and_versioned,
            calendars::one_claim_gives_each_write_its_own_connection,
            calendars::a_batch_of_results_leaves_each_row_as_its_result,
            feeds::feed_tokens_are_compare_and_set_and_die_when_replaced,
            feeds::feed_bookings_are_the_providers_from_an_instant_with_service_names,
            feeds::server_secrets_are_created_once,
            time_off::time_off_answers_only_the_providers_active_bookings_inside_it,
            time_off::time_off_lists_by_range_and_pages,
            time_off::time_off_is_deleted_once_and_isolated_per_account,
            webhooks::webhooks_round_trip_and_are_isolated,
            webhooks::finished_deliveries_are_purged_and_pending_ones_kept,
            webhooks::deleting_an_endpoint_deletes_its_deliveries,
            webhooks::bookings_queue_one_delivery_per_subscribed_enabled_endpoint,
            webhooks::claims_carry_the_endpoint_and_the_event,
            webhooks::claims_take_due_deliveries_earliest_first_once_per_lease,
            webhooks::disabled_endpoints_get_nothing_claimed,
            webhooks::attempts_set_outcomes_and_join_the_log,
            webhooks::a_lost_claim_only_adds_its_attempt,
            webhooks::gone_receivers_disable_their_endpoint,
            webhooks::delivery_logs_page_newest_first,
            webhooks::redeliver_starts_a_new_round,
            webhooks::queueing_wakes_the_waiting_workers,
            webhooks::due_for_completion_lists_ended_confirmed_bookings,
            webhooks::webhook_creates_stay_within_the_limit_under_concurrency,
            webhooks::fair_delivery_claims_share_between_accounts,
            holds::holds_block_like_bookings_until_they_expire,
            holds::holds_count_per_key_and_are_isolated,
            holds::a_hold_becomes_its_booking_once,
            holds::the_hold_to_book_is_the_stored_hold,
            holds::moves_respect_live_holds_and_ignore_expired_ones,
            reminders::reminders_are_recorded_once_per_offset_and_start,
        );
    };
}

mod calendars;
mod contract;
mod feeds;
mod fixtures;
mod holds;
mod postgres;
mod ratelimit;
mod reminders;
mod secrets;
mod sqlite;
mod time_off;
mod tls;
mod webhooks;
