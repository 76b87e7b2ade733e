//! Output helpers: aligned tables, sizes, dates, and the JSON shapes scripts rely on.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Left (text).
    Left,
    /// Right (numbers).
    Right,
}

/// A plain text table with a header row and aligned columns.
#[derive(Debug)]
pub(crate) struct Table {
    header: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub(crate) fn new(columns: &[(&str, Align)]) -> Self {
        Self {
            header: columns.iter().map(|(n, a)| ((*n).to_owned(), *a)).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are blank).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, no trailing spaces.
    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|(n, _)| width(n)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                widths[i] = widths[i].max(width(&escape_terminal(cell)));
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.header.iter().map(|(n, _)| n.clone()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (_, align)) in self.header.iter().enumerate() {
                let cell = row.get(i).map_or("", String::as_str);
                let cell = &*escape_terminal(cell);
                let pad = widths[i].saturating_sub(width(cell));
                if i > 0 {
                    line.push_str("  ");
                }
                match align {
                    Align::Left => {
                        line.push_str(cell);
                        line.extend(std::iter::repeat_n(' ', pad));
                    }
                    Align::Right => {
                        line.extend(std::iter::repeat_n(' ', pad));
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// True for the bidirectional formatting characters, which reorder what a terminal shows
/// (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069).
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// True for characters that must not reach a terminal as they are: C0 controls, DEL, C1
/// controls (escape sequences, titles, cursor moves) and bidirectional controls.
pub(crate) fn is_terminal_control(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

/// `s` with every terminal control character written as a visible escape (`\u{1b}`), for
/// one line of text from a server or a message: it cannot move the cursor, change the
/// terminal, reorder the line or start a new one.
pub(crate) fn escape_terminal(s: &str) -> Cow<'_, str> {
    escape_with(s, |_| false)
}

/// As [`escape_terminal`] for a multi-line body: newlines and tabs are kept, a CR before a
/// newline is dropped, and every other control is escaped.
pub(crate) fn escape_terminal_text(s: &str) -> Cow<'_, str> {
    let s = if s.contains('\r') {
        Cow::Owned(s.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(s)
    };
    match escape_with(&s, |c| c == '\n' || c == '\t') {
        Cow::Borrowed(_) => s,
        Cow::Owned(escaped) => Cow::Owned(escaped),
    }
}

fn escape_with(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_terminal_control(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_terminal_control(c) && !keep(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut; control and bidi
/// characters are escaped first (a subject must not move the terminal's cursor).
pub(crate) fn clip(s: &str, max: usize) -> String {
    let clean = escape_terminal(s);
    if clean.chars().count() <= max {
        return clean.into_owned();
    }
    let mut out: String = clean.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A byte count for people: `512 B`, `1.5 KiB`, `12.0 MiB`.
pub(crate) fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM` (UTC), for tables.
pub(crate) fn short_date(secs: i64) -> String {
    let full = rfc3339(secs);
    full.get(..16).map_or(full.clone(), |s| s.replace('T', " "))
}

pub(crate) use inbound_retrieve::json::{address, addresses, rfc3339, summary_json};

/// Prints JSON to standard output, pretty when it goes to a terminal.
pub(crate) fn print_json(value: &impl Serialize) -> Result<(), crate::error::CliError> {
    use std::io::IsTerminal as _;
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .map_err(|e| crate::error::CliError::failed(format!("JSON output: {e}")))?;
    println!("{text}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_751_364_000), "2025-07-01T10:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(short_date(1_751_364_000), "2025-07-01 10:00");
    }

    #[test]
    fn sizes() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(50 * 1024 * 1024), "50.0 MiB");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&[("account", Align::Left), ("fetched", Align::Right)]);
        t.row(vec!["work".into(), "12".into()]);
        t.row(vec!["a-long-name".into(), "3".into()]);
        assert_eq!(
            t.render(),
            "account      fetched\nwork              12\na-long-name        3\n"
        );
    }

    #[test]
    fn clipping() {
        assert_eq!(clip("hello", 10), "hello");
        assert_eq!(clip("hello world", 6), "hello…");
        assert_eq!(clip("a\x1b[2Jb", 20), "a\\u{1b}[2Jb");
    }

    #[test]
    fn terminal_controls_are_escaped() {
        // C0, DEL, C1 and bidi controls; plain text (with non-ASCII) is untouched.
        assert_eq!(escape_terminal("Grüße"), "Grüße");
        assert!(matches!(escape_terminal("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape_terminal("a\x1b]0;pwned\x07b\x7fc\u{9b}d"),
            "a\\u{1b}]0;pwned\\u{7}b\\u{7f}c\\u{9b}d"
        );
        assert_eq!(
            escape_terminal("invoice\u{202E}fdp.exe\u{2066}\u{200F}\u{61C}"),
            "invoice\\u{202e}fdp.exe\\u{2066}\\u{200f}\\u{61c}"
        );
        assert_eq!(escape_terminal("two\nlines"), "two\\u{a}lines");
        // Bodies keep their lines and tabs; a lone CR (overwriting the line) is escaped.
        assert_eq!(
            escape_terminal_text("one\r\n\ttwo\rX\x1b[2J"),
            "one\n\ttwo\\u{d}X\\u{1b}[2J"
        );
        // Tables escape every cell.
        let mut t = Table::new(&[("subject", Align::Left)]);
        t.row(vec!["\u{202E}x\x1b".into()]);
        assert_eq!(t.render(), "subject\n\\u{202e}x\\u{1b}\n");
    }
}
