//! Text from a snapshot (names, link targets, host names) or from the
//! server, made safe to print: a file name may hold terminal control
//! sequences, and a snapshot another machine wrote is not to be trusted
//! with the restoring user's terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character (C0, DEL, C1) and every
/// bidirectional override escaped as `\xNN` or `\u{NNNN}`; a newline too,
/// so one name cannot pass for two lines.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_but(text, false)
}

/// [`escape`], keeping newlines: for a message of several lines whose
/// parts were escaped already or come from Cairn itself.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_but(text, true)
}

fn escape_but(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| unsafe_to_print(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if u32::from(c) < 0x100 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

fn unsafe_to_print(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_plain_text_is_not() {
        assert!(matches!(escape("notes.txt"), Cow::Borrowed("notes.txt")));
        assert_eq!(escape("überweisung.pdf"), "überweisung.pdf");
        assert_eq!(
            escape("a\x1b]0;owned\x07b\x1b[2J"),
            "a\\x1b]0;owned\\x07b\\x1b[2J"
        );
        assert_eq!(escape("line\nforged: ok\r"), "line\\x0aforged: ok\\x0d");
        assert_eq!(escape("\u{9b}31m"), "\\x9b31m");
        assert_eq!(escape("txt.\u{202e}exe"), "txt.\\u{202e}exe");
        assert_eq!(escape_lines("one\ntwo\x1b"), "one\ntwo\\x1b");
    }
}
