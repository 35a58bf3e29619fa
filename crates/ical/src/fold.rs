//! Content-line folding (RFC 5545 §3.1).
//!
//! "Lines of text SHOULD NOT be longer than 75 octets, excluding the line
//! break. Long content lines SHOULD be split into a multiple line
//! representations using a line 'folding' technique. That is, a long line
//! can be split between any two characters by inserting a CRLF immediately
//! followed by a single linear white-space character."
//!
//! The white-space character is part of the physical line, so a
//! continuation line holds at most 74 octets of content. Folds go only
//! between characters (UTF-8 sequences), never inside one: the RFC allows
//! splitting a sequence, but clients that decode each physical line before
//! unfolding then show replacement characters.
//!
//! [`refold`] takes serialised content lines that may already be folded at
//! any width (the `ics` crate folds at 76) and writes them folded at 75.

/// The most octets a physical line may hold, CRLF excluded.
pub(crate) const MAX_LINE_OCTETS: usize = 75;

/// Appends `src`, a sequence of CRLF-terminated content lines, to `out` with
/// every line folded at [`MAX_LINE_OCTETS`].
///
/// A physical line of `src` that starts with a space continues the previous
/// one (the fold is removed before folding again). No other line of our
/// output starts with a space: property names never do, and escaped values
/// contain neither CR nor LF. Text after the last CRLF, if any, is treated as
/// a final line.
pub(crate) fn refold(src: &str, out: &mut String) {
    let mut column = 0;
    let mut open = false;
    for physical in src.split_terminator("\r\n") {
        let content = match physical.strip_prefix(' ') {
            Some(rest) if open => rest,
            _ => {
                if open {
                    out.push_str("\r\n");
                }
                open = true;
                column = 0;
                physical
            }
        };
        column = push_folded(out, content, column);
    }
    if open {
        out.push_str("\r\n");
    }
}

/// Appends `content` to a physical line that already holds `column` octets,
/// folding where it would exceed the limit; returns the new column.
fn push_folded(out: &mut String, mut content: &str, mut column: usize) -> usize {
    loop {
        let room = MAX_LINE_OCTETS.saturating_sub(column);
        if content.len() <= room {
            out.push_str(content);
            return column + content.len();
        }
        // The longest prefix that fits and ends between characters. It may be
        // empty when a multi-byte character does not fit at the end of a full
        // line; a continuation line has room for 74 octets, so the loop always
        // progresses (a character is at most 4).
        let mut cut = room;
        while !content.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = content.split_at(cut);
        out.push_str(head);
        out.push_str("\r\n ");
        column = 1;
        content = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refolded(src: &str) -> String {
        let mut out = String::new();
        refold(src, &mut out);
        out
    }

    fn lines(out: &str) -> Vec<&str> {
        out.split_terminator("\r\n").collect()
    }

    #[test]
    fn short_lines_pass_through() {
        assert_eq!(refolded("A:b\r\nC:d\r\n"), "A:b\r\nC:d\r\n");
        assert_eq!(refolded(""), "");
        assert_eq!(refolded("A:b"), "A:b\r\n");
    }

    #[test]
    fn exactly_75_octets_is_not_folded_76_is() {
        let line75 = format!("X:{}", "a".repeat(73));
        assert_eq!(refolded(&format!("{line75}\r\n")), format!("{line75}\r\n"));
        let line76 = format!("{line75}b");
        assert_eq!(
            refolded(&format!("{line76}\r\n")),
            format!("{line75}\r\n b\r\n")
        );
    }

    #[test]
    fn continuation_lines_hold_74_octets_of_content() {
        let content = format!("X:{}", "a".repeat(73 + 74 + 10));
        let out = refolded(&format!("{content}\r\n"));
        let ls = lines(&out);
        assert_eq!(ls.len(), 3);
        assert_eq!(ls[0].len(), 75);
        assert_eq!(ls[1].len(), 75);
        assert_eq!(ls[2].len(), 11);
        assert!(ls[1].starts_with(' ') && ls[2].starts_with(' '));
    }

    #[test]
    fn removes_existing_folds_before_folding_again() {
        // What ics 0.5 writes: 75 octets, then a 76-octet continuation.
        let ics = format!(
            "X:{}\r\n {}\r\n b\r\nY:z\r\n",
            "a".repeat(73),
            "c".repeat(75)
        );
        let out = refolded(&ics);
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(
            unfolded,
            format!("X:{}{}b\r\nY:z\r\n", "a".repeat(73), "c".repeat(75))
        );
        assert!(lines(&out).iter().all(|l| l.len() <= 75));
    }

    #[test]
    fn a_continuation_starting_with_a_space_keeps_it() {
        assert_eq!(refolded("X:a\r\n  b\r\n"), "X:a b\r\n");
    }

    #[test]
    fn never_splits_a_utf8_sequence() {
        for prefix in 0..4 {
            for ch in ['é', '日', '🎉'] {
                let value: String = std::iter::repeat_n(ch, 60).collect();
                let line = format!("X:{}{value}", "a".repeat(prefix));
                let out = refolded(&line);
                // Splitting inside a sequence would panic (`split_at`), so the
                // checks are: lines fit, are filled up to the last whole
                // character, and unfold to the input.
                let ls = lines(&out);
                for l in &ls {
                    assert!(l.len() <= 75, "{l:?}");
                }
                for l in &ls[..ls.len() - 1] {
                    assert!(l.len() > 75 - ch.len_utf8(), "{l:?}");
                }
                assert_eq!(out.replace("\r\n ", ""), format!("{line}\r\n"));
            }
        }
    }
}
