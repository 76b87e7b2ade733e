//! Checks a raw transcript of one side of an IMAP connection against the codec.
//!
//! `cargo run -q -p inbound-imap-codec --example decode -- responses|commands < FILE`
//!
//! Prints one line per message, `OK <kind>` or `ERR offset=<n> <reason>`, goes on after
//! errors, and exits with status 1 if any message failed.

use std::io::Read;
use std::process::ExitCode;

use inbound_imap_codec::types::{CommandBody, Data, Response, Status, StatusKind};
use inbound_imap_codec::{
    DecodeError, Framer, FramerConfig, FramerEvent, Quirks, decode_authenticate_data,
    decode_command, decode_greeting, decode_idle_done, decode_response,
};

fn status(kind: StatusKind) -> &'static str {
    match kind {
        StatusKind::Ok => "ok",
        StatusKind::No => "no",
        StatusKind::Bad => "bad",
    }
}

fn response_kind(r: &Response) -> String {
    match r {
        Response::Continue(_) => "continue".into(),
        Response::Status(Status::Tagged { body, .. }) => format!("tagged-{}", status(body.kind)),
        Response::Status(Status::Untagged(body)) => format!("untagged-{}", status(body.kind)),
        Response::Status(Status::Bye { .. }) => "bye".into(),
        Response::Data(d) => match d {
            Data::Capability(_) => "capability",
            Data::Enabled(_) => "enabled",
            Data::Id(_) => "id",
            Data::List(_) => "list",
            Data::Lsub(_) => "lsub",
            Data::Status { .. } => "status",
            Data::Flags(_) => "flags",
            Data::Exists(_) => "exists",
            Data::Recent(_) => "recent",
            Data::Expunge(_) => "expunge",
            Data::Search { .. } => "search",
            Data::ESearch(_) => "esearch",
            Data::Vanished { .. } => "vanished",
            Data::Fetch { .. } => "fetch",
        }
        .into(),
    }
}

fn err_line(e: &DecodeError) -> String {
    let reason = match e {
        DecodeError::Invalid {
            expected, excerpt, ..
        } => format!("expected {expected} at \"{excerpt}\""),
        other => other.to_string(),
    };
    format!("ERR offset={} {reason}", e.offset().unwrap_or(0))
}

#[derive(PartialEq)]
enum Mode {
    Command,
    Authenticate,
    Idle,
}

fn main() -> ExitCode {
    let side = std::env::args().nth(1).unwrap_or_default();
    let commands = match side.as_str() {
        "responses" => false,
        "commands" => true,
        _ => {
            eprintln!("usage: decode responses|commands < FILE");
            return ExitCode::from(2);
        }
    };
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        eprintln!("cannot read stdin: {e}");
        return ExitCode::from(2);
    }
    let quirks = Quirks::default();
    let config = if commands {
        FramerConfig::for_commands()
    } else {
        FramerConfig::for_responses()
    };
    let mut framer = Framer::new(config);
    let mut buf = bytes::BytesMut::from(&input[..]);
    let mut failed = false;
    let mut first = true;
    let mut mode = Mode::Command;
    while let Some(ev) = framer.next_event(&mut buf) {
        let frame = match ev {
            FramerEvent::Message(f) => f,
            FramerEvent::ContinuationRequired { .. } => continue,
            FramerEvent::Error(e) => {
                failed = true;
                println!("{}", err_line(&e.into()));
                continue;
            }
        };
        let result = if commands {
            let data = match mode {
                Mode::Authenticate => decode_authenticate_data(&frame, quirks)
                    .ok()
                    .map(|_| "authenticate-data".to_string()),
                Mode::Idle => decode_idle_done(&frame, quirks)
                    .ok()
                    .map(|_| "done".to_string()),
                Mode::Command => None,
            };
            match data {
                Some(kind) => {
                    mode = if kind == "done" {
                        Mode::Command
                    } else {
                        Mode::Authenticate
                    };
                    Ok(kind)
                }
                None => decode_command(&frame, quirks).map(|c| {
                    mode = match c.body {
                        CommandBody::Idle => Mode::Idle,
                        CommandBody::Authenticate {
                            initial_response: None,
                            ..
                        } => Mode::Authenticate,
                        _ => Mode::Command,
                    };
                    c.body.name().to_ascii_lowercase()
                }),
            }
        } else if first {
            match decode_greeting(&frame, quirks) {
                Ok(_) => Ok("greeting".to_string()),
                Err(_) => decode_response(&frame, quirks).map(|r| response_kind(&r)),
            }
        } else {
            decode_response(&frame, quirks).map(|r| response_kind(&r))
        };
        first = false;
        match result {
            Ok(kind) => println!("OK {kind}"),
            Err(e) => {
                failed = true;
                println!("{}", err_line(&e));
            }
        }
    }
    if framer.has_partial(&buf) {
        failed = true;
        println!(
            "ERR offset={} incomplete message at end of input",
            framer.consumed()
        );
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
