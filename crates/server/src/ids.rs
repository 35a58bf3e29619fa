//! Random ids and secrets from the operating system's CSPRNG.

use booking_domain::IdKind;
use booking_domain::ports::IdGenerator;
use rand::Rng;
use rand::TryRngCore;
use rand::rngs::OsRng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Ids with 22 base62 characters (about 131 random bits) after the prefix.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

fn base62(len: usize) -> String {
    // The thread RNG is a CSPRNG seeded from the OS; OsRng is the fallback
    // check that the OS source works at all.
    let mut rng = rand::rng();
    (0..len)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect()
}

impl RandomIds {
    /// Checks that the operating system's randomness source answers.
    pub fn check() -> anyhow::Result<()> {
        let mut buf = [0u8; 8];
        OsRng
            .try_fill_bytes(&mut buf)
            .map_err(|e| anyhow::anyhow!("no OS randomness: {e}"))
    }
}

impl IdGenerator for RandomIds {
    fn new_id(&self, kind: IdKind) -> String {
        format!("{}{}", kind.prefix(), base62(22))
    }

    fn secret(&self, len: usize) -> String {
        base62(len)
    }

    fn webhook_secret(&self) -> String {
        booking_webhooks::WebhookSecret::generate(rand::random::<[u8; 32]>())
    }
}
