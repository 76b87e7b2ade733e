//! Runtime settings for grammar violations seen from real servers.

/// What the decoder accepts beyond the grammar. [`Quirks::default`] turns on everything that
/// is harmless; [`Quirks::strict`] is the bare grammar.
///
/// Keywords (`OK`, `FETCH`, `\Seen`, `uid`...) are always matched case-insensitively: that
/// is the grammar (RFC 5234 section 2.3), so lower-case keywords need no setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quirks {
    /// Spaces before CRLF and before `)` (Exchange `STATUS`, iCloud flag lists,
    /// `* SEARCH ` with no results). Default: on.
    pub trailing_space: bool,
    /// A negative `body-fld-lines` (Dovecot sends `-1`), read as 0. Default: on.
    pub negative_body_lines: bool,
    /// NIL as a body parameter value (`("boundary" NIL)`, Mail.ru), read as empty. Default: on.
    pub nil_param_value: bool,
    /// A response code with no text after it (`* OK [HIGHESTMODSEQ 1]`, Gmail), and an
    /// empty text after `OK `. Default: on.
    pub code_without_text: bool,
    /// Lines ending in a bare LF instead of CRLF. Default: off (opt in per server).
    pub bare_lf: bool,
}

impl Default for Quirks {
    fn default() -> Self {
        Self {
            trailing_space: true,
            negative_body_lines: true,
            nil_param_value: true,
            code_without_text: true,
            bare_lf: false,
        }
    }
}

impl Quirks {
    /// The grammar only, no leniency.
    pub fn strict() -> Self {
        Self {
            trailing_space: false,
            negative_body_lines: false,
            nil_param_value: false,
            code_without_text: false,
            bare_lf: false,
        }
    }

    /// Everything on, including bare LF line endings.
    pub fn lenient() -> Self {
        Self {
            bare_lf: true,
            ..Self::default()
        }
    }
}
