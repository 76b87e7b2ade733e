//! Dates and addresses for pages, and the JSON forms of messages: the same objects
//! `inbound messages list --json` and `inbound messages show --json` print, from the one copy
//! in [`inbound_retrieve::json`].

pub(crate) use inbound_retrieve::json::{addresses, rfc3339, show_message, summary_json};

/// `YYYY-MM-DD HH:MM` (UTC), for tables.
pub(crate) fn short_date(secs: i64) -> String {
    let full = rfc3339(secs);
    full.get(..16).map_or(full.clone(), |s| s.replace('T', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(short_date(1_700_000_000), "2023-11-14 22:13");
    }
}
