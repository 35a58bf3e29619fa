//! Ids and secrets: random parts from the operating system's CSPRNG.

use booking_domain::IdKind;
use booking_domain::ports::IdGenerator;
use rand::Rng;
use rand::TryRngCore;
use rand::rngs::OsRng;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Ids: after the prefix, [`TIME_CHARS`] base62 characters of the
/// creation time, then [`RANDOM_CHARS`] random ones (about 101 bits; the
/// contract asks for at least 96).
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

/// Base62 characters of an id's creation time: milliseconds since 1970,
/// enough until the year 8888. The base62 digits are in ASCII order, so
/// ids of one kind sort by creation time and a new id lands at the end of
/// every index on it. With ids wholly random, each new booking wrote into
/// a random page of each such index (bookings, events, the calendar write
/// outbox): one more page to journal and commit per index and booking.
const TIME_CHARS: usize = 8;

/// Random base62 characters of an id (17 × log2(62) ≈ 101 bits).
const RANDOM_CHARS: usize = 17;

/// `value` as `width` base62 digits, most significant first (the lowest
/// `width` digits when it needs more).
fn base62_fixed(mut value: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    for digit in digits.iter_mut().rev() {
        // `value % 62` is below 62: always an index into BASE62.
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    digits.into_iter().map(char::from).collect()
}

/// Milliseconds since 1970 now (0 for a clock set before 1970).
fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

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
        format!(
            "{}{}{}",
            kind.prefix(),
            base62_fixed(now_millis(), TIME_CHARS),
            base62(RANDOM_CHARS)
        )
    }

    fn secret(&self, len: usize) -> String {
        base62(len)
    }

    fn webhook_secret(&self) -> String {
        booking_webhooks::WebhookSecret::generate(rand::random::<[u8; 32]>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_its_prefix_a_time_and_96_random_bits() {
        let id = RandomIds.new_id(IdKind::Booking);
        let rest = id.strip_prefix("bk_").unwrap_or_else(|| panic!("{id}"));
        assert_eq!(rest.len(), TIME_CHARS + RANDOM_CHARS, "{id}");
        assert!(rest.bytes().all(|b| BASE62.contains(&b)), "{id}");
        // The contract asks for at least 96 random bits.
        assert!(RANDOM_CHARS as f64 * 62f64.log2() >= 96.0);
        assert_ne!(id, RandomIds.new_id(IdKind::Booking));
    }

    #[test]
    fn ids_sort_by_creation_time() {
        // Base62 digits in ASCII order: the time part sorts as the number.
        let times = [
            0,
            61,
            62,
            3_843,
            1_700_000_000_000,
            1_800_000_000_000,
            62u64.pow(8) - 1,
        ];
        let texts: Vec<String> = times.iter().map(|&t| base62_fixed(t, TIME_CHARS)).collect();
        assert!(texts.windows(2).all(|w| w[0] < w[1]), "{texts:?}");
        assert_eq!(base62_fixed(61, 3), "00z");
        let earlier = RandomIds.new_id(IdKind::Event);
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = RandomIds.new_id(IdKind::Event);
        assert!(earlier < later, "{earlier} then {later}");
    }
}
