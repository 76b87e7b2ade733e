//! Sanitizing against the kinds of vectors in the OWASP XSS filter evasion cheat sheet: none
//! may survive, and ordinary mail layout must.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use inbound_message::{SanitizeConfig, sanitize_html};
use proptest::prelude::*;

const VECTORS: &[&str] = &[
    // Script tags, every case and shape.
    "<script>alert(1)</script>",
    "<SCRIPT>alert(1)</SCRIPT>",
    "<ScRiPt>alert(1)</sCrIpT>",
    "<script src=http://xss.example/x.js></script>",
    "<SCRIPT/XSS SRC=\"http://xss.example/x.js\"></SCRIPT>",
    "<SCRIPT/SRC=\"http://xss.example/x.js\"></SCRIPT>",
    "<<SCRIPT>alert(1);//<</SCRIPT>",
    "<SCRIPT SRC=http://xss.example/x.js?< B >",
    "<script>alert(1)",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<SCRIPT>document.write(\"<SCRI\");</SCRIPT>PT SRC=\"http://xss.example/x.js\"></SCRIPT>",
    "<script\x0d\x0a>alert(1)</script>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<IMG \"\"\"><SCRIPT>alert(1)</SCRIPT>\">",
    // Event handlers.
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=x ONERROR=\"alert(1)\">",
    "<img src=x onerror=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)\">",
    "<body onload=alert(1)>",
    "<BODY ONLOAD=alert(1)>",
    "<div onmouseover=\"alert(1)\">x</div>",
    "<a href=\"#\" onclick=\"alert(1)\">x</a>",
    "<p/onclick=alert(1)>x</p>",
    "<video><source onerror=\"alert(1)\"></video>",
    "<audio src=x onerror=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<input autofocus onfocus=alert(1)>",
    "<table onmouseover=alert(1)><tr><td>x</td></tr></table>",
    // javascript:, vbscript:, data: in every URL attribute.
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)\">x</a>",
    "<a href=\"&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"jav&#x0A;ascript:alert(1)\">x</a>",
    "<a href=\"jav&#x0D;ascript:alert(1)\">x</a>",
    "<a href=\" &#14;  javascript:alert(1)\">x</a>",
    "<a href=\"java\0script:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"livescript:alert(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<IMG SRC=\"javascript:alert(1);\">",
    "<IMG SRC=javascript:alert(1)>",
    "<IMG SRC=`javascript:alert(1)`>",
    "<IMG DYNSRC=\"javascript:alert(1)\">",
    "<IMG LOWSRC=\"javascript:alert(1)\">",
    "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<img src=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
    "<TABLE BACKGROUND=\"javascript:alert(1)\"><TR><TD>x</TD></TR></TABLE>",
    "<TABLE><TD BACKGROUND=\"javascript:alert(1)\">x</TD></TABLE>",
    "<BODY BACKGROUND=\"javascript:alert(1)\">",
    "<form action=\"javascript:alert(1)\"><input type=submit></form>",
    "<form><button formaction=\"javascript:alert(1)\">x</button></form>",
    "<form><input type=submit formaction=javascript:alert(1)></form>",
    "<INPUT TYPE=\"IMAGE\" SRC=\"javascript:alert(1);\">",
    "<isindex action=\"javascript:alert(1)\" type=image>",
    // Frames, objects, embeds.
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<IFRAME SRC=# onmouseover=\"alert(1)\"></IFRAME>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<FRAMESET><FRAME SRC=\"javascript:alert(1);\"></FRAMESET>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<OBJECT TYPE=\"text/x-scriptlet\" DATA=\"http://xss.example/x.html\"></OBJECT>",
    "<EMBED SRC=\"data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==\" type=\"image/svg+xml\" AllowScriptAccess=\"always\"></EMBED>",
    "<embed src=\"http://xss.example/x.swf\" allowscriptaccess=always>",
    "<applet code=\"x.class\" codebase=\"http://xss.example/\"></applet>",
    // SVG and MathML.
    "<svg onload=alert(1)>",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text x=\"20\" y=\"20\">x</text></a></svg>",
    "<svg><animate attributeName=href to=javascript:alert(1) /></svg>",
    "<svg><set attributeName=\"onmouseover\" to=\"alert(1)\"/></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<math href=\"javascript:alert(1)\">x</math>",
    "<math><maction actiontype=\"statusline\" xlink:href=\"javascript:alert(1)\">x</maction></math>",
    // Style sheets and style attributes.
    "<style>body{background:url(\"javascript:alert(1)\")}</style>",
    "<STYLE>@import 'http://xss.example/x.css';</STYLE>",
    "<STYLE>li {list-style-image: url(\"javascript:alert(1)\");}</STYLE><UL><LI>x</LI></UL>",
    "<STYLE TYPE=\"text/javascript\">alert(1);</STYLE>",
    "<div style=\"width: expression(alert(1))\">x</div>",
    "<DIV STYLE=\"background-image: url(javascript:alert(1))\">x</DIV>",
    "<div style=\"behavior: url(x.htc)\">x</div>",
    "<div style=\"-moz-binding: url(http://xss.example/x.xml#xss)\">x</div>",
    "<div style=\"background:url(&quot;javascript:alert(1)&quot;)\">x</div>",
    "<div style=\"xss:expr/*XSS*/ession(alert(1))\">x</div>",
    "<div style=\"width: exp\\ression(alert(1))\">x</div>",
    "<div style=\"background-image:\\0075\\0072\\006C\\0028'\\006a\\0061\\0076\\0061\\0073\\0063\\0072\\0069\\0070\\0074\\003a\\0061\\006c\\0065\\0072\\0074\\0028.1027\\0058.1053\\0053\\0027\\0029'\\0029\">x</div>",
    "<div style=\"background:url(data:text/html,<script>alert(1)</script>)\">x</div>",
    "<span style=\"color:red;width:expression(alert(1))\">x</span>",
    "<LINK REL=\"stylesheet\" HREF=\"javascript:alert(1);\">",
    "<LINK REL=\"stylesheet\" HREF=\"http://xss.example/x.css\">",
    // Meta refresh, base.
    "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=javascript:alert(1);\">",
    "<META HTTP-EQUIV=\"refresh\" CONTENT=\"0;url=data:text/html base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg\">",
    "<META HTTP-EQUIV=\"Set-Cookie\" Content=\"USERID=<SCRIPT>alert(1)</SCRIPT>\">",
    "<BASE HREF=\"javascript:alert(1);//\">",
    // Comments, CDATA and broken markup.
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<!--[if gte IE 4]><SCRIPT>alert(1);</SCRIPT><![endif]-->",
    "<img src=\"x` `<script>alert(1)</script>\"` `>",
    "<a href=\"http://ok.example/\"<script>alert(1)</script>>x</a>",
    "<xmp><script>alert(1)</script></xmp>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<template><script>alert(1)</script></template>",
    "<textarea><script>alert(1)</script></textarea>",
    "<select><option><script>alert(1)</script></option></select>",
    "<p title=\"&lt;script&gt;alert(1)&lt;/script&gt;\">x</p>",
    "<div id=\"x\"></div><a href=\"//xss.example/\" target=\"_top\">x</a>",
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<a href=\"&#1;javascript:alert(1)\">x</a>",
    "<IMG SRC=\"jav\tascript:alert(1);\">",
    // Angle brackets inside a URL must not be stripped into a scheme.
    "<a href=\"java<>script:alert(1)\">x</a>",
    "<a href=\"java<b>script:alert(1)\">x</a>",
    "<img src=\"java<>script:alert(1)\">",
    "<a href=\"<javascript:alert(1)>\">x</a>",
];

const FORBIDDEN_TAGS: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input",
    "button", "textarea", "select", "meta", "base", "link", "svg", "math", "isindex", "template",
    "xmp", "noscript", "video", "audio", "source", "marquee", "animate", "set",
];

const FORBIDDEN_IN_VALUES: &[&str] = &[
    "javascript:",
    "vbscript:",
    "livescript:",
    "data:text",
    "data:image/svg",
    "expression(",
    "-moz-binding",
    "behavior",
    "@import",
    "\\",
];

/// A tag of the sanitized output: name and (attribute, value) pairs, entities decoded.
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

/// Reads the tags of serialized HTML (the output of html5ever: attribute values always in
/// double quotes).
fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' || !b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
            continue;
        }
        i += 1;
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' && b[i] != b'/' {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                break;
            }
            let a = i;
            while i < b.len() && !matches!(b[i], b'=' | b'>' | b' ' | b'/') {
                i += 1;
            }
            let attr = html[a..i].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(i) == Some(&b'=') {
                assert_eq!(b.get(i + 1), Some(&b'"'), "unquoted attribute in {html}");
                let v = i + 2;
                let end = html[v..].find('"').expect("unterminated attribute") + v;
                value = html[v..end]
                    .replace("&quot;", "\"")
                    .replace("&nbsp;", "\u{a0}")
                    .replace("&amp;", "&");
                i = end + 1;
            }
            attrs.push((attr, value));
        }
        out.push(Tag { name, attrs });
    }
    out
}

fn assert_safe(input: &str, output: &str, relative_allowed: bool) {
    let lower = output.to_ascii_lowercase();
    assert!(
        !lower.contains("<script"),
        "script survived\n in: {input}\nout: {output}"
    );
    for tag in tags(output) {
        assert!(
            !FORBIDDEN_TAGS.contains(&tag.name.as_str()),
            "<{}> survived\n in: {input}\nout: {output}",
            tag.name
        );
        for (attr, value) in &tag.attrs {
            assert!(
                !attr.starts_with("on"),
                "{attr} survived\n in: {input}\nout: {output}"
            );
            assert!(
                !matches!(
                    attr.as_str(),
                    "srcdoc"
                        | "formaction"
                        | "action"
                        | "background"
                        | "dynsrc"
                        | "lowsrc"
                        | "xlink:href"
                        | "http-equiv"
                        | "id"
                        | "target"
                ),
                "{attr} survived\n in: {input}\nout: {output}"
            );
            let compact: String = value
                .to_ascii_lowercase()
                .chars()
                .filter(|c| !c.is_whitespace() && !c.is_control())
                .collect();
            for bad in FORBIDDEN_IN_VALUES {
                assert!(
                    !compact.contains(bad),
                    "{bad} in {attr}\n in: {input}\nout: {output}"
                );
            }
            if matches!(attr.as_str(), "href" | "src") {
                let has_scheme = compact
                    .find(':')
                    .is_some_and(|colon| !compact[..colon].contains(['/', '?', '#']));
                let ok = if has_scheme {
                    ["http:", "https:", "mailto:", "cid:", "data:image/"]
                        .iter()
                        .any(|s| compact.starts_with(s))
                } else {
                    relative_allowed
                };
                assert!(ok, "{attr}={value:?}\n in: {input}\nout: {output}");
            }
        }
    }
    for bad in ["javascript:", "vbscript:", "expression("] {
        // Outside attributes these can only be text, and text is escaped; but nothing here
        // should even keep the text of a removed script or style.
        if lower.contains(bad) {
            assert!(
                !output.contains('<')
                    || tags(output).iter().all(|t| t
                        .attrs
                        .iter()
                        .all(|(_, v)| !v.to_ascii_lowercase().contains(bad))),
                "{bad}\n in: {input}\nout: {output}"
            );
        }
    }
}

#[test]
fn no_vector_survives() {
    assert!(VECTORS.len() >= 60, "only {} vectors", VECTORS.len());
    for options in [
        SanitizeConfig::default(),
        SanitizeConfig {
            allow_cid_urls: false,
            allow_data_images: false,
            allow_remote_images: false,
            allow_relative_urls: true,
        },
    ] {
        for vector in VECTORS {
            let out = sanitize_html(vector, &options);
            assert_safe(vector, &out, options.allow_relative_urls);
            // Sanitizing its own output changes nothing (no mutation-based bypass).
            assert_eq!(sanitize_html(&out, &options), out, "not stable: {vector}");
        }
    }
}

#[test]
fn vectors_inside_a_real_mail_body() {
    let body: String = VECTORS
        .iter()
        .map(|v| format!("<div><p>Hello</p>{v}</div>\n"))
        .collect();
    let out = sanitize_html(&body, &SanitizeConfig::default());
    assert_safe(&body, &out, false);
    assert!(
        out.matches("<p>Hello</p>").count() >= VECTORS.len() - 20,
        "{out}"
    );
}

#[test]
fn scripts_leave_no_text_behind() {
    let out = sanitize_html(
        "<p>a<script>steal()</script><style>p{}</style>b</p>",
        &SanitizeConfig::default(),
    );
    assert_eq!(out, "<p>ab</p>");
}

#[test]
fn layout_is_kept() {
    let html = r##"<table width="600" cellpadding="4" cellspacing="0" border="0" bgcolor="#ffffff" align="center">
<tr><td align="left" valign="top" width="50%" bgcolor="#eeeeee" style="padding: 8px; color: #333333; font-family: Arial, sans-serif">
<div style="text-align: center"><p><b>Bold</b> <i>italic</i> <u>under</u> <strong>s</strong> <em>e</em></p>
<font color="#ff0000" face="Georgia" size="3">red</font>
<span style="color: blue; font-size: 14px; font-weight: bold">blue</span></div>
<h1>Title</h1><ul><li>one</li></ul><br><hr>
<img src="https://img.example/logo.png" width="120" height="40" alt="Logo" border="0">
<img src="cid:part1@example" alt="inline">
<a href="https://example.com/path?a=1&amp;b=2">link</a> <a href="mailto:x@example.com">mail</a>
</td></tr></table>"##;
    // Remote images are blocked by default; a reader who allows them gets the layout whole.
    let allow_remote = SanitizeConfig {
        allow_remote_images: true,
        ..SanitizeConfig::default()
    };
    let out = sanitize_html(html, &allow_remote);
    for kept in [
        r##"<table width="600" cellpadding="4" cellspacing="0" border="0" bgcolor="#ffffff" align="center">"##,
        r##"<td align="left" valign="top" width="50%" bgcolor="#eeeeee" style="padding:8px;color:#333333;font-family:Arial , sans-serif">"##,
        r#"<div style="text-align:center">"#,
        "<b>Bold</b> <i>italic</i> <u>under</u> <strong>s</strong> <em>e</em>",
        r##"<font color="#ff0000" face="Georgia" size="3">red</font>"##,
        r#"<span style="color:blue;font-size:14px;font-weight:bold">blue</span>"#,
        "<h1>Title</h1><ul><li>one</li></ul><br><hr>",
        r#"<img src="https://img.example/logo.png" width="120" height="40" alt="Logo" border="0">"#,
        r#"<img src="cid:part1@example" alt="inline">"#,
        r#"<a href="https://example.com/path?a=1&amp;b=2" rel="noopener noreferrer">link</a>"#,
        r#"<a href="mailto:x@example.com" rel="noopener noreferrer">mail</a>"#,
    ] {
        assert!(out.contains(kept), "lost {kept}\nout: {out}");
    }
    assert_safe(html, &out, false);
}

#[test]
fn unsafe_css_properties_are_dropped_safe_ones_kept() {
    let out = sanitize_html(
        r#"<div style="position: fixed; top: 0; z-index: 99; color: green; margin: 0 auto">x</div>"#,
        &SanitizeConfig::default(),
    );
    assert_eq!(out, r#"<div style="color:green;margin:0 auto">x</div>"#);
}

/// Every way a mail can make the reader's client fetch something from `t.example` (a
/// tracking pixel) by itself, without a click.
const REMOTE_VECTORS: &[&str] = &[
    "<img src=\"https://t.example/p.gif\">",
    "<img src=\"http://t.example/p.gif\">",
    "<IMG SRC=\"HTTPS://t.example/p.gif\">",
    "<img src=\" \thttps://t.example/p.gif\">",
    "<img src=\"ht&#9;tps://t.example/p.gif\">",
    "<img src=\"ftp://t.example/p.gif\">",
    "<img src=\"ftps://t.example/p.gif\">",
    "<img src=\"//t.example/p.gif\">",
    "<img src=\"/\\t.example/p.gif\">",
    "<img src=\"\\\\t.example/p.gif\">",
    "<img src=\"/&#9;/t.example/p.gif\">",
    "<img src=\"webcal://t.example/p.gif\">",
    "<img srcset=\"https://t.example/p.gif 1x, https://t.example/q.gif 2x\">",
    "<img src=\"cid:a@b\" srcset=\"//t.example/p.gif 2x\">",
    "<table background=\"https://t.example/p.gif\"><tr><td>x</td></tr></table>",
    "<table><tr><td background=\"//t.example/p.gif\">x</td></tr></table>",
    "<body background=\"https://t.example/p.gif\">x</body>",
    "<div style=\"background: url(https://t.example/p.gif)\">x</div>",
    "<div style=\"background-image: url('//t.example/p.gif')\">x</div>",
    "<div style=\"background-image: URL( \"ftp://t.example/p.gif\" )\">x</div>",
    "<div style=\"background-image: image-set('https://t.example/p.gif' 1x)\">x</div>",
    "<div style=\"background-image: -webkit-image-set('https://t.example/p.gif' 1x)\">x</div>",
    "<div style=\"background-image: image-set(url(https://t.example/p.gif) 1x)\">x</div>",
    "<ul style=\"list-style: url(https://t.example/p.gif)\"><li>x</li></ul>",
    "<div style=\"@import 'https://t.example/x.css'\">x</div>",
    "<style>@import url(https://t.example/x.css);</style>",
    "<style>body{background:url(https://t.example/p.gif)}</style>",
    "<link rel=\"stylesheet\" href=\"https://t.example/x.css\">",
    "<link rel=\"preload\" as=\"image\" href=\"https://t.example/p.gif\">",
    "<video poster=\"https://t.example/p.gif\"></video>",
    "<video src=\"https://t.example/v.mp4\"></video>",
    "<audio src=\"https://t.example/a.mp3\"></audio>",
    "<input type=\"image\" src=\"https://t.example/p.gif\">",
    "<object data=\"https://t.example/p.gif\"></object>",
    "<embed src=\"https://t.example/p.gif\">",
    "<iframe src=\"https://t.example/\"></iframe>",
    "<picture><source srcset=\"https://t.example/p.gif\"><img src=\"cid:a@b\"></picture>",
    "<svg><image href=\"https://t.example/p.gif\"/></svg>",
    "<img src=\"cid:a@b\" lowsrc=\"https://t.example/p.gif\" dynsrc=\"https://t.example/p.gif\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=https://t.example/\">",
];

/// The options a mail client uses to show a mail: remote content blocked, with and without
/// relative URLs.
fn blocking_options() -> [SanitizeConfig; 3] {
    [
        SanitizeConfig::default(),
        SanitizeConfig {
            allow_relative_urls: true,
            ..SanitizeConfig::default()
        },
        SanitizeConfig {
            allow_cid_urls: false,
            allow_data_images: false,
            allow_remote_images: false,
            allow_relative_urls: true,
        },
    ]
}

#[test]
fn remote_content_is_blocked_by_default() {
    assert!(!SanitizeConfig::default().allow_remote_images);
    for options in blocking_options() {
        for vector in REMOTE_VECTORS {
            let out = sanitize_html(vector, &options);
            assert!(
                !out.to_ascii_lowercase().contains("t.example"),
                "remote content survived with {options:?}\n in: {vector}\nout: {out}"
            );
            assert_safe(vector, &out, options.allow_relative_urls);
        }
        let all: String = REMOTE_VECTORS
            .iter()
            .map(|v| format!("<p>Hello</p>{v}\n"))
            .collect();
        let out = sanitize_html(&all, &options);
        assert!(!out.contains("t.example"), "{out}");
    }
}

#[test]
fn inline_images_stay_when_remote_content_is_blocked() {
    let html = concat!(
        r#"<img src="cid:logo@x" alt="logo">"#,
        r#"<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">"#,
        r#"<div style="background-image:url(cid:bg@x);color:red">x</div>"#,
        r#"<div style="background:url('data:image/png;base64,iVBORw0KGgo=')">y</div>"#,
        r#"<a href="https://ok.example/">link</a>"#,
    );
    let out = sanitize_html(html, &SanitizeConfig::default());
    for kept in [
        r#"<img src="cid:logo@x" alt="logo">"#,
        r#"<img src="data:image/png;base64,iVBORw0KGgo=" alt="dot">"#,
        "url(&quot;cid:bg@x&quot;)",
        "url(&quot;data:image/png;base64,iVBORw0KGgo=&quot;)",
        r#"<a href="https://ok.example/" rel="noopener noreferrer">link</a>"#,
    ] {
        assert!(out.contains(kept), "lost {kept}\nout: {out}");
    }
}

#[test]
fn remote_images_are_shown_when_allowed() {
    let allow = SanitizeConfig {
        allow_remote_images: true,
        ..SanitizeConfig::default()
    };
    let html = r#"<img src="https://img.example/logo.png" alt="Logo"><div style="background:url(https://img.example/bg.png)">x</div>"#;
    let out = sanitize_html(html, &allow);
    assert!(
        out.contains(r#"<img src="https://img.example/logo.png" alt="Logo">"#),
        "{out}"
    );
    assert!(
        out.contains("url(&quot;https://img.example/bg.png&quot;)"),
        "{out}"
    );
    for vector in VECTORS {
        let out = sanitize_html(vector, &allow);
        assert_safe(vector, &out, false);
    }
}

#[test]
fn relative_urls_with_angle_brackets_are_dropped_not_rewritten() {
    let relaxed = SanitizeConfig {
        allow_relative_urls: true,
        ..SanitizeConfig::default()
    };
    for (html, gone) in [
        (r#"<a href="java<>script:alert(1)">x</a>"#, "script"),
        (r#"<a href="java<b>script:alert(1)">x</a>"#, "script"),
        (r#"<img src="java<>script:alert(1)">"#, "script"),
        (r#"<a href="/ok<>/path">x</a>"#, "path"),
    ] {
        let out = sanitize_html(html, &relaxed);
        assert!(!out.contains(gone), "in: {html}\nout: {out}");
        assert!(
            !out.contains("href=") && !out.contains("src="),
            "in: {html}\nout: {out}"
        );
    }
    // Text attributes only lose the brackets.
    let out = sanitize_html(r#"<img src="cid:a@b" alt="a <b> c">"#, &relaxed);
    assert!(out.contains(r#"alt="a b c""#), "{out}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Random mixes of vector pieces and markup fragments stay safe.
    #[test]
    fn mixed_fragments_stay_safe(picks in prop::collection::vec((0..VECTORS.len(), 0usize..8), 1..6)) {
        const GLUE: &[&str] = &["", "<", ">", "\"", "'", "<!--", "-->", "<div ", "</p>"];
        let html: String = picks
            .iter()
            .map(|&(v, g)| format!("{}{}", VECTORS[v], GLUE[g % GLUE.len()]))
            .collect();
        let out = sanitize_html(&html, &SanitizeConfig::default());
        assert_safe(&html, &out, false);
    }
}
