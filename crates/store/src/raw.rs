//! The raw message BLOB, written and read in pieces (SQLite incremental BLOB I/O), so the
//! store never holds a second whole copy of a large message in memory.
//!
//! Binding a BLOB as a statement parameter makes SQLite copy it, and building the row's
//! record copies it again: a 100 MB message cost 200 MB more while it was stored. Here the row
//! is inserted with a zero-filled BLOB of the right length (`zeroblob`, never materialized) and
//! the bytes are written into it [`CHUNK`] at a time, in the same transaction as the message
//! row and its pending action. Reading goes the same way, into a buffer of the exact size or
//! straight to a writer.

use std::io::Write;

use bytes::Bytes;
use inbound_message::Email;
use rusqlite::blob::ZeroBlob;
use rusqlite::{Connection, MAIN_DB, OptionalExtension as _, Transaction, params};

use crate::codec;
use crate::error::{Error, Result};
use crate::store::Store;
use crate::types::{AttachmentInfo, CidImages, MessageId, StoredMessage};

/// Bytes written to or read from a BLOB per call.
const CHUNK: usize = 256 * 1024;

/// Inserts the raw message of message `id` in pieces (see the module documentation).
pub(crate) fn insert_raw(tx: &Transaction<'_>, id: MessageId, raw: &[u8]) -> Result<()> {
    tx.prepare_cached("INSERT INTO message_raw (message_id, raw) VALUES (?1, ?2)")?
        .execute(params![id.0, ZeroBlob(raw.len() as u64)])?;
    if raw.is_empty() {
        return Ok(());
    }
    // `message_id` is the table's INTEGER PRIMARY KEY, so it is the rowid.
    let mut blob = tx.blob_open(MAIN_DB, c"message_raw", c"raw", id.0, false)?;
    for (i, chunk) in raw.chunks(CHUNK).enumerate() {
        blob.write_all_at(chunk, i * CHUNK)?;
    }
    blob.close()?;
    Ok(())
}

/// The raw bytes of message `id`, read into a buffer of exactly their size; `None` if there
/// is no such message.
pub(crate) fn read_raw(conn: &Connection, id: MessageId) -> Result<Option<Vec<u8>>> {
    let Some(blob) = open(conn, id)? else {
        return Ok(None);
    };
    let mut raw = vec![0; blob.len()];
    for (i, chunk) in raw.chunks_mut(CHUNK).enumerate() {
        blob.read_at_exact(chunk, i * CHUNK)?;
    }
    Ok(Some(raw))
}

/// Opens message `id`'s raw BLOB for reading; `None` if there is no such message.
fn open(conn: &Connection, id: MessageId) -> Result<Option<rusqlite::blob::Blob<'_>>> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM message_raw WHERE message_id = ?1")?
        .query_row([id.0], |_| Ok(()))
        .optional()?;
    if exists.is_none() {
        return Ok(None);
    }
    Ok(Some(conn.blob_open(
        MAIN_DB,
        c"message_raw",
        c"raw",
        id.0,
        true,
    )?))
}

/// A stored message read for display by [`Store::get_message_lean`]: parsed without decoding
/// its large attachments, with every attachment's description from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageView {
    /// The message, as [`Store::get_message`] gives it, except that the
    /// [`content`](inbound_message::Attachment::content) of attachments left undecoded
    /// ([`Email::parse_lean`]) is empty.
    pub message: StoredMessage,
    /// The attachments as stored (name, type, decoded size, inline), in message order.
    pub attachments: Vec<AttachmentInfo>,
}

impl Store {
    /// Writes the raw message `id` exactly as received to `out`, a piece at a time (never the
    /// whole message in memory). Returns the number of bytes written, or `None` if there is
    /// no such message (then nothing is written).
    ///
    /// The read holds one snapshot of the store for as long as `out` takes.
    pub fn write_raw_to(&self, id: MessageId, out: &mut dyn Write) -> Result<Option<u64>> {
        self.read(|conn| {
            let Some(blob) = open(conn, id)? else {
                return Ok(None);
            };
            let len = blob.len();
            let mut buf = vec![0; CHUNK.min(len)];
            let mut at = 0;
            while at < len {
                let n = CHUNK.min(len - at);
                let piece = buf.get_mut(..n).unwrap_or_default();
                blob.read_at_exact(piece, at)?;
                out.write_all(piece).map_err(Error::Output)?;
                at += n;
            }
            Ok(Some(len as u64))
        })
    }

    /// Like [`get_message`](Self::get_message), for showing a message: large attachments
    /// are not decoded ([`Email::parse_lean`]), so reading a message costs about its raw size
    /// in memory; their descriptions (decoded sizes included) come from the store.
    ///
    /// A message stored with [`CidImages::DataUrl`] embeds its inline images in the
    /// sanitized HTML, so it is parsed whole.
    pub fn get_message_lean(&self, id: MessageId) -> Result<Option<MessageView>> {
        let Some(summary) = self.get_summary(id)? else {
            return Ok(None);
        };
        let sanitize: Option<String> = self.read(|conn| {
            Ok(conn
                .prepare_cached("SELECT sanitize FROM messages WHERE id = ?1")?
                .query_row([id.0], |row| row.get(0))
                .optional()?
                .flatten())
        })?;
        let data_url = codec::decode_sanitize(sanitize.as_deref())?
            .is_some_and(|s| s.cid == CidImages::DataUrl);
        let message = if data_url {
            self.get_message(id)?
        } else {
            self.get_message_parsed_with(id, |raw| Email::parse_lean(raw).email)?
        };
        Ok(message.map(|message| MessageView {
            message,
            attachments: summary.attachments,
        }))
    }
}

/// Reads the raw bytes of message `id` as [`Bytes`] (one copy, the exact size).
pub(crate) fn read_raw_bytes(conn: &Connection, id: MessageId) -> Result<Option<Bytes>> {
    Ok(read_raw(conn, id)?.map(Bytes::from))
}
