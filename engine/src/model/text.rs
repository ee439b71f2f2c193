//! Free text people type: notes (a visit's, an order's), reasons (a review's, a
//! decline's, a correction's) and names. The same limits hold on every phone, in the
//! console and in the registry, and the relay refuses longer text in any change (the
//! documents' shape): every text travels to the station's phones inside the documents,
//! over mobile data.

use crate::error::Error;

/// Longest note, in characters (a visit's, an order's).
pub const MAX_NOTE_CHARS: usize = 500;

/// Longest reason, in characters (a review's, a decline's, a correction's).
pub const MAX_REASON_CHARS: usize = 200;

/// Longest name, in characters (a member's, a station's, a service's).
pub const MAX_NAME_CHARS: usize = 100;

/// Checks a note: at most [`MAX_NOTE_CHARS`] characters; it may run over several lines
/// (tabs and line breaks), but holds no other control character (a terminal escape, a NUL).
pub fn check_note(note: &str) -> Result<(), Error> {
    check_length("note", note, MAX_NOTE_CHARS)?;
    if note.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(Error::invalid("the note holds a control character; write only text, tabs and line breaks"));
    }
    Ok(())
}

/// Checks a reason: at most [`MAX_REASON_CHARS`] characters, on one line (no control
/// characters at all: a reason is shown in one line of a list).
pub fn check_reason(reason: &str) -> Result<(), Error> {
    check_length("reason", reason, MAX_REASON_CHARS)?;
    if reason.chars().any(char::is_control) {
        return Err(Error::invalid("the reason holds a line break or another control character; write it on one line"));
    }
    Ok(())
}

fn check_length(what: &str, text: &str, max: usize) -> Result<(), Error> {
    let chars = text.chars().count();
    if chars > max {
        return Err(Error::invalid(format!("the {what} has {chars} characters; a {what} has at most {max}, shorten it")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_and_reasons_have_a_length_and_one_line() {
        assert!(check_note(&"饭".repeat(MAX_NOTE_CHARS)).is_ok());
        let long = check_note(&"饭".repeat(MAX_NOTE_CHARS + 1)).unwrap_err();
        assert!(long.to_string().contains("the note has 501 characters; a note has at most 500"), "{long}");
        assert!(check_reason(&"x".repeat(MAX_REASON_CHARS)).is_ok());
        assert!(check_reason(&"x".repeat(MAX_REASON_CHARS + 1)).is_err());
        let broken = check_reason("away\nall week").unwrap_err();
        assert!(broken.to_string().contains("write it on one line"), "{broken}");
        assert!(check_note("").is_ok());
        assert!(check_note("tea,\tthen chess\r\nand a walk").is_ok());
        let escape = check_note("tea\u{1b}[31m").unwrap_err();
        assert!(escape.to_string().contains("holds a control character"), "{escape}");
    }
}
