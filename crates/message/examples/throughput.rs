//! Rough throughput of parse + sanitize on a ~20 KB multipart message (run with --release).

use std::time::Instant;

use inbound_message::{Email, InlineImages, SanitizeOptions};

fn main() {
    let mut html = String::from("<html><body><table width=\"600\">");
    while html.len() < 9_000 {
        html.push_str("<tr><td style=\"padding:4px;color:#333\"><p>Hello <b>world</b>, <a href=\"https://example.com/x?a=1\">a link</a> and <img src=\"cid:logo@x\"></p></td></tr>\n");
    }
    html.push_str("</table></body></html>");
    let text: String = "Plain text line of the message body.\n".repeat(120);
    let raw = format!(
        "From: A <a@example.org>\r\nTo: b@example.org\r\nSubject: =?UTF-8?Q?Caf=C3=A9?=\r\n\
         Date: Tue, 1 Jul 2025 10:00:00 +0000\r\nMessage-ID: <t@example.org>\r\n\
         Content-Type: multipart/related; boundary=\"R\"\r\n\r\n--R\r\n\
         Content-Type: multipart/alternative; boundary=\"A\"\r\n\r\n--A\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--A\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--A--\r\n--R\r\n\
         Content-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--R--\r\n",
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\r\n".repeat(5)
    );
    let raw = bytes::Bytes::from(raw);
    let n = 5_000;
    let start = Instant::now();
    let mut total = 0;
    for _ in 0..n {
        let email = Email::parse(raw.clone());
        total += email.attachments.len();
    }
    let parse = start.elapsed();
    let email = Email::parse(raw.clone());
    let start = Instant::now();
    for _ in 0..n {
        let html = email.sanitized_html(
            &InlineImages::RewriteCid("/a/1/{index}"),
            &SanitizeOptions::default(),
        );
        total += html.map_or(0, |h| h.len());
    }
    let sanitize = start.elapsed();
    println!(
        "{} bytes/message: parse {:.0} msg/s, sanitize {:.0} msg/s, both {:.0} msg/s ({total})",
        raw.len(),
        n as f64 / parse.as_secs_f64(),
        n as f64 / sanitize.as_secs_f64(),
        n as f64 / (parse + sanitize).as_secs_f64()
    );
}
