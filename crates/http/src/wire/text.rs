//! Control characters in request text, refused in one place for every route.
//!
//! Every string a client sends (each JSON string, object key included, in a
//! body, and each query parameter) is checked here before it is read into
//! a wire type: NUL and the other control characters (U+0000-U+001F,
//! U+007F) are a VALIDATION_ERROR naming the field, whatever the store
//! would do with them (Postgres refuses NUL in text, SQLite keeps it). Tab
//! and newline are allowed only in the free-text fields [`MULTILINE`].

use booking_domain::ValidationError;
use serde_json::Value;

/// The body fields whose text may hold tab (U+0009) and newline (U+000A):
/// a service's or webhook's `description`, a booking's `notes`, a
/// cancellation's `reason`. Dotted paths, as in `details.field`.
pub const MULTILINE: &[&str] = &["description", "notes", "reason"];

/// Whether `c` is a control character no text field takes: U+0000-U+001F
/// and U+007F (C1 controls, U+0080-U+009F, are ordinary text here).
pub fn is_control(c: char) -> bool {
    c <= '\u{1f}' || c == '\u{7f}'
}

/// The first refused character of `text`; `multiline` lets tab and newline
/// through.
fn refused(text: &str, multiline: bool) -> Option<char> {
    text.chars()
        .find(|&c| is_control(c) && !(multiline && (c == '\t' || c == '\n')))
}

fn error(field: &str, c: char, multiline: bool) -> ValidationError {
    let allowed = if multiline {
        " other than tab and newline"
    } else {
        ""
    };
    ValidationError::new(
        field,
        format!(
            "must not contain control characters{allowed} (found U+{:04X})",
            u32::from(c)
        ),
    )
}

/// Checks one text value (a query parameter, a header) named `field`.
pub fn check(text: &str, field: &str) -> Result<(), ValidationError> {
    match refused(text, false) {
        Some(c) => Err(error(field, c, false)),
        None => Ok(()),
    }
}

/// Checks every string of a JSON body, keys included. Bodies that are not
/// JSON pass (the typed parse reports them).
///
/// In JSON text a control character can only be written as an escape
/// (`\u0000`, `\n`, ...) or, for U+007F, as itself: a body with neither a
/// backslash nor that byte is accepted without being parsed twice.
pub fn check_json(bytes: &[u8]) -> Result<(), ValidationError> {
    if !bytes.iter().any(|&b| b == b'\\' || b == 0x7f) {
        return Ok(());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => walk(&value, &mut String::new()),
        Err(_) => Ok(()),
    }
}

/// Checks `value`, found at `path` (`""` for the whole body).
fn walk(value: &Value, path: &mut String) -> Result<(), ValidationError> {
    match value {
        Value::String(text) => {
            let multiline = MULTILINE.contains(&path.as_str());
            // A body that is just a string is the body.
            let field = if path.is_empty() { "body" } else { path };
            match refused(text, multiline) {
                Some(c) => Err(error(field, c, multiline)),
                None => Ok(()),
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(map) => {
            for (key, item) in map {
                if let Some(c) = refused(key, false) {
                    // A key is named by the object holding it (metadata
                    // keys are reported on `metadata`, as their other rules are).
                    let field = if path.is_empty() { "body" } else { path };
                    return Err(ValidationError::new(
                        field,
                        format!(
                            "keys must not contain control characters (found U+{:04X})",
                            u32::from(c)
                        ),
                    ));
                }
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                walk(item, path)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(json: &str) -> Option<String> {
        check_json(json.as_bytes()).err().map(|e| e.field)
    }

    #[test]
    fn every_control_character_is_refused_and_named() {
        for c in (0u32..0x20).chain([0x7f]) {
            let escaped = format!("\\u{c:04x}");
            assert_eq!(
                field_of(&format!(r#"{{"customer": {{"name": "a{escaped}b"}}}}"#)).as_deref(),
                Some("customer.name"),
                "U+{c:04X}"
            );
            assert_eq!(
                field_of(&format!(r#"{{"events": ["x", "{escaped}"]}}"#)).as_deref(),
                Some("events[1]")
            );
            assert_eq!(
                field_of(&format!(r#"{{"metadata": {{"k{escaped}": "v"}}}}"#)).as_deref(),
                Some("metadata")
            );
            assert_eq!(
                field_of(&format!(r#"{{"metadata": {{"notes": "{escaped}"}}}}"#)).as_deref(),
                Some("metadata.notes")
            );
            let free = field_of(&format!(r#"{{"notes": "{escaped}"}}"#));
            if c == 0x09 || c == 0x0a {
                assert_eq!(free, None);
            } else {
                assert_eq!(free.as_deref(), Some("notes"), "U+{c:04X}");
            }
        }
        // U+007F written as itself, and the short escapes.
        assert_eq!(field_of("{\"name\": \"a\u{7f}\"}").as_deref(), Some("name"));
        assert_eq!(
            field_of(r#"{"reason": "a\r\n"}"#).as_deref(),
            Some("reason")
        );
        assert_eq!(field_of(r#"{"description": "a\tb\nc"}"#), None);
        // A body that is nothing but a string.
        assert_eq!(field_of(r#""\u0000""#).as_deref(), Some("body"));
    }

    #[test]
    fn ordinary_text_and_escapes_pass() {
        assert_eq!(field_of(r#"{"name": "a\\nb \"q\" \u00e9 \u0080"}"#), None);
        assert_eq!(field_of(r#"{"name": "plain"}"#), None);
        assert_eq!(field_of("not json \\u0000"), None);
        assert!(check("2024-01-20T10:00:00Z", "from").is_ok());
        assert_eq!(
            check("a\u{0}", "service").map_err(|e| e.field),
            Err("service".to_owned())
        );
    }
}
