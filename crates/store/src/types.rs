//! Plain values the store takes and returns.

use inbound_message::{Email, InlineImages, SanitizeConfig};
use sha2::{Digest as _, Sha256};

/// The store's id of one message (a SQLite rowid; stable for the life of the store).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub i64);

impl std::fmt::Display for MessageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a message lives on the server: its identity within an account and folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerRef {
    /// An IMAP message: the folder's UIDVALIDITY and the message's UID (RFC 9051 §2.3.1.1).
    Imap {
        /// The folder's UIDVALIDITY when the message was fetched.
        uidvalidity: u32,
        /// The message's UID.
        uid: u32,
    },
    /// A POP3 message: its UIDL (RFC 1939 §7), 1 to 70 printable characters.
    Pop3 {
        /// The unique-id listing value.
        uidl: String,
    },
}

/// What to do on the server once a message is stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PendingAction {
    /// Delete the message (IMAP `\Deleted` + expunge, POP3 `DELE`).
    Delete,
    /// Move the message to this folder (IMAP only).
    MoveTo(String),
}

/// A server action recorded with a stored message and not yet confirmed done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The action's id, for [`Store::complete_action`](crate::Store::complete_action).
    pub id: i64,
    /// The stored message it belongs to.
    pub message: MessageId,
    /// The account name.
    pub account: String,
    /// The folder the message is in on the server.
    pub folder: String,
    /// The message's identity on the server.
    pub server_ref: ServerRef,
    /// What to do.
    pub action: PendingAction,
    /// How many attempts failed so far.
    pub attempts: u32,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When the action was recorded (seconds since the Unix epoch).
    pub created_at: i64,
}

/// How the HTML body of a message from an account that sanitizes is shown: recorded with the
/// message, applied each time it is read ([`StoredMessage::sanitized_html`]).
///
/// HTML is sanitized with [`SanitizeConfig::default`] (remote content blocked unless
/// [`SanitizeHtml::remote_images`] says otherwise) and then `cid:` URLs are handled as
/// [`SanitizeHtml::cid`] says (see [`InlineImages`]).
///
/// Messages stored before the remote-images choice existed read back with remote content
/// blocked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SanitizeHtml {
    /// What happens to `cid:` URLs.
    pub cid: CidImages,
    /// Keep remote images and other remote content (tracking pixels): see
    /// [`SanitizeConfig::allow_remote_images`]. Default false (blocked).
    pub remote_images: bool,
}

/// How `cid:` URLs in sanitized HTML are handled ([`SanitizeHtml::cid`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CidImages {
    /// Leave `cid:` URLs as they are ([`InlineImages::Keep`]).
    Keep,
    /// Rewrite `cid:` URLs with this pattern ([`InlineImages::RewriteCid`]).
    Rewrite(String),
    /// Embed raster inline images as `data:` URLs ([`InlineImages::DataUrl`]).
    DataUrl,
}

impl SanitizeHtml {
    /// `cid:` URLs left as they are, remote content blocked.
    pub fn keep_cid() -> Self {
        CidImages::Keep.into()
    }

    /// `cid:` URLs rewritten with `pattern`, remote content blocked.
    pub fn rewrite_cid(pattern: impl Into<String>) -> Self {
        CidImages::Rewrite(pattern.into()).into()
    }

    /// Raster inline images embedded as `data:` URLs, remote content blocked.
    pub fn data_url() -> Self {
        CidImages::DataUrl.into()
    }

    /// The same with remote content kept (`true`) or blocked (`false`).
    pub fn with_remote_images(self, remote_images: bool) -> Self {
        SanitizeHtml {
            remote_images,
            ..self
        }
    }

    /// The message crate's form of the `cid:` handling.
    pub fn inline_images(&self) -> InlineImages<'_> {
        match &self.cid {
            CidImages::Keep => InlineImages::Keep,
            CidImages::Rewrite(pattern) => InlineImages::RewriteCid(pattern),
            CidImages::DataUrl => InlineImages::DataUrl,
        }
    }

    /// The sanitizer options: the defaults, with remote content as this mode says.
    pub fn options(&self) -> SanitizeConfig {
        SanitizeConfig {
            allow_remote_images: self.remote_images,
            ..SanitizeConfig::default()
        }
    }

    /// `email`'s HTML body sanitized this way; `None` when it has none.
    pub fn apply(&self, email: &Email) -> Option<String> {
        email.sanitized_html(&self.inline_images(), &self.options())
    }
}

impl From<CidImages> for SanitizeHtml {
    /// That `cid:` handling, remote content blocked.
    fn from(cid: CidImages) -> Self {
        SanitizeHtml {
            cid,
            remote_images: false,
        }
    }
}

/// One message to store: see [`Store::insert_message`](crate::Store::insert_message).
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    /// The account name.
    pub account: &'a str,
    /// The folder on the server (`INBOX` for POP3).
    pub folder: &'a str,
    /// The message's identity on the server; stored messages are unique per
    /// account, folder and server ref (for POP3, per UIDL and content: servers reuse UIDLs).
    pub server_ref: &'a ServerRef,
    /// The parsed message, raw bytes included: [`Email::parse`] of the raw bytes.
    ///
    /// The store keeps the raw bytes, the envelope fields (for listings) and the attachment
    /// descriptions; everything else is parsed again from the raw bytes when the message is
    /// read ([`Store::get_message`](crate::Store::get_message)).
    pub email: &'a Email,
    /// When the message comes from an account that sanitizes HTML: how. Every read of the
    /// message then gives the HTML body sanitized ([`StoredMessage::sanitized_html`]).
    pub sanitize: Option<&'a SanitizeHtml>,
    /// The server action to record in the same transaction, if any.
    pub action: Option<&'a PendingAction>,
    /// The SHA-256 of `email.raw` when the caller has it already ([`raw_sha256`]), so the
    /// store does not hash the message itself; `None`: the store computes it.
    pub sha256: Option<&'a [u8; 32]>,
    /// The decoded size in bytes of each of `email.attachments`, in order, when they are not
    /// all the lengths of their contents: from [`Email::parse_lean`]
    /// ([`LeanEmail::attachment_sizes`](inbound_message::LeanEmail::attachment_sizes)), which
    /// leaves large parts undecoded. `None`: each attachment's content length.
    pub attachment_sizes: Option<&'a [u64]>,
}

/// The SHA-256 of a raw message, as [`NewMessage::with_sha256`] takes it. Callers that
/// store from one thread can hash on others with this.
pub fn raw_sha256(raw: &[u8]) -> [u8; 32] {
    Sha256::digest(raw).into()
}

impl<'a> NewMessage<'a> {
    /// A message whose HTML is not sanitized, with no pending action.
    pub fn new(
        account: &'a str,
        folder: &'a str,
        server_ref: &'a ServerRef,
        email: &'a Email,
    ) -> Self {
        Self {
            account,
            folder,
            server_ref,
            email,
            sanitize: None,
            action: None,
            sha256: None,
            attachment_sizes: None,
        }
    }

    /// Gives the attachments' decoded sizes (one per attachment of `email`, in order), for a
    /// message parsed with [`Email::parse_lean`], whose large attachments have no content.
    /// A list of another length than `email.attachments` is ignored.
    pub fn with_attachment_sizes(mut self, sizes: Option<&'a [u64]>) -> Self {
        self.attachment_sizes = sizes;
        self
    }

    /// Gives the SHA-256 of `email.raw` ([`raw_sha256`]), computed beforehand (on another
    /// thread, say), so that storing does not hash the message again. It must be the digest
    /// of exactly `email.raw`: the store keeps it to find the message by content.
    pub fn with_sha256(mut self, sha256: Option<&'a [u8; 32]>) -> Self {
        self.sha256 = sha256;
        self
    }

    /// Records that the message's HTML is to be sanitized (`Some`) whenever it is read.
    pub fn with_sanitize(mut self, sanitize: Option<&'a SanitizeHtml>) -> Self {
        self.sanitize = sanitize;
        self
    }

    /// Records `action` as pending in the same transaction as the message.
    pub fn with_action(mut self, action: Option<&'a PendingAction>) -> Self {
        self.action = action;
        self
    }
}

/// The result of storing one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// The message's id (the existing one when it was already stored).
    pub id: MessageId,
    /// True when this call stored the message; false when it was already there.
    pub created: bool,
}

/// Which messages [`Store::list_messages`](crate::Store::list_messages) returns.
///
/// Dates compare against the message's Date header, or the time it was stored when it has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// Only this account.
    pub account: Option<String>,
    /// Only this folder.
    pub folder: Option<String>,
    /// Only messages dated at or after this time (seconds since the Unix epoch).
    pub since: Option<i64>,
    /// Only messages dated before this time (seconds since the Unix epoch).
    pub until: Option<i64>,
    /// At most this many messages.
    pub limit: Option<u32>,
    /// Skip this many messages first (paging).
    pub offset: u32,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
}

impl MessageFilter {
    /// Every message of `account`.
    pub fn account(account: impl Into<String>) -> Self {
        Self {
            account: Some(account.into()),
            ..Self::default()
        }
    }

    /// Restricts to `folder`.
    pub fn folder(mut self, folder: impl Into<String>) -> Self {
        self.folder = Some(folder.into());
        self
    }

    /// Restricts to messages dated in `since..until` (either end open when `None`).
    pub fn dated(mut self, since: Option<i64>, until: Option<i64>) -> Self {
        self.since = since;
        self.until = until;
        self
    }

    /// Returns at most `limit` messages.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// An attachment's description without its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// The file name, if any.
    pub filename: Option<String>,
    /// The media type.
    pub content_type: String,
    /// The decoded size in bytes.
    pub size: u64,
    /// True for inline parts.
    pub inline: bool,
}

/// One line of a message listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSummary {
    /// The store's id.
    pub id: MessageId,
    /// The account name.
    pub account: String,
    /// The folder.
    pub folder: String,
    /// The identity on the server.
    pub server_ref: ServerRef,
    /// The Message-ID, if any.
    pub message_id: Option<String>,
    /// The subject, if any.
    pub subject: Option<String>,
    /// The From addresses.
    pub from: Vec<inbound_message::Address>,
    /// The Date header (seconds since the Unix epoch), if any.
    pub date: Option<i64>,
    /// When the message was stored (seconds since the Unix epoch).
    pub stored_at: i64,
    /// The raw message size in bytes.
    pub size: u64,
    /// The attachments, in message order.
    pub attachments: Vec<AttachmentInfo>,
}

/// A stored message with everything kept about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The store's id.
    pub id: MessageId,
    /// The account name.
    pub account: String,
    /// The folder.
    pub folder: String,
    /// The identity on the server.
    pub server_ref: ServerRef,
    /// The message parsed from its raw bytes, with the envelope fields as stored.
    /// [`Email::html`] is the HTML body as sent, never sanitized: show
    /// [`sanitized_html`](Self::sanitized_html) (or [`display_html`](Self::display_html))
    /// instead.
    pub email: Email,
    /// The HTML body sanitized as [`sanitize`](Self::sanitize) says, made when the message
    /// was read; `None` when the message was stored without sanitizing or has no HTML body.
    pub sanitized_html: Option<String>,
    /// How the message's HTML is sanitized (recorded when it was stored); `None`: its
    /// account did not sanitize.
    pub sanitize: Option<SanitizeHtml>,
    /// When the message was stored (seconds since the Unix epoch).
    pub stored_at: i64,
}

impl StoredMessage {
    /// The HTML body to show: sanitized when the message was stored from an account that
    /// sanitizes (never the HTML as sent then), else the HTML as sent.
    pub fn display_html(&self) -> Option<&str> {
        if self.sanitize.is_some() {
            self.sanitized_html.as_deref()
        } else {
            self.email.html.as_deref()
        }
    }
}
