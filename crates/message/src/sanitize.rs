//! HTML sanitizing with ammonia: scripts, event handlers, dangerous URLs, forms, frames,
//! embedded objects and style sheets are removed; layout, text formatting and images stay.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use ammonia::{Builder, UrlRelative};

/// What [`sanitize_html`] lets through besides the always-safe layout and formatting.
///
/// The default keeps `cid:` and raster `data:` images, blocks remote content (tracking
/// pixels) and drops relative URLs (which would point at the server showing the mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SanitizeConfig {
    /// Keep `cid:` URLs (references to parts of the same message). They load nothing by
    /// themselves; rewrite them afterwards with [`InlineImages`](crate::InlineImages). On by
    /// default.
    pub allow_cid_urls: bool,
    /// Keep `<img src="data:image/...">` for raster image types (PNG, JPEG, GIF, WebP, BMP,
    /// ICO). Every other `data:` URL is always removed. On by default.
    pub allow_data_images: bool,
    /// Keep content the reader's client would load by itself from elsewhere: `img src` with
    /// any scheme but `cid:`/`data:` (http, https, ftp, ...) or a protocol-relative URL
    /// (`//host/...`), and CSS `url(...)`, `image-set()` and `-webkit-image-set()` naming
    /// anything but `cid:` or a raster `data:` image. Remote content lets a sender see when
    /// and where the mail is read. Off by default (blocked); links (`a href`) stay either
    /// way, as they load nothing until clicked.
    pub allow_remote_images: bool,
    /// Keep relative URLs (`/path`, `#anchor`). Off by default: in a mail they would be
    /// resolved against the application showing it.
    pub allow_relative_urls: bool,
}

impl Default for SanitizeConfig {
    fn default() -> Self {
        SanitizeConfig {
            allow_cid_urls: true,
            allow_data_images: true,
            allow_remote_images: false,
            allow_relative_urls: false,
        }
    }
}

impl SanitizeConfig {
    fn index(self) -> usize {
        usize::from(self.allow_cid_urls)
            | usize::from(self.allow_data_images) << 1
            | usize::from(self.allow_remote_images) << 2
            | usize::from(self.allow_relative_urls) << 3
    }
}

/// Sanitizes untrusted HTML for display.
///
/// Removed: `<script>`, `<style>`, `<iframe>`, `<frame>`, `<object>`, `<embed>`, `<form>` and
/// its controls, `<meta>`, `<base>`, `<link>`, `<svg>` and `<math>` (with their content where
/// it could run or restyle), every `on*` event handler, `javascript:`/`vbscript:`/other
/// non-web URL schemes, `data:` URLs other than raster images, CSS properties outside a
/// layout allow-list and any style holding `expression(`, `javascript:`, `behavior`,
/// `-moz-binding`, `@import` or CSS escapes. Links get `rel="noopener noreferrer"`.
///
/// Kept: text, tables (with `width`, `bgcolor`, `cellpadding`, ...), `div`/`p`/`span`,
/// `b`/`i`/`u`/`strong`/`em`, headings, lists, `font` (`color`, `face`, `size`), layout CSS
/// (`color`, `font-*`, `margin`, `padding`, `border`, `text-align`, ...), links, and images
/// allowed by `options`.
///
/// The `ammonia` configuration is built once per distinct `options` and reused.
pub fn sanitize_html(html: &str, options: &SanitizeConfig) -> String {
    builder(*options).clean(html).to_string()
}

static BUILDERS: [OnceLock<Builder<'static>>; 16] = [const { OnceLock::new() }; 16];

fn builder(options: SanitizeConfig) -> &'static Builder<'static> {
    BUILDERS[options.index()].get_or_init(|| build(options))
}

const EXTRA_TAGS: &[&str] = &[
    "font", "big", "tfoot", "section", "main", "address", "center",
];

/// Tags removed together with everything inside them.
const DROP_WITH_CONTENT: &[&str] = &[
    "script", "style", "title", "iframe", "frame", "frameset", "noframes", "noembed", "object",
    "applet", "embed", "xmp", "template", "svg", "math", "select", "textarea", "button",
];

const GENERIC_ATTRIBUTES: &[&str] = &["lang", "title", "dir", "align", "valign", "style"];

const TAG_ATTRIBUTES: &[(&str, &[&str])] = &[
    ("a", &["href", "hreflang"]),
    ("font", &["color", "face", "size"]),
    (
        "img",
        &[
            "alt", "src", "width", "height", "border", "hspace", "vspace",
        ],
    ),
    (
        "table",
        &[
            "width",
            "height",
            "border",
            "cellpadding",
            "cellspacing",
            "bgcolor",
            "summary",
        ],
    ),
    ("tr", &["height", "bgcolor"]),
    (
        "td",
        &[
            "width", "height", "bgcolor", "nowrap", "colspan", "rowspan", "headers",
        ],
    ),
    (
        "th",
        &[
            "width", "height", "bgcolor", "nowrap", "colspan", "rowspan", "headers", "scope",
        ],
    ),
    ("col", &["width", "span"]),
    ("colgroup", &["width", "span"]),
    ("hr", &["size", "width", "noshade"]),
    ("ol", &["start", "type"]),
    ("ul", &["type"]),
    ("li", &["value", "type"]),
    ("blockquote", &["cite"]),
    ("q", &["cite"]),
    ("del", &["cite", "datetime"]),
    ("ins", &["cite", "datetime"]),
    ("div", &["width", "height"]),
];

const STYLE_PROPERTIES: &[&str] = &[
    "color",
    "background-color",
    "background",
    "background-image",
    "background-repeat",
    "background-position",
    "background-size",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-weight",
    "font-variant",
    "line-height",
    "letter-spacing",
    "word-spacing",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "vertical-align",
    "white-space",
    "word-break",
    "word-wrap",
    "overflow-wrap",
    "direction",
    "margin",
    "margin-top",
    "margin-right",
    "margin-bottom",
    "margin-left",
    "padding",
    "padding-top",
    "padding-right",
    "padding-bottom",
    "padding-left",
    "border",
    "border-top",
    "border-right",
    "border-bottom",
    "border-left",
    "border-color",
    "border-style",
    "border-width",
    "border-radius",
    "border-collapse",
    "border-spacing",
    "width",
    "min-width",
    "max-width",
    "height",
    "min-height",
    "max-height",
    "display",
    "float",
    "clear",
    "list-style",
    "list-style-type",
    "table-layout",
    "caption-side",
    "empty-cells",
    "opacity",
    "visibility",
];

/// URL schemes that are safe to follow from a mail.
const URL_SCHEMES: &[&str] = &[
    "http", "https", "mailto", "tel", "sms", "ftp", "ftps", "webcal",
];

/// Raster image media types allowed in `data:` URLs.
const DATA_IMAGE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/jpg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/x-icon",
    "image/vnd.microsoft.icon",
];

fn build(options: SanitizeConfig) -> Builder<'static> {
    let mut schemes: HashSet<&'static str> = URL_SCHEMES.iter().copied().collect();
    if options.allow_cid_urls {
        schemes.insert("cid");
    }
    if options.allow_data_images {
        schemes.insert("data");
    }
    let tag_attributes: HashMap<&'static str, HashSet<&'static str>> = TAG_ATTRIBUTES
        .iter()
        .map(|(tag, attrs)| (*tag, attrs.iter().copied().collect()))
        .collect();

    let mut builder = Builder::default();
    builder
        .add_tags(EXTRA_TAGS)
        .clean_content_tags(DROP_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRIBUTES.iter().copied().collect())
        .tag_attributes(tag_attributes)
        .filter_style_properties(STYLE_PROPERTIES.iter().copied().collect())
        .url_schemes(schemes)
        .url_relative(if options.allow_relative_urls {
            UrlRelative::PassThrough
        } else {
            UrlRelative::Deny
        })
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true)
        .attribute_filter(move |element, attribute, value| {
            filter_attribute(options, element, attribute, value)
        });
    builder
}

/// The last check on every attribute ammonia kept: `None` drops it.
fn filter_attribute<'u>(
    options: SanitizeConfig,
    element: &str,
    attribute: &str,
    value: &'u str,
) -> Option<Cow<'u, str>> {
    let trimmed = value.trim_start_matches(|c: char| c.is_ascii_whitespace() || c.is_control());
    let has_scheme = |scheme: &str| {
        trimmed
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
    };
    let is_url = matches!(attribute, "href" | "src" | "cite");
    // A `<` or `>` inside an attribute value is inert once quoted, but strip them anyway so
    // no markup-looking text (`<script`) is left anywhere in the output. A URL holding them
    // is dropped: stripping could join `java<>script:` into a scheme ammonia never saw.
    if value.contains(['<', '>']) {
        if is_url {
            return None;
        }
        let stripped: String = value.chars().filter(|c| !matches!(c, '<' | '>')).collect();
        return filter_attribute(options, element, attribute, &stripped)
            .map(|v| Cow::Owned(v.into_owned()));
    }
    if is_url && !scheme_is_wellformed(trimmed) {
        return None;
    }
    match attribute {
        "style" => (!style_is_dangerous(value, options)).then_some(Cow::Borrowed(value)),
        "src" if element == "img" => {
            if has_scheme("data:") {
                (options.allow_data_images && is_raster_data_url(trimmed))
                    .then_some(Cow::Borrowed(value))
            } else if options.allow_remote_images || is_local_image_url(trimmed) {
                Some(Cow::Borrowed(value))
            } else {
                None
            }
        }
        // `data:` is only ever allowed as an image source.
        _ if has_scheme("data:") => None,
        _ => Some(Cow::Borrowed(value)),
    }
}

/// A URL whose first path segment holds a colon must start with a well-formed scheme:
/// `java\u{fffd}script:` is a relative URL to a URL parser but not to every browser.
fn scheme_is_wellformed(url: &str) -> bool {
    let Some(colon) = url.find(':') else {
        return true;
    };
    let head = &url[..colon];
    if head.contains(['/', '?', '#']) {
        return true;
    }
    let mut chars = head.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// True when an image URL loads nothing from elsewhere: `cid:` (a part of the same message)
/// or a relative path (left to ammonia's relative-URL rule). Anything with another scheme,
/// and protocol-relative URLs in any spelling browsers accept (`//`, `/\`, `\\`, with tabs
/// or line breaks between), is remote.
fn is_local_image_url(url: &str) -> bool {
    // Browsers remove tabs and line breaks anywhere in a URL and read `\` as `/`.
    let url: String = url
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    if url.starts_with("//") {
        return false;
    }
    match url.find(':') {
        Some(colon) if !url[..colon].contains(['/', '?', '#']) => {
            url[..colon].eq_ignore_ascii_case("cid")
        }
        _ => true,
    }
}

fn is_raster_data_url(url: &str) -> bool {
    let Some(rest) = url.get(5..) else {
        return false;
    };
    let media_type = rest.split([';', ',']).next().unwrap_or_default().trim();
    DATA_IMAGE_TYPES
        .iter()
        .any(|t| t.eq_ignore_ascii_case(media_type))
}

/// Styles that could run code or load what the allow-list does not see, in any spelling.
fn style_is_dangerous(style: &str, options: SanitizeConfig) -> bool {
    // CSS escapes and comments can hide any keyword: refuse them outright.
    if style.contains('\\') || style.contains("/*") {
        return true;
    }
    let lower = style.to_ascii_lowercase();
    let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    const BAD: &[&str] = &[
        "expression(",
        "javascript:",
        "vbscript:",
        "livescript:",
        "behavior:",
        "behaviour:",
        "-moz-binding",
        "@import",
        "url(data:text",
        "url(\"data:text",
        "url('data:text",
        "image/svg",
    ];
    if BAD.iter().any(|b| compact.contains(b)) {
        return true;
    }
    !options.allow_remote_images && style_loads_remote(&compact)
}

/// True when a style (lower case, white space removed) could load anything but a `cid:` part
/// or a raster `data:` image: any `image-set()` (its bare strings are URLs), `src()`, or a
/// `url()` naming anything else.
fn style_loads_remote(compact: &str) -> bool {
    if compact.contains("image-set(") || compact.contains("src(") {
        return true;
    }
    compact.match_indices("url(").any(|(at, _)| {
        let arg = compact[at + 4..].trim_start_matches(['"', '\'']);
        let local = arg.starts_with("cid:")
            || (arg.starts_with("data:")
                && is_raster_data_url(arg.split([')', '"', '\'']).next().unwrap_or_default()));
        !local
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_are_cached_per_options() {
        let a = builder(SanitizeConfig::default()) as *const Builder<'static>;
        let b = builder(SanitizeConfig::default()) as *const Builder<'static>;
        assert_eq!(a, b);
        let relaxed = SanitizeConfig {
            allow_remote_images: true,
            ..SanitizeConfig::default()
        };
        assert_ne!(a, builder(relaxed) as *const Builder<'static>);
    }

    #[test]
    fn remote_images_can_be_blocked() {
        let html =
            r#"<img src="https://t.example/p.gif" alt="x"><a href="https://ok.example/">l</a>"#;
        let strict = SanitizeConfig {
            allow_remote_images: false,
            ..SanitizeConfig::default()
        };
        let out = sanitize_html(html, &strict);
        assert!(!out.contains("t.example"), "{out}");
        assert!(out.contains("https://ok.example/"), "{out}");
        let allow = SanitizeConfig {
            allow_remote_images: true,
            ..SanitizeConfig::default()
        };
        let out = sanitize_html(html, &allow);
        assert!(out.contains("https://t.example/p.gif"), "{out}");
    }

    #[test]
    fn relative_urls_follow_the_option() {
        let html = r#"<a href="/logout">x</a><img src="/api/delete?id=1">"#;
        let out = sanitize_html(html, &SanitizeConfig::default());
        assert!(!out.contains("/logout") && !out.contains("/api"), "{out}");
        let relaxed = SanitizeConfig {
            allow_relative_urls: true,
            ..SanitizeConfig::default()
        };
        let out = sanitize_html(html, &relaxed);
        assert!(out.contains("/logout"), "{out}");
    }

    #[test]
    fn data_images_only_raster() {
        let opts = SanitizeConfig::default();
        let ok = sanitize_html(r#"<img src="data:image/png;base64,iVBORw0KGgo=">"#, &opts);
        assert!(ok.contains("data:image/png;base64,iVBORw0KGgo="), "{ok}");
        let svg = sanitize_html(r#"<img src="data:image/svg+xml;base64,PHN2Zz4=">"#, &opts);
        assert!(!svg.contains("data:"), "{svg}");
        let link = sanitize_html(r#"<a href="data:image/png;base64,AAAA">x</a>"#, &opts);
        assert!(!link.contains("data:"), "{link}");
        let off = SanitizeConfig {
            allow_data_images: false,
            ..opts
        };
        let out = sanitize_html(r#"<img src="data:image/png;base64,iVBORw0KGgo=">"#, &off);
        assert!(!out.contains("data:"), "{out}");
    }
}
