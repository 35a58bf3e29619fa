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
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(body);
    let mut tag = String::with_capacity(2 * TAG_BYTES + 2);
    tag.push('"');
    for &byte in digest.iter().take(TAG_BYTES) {
        tag.push(char::from(HEX[usize::from(byte >> 4)]));
        tag.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    tag.push('"');
    tag
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
