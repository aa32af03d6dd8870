//! The checks every validated field builds on: free text and counts. Each
//! names the request field it checks.

use crate::Error;

/// Checks a free-text field: trimmed, non-empty, at most `max` characters, no
/// control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// Like [`text`], but an empty value is allowed.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<String, Error> {
    if value.trim().is_empty() {
        return Ok(String::new());
    }
    text(field, value, max)
}

/// Checks an integer count in `min..=max`.
pub fn count(field: &str, value: i64, min: i64, max: i64) -> Result<i64, Error> {
    if value < min {
        return Err(Error::invalid(field, format!("must be at least {min}")));
    }
    if value > max {
        return Err(Error::invalid(field, format!("must be at most {max}")));
    }
    Ok(value)
}
