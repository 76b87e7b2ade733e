//! Untrusted mail content on the way out: the HTML body document shown in the sandboxed
//! frame, and the headers every response carrying mail content gets.

use inbound_message::{Email, InlineImages, SanitizeConfig};

/// The `Content-Security-Policy` of app pages.
pub const APP_CSP: &str = "default-src 'self'; frame-ancestors 'none'; object-src 'none'; \
                           base-uri 'none'; form-action 'self'";

/// The `Content-Security-Policy` of a message's HTML body (`/messages/{id}/body`).
pub const BODY_CSP: &str = "sandbox allow-popups allow-popups-to-escape-sandbox; \
                            default-src 'none'; img-src 'self' data:; \
                            style-src 'unsafe-inline'; font-src 'none'; form-action 'none'; \
                            base-uri 'none'; frame-ancestors 'self'";

/// [`BODY_CSP`] when the reader asked for remote images for this one request: `https:`
/// images allowed, nothing else.
pub const BODY_CSP_REMOTE_IMAGES: &str = "sandbox allow-popups allow-popups-to-escape-sandbox; \
     default-src 'none'; img-src 'self' data: https:; \
     style-src 'unsafe-inline'; font-src 'none'; form-action 'none'; \
     base-uri 'none'; frame-ancestors 'self'";

/// The `sandbox` attribute of the frame showing a message's HTML body.
pub const FRAME_SANDBOX: &str = "allow-popups allow-popups-to-escape-sandbox";

/// The message's HTML body as a whole document for the frame: sanitized, `cid:` images
/// pointing at the message's part URLs, remote images blocked unless `remote_images`, and
/// every link opening in a new top-level window without a referrer. `None` when the message
/// has no HTML body.
pub(crate) fn body_document(id: i64, email: &Email, remote_images: bool) -> Option<String> {
    let pattern = format!("/messages/{id}/parts/{{index}}");
    let options = SanitizeConfig {
        allow_remote_images: remote_images,
        ..SanitizeConfig::default()
    };
    let html = email.sanitized_html(&InlineImages::RewriteCid(&pattern), &options)?;
    // The sanitizer's output is serialized HTML: `<a ` only ever starts a link element (a
    // `<` in text or attribute values is escaped), and the sanitizer drops `target`.
    let html = html.replace("<a ", "<a target=\"_blank\" ");
    Some(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\"></head>\
         <body>{html}</body></html>\n"
    ))
}

/// The media type an attachment is served as: raster images keep theirs (they are shown by
/// `<img>` only); everything else is `application/octet-stream`, never rendered.
pub(crate) fn part_content_type(declared: &str) -> &'static str {
    match declared.trim().to_ascii_lowercase().as_str() {
        "image/png" => "image/png",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        "image/bmp" => "image/bmp",
        _ => "application/octet-stream",
    }
}

/// A `Content-Disposition: attachment` value for `filename`: an ASCII fallback with anything
/// but safe characters replaced, and the whole name in RFC 5987 form.
pub(crate) fn attachment_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let fallback = if fallback.trim().is_empty() {
        "attachment".to_owned()
    } else {
        fallback
    };
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    if encoded.is_empty() {
        encoded.push_str("attachment");
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_raster_images_keep_their_type() {
        assert_eq!(part_content_type("image/PNG"), "image/png");
        for t in [
            "text/html",
            "image/svg+xml",
            "application/xml",
            "text/xml",
            "",
        ] {
            assert_eq!(part_content_type(t), "application/octet-stream", "{t}");
        }
    }

    #[test]
    fn dispositions_are_always_attachments_with_safe_names() {
        let d = attachment_disposition("a\"b\r\n;évil.html");
        assert!(d.starts_with("attachment; filename=\"a_b___"), "{d}");
        assert!(!d.contains('\r') && !d.contains('\n'));
        assert!(
            d.contains("filename*=UTF-8''a%22b%0D%0A%3B%C3%A9vil.html"),
            "{d}"
        );
    }

    #[test]
    fn links_open_outside_and_cid_images_point_at_parts() {
        let raw = b"From: a@example.org\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/related; boundary=\"R\"\r\n\r\n\
            --R\r\nContent-Type: text/html\r\n\r\n\
            <a href=\"https://example.org/\">x</a><img src=\"cid:logo@x\">\
            <img src=\"https://tracker.example/p.gif\">\r\n\
            --R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n\r\nPNG\r\n--R--\r\n";
        let email = Email::parse(&raw[..]);
        let doc = body_document(7, &email, false).unwrap_or_default();
        assert!(doc.contains("target=\"_blank\""), "{doc}");
        assert!(doc.contains("noopener noreferrer"), "{doc}");
        assert!(doc.contains("src=\"/messages/7/parts/0\""), "{doc}");
        assert!(!doc.contains("tracker.example"), "{doc}");
        let doc = body_document(7, &email, true).unwrap_or_default();
        assert!(doc.contains("tracker.example"), "{doc}");
    }
}
