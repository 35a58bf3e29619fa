//! Escaping of TEXT values (RFC 5545 §3.3.11).
//!
//! ```text
//! ESCAPED-CHAR = ("\\" / "\;" / "\," / "\N" / "\n")
//! TSAFE-CHAR   = WSP / %x21 / %x23-2B / %x2D-39 / %x3C-5B / %x5D-7E / NON-US-ASCII
//! ```
//!
//! Backslash, semicolon and comma are escaped; a newline (LF, CRLF or a lone
//! CR, since TEXT cannot carry a carriage return) becomes `\n`. Control
//! characters other than tab are not allowed in TEXT and are dropped. Every
//! byte that needs handling is ASCII, so the scan works on bytes and copies
//! the runs between them as they are (multi-byte sequences included).

/// Appends `value`, escaped as TEXT, to `out`.
pub(crate) fn push_escaped(out: &mut String, value: &str) {
    let bytes = value.as_bytes();
    let mut run_start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let replacement = match b {
            b'\\' => "\\\\",
            b';' => "\\;",
            b',' => "\\,",
            b'\n' => "\\n",
            // CRLF is one newline: the LF that follows writes it.
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => "",
            b'\r' => "\\n",
            0x00..=0x08 | 0x0b | 0x0c | 0x0e..=0x1f | 0x7f => "",
            _ => continue,
        };
        // `i` indexes an ASCII byte, so both slices end on character boundaries.
        out.push_str(&value[run_start..i]);
        out.push_str(replacement);
        run_start = i + 1;
    }
    out.push_str(&value[run_start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(value: &str) -> String {
        let mut out = String::new();
        push_escaped(&mut out, value);
        out
    }

    #[test]
    fn escapes_the_four_specials() {
        assert_eq!(escaped(r"a\b;c,d"), r"a\\b\;c\,d");
        assert_eq!(escaped("one\ntwo"), r"one\ntwo");
        assert_eq!(escaped("plain: text"), "plain: text");
        assert_eq!(escaped(""), "");
    }

    #[test]
    fn every_newline_form_is_one_newline() {
        assert_eq!(escaped("a\r\nb\rc\nd"), r"a\nb\nc\nd");
        assert_eq!(escaped("\r\r\n\n\r"), r"\n\n\n\n");
        assert_eq!(escaped("end\r"), r"end\n");
    }

    #[test]
    fn controls_are_dropped_but_tab_and_unicode_kept() {
        assert_eq!(escaped("a\u{0}b\u{1b}c\u{7f}d\te"), "abcd\te");
        assert_eq!(escaped("café 日本 🎉\u{85}"), "café 日本 🎉\u{85}");
        assert_eq!(escaped("é,\\é"), r"é\,\\é");
    }
}
