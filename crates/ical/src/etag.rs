//! Strong ETags for rendered calendars.

use sha2::{Digest, Sha256};

/// How many bytes of the SHA-256 digest the tag keeps (128 bits).
const TAG_BYTES: usize = 16;

/// A strong ETag for `body`: the first 128 bits of its SHA-256 in lower-case
/// hex, quoted (`"3f1c…"`, 34 characters), ready for the `ETag` header.
///
/// Strong, because equal tags mean byte-identical bodies (rendering is a
/// pure function of the data, see the crate docs), so clients can
/// revalidate with `If-None-Match` and get `304 Not Modified`.
pub fn etag(body: &[u8]) -> String {
    quoted_tag("", &Sha256::digest(body))
}

/// `"<prefix><first TAG_BYTES of digest in hex>"`.
fn quoted_tag(prefix: &str, digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut tag = String::with_capacity(2 * TAG_BYTES + 2 + prefix.len());
    tag.push('"');
    tag.push_str(prefix);
    for &byte in digest.iter().take(TAG_BYTES) {
        tag.push(char::from(HEX[usize::from(byte >> 4)]));
        tag.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    tag.push('"');
    tag
}

/// A strong ETag for the feed [`crate::render_feed`] would render from
/// these arguments, computed from the inputs without rendering, so answering
/// `If-None-Match` with `304` costs no rendering.
///
/// The rendered body is a pure function of exactly what is hashed here (the
/// renderer's version, the calendar's name and refresh interval, and every
/// booking field the output uses), so the tag changes exactly when the body
/// does. A different tag than [`etag`] of the body, but equally strong.
pub fn feed_tag<'a>(
    meta: &crate::CalendarMeta<'_>,
    entries: impl IntoIterator<Item = crate::Entry<'a>>,
) -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(crate::PRODID.as_bytes());
    field(b"feed-v1");
    field(meta.name.as_bytes());
    field(&meta.refresh.as_secs().to_le_bytes());
    for e in entries {
        let b = e.booking;
        field(b.id.as_str().as_bytes());
        field(e.service_name.as_bytes());
        field(b.customer.name.as_bytes());
        field(b.notes.as_deref().unwrap_or("").as_bytes());
        field(b.status.name().as_bytes());
        field(&b.sequence.to_le_bytes());
        field(&b.duration.get().to_le_bytes());
        for t in [b.scheduled_at, b.created_at, b.updated_at] {
            field(&t.as_second().to_le_bytes());
        }
    }
    // `f` keeps these tags apart from body tags.
    quoted_tag("f", &h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_hex_prefix_of_sha256() {
        // SHA-256("") = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
        assert_eq!(etag(b""), "\"e3b0c44298fc1c149afbf4c8996fb924\"");
        assert_eq!(etag(b"a").len(), 34);
        assert_ne!(etag(b"a"), etag(b"b"));
    }
}
