//! Decodes POP3 traffic from standard input and prints one line per message:
//! `OK <kind>` or `ERR offset=<n> <reason>`, continuing after errors (exit status 1 if any
//! message failed).
//!
//! ```text
//! cargo run -q -p inbound-pop3-codec --example decode -- responses < transcript.txt
//! cargo run -q -p inbound-pop3-codec --example decode -- commands < commands.txt
//! ```
//!
//! `responses` needs to know what was asked, so it reads a transcript of `C: ` and `S: `
//! lines (other lines are ignored): client lines set the expectations, server lines are
//! decoded. `commands` reads either such a transcript (server `+ ` continuations then mark
//! the next client line as SASL data) or raw command lines.

use std::io::Read as _;

use bytes::BytesMut;
use inbound_pop3_codec::{
    ClientLine, CommandDecoder, DecodeError, Expectation, Response, ResponseConfig,
    ResponseDecoder, ResponseEvent,
};

fn report_error(e: &DecodeError, failed: &mut bool) {
    *failed = true;
    println!("ERR offset={} {}", e.offset(), e.kind());
}

/// `(is_client, line with CRLF)` for each `C:`/`S:` line.
fn transcript(input: &[u8]) -> Vec<(bool, Vec<u8>)> {
    let text = String::from_utf8_lossy(input);
    text.lines()
        .filter_map(|l| {
            let (client, rest) = if let Some(r) = l.strip_prefix("C:") {
                (true, r)
            } else {
                (false, l.strip_prefix("S:")?)
            };
            let mut line = rest.strip_prefix(' ').unwrap_or(rest).as_bytes().to_vec();
            line.extend_from_slice(b"\r\n");
            Some((client, line))
        })
        .collect()
}

fn is_transcript(input: &[u8]) -> bool {
    input.starts_with(b"C:")
        || input.starts_with(b"S:")
        || input.windows(3).any(|w| w == b"\nC:" || w == b"\nS:")
}

fn responses(input: &[u8]) -> bool {
    let mut failed = false;
    let mut commands = CommandDecoder::default();
    let mut decoder = ResponseDecoder::new(ResponseConfig::default());
    let mut buf = BytesMut::new();
    let drain = |decoder: &mut ResponseDecoder,
                 buf: &mut BytesMut,
                 commands: &mut CommandDecoder,
                 failed: &mut bool| {
        loop {
            match decoder.decode(buf) {
                Ok(Some(ResponseEvent::Response(r))) => {
                    if matches!(r, Response::Continuation(_)) {
                        commands.expect_auth_response();
                    }
                    println!("OK {}", r.kind());
                }
                Ok(Some(other)) => println!("OK {other:?}"),
                Ok(None) => break,
                Err(e) => report_error(&e, failed),
            }
        }
    };
    for (client, line) in transcript(input) {
        if client {
            let mut cbuf = BytesMut::from(&line[..]);
            match commands.decode(&mut cbuf) {
                Ok(Some(ClientLine::Command(c))) => decoder.expect(&c),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => {
                    eprintln!("note: undecodable client line; expecting a status line");
                    decoder.expect_raw(Expectation::Status);
                }
            }
        } else {
            buf.extend_from_slice(&line);
            drain(&mut decoder, &mut buf, &mut commands, &mut failed);
        }
    }
    drain(&mut decoder, &mut buf, &mut commands, &mut failed);
    if !buf.is_empty() || decoder.pending() > 0 {
        println!("ERR offset={} incomplete input", decoder.offset());
        failed = true;
    }
    failed
}

fn commands(input: &[u8]) -> bool {
    let mut failed = false;
    let mut decoder = CommandDecoder::default();
    let print = |r: Result<Option<ClientLine>, DecodeError>, failed: &mut bool| match r {
        Ok(Some(line)) => {
            println!("OK {}", line.kind());
            true
        }
        Ok(None) => false,
        Err(e) => {
            report_error(&e, failed);
            true
        }
    };
    if is_transcript(input) {
        let mut continuation = false;
        for (client, line) in transcript(input) {
            if client {
                if std::mem::take(&mut continuation) {
                    decoder.expect_auth_response();
                }
                let mut buf = BytesMut::from(&line[..]);
                while print(decoder.decode(&mut buf), &mut failed) {}
            } else {
                continuation = line.starts_with(b"+ ") || line == b"+\r\n";
            }
        }
    } else {
        let mut buf = BytesMut::from(input);
        while print(decoder.decode(&mut buf), &mut failed) {}
        if !buf.is_empty() {
            println!("ERR offset={} incomplete line", decoder.offset());
            failed = true;
        }
    }
    failed
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("cannot read standard input: {e}");
        std::process::exit(2);
    }
    let failed = match mode.as_str() {
        "responses" => responses(&input),
        "commands" => commands(&input),
        _ => {
            eprintln!("usage: decode responses|commands < FILE");
            std::process::exit(2);
        }
    };
    if failed {
        std::process::exit(1);
    }
}
