//! Generated mail for the message and store benches: realistic ~20 KB multipart messages.

use bytes::Bytes;

const PNG_LINE: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\r\n";

/// A multipart/related message of about `size` bytes: a plain-text part, an HTML part with
/// tables, links and a `cid:` image, and the inline PNG. `n` varies the Message-ID.
pub fn multipart_message(n: usize, size: usize) -> Bytes {
    let half = size.saturating_sub(1_500) / 2;
    let mut html = String::from("<html><body><table width=\"600\">");
    while html.len() < half {
        html.push_str(
            "<tr><td style=\"padding:4px;color:#333\"><p>Hello <b>world</b>, \
             <a href=\"https://example.com/x?a=1\">a link</a> and <img src=\"cid:logo@x\"></p>\
             </td></tr>\n",
        );
    }
    html.push_str("</table></body></html>");
    let mut text = String::new();
    while text.len() < half {
        text.push_str("Plain text line of the message body, long enough to wrap.\r\n");
    }
    let raw = format!(
        "From: Ann Example <ann@example.org>\r\nTo: bob@example.org\r\n\
         Subject: =?UTF-8?Q?Caf=C3=A9_report_{n}?=\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <{n}.bench@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"R\"\r\n\r\n--R\r\n\
         Content-Type: multipart/alternative; boundary=\"A\"\r\n\r\n--A\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--A\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--A--\r\n--R\r\n\
         Content-Type: image/png\r\nContent-ID: <logo@x>\r\n\
         Content-Disposition: inline; filename=\"logo.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--R--\r\n",
        PNG_LINE.repeat(5)
    );
    Bytes::from(raw)
}

/// A hostile message: a multipart/related with an HTML body of about `html_bytes` bytes made
/// only of `<img src="cid:N">` references (cycling over the parts), then `parts` one-byte
/// GIF parts with Content-IDs `1`..`parts`. At 200,000 parts and 10 MB of HTML it is about
/// 20 MB; a parser that looks every part up in the whole HTML takes hours on it.
pub fn hostile_message(parts: usize, html_bytes: usize) -> Bytes {
    use std::fmt::Write as _;

    let mut raw = String::with_capacity(html_bytes + parts * 60 + 512);
    raw.push_str(
        "From: Mallory <m@example.org>\r\nTo: bob@example.org\r\nSubject: parts\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <hostile@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/html\r\n\r\n",
    );
    let start = raw.len();
    let mut n = 0;
    while raw.len() - start < html_bytes {
        let _ = write!(raw, "<img src=\"cid:{}\">", n % parts.max(1) + 1);
        n += 1;
    }
    raw.push_str("\r\n");
    for i in 1..=parts {
        let _ = write!(
            raw,
            "--b\r\nContent-Type:image/gif\r\nContent-ID:<{i}>\r\n\r\nG\r\n"
        );
    }
    raw.push_str("--b--\r\n");
    Bytes::from(raw)
}
