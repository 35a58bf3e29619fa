//! Fresh planner statistics for young tables.
//!
//! Every pooled connection plans its statements once, generically
//! (`plan_cache_mode = force_generic_plan`), and keeps the plan until the
//! table's statistics change; so does each connection's plan of a foreign
//! key check. A plan made while a table is nearly empty (a new database)
//! can be one that scans the table: measured, the check of each event's
//! booking used `bookings_busy` on `account_id` with `id` as a filter, a
//! scan of every booking of the account, 2.8 ms per booking and growing.
//! Autovacuum analyzes a table once a minute at best, and then only once
//! a tenth of it changed. So every [`EVERY`] this task analyzes each table
//! of [`TABLES`] that grew by half since its last analysis (by at least
//! [`MIN_CHANGES`] rows): the `ANALYZE` makes every connection plan again
//! from the table as it is. A grown-up table is left to autovacuum (half
//! of a large table is more than autovacuum waits for).
//!
//! Harmless when it cannot: a role that does not own a table gets a
//! warning from `ANALYZE`, not an error; a failure is logged at debug level
//! and tried again next time.

use std::time::Duration;

use diesel::sql_types::Text;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use tokio::task::JoinHandle;

use crate::sql::Statement;

/// The store's pool (as `store.rs` names it; spelled out here so this
/// module stays below `store.rs`).
type PgPool = diesel_async::pooled_connection::deadpool::Pool<diesel_async::AsyncPgConnection>;

/// How often the task looks.
const EVERY: Duration = Duration::from_secs(5);

/// The tables every booking grows, which are looked up by key.
const TABLES: [&str; 4] = [
    "bookings",
    "events",
    "webhook_deliveries",
    "calendar_writes",
];

/// Fewer changed rows than this never trigger an analysis.
const MIN_CHANGES: i64 = 1_000;

/// Stops the task when dropped (with the store).
pub(crate) struct StatisticsKeeper {
    task: JoinHandle<()>,
}

impl Drop for StatisticsKeeper {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StatisticsKeeper {
    /// Starts the task, which borrows a connection from `pool` each time.
    pub(crate) fn start(pool: PgPool) -> StatisticsKeeper {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = refresh(&pool).await {
                    tracing::debug!(error = %e, "refreshing table statistics failed; will retry");
                }
            }
        });
        StatisticsKeeper { task }
    }
}

/// Analyzes each table of [`TABLES`] that grew by half since its last
/// analysis (never analyzed: by [`MIN_CHANGES`] rows).
async fn refresh(pool: &PgPool) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let stale: Vec<String> = Statement::<Text>::new(
        "SELECT s.relname::text FROM pg_stat_user_tables s \
         JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname = current_schema() AND s.relname = ANY($1) \
           AND s.n_mod_since_analyze >= $2 \
           AND s.n_mod_since_analyze > greatest(c.reltuples, 0) / 2",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(TABLES.map(str::to_owned).to_vec())
    .bind::<diesel::sql_types::BigInt, _>(MIN_CHANGES)
    .load(&mut conn)
    .await
    .map_err(|e| e.to_string())?;
    for table in &stale {
        // Only names of TABLES come back: no quoting needed.
        if TABLES.contains(&table.as_str()) {
            conn.batch_execute(&format!("ANALYZE {table}"))
                .await
                .map_err(|e| e.to_string())?;
            tracing::debug!(table = %table, "analyzed a grown table");
        }
    }
    Ok(())
}
