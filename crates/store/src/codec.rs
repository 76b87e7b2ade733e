//! How model fields are kept in columns: lists as compact JSON arrays.
//!
//! An address is `[name-or-null, address]`; a header `[name, value]`; a warning
//! `[kind, detail]`; id lists are arrays of strings. SQLite's JSON functions can read them.

use inbound_message::{Address, Header, Warning};

use crate::error::{Error, Result};
use crate::types::ServerRef;

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

pub(crate) fn encode_headers(list: &[Header]) -> String {
    to_json(
        &list
            .iter()
            .map(|h| (h.name.as_str(), h.value.as_str()))
            .collect::<Vec<_>>(),
    )
}

pub(crate) fn decode_headers(text: &str) -> Result<Vec<Header>> {
    let pairs: Vec<(String, String)> = from_json(text, "headers")?;
    Ok(pairs
        .into_iter()
        .map(|(name, value)| Header { name, value })
        .collect())
}

pub(crate) fn encode_warnings(list: &[Warning]) -> String {
    to_json(
        &list
            .iter()
            .map(|w| (w.kind.as_str(), w.detail.as_str()))
            .collect::<Vec<_>>(),
    )
}

pub(crate) fn decode_warnings(text: &str) -> Result<Vec<Warning>> {
    let pairs: Vec<(String, String)> = from_json(text, "warnings")?;
    Ok(pairs
        .into_iter()
        .map(|(kind, detail)| Warning { kind, detail })
        .collect())
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
        let err = decode_headers("[[1,2]").unwrap_err();
        assert!(err.to_string().contains("headers"), "{err}");
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
