//! The in-process rate limiter (SQLite deployments): governor's GCRA behind
//! the domain's [`RateLimiter`] port, one keyed limiter per configured limit.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use booking_domain::ports::{RateDecision, RateLimit, RateLimiter, StorageError};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter as Governor};

type Keyed =
    Arc<Governor<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>>;

/// Each `(limit name, key)`'s GCRA arrival time.
type Arrivals = HashMap<(String, String), Instant>;

/// In-memory limits, exact within one process.
#[derive(Default)]
pub struct GovernorLimiter {
    limiters: Mutex<HashMap<(String, u32, u32), Keyed>>,
    /// Each `(limit, key)`'s theoretical arrival time, the GCRA state
    /// governor keeps to itself, followed here step for step so that
    /// [`RateLimiter::peek`] can read it without counting a request.
    arrivals: Mutex<Arrivals>,
    clock: DefaultClock,
}

impl GovernorLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }

    fn limiter(&self, limit: &RateLimit) -> Result<Keyed, StorageError> {
        let quota = NonZeroU32::new(limit.quota.max(1)).unwrap_or(NonZeroU32::MIN);
        let per_request =
            Duration::from_secs_f64(f64::from(limit.period_secs.max(1)) / f64::from(quota.get()));
        let mut map = self
            .limiters
            .lock()
            .map_err(|_| StorageError::Internal("rate limiter lock poisoned".into()))?;
        let entry = map
            .entry((limit.name.clone(), limit.quota, limit.period_secs))
            .or_insert_with(|| {
                let q = Quota::with_period(per_request)
                    .unwrap_or_else(|| Quota::per_second(quota))
                    .allow_burst(quota);
                Arc::new(Governor::keyed(q).with_middleware::<StateInformationMiddleware>())
            });
        Ok(entry.clone())
    }

    /// Drops the state of keys that are full again (call now and then).
    pub fn forget_idle(&self) {
        if let Ok(map) = self.limiters.lock() {
            for limiter in map.values() {
                limiter.retain_recent();
            }
        }
        let now = Instant::now();
        if let Ok(mut arrivals) = self.arrivals.lock() {
            arrivals.retain(|_, tat| *tat > now);
        }
    }

    fn arrivals(&self) -> Result<std::sync::MutexGuard<'_, Arrivals>, StorageError> {
        self.arrivals
            .lock()
            .map_err(|_| StorageError::Internal("rate limiter lock poisoned".into()))
    }
}

/// The time one request takes from the quota (`period / quota`).
fn per_request(limit: &RateLimit) -> Duration {
    Duration::from_secs_f64(f64::from(limit.period_secs.max(1)) / f64::from(limit.quota.max(1)))
}

fn ceil_secs(d: Duration) -> u64 {
    let secs = d.as_secs();
    if d.subsec_nanos() > 0 { secs + 1 } else { secs }
}

#[async_trait]
impl RateLimiter for GovernorLimiter {
    async fn check(&self, key: &str, limit: &RateLimit) -> Result<RateDecision, StorageError> {
        let limiter = self.limiter(limit)?;
        let per_request = f64::from(limit.period_secs.max(1)) / f64::from(limit.quota.max(1));
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                // GCRA's step for an allowed request: the arrival time
                // moves one request past the later of itself and now.
                let now = Instant::now();
                let mut arrivals = self.arrivals()?;
                let tat = arrivals
                    .entry((limit.name.clone(), key.to_owned()))
                    .or_insert(now);
                *tat = (*tat).max(now) + self::per_request(limit);
                drop(arrivals);
                let remaining = snapshot.remaining_burst_capacity();
                let missing = limit.quota.saturating_sub(remaining);
                Ok(RateDecision {
                    allowed: true,
                    remaining,
                    reset_secs: (f64::from(missing) * per_request).ceil() as u64,
                    retry_after_secs: 0,
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let retry = ceil_secs(wait).max(1);
                Ok(RateDecision {
                    allowed: false,
                    remaining: 0,
                    reset_secs: (f64::from(limit.quota) * per_request).ceil() as u64,
                    retry_after_secs: retry,
                })
            }
        }
    }

    async fn peek(&self, key: &str, limit: &RateLimit) -> Result<RateDecision, StorageError> {
        let now = Instant::now();
        let ahead = self
            .arrivals()?
            .get(&(limit.name.clone(), key.to_owned()))
            .map_or(Duration::ZERO, |tat| tat.saturating_duration_since(now));
        let quota = limit.quota.max(1);
        let t = per_request(limit);
        let burst = t * quota;
        // Whole requests that fit in what the burst has left.
        let left = burst.saturating_sub(ahead).as_nanos() / t.as_nanos().max(1);
        let remaining = u32::try_from(left).unwrap_or(quota).min(quota);
        Ok(RateDecision {
            allowed: remaining > 0,
            remaining,
            reset_secs: ceil_secs(ahead),
            retry_after_secs: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn allows_the_quota_then_refuses_with_retry_after() {
        let limiter = GovernorLimiter::new();
        let limit = RateLimit {
            name: "bookings".into(),
            quota: 3,
            period_secs: 60,
        };
        for expected in [2, 1, 0] {
            let d = limiter.check("k", &limit).await.unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, expected);
        }
        let refused = limiter.check("k", &limit).await.unwrap();
        assert!(!refused.allowed);
        assert!((1..=20).contains(&refused.retry_after_secs), "{refused:?}");
        // Other keys have their own budget.
        assert!(limiter.check("other", &limit).await.unwrap().allowed);
    }
}
