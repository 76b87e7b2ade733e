//! Raw messages on PostgreSQL, read in pieces (the counterpart of `raw.rs`): writing a raw
//! message to a writer, and a message parsed lean for viewing.

use std::io::Write;

use inbound_message::Email;

use super::PgStore;
use crate::codec;
use crate::error::{Error, Result};
use crate::raw::MessageView;
use crate::types::{CidImages, MessageId};

/// How much of a raw message [`StoreBackend::write_raw_to`](crate::StoreBackend::write_raw_to)
/// reads at a time.
const RAW_CHUNK: i64 = 256 * 1024;

/// True when message `id` was stored with inline images embedded as data URLs.
fn summary_sanitize_is_data_url(store: &PgStore, id: MessageId) -> Result<bool> {
    let pool = store.pool.clone();
    let sanitize: Option<String> = store.run(async move {
        let client = pool.get().await?;
        Ok(client
            .query_opt("SELECT sanitize FROM messages WHERE id = $1", &[&id.0])
            .await?
            .map(|r| r.try_get::<_, Option<String>>(0))
            .transpose()?
            .flatten())
    })?;
    Ok(codec::decode_sanitize(sanitize.as_deref())?.is_some_and(|s| s.cid == CidImages::DataUrl))
}

impl PgStore {
    pub(crate) fn write_raw_to(&self, id: MessageId, out: &mut dyn Write) -> Result<Option<u64>> {
        // A piece at a time, so the whole message is never in memory twice. Stored raw bytes
        // never change, so reading the pieces in separate statements reads one message.
        let pool = self.pool.clone();
        let len: Option<i64> = self.run(async move {
            let client = pool.get().await?;
            Ok(client
                .query_opt(
                    "SELECT octet_length(raw)::bigint FROM message_raw WHERE message_id = $1",
                    &[&id.0],
                )
                .await?
                .map(|r| r.try_get(0))
                .transpose()?)
        })?;
        let Some(len) = len else {
            return Ok(None);
        };
        let mut at: i64 = 0;
        while at < len {
            let n = RAW_CHUNK.min(len - at);
            let pool = self.pool.clone();
            let piece: Vec<u8> = self.run(async move {
                let client = pool.get().await?;
                // substring counts from 1.
                let row = client
                    .query_opt(
                        "SELECT substring(raw FROM $2::integer FOR $3::integer)
                         FROM message_raw WHERE message_id = $1",
                        &[&id.0, &((at + 1) as i32), &(n as i32)],
                    )
                    .await?
                    .ok_or_else(|| Error::Corrupt(format!("message {id} vanished while read")))?;
                Ok(row.try_get(0)?)
            })?;
            if piece.is_empty() {
                return Err(Error::Corrupt(format!(
                    "message {id} is shorter than recorded"
                )));
            }
            out.write_all(&piece).map_err(Error::Output)?;
            at += piece.len() as i64;
        }
        Ok(Some(len as u64))
    }

    pub(crate) fn get_message_lean(&self, id: MessageId) -> Result<Option<MessageView>> {
        let Some(summary) = self.get_summary(id)? else {
            return Ok(None);
        };
        // Inline images embedded as data URLs need the whole message parsed.
        let message = if summary_sanitize_is_data_url(self, id)? {
            self.get_message(id)?
        } else {
            self.get_parsed_with(id, |raw| Email::parse_lean(raw).email)?
        };
        Ok(message.map(|message| MessageView {
            message,
            attachments: summary.attachments,
        }))
    }
}
