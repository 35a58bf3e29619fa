//! Webhook delivery for booking events, per the Standard Webhooks
//! specification: signing, an HTTP transport that refuses private targets,
//! the retry schedule, and the worker that drains the outbox.

pub mod schedule;
pub mod signing;
pub mod transport;

/// The SSRF guard (shared with the external-calendar adapters).
pub use booking_netguard as ssrf;
pub use booking_netguard::{
    GuardedResolver, TargetError, check_target, check_url_syntax, forbidden_reason,
};
pub use schedule::{RetryPolicy, ScheduleError, parse_delays, parse_duration};
pub use signing::{SecretError, WebhookSecret, sign, verify};
pub use transport::{AttemptOutcome, Transport, TransportError};
pub mod worker;

pub use worker::{NoObserver, Observer, RenderBody, Worker, WorkerConfig};

use async_trait::async_trait;
use booking_domain::ports::WebhookTargets;

/// The SSRF guard as the domain's [`WebhookTargets`] port: the checks of
/// [`check_target`] (scheme, host, and every address the host resolves to).
/// A host that does not resolve is accepted (nothing private can be
/// reached through it now; the resolver checks again at each attempt).
#[derive(Debug, Clone, Copy)]
pub struct TargetGuard {
    /// Allow `http://` and private, loopback and link-local targets
    /// (`BOOKING_WEBHOOK_ALLOW_PRIVATE`).
    pub allow_private: bool,
}

#[async_trait]
impl WebhookTargets for TargetGuard {
    async fn check(&self, url: &str) -> Result<(), String> {
        match check_target(url, self.allow_private).await {
            Ok(_) => Ok(()),
            // A name that does not resolve (yet) is no private target: the
            // receiver may not be deployed yet, or DNS may be down. The
            // guard runs again at every attempt, through the resolver.
            Err(TargetError::HostNotFound | TargetError::LookupTimedOut) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}
