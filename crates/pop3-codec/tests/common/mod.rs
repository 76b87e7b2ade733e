//! Transcript tests: `C: ` and `S: ` lines, decoded on both sides and re-encoded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use inbound_pop3_codec::{
    ClientLine, CommandDecoder, Response, ResponseConfig, ResponseDecoder, ResponseEvent,
};

/// Who sent a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// A transcript: lines in order, each with its CRLF.
#[derive(Debug, Clone)]
pub struct Transcript {
    pub name: String,
    pub lines: Vec<(Side, Vec<u8>)>,
}

impl Transcript {
    pub fn parse(name: &str, text: &str) -> Self {
        let mut lines = Vec::new();
        for raw in text.lines() {
            let (side, rest) = if let Some(rest) = raw.strip_prefix("C:") {
                (Side::Client, rest)
            } else if let Some(rest) = raw.strip_prefix("S:") {
                (Side::Server, rest)
            } else {
                continue; // comments, blank lines, <TLS negotiation> notes
            };
            let mut line = rest.strip_prefix(' ').unwrap_or(rest).as_bytes().to_vec();
            line.extend_from_slice(b"\r\n");
            lines.push((side, line));
        }
        Self {
            name: name.to_owned(),
            lines,
        }
    }

    pub fn side(&self, side: Side) -> Vec<u8> {
        self.lines
            .iter()
            .filter(|(s, _)| *s == side)
            .flat_map(|(_, l)| l.iter().copied())
            .collect()
    }
}

pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts")
}

pub fn all() -> Vec<Transcript> {
    let mut files: Vec<_> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            Transcript::parse(&name, &std::fs::read_to_string(p).unwrap())
        })
        .collect()
}

/// What decoding a transcript produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub client: Vec<ClientLine>,
    pub server: Vec<ResponseEvent>,
}

/// Decodes a transcript in conversation order, checking that every client line and every
/// server block re-encodes to exactly the octets sent.
pub fn run(t: &Transcript) -> Decoded {
    let mut commands = CommandDecoder::default();
    let mut responses = ResponseDecoder::new(ResponseConfig::default());
    let mut out = Decoded {
        client: Vec::new(),
        server: Vec::new(),
    };
    let mut i = 0;
    while i < t.lines.len() {
        let side = t.lines[i].0;
        let mut block = Vec::new();
        while i < t.lines.len() && t.lines[i].0 == side {
            block.push(t.lines[i].1.clone());
            i += 1;
        }
        match side {
            Side::Client => {
                for line in block {
                    let mut buf = BytesMut::from(&line[..]);
                    let decoded = commands
                        .decode(&mut buf)
                        .unwrap_or_else(|e| panic!("{}: {e}", t.name))
                        .unwrap_or_else(|| panic!("{}: incomplete line", t.name));
                    assert!(buf.is_empty(), "{}: left over", t.name);
                    let mut again = BytesMut::new();
                    decoded.encode(&mut again);
                    assert_eq!(
                        String::from_utf8_lossy(&again),
                        String::from_utf8_lossy(&line),
                        "{}: client line re-encodes",
                        t.name
                    );
                    if let ClientLine::Command(c) = &decoded {
                        responses.expect(c);
                    }
                    out.client.push(decoded);
                }
            }
            Side::Server => {
                let sent: Vec<u8> = block.concat();
                let mut buf = BytesMut::from(&sent[..]);
                let mut again = BytesMut::new();
                while let Some(event) = responses
                    .decode(&mut buf)
                    .unwrap_or_else(|e| panic!("{}: {e}", t.name))
                {
                    match &event {
                        ResponseEvent::Response(r) => {
                            if matches!(r, Response::Continuation(_)) {
                                commands.expect_auth_response();
                            }
                            // Re-decode the re-encoding: the same value comes back.
                            let bytes = r.to_bytes();
                            again.extend_from_slice(&bytes);
                        }
                        other => panic!("{}: unexpected streaming event {other:?}", t.name),
                    }
                    out.server.push(event);
                }
                assert!(buf.is_empty(), "{}: server octets left undecoded", t.name);
                assert_eq!(
                    String::from_utf8_lossy(&again),
                    String::from_utf8_lossy(&sent),
                    "{}: server block re-encodes",
                    t.name
                );
            }
        }
    }
    assert_eq!(responses.pending(), 0, "{}: responses missing", t.name);
    out
}

/// Decodes the whole server side of `t` fed in the given chunk sizes (cycled), with every
/// expectation queued up front.
pub fn server_events_chunked(
    t: &Transcript,
    client: &[ClientLine],
    settings: ResponseConfig,
    chunks: &[usize],
) -> Vec<ResponseEvent> {
    let mut dec = ResponseDecoder::new(settings);
    for line in client {
        if let ClientLine::Command(c) = line {
            dec.expect(c);
        }
    }
    let input = t.side(Side::Server);
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    loop {
        while let Some(e) = dec.decode(&mut buf).unwrap() {
            events.push(e);
        }
        if pos == input.len() {
            break;
        }
        let n = chunks
            .get(k % chunks.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        k += 1;
        let end = (pos + n).min(input.len());
        buf.extend_from_slice(&input[pos..end]);
        pos = end;
    }
    assert!(buf.is_empty());
    events
}

/// Decodes the whole client side of `t` in chunks; `oracle` (from [`run`]) says which lines
/// answer a continuation.
pub fn client_lines_chunked(
    t: &Transcript,
    oracle: &[ClientLine],
    chunks: &[usize],
) -> Vec<ClientLine> {
    let mut dec = CommandDecoder::default();
    let input = t.side(Side::Client);
    let mut buf = BytesMut::new();
    let mut lines = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    let prime = |dec: &mut CommandDecoder, n: usize| {
        if matches!(
            oracle.get(n),
            Some(ClientLine::AuthResponse(_) | ClientLine::AuthCancel)
        ) {
            dec.expect_auth_response();
        }
    };
    prime(&mut dec, 0);
    loop {
        while let Some(l) = dec.decode(&mut buf).unwrap() {
            lines.push(l);
            prime(&mut dec, lines.len());
        }
        if pos == input.len() {
            break;
        }
        let n = chunks
            .get(k % chunks.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        k += 1;
        let end = (pos + n).min(input.len());
        buf.extend_from_slice(&input[pos..end]);
        pos = end;
    }
    lines
}
