//! How model fields are kept in columns: lists as compact JSON arrays.
//!
//! An address is `[name-or-null, address]`; an attachment `[filename-or-null, content_type,
//! size, inline (0 or 1)]`; id lists are arrays of strings. SQLite's JSON functions can read
//! them.

use inbound_message::{Address, Attachment};

use crate::error::{Error, Result};
use crate::types::{AttachmentInfo, CidImages, SanitizeHtml, ServerRef};

type Pair<'a> = (Option<&'a str>, &'a str);

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serializing strings, options and tuples to a String cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| String::from("[]"))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}

fn address_pair(a: &Address) -> Pair<'_> {
    (a.name.as_deref(), a.address.as_str())
}

fn pair_address((name, address): (Option<String>, String)) -> Address {
    Address { name, address }
}

pub(crate) fn encode_addresses(list: &[Address]) -> String {
    to_json(&list.iter().map(address_pair).collect::<Vec<_>>())
}

pub(crate) fn decode_addresses(text: &str) -> Result<Vec<Address>> {
    let pairs: Vec<(Option<String>, String)> = from_json(text, "address list")?;
    Ok(pairs.into_iter().map(pair_address).collect())
}

pub(crate) fn encode_address(a: Option<&Address>) -> Option<String> {
    a.map(|a| to_json(&address_pair(a)))
}

pub(crate) fn decode_address(text: Option<&str>) -> Result<Option<Address>> {
    text.map(|t| from_json(t, "address").map(pair_address))
        .transpose()
}

pub(crate) fn encode_strings(list: &[String]) -> String {
    to_json(list)
}

pub(crate) fn decode_strings(text: &str) -> Result<Vec<String>> {
    from_json(text, "id list")
}

pub(crate) fn encode_attachments(list: &[Attachment]) -> String {
    to_json(
        &list
            .iter()
            .map(|a| {
                (
                    a.filename.as_deref(),
                    a.content_type.as_str(),
                    a.content.len() as u64,
                    u8::from(a.inline),
                )
            })
            .collect::<Vec<_>>(),
    )
}

/// [`encode_attachments`] with the decoded sizes given (one per attachment, in order) instead
/// of the contents' lengths; the contents' lengths when `sizes` does not fit the list.
pub(crate) fn encode_attachments_sized(list: &[Attachment], sizes: Option<&[u64]>) -> String {
    let Some(sizes) = sizes.filter(|s| s.len() == list.len()) else {
        return encode_attachments(list);
    };
    to_json(
        &list
            .iter()
            .zip(sizes)
            .map(|(a, &size)| {
                (
                    a.filename.as_deref(),
                    a.content_type.as_str(),
                    size,
                    u8::from(a.inline),
                )
            })
            .collect::<Vec<_>>(),
    )
}

pub(crate) fn decode_attachments(text: &str) -> Result<Vec<AttachmentInfo>> {
    let rows: Vec<(Option<String>, String, u64, u8)> = from_json(text, "attachments")?;
    Ok(rows
        .into_iter()
        .map(|(filename, content_type, size, inline)| AttachmentInfo {
            filename,
            content_type,
            size,
            inline: inline != 0,
        })
        .collect())
}

const SANITIZE_KEEP: &str = "keep";
const SANITIZE_DATA_URL: &str = "data-url";
const SANITIZE_REWRITE: &str = "rewrite:";
/// Prefixed to the mode when remote content is kept. Rows without it (all rows written before
/// the choice existed) block remote content.
const SANITIZE_REMOTE: &str = "remote-images;";

/// The `sanitize` column: `keep`, `data-url` or `rewrite:` followed by the pattern, after
/// `remote-images;` when remote content is kept.
pub(crate) fn encode_sanitize(s: Option<&SanitizeHtml>) -> Option<String> {
    s.map(|s| {
        let remote = if s.remote_images { SANITIZE_REMOTE } else { "" };
        match &s.cid {
            CidImages::Keep => format!("{remote}{SANITIZE_KEEP}"),
            CidImages::DataUrl => format!("{remote}{SANITIZE_DATA_URL}"),
            CidImages::Rewrite(pattern) => format!("{remote}{SANITIZE_REWRITE}{pattern}"),
        }
    })
}

pub(crate) fn decode_sanitize(text: Option<&str>) -> Result<Option<SanitizeHtml>> {
    let Some(text) = text else { return Ok(None) };
    let (remote_images, mode) = match text.strip_prefix(SANITIZE_REMOTE) {
        Some(mode) => (true, mode),
        None => (false, text),
    };
    let cid = match mode {
        SANITIZE_KEEP => CidImages::Keep,
        SANITIZE_DATA_URL => CidImages::DataUrl,
        _ => match mode.strip_prefix(SANITIZE_REWRITE) {
            Some(pattern) => CidImages::Rewrite(pattern.to_owned()),
            None => return Err(Error::Corrupt(format!("unknown sanitize mode {text:?}"))),
        },
    };
    Ok(Some(SanitizeHtml { cid, remote_images }))
}

/// The `(uidvalidity, uid, uidl)` columns of a server ref.
pub(crate) fn ref_columns(r: &ServerRef) -> (Option<u32>, Option<u32>, Option<&str>) {
    match r {
        ServerRef::Imap { uidvalidity, uid } => (Some(*uidvalidity), Some(*uid), None),
        ServerRef::Pop3 { uidl } => (None, None, Some(uidl.as_str())),
    }
}

/// A server ref back from its columns.
pub(crate) fn ref_from_columns(
    uidvalidity: Option<i64>,
    uid: Option<i64>,
    uidl: Option<String>,
) -> Result<ServerRef> {
    match (uidvalidity, uid, uidl) {
        (Some(v), Some(u), None) => Ok(ServerRef::Imap {
            uidvalidity: u32::try_from(v)
                .map_err(|_| Error::Corrupt(format!("uidvalidity {v} out of range")))?,
            uid: u32::try_from(u).map_err(|_| Error::Corrupt(format!("uid {u} out of range")))?,
        }),
        (None, None, Some(uidl)) => Ok(ServerRef::Pop3 { uidl }),
        _ => Err(Error::Corrupt(
            "message has no valid server reference".into(),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn address_lists_roundtrip_with_awkward_text() {
        let list = vec![
            Address {
                name: Some("Zoë \"Q\" O'Neil, \\ \u{1F600}\n".into()),
                address: "zoe@example.com".into(),
            },
            Address {
                name: None,
                address: String::new(),
            },
        ];
        let text = encode_addresses(&list);
        assert_eq!(decode_addresses(&text).unwrap(), list);
        assert_eq!(
            decode_address(encode_address(list.first()).as_deref())
                .unwrap()
                .as_ref(),
            list.first()
        );
        assert_eq!(decode_address(None).unwrap(), None);
    }

    #[test]
    fn damaged_json_is_a_clear_error() {
        let err = decode_attachments("[[1,2]").unwrap_err();
        assert!(err.to_string().contains("attachments"), "{err}");
    }

    #[test]
    fn attachments_and_sanitize_modes_roundtrip() {
        let list = vec![
            Attachment {
                filename: Some("a \"b\".png".into()),
                content_type: "image/png".into(),
                content_id: Some("x@y".into()),
                inline: true,
                content: bytes::Bytes::from_static(b"12345"),
            },
            Attachment {
                filename: None,
                content_type: "application/octet-stream".into(),
                content_id: None,
                inline: false,
                content: bytes::Bytes::new(),
            },
        ];
        let infos = decode_attachments(&encode_attachments(&list)).unwrap();
        assert_eq!(infos.len(), 2);
        assert_eq!(infos[0].filename.as_deref(), Some("a \"b\".png"));
        assert_eq!((infos[0].size, infos[0].inline), (5, true));
        assert_eq!(
            (infos[1].filename.as_deref(), infos[1].inline),
            (None, false)
        );
        for remote in [false, true] {
            for mode in [
                None,
                Some(SanitizeHtml::keep_cid().with_remote_images(remote)),
                Some(SanitizeHtml::data_url().with_remote_images(remote)),
                Some(
                    SanitizeHtml::rewrite_cid("/a/{index}?x=rewrite:remote-images;")
                        .with_remote_images(remote),
                ),
            ] {
                let text = encode_sanitize(mode.as_ref());
                assert_eq!(decode_sanitize(text.as_deref()).unwrap(), mode);
            }
        }
        // Rows written before the remote-images choice read back blocking remote content.
        assert_eq!(
            decode_sanitize(Some("rewrite:/x/{index}")).unwrap(),
            Some(SanitizeHtml::rewrite_cid("/x/{index}"))
        );
        assert_eq!(
            encode_sanitize(Some(&SanitizeHtml::keep_cid())).as_deref(),
            Some("keep"),
            "blocked modes are written as before"
        );
        assert!(decode_sanitize(Some("scrub")).is_err());
        assert!(decode_sanitize(Some("remote-images;scrub")).is_err());
    }

    #[test]
    fn server_ref_columns_roundtrip() {
        for r in [
            ServerRef::Imap {
                uidvalidity: u32::MAX,
                uid: 1,
            },
            ServerRef::Pop3 { uidl: "a b".into() },
        ] {
            let (v, u, l) = ref_columns(&r);
            let back = ref_from_columns(v.map(i64::from), u.map(i64::from), l.map(String::from));
            assert_eq!(back.unwrap(), r);
        }
        assert!(ref_from_columns(Some(1), None, None).is_err());
        assert!(ref_from_columns(Some(-1), Some(1), None).is_err());
    }
}
