//! Inline images: `cid:` references in the HTML body resolved to the message's parts.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;

use base64::Engine as _;

use crate::model::{Attachment, Email};
use crate::sanitize::{SanitizeConfig, sanitize_html};

/// What to do with `cid:` URLs (RFC 2392) in the HTML body when producing HTML to show.
pub enum InlineImages<'a> {
    /// Leave `cid:` URLs as they are.
    Keep,
    /// Replace each `cid:` URL that names an attachment with a URL made from this pattern.
    ///
    /// Placeholders: `{index}` (the attachment's position in [`Email::attachments`]),
    /// `{content_id}`, `{filename}` and `{message_id}` (the Message-ID header), the last
    /// three percent-encoded. For a database row id, format it into the pattern first, e.g.
    /// `format!("/attachments/{row}/{{index}}")`, or use [`InlineImages::RewriteCidWith`].
    RewriteCid(&'a str),
    /// Replace each `cid:` URL that names an attachment with what the closure returns for
    /// (index in [`Email::attachments`], attachment).
    RewriteCidWith(&'a dyn Fn(usize, &Attachment) -> String),
    /// Embed image attachments as `data:<type>;base64,...` URLs (raster types only: PNG,
    /// JPEG, GIF, WebP, BMP, ICO); other references stay `cid:`.
    ///
    /// Each attachment is encoded once however often it is referenced, and the `data:` URLs
    /// written into one HTML body add up to at most [`InlineImages::DATA_URL_LIMIT`] bytes:
    /// references past that stay `cid:`.
    DataUrl,
}

impl InlineImages<'_> {
    /// The most bytes of `data:` URLs [`InlineImages::DataUrl`] writes into one HTML body
    /// (32 MiB), so a small image referenced many times cannot grow the output without
    /// bound.
    pub const DATA_URL_LIMIT: usize = 32 * 1024 * 1024;
}

impl std::fmt::Debug for InlineImages<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InlineImages::Keep => f.write_str("Keep"),
            InlineImages::RewriteCid(pattern) => {
                f.debug_tuple("RewriteCid").field(pattern).finish()
            }
            InlineImages::RewriteCidWith(_) => f.write_str("RewriteCidWith(..)"),
            InlineImages::DataUrl => f.write_str("DataUrl"),
        }
    }
}

impl Email {
    /// The attachment whose Content-ID is `cid` (with or without `cid:`, angle brackets or
    /// percent-encoding). Exact matches win over ASCII case-insensitive ones.
    pub fn attachment_by_cid(&self, cid: &str) -> Option<&Attachment> {
        self.attachment_index_by_cid(cid)
            .and_then(|i| self.attachments.get(i))
    }

    /// The index in [`Email::attachments`] of the attachment whose Content-ID is `cid`.
    pub fn attachment_index_by_cid(&self, cid: &str) -> Option<usize> {
        let cid = normalize_cid(cid);
        if cid.is_empty() {
            return None;
        }
        let ids = || {
            self.attachments
                .iter()
                .enumerate()
                .filter_map(|(i, a)| a.content_id.as_deref().map(|id| (i, id)))
        };
        ids()
            .find(|(_, id)| *id == cid)
            .or_else(|| ids().find(|(_, id)| id.eq_ignore_ascii_case(&cid)))
            .map(|(i, _)| i)
    }

    /// The HTML body with `cid:` URLs handled as `images` says, not sanitized. Use this when
    /// the account does not ask for sanitizing; otherwise [`Email::sanitized_html`].
    pub fn html_with_inline_images(&self, images: &InlineImages<'_>) -> Option<String> {
        self.html
            .as_deref()
            .map(|html| self.rewrite_cids(html, images))
    }

    /// The HTML body sanitized with `options` (see [`sanitize_html`]), then `cid:` URLs
    /// handled as `images` says. Sanitizing comes first, with `cid:` allowed, so a rewritten
    /// URL (a relative path, say) survives while relative URLs written by the sender do not.
    pub fn sanitized_html(
        &self,
        images: &InlineImages<'_>,
        options: &SanitizeConfig,
    ) -> Option<String> {
        let html = self.html.as_deref()?;
        let keep_cid = SanitizeConfig {
            allow_cid_urls: options.allow_cid_urls || !matches!(images, InlineImages::Keep),
            ..*options
        };
        let clean = sanitize_html(html, &keep_cid);
        Some(self.rewrite_cids(&clean, images))
    }

    /// One pass over `html`; each reference is looked up in an index built once, and each
    /// attachment's `data:` URL is made once, so the cost is linear in the HTML and the
    /// attachments, not their product.
    fn rewrite_cids(&self, html: &str, images: &InlineImages<'_>) -> String {
        if matches!(images, InlineImages::Keep) {
            return html.to_owned();
        }
        let index = CidIndex::new(&self.attachments);
        let mut data_urls: HashMap<usize, Option<String>> = HashMap::new();
        let mut data_url_bytes = 0usize;
        let mut out = String::with_capacity(html.len());
        let mut last = 0;
        visit_cid_references(html, |range, cid| {
            let Some((i, attachment)) = index
                .get(&cid)
                .and_then(|i| Some((i, self.attachments.get(i)?)))
            else {
                return false;
            };
            let replacement = match images {
                InlineImages::DataUrl => data_urls
                    .entry(i)
                    .or_insert_with(|| data_url(attachment))
                    .as_deref()
                    .filter(|url| {
                        data_url_bytes.saturating_add(url.len()) <= InlineImages::DATA_URL_LIMIT
                    })
                    .map(|url| {
                        data_url_bytes += url.len();
                        Cow::Borrowed(url)
                    }),
                _ => self.inline_url(i, attachment, images).map(Cow::Owned),
            };
            if let Some(url) = replacement {
                out.push_str(&html[last..range.start]);
                push_attribute_safe(&mut out, &url);
                last = range.end;
            }
            false
        });
        out.push_str(&html[last..]);
        out
    }

    fn inline_url(
        &self,
        index: usize,
        attachment: &Attachment,
        images: &InlineImages<'_>,
    ) -> Option<String> {
        match images {
            InlineImages::Keep => None,
            InlineImages::RewriteCid(pattern) => Some(self.expand(pattern, index, attachment)),
            InlineImages::RewriteCidWith(f) => Some(f(index, attachment)),
            InlineImages::DataUrl => data_url(attachment),
        }
    }

    fn expand(&self, pattern: &str, index: usize, attachment: &Attachment) -> String {
        let mut out = String::with_capacity(pattern.len() + 32);
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let after = &rest[open..];
            let (value, len) = if after.starts_with("{index}") {
                (Some(index.to_string()), "{index}".len())
            } else if after.starts_with("{content_id}") {
                let id = attachment.content_id.as_deref().unwrap_or_default();
                (Some(percent_encode(id)), "{content_id}".len())
            } else if after.starts_with("{filename}") {
                let name = attachment.filename.as_deref().unwrap_or_default();
                (Some(percent_encode(name)), "{filename}".len())
            } else if after.starts_with("{message_id}") {
                let id = self.message_id.as_deref().unwrap_or_default();
                (Some(percent_encode(id)), "{message_id}".len())
            } else {
                (None, 1)
            };
            match value {
                Some(v) => out.push_str(&v),
                None => out.push('{'),
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }
}

/// Attachment indexes by Content-ID, built once per HTML body: exact matches first, then
/// ASCII case-insensitive ones; the first attachment with an id wins, as in
/// [`Email::attachment_index_by_cid`].
struct CidIndex<'a> {
    exact: HashMap<&'a str, usize>,
    folded: HashMap<String, usize>,
}

impl<'a> CidIndex<'a> {
    fn new(attachments: &'a [Attachment]) -> Self {
        let mut exact = HashMap::new();
        let mut folded = HashMap::new();
        for (i, id) in attachments
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.content_id.as_deref().map(|id| (i, id)))
        {
            exact.entry(id).or_insert(i);
            folded.entry(id.to_ascii_lowercase()).or_insert(i);
        }
        CidIndex { exact, folded }
    }

    /// `cid` is normalized ([`normalize_cid`]).
    fn get(&self, cid: &str) -> Option<usize> {
        self.exact
            .get(cid)
            .or_else(|| self.folded.get(&cid.to_ascii_lowercase()))
            .copied()
    }
}

/// The content ids `html` references (normalized, ASCII lower case), collected in one pass.
pub(crate) fn referenced_cids(html: &str) -> HashSet<String> {
    let mut set = HashSet::new();
    visit_cid_references(html, |_, mut cid| {
        cid.make_ascii_lowercase();
        set.insert(cid);
        false
    });
    set
}

/// Every `cid:` URL in attribute or CSS `url(...)` position: its byte range (from `cid:` to
/// the end of the URL) and the content id it names, normalized.
#[cfg(test)]
fn cid_references(html: &str) -> Vec<(Range<usize>, String)> {
    let mut refs = Vec::new();
    visit_cid_references(html, |range, cid| {
        refs.push((range, cid));
        false
    });
    refs
}

/// Calls `visit` with each `cid:` URL in attribute or CSS `url(...)` position (its byte
/// range, from `cid:` to the end of the URL, and the content id it names, normalized), in
/// order, until it returns true.
fn visit_cid_references(html: &str, mut visit: impl FnMut(Range<usize>, String) -> bool) {
    let bytes = html.as_bytes();
    let mut from = 0;
    while let Some(pos) = find_cid_scheme(html, from) {
        from = pos + 4;
        let before = bytes[..pos]
            .iter()
            .rev()
            .find(|b| !b.is_ascii_whitespace())
            .copied();
        if !matches!(before, Some(b'=' | b'"' | b'\'' | b'(')) {
            continue;
        }
        let end = bytes[from..]
            .iter()
            .position(|&b| {
                matches!(b, b'"' | b'\'' | b'>' | b')' | b'<') || b.is_ascii_whitespace()
            })
            .map_or(bytes.len(), |p| p + from);
        let cid = normalize_cid(&html[pos..end]);
        if !cid.is_empty() && visit(pos..end, cid) {
            return;
        }
        from = end;
    }
}

/// The position of the first `cid:` (any case) at or after `from`. Looks for the colon first:
/// HTML has few of them, and finding one byte is fast.
/// `from` is a character boundary.
fn find_cid_scheme(html: &str, from: usize) -> Option<usize> {
    let bytes = html.as_bytes();
    let mut at = from;
    loop {
        // `at` is `from` or just past a colon: a character boundary.
        let colon = at + html.get(at..)?.find(':')?;
        if colon >= from + 3 && bytes[colon - 3..colon].eq_ignore_ascii_case(b"cid") {
            return Some(colon - 3);
        }
        at = colon + 1;
    }
}

/// `cid:%3Cx@y%3E`, `<x@y>`, ` x@y ` all become `x@y`.
fn normalize_cid(cid: &str) -> String {
    let cid = cid.trim();
    let cid = match cid.get(..4) {
        Some(p) if p.eq_ignore_ascii_case("cid:") => &cid[4..],
        _ => cid,
    };
    let decoded = percent_decode(cid);
    let t = decoded.trim();
    let t = t.strip_prefix('<').unwrap_or(t);
    t.strip_suffix('>').unwrap_or(t).to_owned()
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Writes a URL into an attribute value: characters that could end the attribute or open
/// markup are percent-encoded and `&` is written as an entity, so the URL cannot escape.
fn push_attribute_safe(out: &mut String, url: &str) {
    for c in url.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\'' => out.push_str("%27"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '`' => out.push_str("%60"),
            '&' => out.push_str("&amp;"),
            c if c.is_whitespace() || c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
}

const DATA_URL_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/x-icon",
    "image/vnd.microsoft.icon",
];

fn data_url(attachment: &Attachment) -> Option<String> {
    let media_type = attachment.content_type.to_ascii_lowercase();
    let media_type = if media_type == "image/jpg" || media_type == "image/pjpeg" {
        "image/jpeg".to_owned()
    } else {
        media_type
    };
    if !DATA_URL_TYPES.contains(&media_type.as_str()) {
        return None;
    }
    let engine = base64::engine::general_purpose::STANDARD;
    let mut out =
        String::with_capacity(media_type.len() + 13 + attachment.content.len() * 4 / 3 + 4);
    out.push_str("data:");
    out.push_str(&media_type);
    out.push_str(";base64,");
    engine.encode_string(&attachment.content, &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cid_scheme_is_found_after_other_colons_and_wide_characters() {
        let html = "é:ü style=\"a:b\" src=\"Cid:x@y\" cid: cid";
        let pos = find_cid_scheme(html, 0);
        assert_eq!(pos.map(|p| &html[p..p + 4]), Some("Cid:"));
        let pos = pos.unwrap_or_default();
        assert_eq!(
            find_cid_scheme(html, pos + 4).map(|p| &html[p..p + 4]),
            Some("cid:")
        );
        assert_eq!(find_cid_scheme("cid", 0), None);
        assert_eq!(find_cid_scheme("id:x", 0), None);
        assert_eq!(find_cid_scheme("xcid:", 2), None, "starts before `from`");
        let refs = referenced_cids(html);
        assert!(refs.contains("x@y"), "{refs:?}");
        assert!(!refs.contains("z@y"), "{refs:?}");
    }

    #[test]
    fn finds_cid_references_in_attributes_and_css() {
        let html = r#"<img src="cid:a@b"><img src='CID:%3Cc@d%3E'><td style="background:url(cid:e@f)">cid:text"#;
        let refs: Vec<String> = cid_references(html).into_iter().map(|(_, c)| c).collect();
        assert_eq!(refs, ["a@b", "c@d", "e@f"]);
    }

    #[test]
    fn percent_round_trip() {
        assert_eq!(percent_encode("a b/<é>"), "a%20b%2F%3C%C3%A9%3E");
        assert_eq!(percent_decode("a%20b%2F%3C%C3%A9%3E"), "a b/<é>");
        assert_eq!(percent_decode("100%"), "100%");
    }

    #[test]
    fn attribute_safe_urls_cannot_escape() {
        let mut out = String::new();
        push_attribute_safe(&mut out, "/a?x=1&y=\"><script>");
        assert_eq!(out, "/a?x=1&amp;y=%22%3E%3Cscript%3E");
    }
}
