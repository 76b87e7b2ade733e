//! What the web tests share: a store with hostile and ordinary messages, and the app over it.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use inbound_message::Email;
use inbound_retrieve::backend::memory::MemoryServer;
use inbound_retrieve::{Account, SecretSource};
use inbound_store::{MessageId, NewMessage, ServerRef, Store};
use inbound_web::{Access, WebApp};

/// A 16x16 red PNG.
pub const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAF0lEQVR4nGP4z8CAFzGMKhhVMKqAmgoA8H8/wQ+Wr9UAAAAASUVORK5CYII=";

/// The hostile HTML corpus: every payload would make a request to `beacon` (an
/// `http://127.0.0.1:PORT` base) or change the page's title if it ran.
pub fn hostile_html(beacon: &str) -> String {
    format!(
        r#"<html><head>
<base href="{beacon}/base/">
<meta http-equiv="refresh" content="0;url={beacon}/refresh">
<link rel="stylesheet" href="{beacon}/link.css">
<style>body {{ background: url({beacon}/style-url); }} @import url({beacon}/import.css);</style>
<script>document.title = "pwned-script"; fetch("{beacon}/script");</script>
</head><body onload="document.title='pwned-onload'; fetch('{beacon}/onload')">
<h1 id="greeting">Hostile greeting</h1>
<p>Hello, this message tries everything.</p>
<img src="x" onerror="document.title='pwned-onerror'; fetch('{beacon}/onerror')">
<img src="relative.png">
<img src="{beacon}/remote-image.png" alt="remote">
<img src="//127.0.0.1:1/protocol-relative.png">
<a id="jslink" href="javascript:document.title='pwned-jslink';fetch('{beacon}/jslink')">click me</a>
<a id="link" href="{beacon}/link">a normal link</a>
<svg onload="fetch('{beacon}/svg-onload')"><script>fetch("{beacon}/svg-script")</script>
<image href="{beacon}/svg-image.png"/><foreignObject><img src="{beacon}/svg-fo.png"></foreignObject></svg>
<form action="{beacon}/form" method="post"><input name="q" value="x"><button id="submit" type="submit">Send</button></form>
<div style="background-image: url({beacon}/css-url)">styled</div>
<div style="width: expression(fetch('{beacon}/expression'))">expr</div>
<iframe srcdoc="&lt;script&gt;parent.document.title='pwned-srcdoc';fetch('{beacon}/srcdoc')&lt;/script&gt;"></iframe>
<iframe src="{beacon}/iframe"></iframe>
<frameset><frame src="{beacon}/frame"></frameset>
<object data="{beacon}/object"></object>
<embed src="{beacon}/embed">
<video poster="{beacon}/poster" src="{beacon}/video"></video>
<audio src="{beacon}/audio"></audio>
<math><mtext><img src="{beacon}/math.png"></mtext></math>
<table background="{beacon}/table-bg"><tr><td background="{beacon}/td-bg">cell</td></tr></table>
<input type="image" src="{beacon}/input-image">
<details open ontoggle="fetch('{beacon}/ontoggle')"><summary>s</summary></details>
<img src="cid:logo@inbound.test" id="logo" alt="logo">
</body></html>"#
    )
}

/// The raw hostile message: the corpus as HTML, a text part, an inline PNG (`cid:`), and an
/// HTML and an SVG attachment.
pub fn hostile_message(beacon: &str) -> Vec<u8> {
    let html = hostile_html(beacon);
    format!(
        "From: Mallory <mallory@example.org>\r\nTo: you@example.org\r\n\
         Subject: Hostile corpus\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n\
         Message-ID: <hostile@example.org>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"M\"\r\n\r\n\
         --M\r\nContent-Type: multipart/related; boundary=\"R\"\r\n\r\n\
         --R\r\nContent-Type: multipart/alternative; boundary=\"A\"\r\n\r\n\
         --A\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHello in plain text <script>x</script>\r\n\
         --A\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n--A--\r\n\
         --R\r\nContent-Type: image/png\r\nContent-ID: <logo@inbound.test>\r\n\
         Content-Disposition: inline; filename=\"logo.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{PNG_B64}\r\n--R--\r\n\
         --M\r\nContent-Type: text/html; name=\"page.html\"\r\n\
         Content-Disposition: attachment; filename=\"page.html\"\r\n\r\n\
         <script>document.title='pwned-attachment';fetch('{beacon}/attachment')</script><h1>attached</h1>\r\n\
         --M\r\nContent-Type: image/svg+xml; name=\"image.svg\"\r\n\
         Content-Disposition: attachment; filename=\"image.svg\"\r\n\r\n\
         <svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"fetch('{beacon}/svg-attachment')\"><script>document.title='pwned-svg'</script></svg>\r\n\
         --M--\r\n"
    )
    .into_bytes()
}

/// An ordinary message.
pub fn plain_message(i: u32) -> Vec<u8> {
    format!(
        "From: Ann <ann{}@example.org>\r\nTo: you@example.org\r\nSubject: Note {i}\r\n\
         Date: Sun, 6 Dec 2026 {:02}:00:00 +0000\r\nMessage-ID: <note{i}@example.org>\r\n\r\nNote number {i}.\r\n",
        i % 3,
        i % 24
    )
    .into_bytes()
}

/// An account of the in-memory server (its password given inline).
pub fn account(name: &str) -> Account {
    Account::imap(
        "imap.example.org",
        "me",
        SecretSource::value("hunter2-password"),
    )
    .named(name)
    .fetch_all()
    .build()
    .unwrap()
}

/// Stores `raw` for `account`, returning its id.
pub fn store_raw(store: &mut Store, account: &str, uid: u32, raw: Vec<u8>) -> MessageId {
    let email = Email::parse(raw);
    let r = ServerRef::Imap {
        uidvalidity: 1,
        uid,
    };
    store
        .insert_message(&NewMessage::new(account, "INBOX", &r, &email))
        .unwrap()
        .id
}

/// A test fixture: the app's parts and the ids of its messages.
pub struct Fixture {
    pub store: inbound_retrieve::SharedStore,
    pub accounts: Vec<Account>,
    pub hostile: MessageId,
    pub plain: Vec<MessageId>,
    pub server: MemoryServer,
}

/// Accounts `work` (the hostile message and 7 plain ones) and `home` (empty).
pub fn fixture(beacon: &str) -> Fixture {
    let mut store = Store::open_in_memory(None).unwrap();
    let hostile = store_raw(&mut store, "work", 1, hostile_message(beacon));
    let plain = (0..7)
        .map(|i| store_raw(&mut store, "work", 10 + i, plain_message(i)))
        .collect();
    Fixture {
        store: inbound_retrieve::share(store),
        accounts: vec![account("work"), account("home")],
        hostile,
        plain,
        server: MemoryServer::new(),
    }
}

impl Fixture {
    /// The app with "Retrieve now" against the in-memory server.
    pub fn app(&self) -> WebApp {
        WebApp::new(self.store.clone(), self.accounts.clone())
            .with_connector(self.server.connector())
    }

    /// The app with a password and a token configured.
    pub fn app_with_access(&self) -> WebApp {
        self.app().with_access(access())
    }
}

/// The API token of [`access`].
pub const TOKEN: &str = "test-token-0123456789";
/// The login password of [`access`].
pub const PASSWORD: &str = "correct horse battery";

/// A password and one token.
pub fn access() -> Access {
    Access {
        password: Some(inbound_store::Secret::new(PASSWORD.to_owned())),
        token_hashes: vec![Access::parse_token_hash(&Access::token_hash_text(TOKEN)).unwrap()],
    }
}
