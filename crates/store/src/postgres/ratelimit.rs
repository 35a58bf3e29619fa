//! Rate limits shared by every server instance: GCRA in one statement.
//!
//! Each `(key, limit name)` has one row holding its theoretical arrival
//! time (`tat`, microseconds). With `T = period / quota` and
//! `burst = quota * T`, a request at `now` is allowed when
//! `max(tat, now) + T - now <= burst`, and then moves `tat` to
//! `max(tat, now) + T`: a burst of `quota`, then one request per `T` — the
//! same semantics as the in-process governor limiter. `now` is the
//! database's clock, read once per statement, so instances with skewed
//! clocks agree; the upsert's row lock makes concurrent checks of one key
//! queue up instead of double-counting.

use async_trait::async_trait;
use booking_domain::ports::{RateDecision, RateLimit, RateLimiter, StorageError};
use diesel::sql_query;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::RunQueryDsl;

use super::store::PostgresStore;
use crate::TxError;
use crate::sql::Statement;

/// One GCRA step. `$1` key, `$2` limit name, `$3` T (µs), `$4` burst (µs).
/// The `MATERIALIZED` CTE evaluates the (volatile) clock exactly once.
/// (A cached statement: `sql_query` would be parsed and planned again on
/// every request.)
const GCRA: &str = r#"
WITH clock AS MATERIALIZED (
    SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now
)
INSERT INTO rate_limits AS r ("key", name, tat, allowed, seen)
SELECT $1, $2, clock.now + $3, TRUE, clock.now FROM clock
ON CONFLICT ("key", name) DO UPDATE SET
    allowed = GREATEST(r.tat, GREATEST((SELECT now FROM clock), r.seen)) + $3
        - GREATEST((SELECT now FROM clock), r.seen) <= $4,
    tat = CASE
        WHEN GREATEST(r.tat, GREATEST((SELECT now FROM clock), r.seen)) + $3
            - GREATEST((SELECT now FROM clock), r.seen) <= $4
        THEN GREATEST(r.tat, GREATEST((SELECT now FROM clock), r.seen)) + $3
        ELSE r.tat
    END,
    seen = GREATEST((SELECT now FROM clock), r.seen)
RETURNING r.tat, r.allowed, r.seen AS now
"#;

/// A key's arrival time and the database's clock (µs), counting nothing:
/// no row is the same as an arrival time in the past. `$1` key, `$2`
/// limit name.
const PEEK: &str = r#"
WITH clock AS MATERIALIZED (
    SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now
)
SELECT coalesce((SELECT greatest(r.tat, 0) FROM rate_limits r
        WHERE r."key" = $1 AND r.name = $2), 0), clock.now
FROM clock
"#;

/// Rows of keys whose quota is whole again carry no information.
const FORGET_IDLE: &str = r#"
DELETE FROM rate_limits
WHERE tat < (extract(epoch FROM clock_timestamp()) * 1000000)::bigint
"#;

const MICROS: i64 = 1_000_000;
const MICROS_U64: u64 = 1_000_000;

/// The row [`GCRA`] returns.
#[derive(Debug)]
struct Step {
    tat: i64,
    allowed: bool,
    now: i64,
}

/// `T` and `burst` in microseconds for a limit (quota and period at least 1,
/// like the governor limiter).
fn parameters(limit: &RateLimit) -> (i64, i64) {
    let quota = i64::from(limit.quota.max(1));
    let period = i64::from(limit.period_secs.max(1)) * MICROS;
    let t = (period / quota).max(1);
    (t, t * quota)
}

/// Ceiling of `micros / 1e6`, at least 0.
fn ceil_secs(micros: i64) -> u64 {
    u64::try_from(micros).map_or(0, |m| m.div_ceil(MICROS_U64))
}

/// The answer for one step of [`GCRA`].
fn decision(limit: &RateLimit, step: &Step) -> RateDecision {
    let (t, burst) = parameters(limit);
    let quota = limit.quota.max(1);
    let ahead = step.tat.saturating_sub(step.now).max(0);
    let remaining = (burst - ahead).max(0) / t;
    RateDecision {
        allowed: step.allowed,
        remaining: u32::try_from(remaining).unwrap_or(quota).min(quota),
        reset_secs: ceil_secs(ahead),
        retry_after_secs: if step.allowed {
            0
        } else {
            ceil_secs(ahead - burst + t).max(1)
        },
    }
}

impl PostgresStore {
    /// Deletes the rate-limit rows of keys whose quota is whole again (they
    /// behave exactly like absent rows); returns how many. Call it now and
    /// then, like `GovernorLimiter::forget_idle`.
    pub async fn forget_idle_rate_limits(&self) -> Result<usize, StorageError> {
        self.run("forget_idle_rate_limits", |conn| {
            Box::pin(async move { Ok(sql_query(FORGET_IDLE).execute(conn).await?) })
        })
        .await
        .map_err(TxError::storage)
    }
}

#[async_trait]
impl RateLimiter for PostgresStore {
    async fn check(&self, key: &str, limit: &RateLimit) -> Result<RateDecision, StorageError> {
        let (t, burst) = parameters(limit);
        let key = key.to_owned();
        let name = limit.name.clone();
        let step = self
            .run("rate_limit", |conn| {
                let (key, name) = (key.clone(), name.clone());
                Box::pin(async move {
                    let (tat, allowed, now): (i64, bool, i64) =
                        Statement::<(BigInt, Bool, BigInt)>::new(GCRA)
                            .bind::<Text, _>(key)
                            .bind::<Text, _>(name)
                            .bind::<BigInt, _>(t)
                            .bind::<BigInt, _>(burst)
                            .get_result(conn)
                            .await?;
                    Ok(Step { tat, allowed, now })
                })
            })
            .await
            .map_err(TxError::storage)?;
        Ok(decision(limit, &step))
    }

    async fn peek(&self, key: &str, limit: &RateLimit) -> Result<RateDecision, StorageError> {
        let (key, name) = (key.to_owned(), limit.name.clone());
        let (tat, now) = self
            .run("rate_limit_peek", |conn| {
                let (key, name) = (key.clone(), name.clone());
                Box::pin(async move {
                    Ok(Statement::<(BigInt, BigInt)>::new(PEEK)
                        .bind::<Text, _>(key)
                        .bind::<Text, _>(name)
                        .get_result::<(i64, i64)>(conn)
                        .await?)
                })
            })
            .await
            .map_err(TxError::storage)?;
        let mut d = decision(
            limit,
            &Step {
                tat,
                allowed: true,
                now,
            },
        );
        d.allowed = d.remaining > 0;
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(quota: u32, period_secs: u32) -> RateLimit {
        RateLimit {
            name: "bookings".into(),
            quota,
            period_secs,
        }
    }

    #[test]
    fn decisions_follow_gcra() {
        let l = limit(10, 60);
        let (t, burst) = parameters(&l);
        assert_eq!((t, burst), (6_000_000, 60_000_000));
        let now = 1_000_000_000;
        // First request: one slot used.
        let first = decision(
            &l,
            &Step {
                tat: now + t,
                allowed: true,
                now,
            },
        );
        assert_eq!(
            first,
            RateDecision {
                allowed: true,
                remaining: 9,
                reset_secs: 6,
                retry_after_secs: 0
            }
        );
        // The tenth: none left, whole again in a minute.
        let tenth = decision(
            &l,
            &Step {
                tat: now + burst,
                allowed: true,
                now,
            },
        );
        assert_eq!((tenth.remaining, tenth.reset_secs), (0, 60));
        // Refused right after: one slot frees in T.
        let refused = decision(
            &l,
            &Step {
                tat: now + burst,
                allowed: false,
                now,
            },
        );
        assert_eq!((refused.remaining, refused.retry_after_secs), (0, 6));
        // Refused just before the slot frees: still at least a second.
        let almost = decision(
            &l,
            &Step {
                tat: now + burst - t + 1,
                allowed: false,
                now,
            },
        );
        assert_eq!(almost.retry_after_secs, 1);
    }

    #[test]
    fn degenerate_limits_are_clamped() {
        assert_eq!(parameters(&limit(0, 0)), (1_000_000, 1_000_000));
        assert_eq!(parameters(&limit(u32::MAX, 1)), (1, i64::from(u32::MAX)));
    }
}
