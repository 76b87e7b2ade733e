//! A small MIME walker over raw message bytes: where each part's header and body are, its
//! content type, and the IMAP views of it (BODYSTRUCTURE, ENVELOPE, sections).
//!
//! Everything is computed from byte ranges of the raw message, so `BODY[1.2]` and the sizes
//! in BODYSTRUCTURE are exactly the bytes a real server would send. Malformed input never
//! panics: a multipart without its boundary is a leaf, nesting deeper than [`MAX_DEPTH`]
//! is a leaf, and a missing header end makes the whole message a header.

use std::ops::Range;

/// Deeper nesting is treated as a leaf (keeps recursion bounded on hostile mail).
const MAX_DEPTH: usize = 32;

/// One MIME part: ranges into the raw message.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    /// The header block, including the empty line that ends it.
    pub(crate) header: Range<usize>,
    /// The body.
    pub(crate) body: Range<usize>,
    /// The media type, as written (`text`), default `text`.
    pub(crate) media_type: String,
    /// The media subtype, as written (`plain`).
    pub(crate) subtype: String,
    /// The Content-Type parameters, as written.
    pub(crate) params: Vec<(String, String)>,
    /// The children of a multipart.
    pub(crate) children: Vec<Part>,
    /// The encapsulated message of a `message/rfc822` part.
    pub(crate) message: Option<Box<Part>>,
}

impl Part {
    /// Whether this is a `multipart/*` with children.
    pub(crate) fn is_multipart(&self) -> bool {
        !self.children.is_empty()
    }

    /// Whether the type is `type/*` (case-insensitive).
    pub(crate) fn is_type(&self, media_type: &str) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type)
    }

    /// The value of a Content-Type parameter (name case-insensitive).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the whole message.
pub(crate) fn parse(raw: &[u8]) -> Part {
    parse_part(raw, 0..raw.len(), false, 0)
}

/// The end of the header block starting at `start` (after the empty line), and where the
/// body starts.
fn header_end(raw: &[u8], range: &Range<usize>) -> usize {
    let data = &raw[range.clone()];
    if data.starts_with(b"\r\n") {
        return range.start + 2;
    }
    if data.starts_with(b"\n") {
        return range.start + 1;
    }
    let mut i = 0;
    while let Some(pos) = memchr_lf(&data[i..]) {
        let lf = i + pos;
        let next = &data[lf + 1..];
        if next.starts_with(b"\r\n") {
            return range.start + lf + 3;
        }
        if next.starts_with(b"\n") {
            return range.start + lf + 2;
        }
        i = lf + 1;
    }
    range.end
}

fn memchr_lf(data: &[u8]) -> Option<usize> {
    data.iter().position(|&b| b == b'\n')
}

fn parse_part(raw: &[u8], range: Range<usize>, digest: bool, depth: usize) -> Part {
    let head_end = header_end(raw, &range);
    let header = range.start..head_end;
    let body = head_end..range.end;
    let fields = header_fields(&raw[header.clone()]);
    let content_type = field(&fields, "content-type");
    let (mut media_type, mut subtype, mut params) = content_type
        .as_deref()
        .and_then(parse_content_type)
        .unwrap_or_default();
    if media_type.is_empty() {
        (media_type, subtype) = if digest {
            ("message".to_owned(), "rfc822".to_owned())
        } else {
            ("text".to_owned(), "plain".to_owned())
        };
        if !digest {
            params = vec![("charset".to_owned(), "us-ascii".to_owned())];
        }
    }
    let mut part = Part {
        header,
        body: body.clone(),
        media_type,
        subtype,
        params,
        children: Vec::new(),
        message: None,
    };
    if depth >= MAX_DEPTH {
        return part;
    }
    if part.is_type("multipart") {
        if let Some(boundary) = part.param("boundary").map(str::to_owned) {
            let digest = part.subtype.eq_ignore_ascii_case("digest");
            part.children = split_multipart(raw, &body, boundary.as_bytes())
                .into_iter()
                .map(|r| parse_part(raw, r, digest, depth + 1))
                .collect();
        }
    } else if part.is_type("message")
        && (part.subtype.eq_ignore_ascii_case("rfc822")
            || part.subtype.eq_ignore_ascii_case("global"))
    {
        part.message = Some(Box::new(parse_part(raw, body, false, depth + 1)));
    }
    part
}

/// The body ranges of a multipart's children.
fn split_multipart(raw: &[u8], body: &Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut line_start = body.start;
    // Start of the current child's content, once the first delimiter was seen.
    let mut current: Option<usize> = None;
    while line_start < body.end {
        let line_end =
            memchr_lf(&raw[line_start..body.end]).map_or(body.end, |p| line_start + p + 1);
        let line = &raw[line_start..line_end];
        if let Some(rest) = line.strip_prefix(b"--")
            && rest.starts_with(boundary)
        {
            let after = &rest[boundary.len()..];
            let closing = after.starts_with(b"--");
            let tail = if closing { &after[2..] } else { after };
            if tail.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(start) = current {
                    // The CRLF before the delimiter belongs to the delimiter.
                    let mut end = line_start;
                    if end > start && raw[end - 1] == b'\n' {
                        end -= 1;
                        if end > start && raw[end - 1] == b'\r' {
                            end -= 1;
                        }
                    }
                    parts.push(start..end.max(start));
                }
                if closing {
                    return parts;
                }
                current = Some(line_end);
            }
        }
        line_start = line_end;
    }
    // No closing delimiter: the last part runs to the end.
    if let Some(start) = current {
        parts.push(start..body.end);
    }
    parts
}

/// Unfolded header fields: (lower-case name, raw value without the line end).
pub(crate) fn header_fields(header: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(header);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(line);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            fields.push((
                name.trim().to_ascii_lowercase(),
                value.trim_start().to_owned(),
            ));
        }
    }
    fields
}

/// The first field called `name` (lower case).
pub(crate) fn field(fields: &[(String, String)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.trim_end().to_owned())
}

/// Skips spaces and `(comments)`.
fn skip_cfws(s: &str) -> &str {
    let mut s = s.trim_start();
    while let Some(rest) = s.strip_prefix('(') {
        let mut depth = 1;
        let mut end = rest.len();
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        s = rest[end.min(rest.len())..].trim_start();
    }
    s
}

/// A token or quoted string at the start of `s`: (value, rest).
fn token_or_quoted(s: &str) -> (String, &str) {
    let s = skip_cfws(s);
    if let Some(rest) = s.strip_prefix('"') {
        let mut out = String::new();
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            if escaped {
                out.push(c);
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                return (out, &rest[i + 1..]);
            } else {
                out.push(c);
            }
        }
        return (out, "");
    }
    let end = s
        .find(|c: char| c == ';' || c == '=' || c == '(' || c.is_whitespace())
        .unwrap_or(s.len());
    (s[..end].to_owned(), &s[end..])
}

/// A media type, subtype and parameters.
pub(crate) type ContentType = (String, String, Vec<(String, String)>);

/// `type/subtype; name=value; ...` (also Content-Disposition: `value; params`).
pub(crate) fn parse_content_type(value: &str) -> Option<ContentType> {
    let (kind, rest) = value.split_once(';').unwrap_or((value, ""));
    let kind = skip_cfws(kind);
    let kind = kind.split('(').next().unwrap_or(kind).trim();
    let (media_type, subtype) = match kind.split_once('/') {
        Some((t, s)) => (t.trim().to_owned(), s.trim().to_owned()),
        None => (kind.to_owned(), String::new()),
    };
    if media_type.is_empty() {
        return None;
    }
    Some((media_type, subtype, parse_params(rest)))
}

/// `; name=value` pairs.
pub(crate) fn parse_params(mut rest: &str) -> Vec<(String, String)> {
    let mut params = Vec::new();
    loop {
        rest = skip_cfws(rest);
        rest = rest.strip_prefix(';').unwrap_or(rest);
        rest = skip_cfws(rest);
        if rest.is_empty() {
            return params;
        }
        let (name, after) = token_or_quoted(rest);
        let after = skip_cfws(after);
        let Some(after) = after.strip_prefix('=') else {
            // Garbage: skip to the next `;`.
            match after.find(';') {
                Some(i) if !name.is_empty() || i > 0 => rest = &after[i..],
                _ => return params,
            }
            continue;
        };
        let (value, after) = token_or_quoted(after);
        if !name.is_empty() {
            params.push((name, value));
        }
        if after.len() >= rest.len() {
            return params;
        }
        rest = after;
    }
}

/// Content-Disposition: `inline; filename=x` as (kind, params).
pub(crate) fn parse_disposition(value: &str) -> Option<(String, Vec<(String, String)>)> {
    let (kind, rest) = value.split_once(';').unwrap_or((value, ""));
    let kind = skip_cfws(kind).trim();
    (!kind.is_empty()).then(|| (kind.to_owned(), parse_params(rest)))
}

/// One address of an address list: (display name, local part, domain). A group shows as
/// its members; the group syntax itself is not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MailAddress {
    pub(crate) name: Option<String>,
    pub(crate) mailbox: String,
    pub(crate) host: Option<String>,
}

/// Splits at top-level `sep`, outside quotes, comments and angle brackets.
fn split_top(s: &str, seps: &[char]) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut escaped, mut comment, mut angle) = (false, false, 0u32, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            cur.push(c);
            continue;
        }
        match c {
            '\\' if quoted || comment > 0 => escaped = true,
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            _ if seps.contains(&c) && !quoted && comment == 0 && !angle => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// Parses an address-list header value.
pub(crate) fn parse_addresses(value: &str) -> Vec<MailAddress> {
    let mut out = Vec::new();
    for item in split_top(value, &[',', ';']) {
        let mut item = item.trim().to_owned();
        // `Group name: first@x` -> drop the group name.
        if let Some(i) = find_top(&item, ':') {
            item = item[i + 1..].trim().to_owned();
        }
        if item.is_empty() {
            continue;
        }
        if let Some(a) = parse_mailbox(&item) {
            out.push(a);
        }
    }
    out
}

fn find_top(s: &str, target: char) -> Option<usize> {
    let (mut quoted, mut escaped, mut comment, mut angle) = (false, false, 0u32, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if c == target && !quoted && comment == 0 && !angle {
            return Some(i);
        }
        match c {
            '\\' => escaped = true,
            '"' if comment == 0 => quoted = !quoted,
            '(' if !quoted => comment += 1,
            ')' if !quoted && comment > 0 => comment -= 1,
            '<' if !quoted && comment == 0 => angle = true,
            '>' if !quoted && comment == 0 => angle = false,
            _ => {}
        }
    }
    None
}

fn split_addr_spec(spec: &str) -> Option<(String, Option<String>)> {
    let spec = skip_cfws(spec).trim();
    let spec = spec.split('(').next().unwrap_or(spec).trim();
    if spec.is_empty() {
        return None;
    }
    match spec.rsplit_once('@') {
        Some((local, host)) => Some((
            unquote(local.trim()),
            Some(host.trim().to_owned()).filter(|h| !h.is_empty()),
        )),
        None => Some((unquote(spec), None)),
    }
}

fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::new();
            let mut escaped = false;
            for c in inner.chars() {
                if escaped || c != '\\' {
                    out.push(c);
                    escaped = false;
                } else {
                    escaped = true;
                }
            }
            out
        }
        None => s.to_owned(),
    }
}

fn parse_mailbox(item: &str) -> Option<MailAddress> {
    if let (Some(lt), Some(gt)) = (find_top(item, '<'), item.rfind('>')) {
        if gt > lt {
            let name = item[..lt].trim();
            let (mailbox, host) = split_addr_spec(&item[lt + 1..gt])?;
            let name = (!name.is_empty()).then(|| unquote(name));
            return Some(MailAddress {
                name,
                mailbox,
                host,
            });
        }
    }
    // `local@host (Comment Name)`
    let comment = item.find('(').and_then(|i| {
        let end = item.rfind(')')?;
        (end > i).then(|| item[i + 1..end].trim().to_owned())
    });
    let (mailbox, host) = split_addr_spec(item)?;
    Some(MailAddress {
        name: comment.filter(|c| !c.is_empty()),
        mailbox,
        host,
    })
}

/// The number of lines (LF count, plus a last line without one) of a body.
pub(crate) fn line_count(data: &[u8]) -> u32 {
    let lf = data.iter().filter(|&&b| b == b'\n').count();
    let extra = usize::from(!data.is_empty() && !data.ends_with(b"\n"));
    (lf + extra) as u32
}

/// Decodes a body by its Content-Transfer-Encoding (base64, quoted-printable; others as
/// they are). `None` for an encoding IMAP BINARY cannot undo.
pub(crate) fn decode_transfer(encoding: Option<&str>, data: &[u8]) -> Option<Vec<u8>> {
    let encoding = encoding.unwrap_or("7bit").trim().to_ascii_lowercase();
    match encoding.as_str() {
        "7bit" | "8bit" | "binary" | "" => Some(data.to_vec()),
        "base64" => {
            use base64::Engine as _;
            let clean: Vec<u8> = data
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD
                .decode(&clean)
                .ok()
                .or_else(|| {
                    base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(&clean)
                        .ok()
                })
        }
        "quoted-printable" => Some(decode_qp(data)),
        _ => None,
    }
}

fn decode_qp(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    while i < data.len() {
        let b = data[i];
        if b == b'=' {
            match (data.get(i + 1), data.get(i + 2)) {
                (Some(b'\r'), Some(b'\n')) => i += 3,
                (Some(b'\n'), _) => i += 2,
                (Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                    out.push(hex(h).unwrap_or(0) << 4 | hex(l).unwrap_or(0));
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::sample::sample_mailbox;

    #[test]
    fn sample_structures() {
        let msgs = sample_mailbox();
        let plain = parse(&msgs[0].raw);
        assert_eq!(
            (plain.media_type.as_str(), plain.subtype.as_str()),
            ("text", "plain")
        );
        assert!(msgs[0].raw[plain.body].starts_with(b"Hello!"));

        let alt = parse(&msgs[2].raw);
        assert_eq!(alt.children.len(), 2);
        assert_eq!(
            &msgs[2].raw[alt.children[0].body.clone()],
            b"The plain version."
        );
        assert_eq!(alt.children[1].subtype, "html");

        let mixed = parse(&msgs[3].raw);
        assert_eq!(mixed.children.len(), 3);
        assert_eq!(mixed.children[1].subtype, "pdf");
        let pdf = &msgs[3].raw[mixed.children[1].body.clone()];
        let field = header_fields(&msgs[3].raw[mixed.children[1].header.clone()]);
        let enc = super::field(&field, "content-transfer-encoding");
        assert_eq!(
            decode_transfer(enc.as_deref(), pdf).unwrap(),
            crate::sample::SAMPLE_PDF
        );

        let related = parse(&msgs[4].raw);
        assert_eq!(related.param("type"), Some("text/html"));
        assert_eq!(related.children[1].media_type, "image");
    }

    #[test]
    fn nested_message_and_missing_end() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nhi\r\n--b\r\n\r\nlast";
        let p = parse(raw);
        assert_eq!(p.children.len(), 2);
        let inner = p.children[0].message.as_ref().unwrap();
        assert_eq!(&raw[inner.body.clone()], b"hi");
        assert_eq!(&raw[p.children[1].body.clone()], b"last");
        // No header end at all.
        let p = parse(b"Subject: x");
        assert!(p.body.is_empty());
    }

    #[test]
    fn addresses() {
        let a = parse_addresses(
            "\"Doe, John\" <john@x.test>, jane@y.test (Jane), Team: a@z.test, b@z.test;, <c@w>",
        );
        assert_eq!(a.len(), 5);
        assert_eq!(a[0].name.as_deref(), Some("Doe, John"));
        assert_eq!(a[0].mailbox, "john");
        assert_eq!(a[1].name.as_deref(), Some("Jane"));
        assert_eq!(a[2].host.as_deref(), Some("z.test"));
        assert_eq!(a[4].name, None);
    }

    #[test]
    fn params_and_qp() {
        let (t, s, p) =
            parse_content_type("text/plain (x); charset=\"utf-8\"; format=flowed").unwrap();
        assert_eq!((t.as_str(), s.as_str()), ("text", "plain"));
        assert_eq!(
            p,
            [
                ("charset".into(), "utf-8".into()),
                ("format".into(), "flowed".into())
            ]
        );
        assert_eq!(decode_qp(b"Sch=F6ne=\r\n x"), b"Sch\xf6ne x");
        assert_eq!(line_count(b"a\r\nb"), 2);
    }
}
