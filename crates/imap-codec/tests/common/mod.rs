//! Shared test helpers: RFC example transcripts and a runner that decodes each side.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use bytes::{Bytes, BytesMut};
use inbound_imap_codec::types::{AuthenticateData, Command, CommandBody, Greeting, Response};
use inbound_imap_codec::{
    DecodeError, Frame, Framer, FramerConfig, FramerEvent, Quirks, ResponseDecoder,
    decode_authenticate_data, decode_command, decode_command_prefix, decode_greeting,
    decode_idle_done, decode_response_prefix,
};

/// A `C:`/`S:` transcript.
pub struct Transcript {
    pub name: &'static str,
    /// Whether the server side starts with a greeting.
    pub greeting: bool,
    pub text: &'static str,
}

/// Splits a transcript into the client's and the server's bytes (each line gets CRLF).
pub fn sides(t: &str) -> (Vec<u8>, Vec<u8>) {
    let (mut c, mut s) = (Vec::new(), Vec::new());
    for line in t.lines() {
        let line = line.trim_start();
        let (out, rest) = if let Some(r) = line.strip_prefix("C:") {
            (&mut c, r)
        } else if let Some(r) = line.strip_prefix("S:") {
            (&mut s, r)
        } else {
            continue;
        };
        out.extend_from_slice(rest.strip_prefix(' ').unwrap_or(rest).as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    (c, s)
}

/// What the client side decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMsg {
    Command(Command),
    Continuation(u64),
    AuthData(AuthenticateData),
    Done,
}

/// What the server side decodes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMsg {
    Greeting(Greeting),
    Response(Response),
}

/// Decodes the client side fed in the given chunks, the way a server would: commands,
/// then AUTHENTICATE lines after an AUTHENTICATE without initial response (until a line is
/// not base64), then DONE after IDLE.
pub fn decode_client(chunks: &[&[u8]]) -> Vec<Result<ClientMsg, DecodeError>> {
    #[derive(PartialEq)]
    enum Mode {
        Command,
        Auth,
        Idle,
    }
    let mut f = Framer::new(FramerConfig::for_commands());
    let q = Quirks::default();
    let mut out = Vec::new();
    let mut mode = Mode::Command;
    let mut buf = BytesMut::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        while let Some(ev) = f.next_event(&mut buf) {
            let frame = match ev {
                FramerEvent::ContinuationRequired { literal_len, .. } => {
                    out.push(Ok(ClientMsg::Continuation(literal_len)));
                    continue;
                }
                FramerEvent::Error(e) => {
                    out.push(Err(e.into()));
                    continue;
                }
                FramerEvent::Message(frame) => frame,
            };
            let msg = match mode {
                Mode::Idle => decode_idle_done(&frame, q).map(|_| ClientMsg::Done),
                Mode::Auth => match decode_authenticate_data(&frame, q) {
                    Ok(a) => Ok(ClientMsg::AuthData(a)),
                    Err(_) => decode_command(&frame, q).map(ClientMsg::Command),
                },
                Mode::Command => decode_command(&frame, q).map(ClientMsg::Command),
            };
            match &msg {
                Ok(ClientMsg::Command(c)) => {
                    mode = match c.body {
                        CommandBody::Idle => Mode::Idle,
                        CommandBody::Authenticate {
                            initial_response: None,
                            ..
                        } => Mode::Auth,
                        _ => Mode::Command,
                    }
                }
                Ok(ClientMsg::Done) => mode = Mode::Command,
                _ => {}
            }
            out.push(msg);
        }
    }
    out
}

/// Decodes the server side fed in the given chunks.
pub fn decode_server(chunks: &[&[u8]], greeting: bool) -> Vec<Result<ServerMsg, DecodeError>> {
    let mut d = ResponseDecoder::new(Quirks::default());
    let mut out = Vec::new();
    let mut want_greeting = greeting;
    let mut buf = BytesMut::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let r = if want_greeting {
                d.decode_greeting(&mut buf)
                    .map(|r| r.map(ServerMsg::Greeting))
                    .transpose()
            } else {
                d.decode(&mut buf)
                    .map(|r| r.map(ServerMsg::Response))
                    .transpose()
            };
            let Some(r) = r else { break };
            want_greeting = false;
            out.push(r);
        }
    }
    out
}

/// Re-encodes a decoded client message and checks that it decodes to the same value.
pub fn roundtrip_client(m: &ClientMsg) {
    match m {
        ClientMsg::Command(c) => {
            for lit in [
                inbound_imap_codec::LiteralSupport::SyncOnly,
                inbound_imap_codec::LiteralSupport::LiteralPlus,
            ] {
                let enc = Bytes::from(c.encode(lit).to_vec());
                let (again, used) = decode_command_prefix(&enc, Quirks::strict())
                    .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(&enc)));
                assert_eq!(used, enc.len());
                assert_eq!(&again, c, "{:?}", String::from_utf8_lossy(&enc));
            }
        }
        ClientMsg::AuthData(a) => {
            let enc = Bytes::from(a.encode());
            let f = Frame::new(enc, 0);
            assert_eq!(
                &inbound_imap_codec::decode_authenticate_data(&f, Quirks::strict()).unwrap(),
                a
            );
        }
        ClientMsg::Done => {
            let enc = Bytes::from(inbound_imap_codec::types::IdleDone.encode());
            inbound_imap_codec::decode_idle_done(&Frame::new(enc, 0), Quirks::strict()).unwrap();
        }
        ClientMsg::Continuation(_) => {}
    }
}

/// Re-encodes a decoded server message and checks that it decodes to the same value.
pub fn roundtrip_server(m: &ServerMsg) {
    match m {
        ServerMsg::Greeting(g) => {
            let enc = Bytes::from(g.encode());
            let again = decode_greeting(&Frame::new(enc.clone(), 0), Quirks::default())
                .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(&enc)));
            assert_eq!(&again, g);
        }
        ServerMsg::Response(r) => {
            let enc = Bytes::from(r.encode().to_vec());
            let (again, used) = decode_response_prefix(&enc, Quirks::default())
                .unwrap_or_else(|e| panic!("{e} in {:?}", String::from_utf8_lossy(&enc)));
            assert_eq!(used, enc.len());
            assert_eq!(&again, r, "{:?}", String::from_utf8_lossy(&enc));
        }
    }
}

/// RFC 3501 section 8, the sample connection (the FETCH response on one line, as sent).
pub const RFC3501_SECTION_8: Transcript = Transcript {
    name: "RFC 3501 section 8",
    greeting: true,
    text: r#"
S: * OK IMAP4rev1 Service Ready
C: a001 login mrc secret
S: a001 OK LOGIN completed
C: a002 select inbox
S: * 18 EXISTS
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft)
S: * 2 RECENT
S: * OK [UNSEEN 17] Message 17 is the first unseen message
S: * OK [UIDVALIDITY 3857529045] UIDs valid
S: a002 OK [READ-WRITE] SELECT completed
C: a003 fetch 12 full
S: * 12 FETCH (FLAGS (\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>") BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))
S: a003 OK FETCH completed
C: a004 fetch 12 body[header]
S: * 12 FETCH (BODY[HEADER] {342}
S: Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
S: From: Terry Gray <gray@cac.washington.edu>
S: Subject: IMAP4rev1 WG mtg summary and minutes
S: To: imap@cac.washington.edu
S: cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
S: Message-Id: <B27397-0100000@cac.washington.edu>
S: MIME-Version: 1.0
S: Content-Type: TEXT/PLAIN; CHARSET=US-ASCII
S:
S: )
S: a004 OK FETCH completed
C: a005 store 12 +flags \deleted
S: * 12 FETCH (FLAGS (\Seen \Deleted))
S: a005 OK +FLAGS completed
C: a006 logout
S: * BYE IMAP4rev1 server terminating connection
S: a006 OK LOGOUT completed
"#,
};

/// RFC 2177 (IDLE) section 3 example; the elided FETCH data filled in.
pub const RFC2177_IDLE: Transcript = Transcript {
    name: "RFC 2177",
    greeting: false,
    text: r#"
C: A001 SELECT INBOX
S: * FLAGS (Deleted Seen)
S: * 3 EXISTS
S: * 0 RECENT
S: * OK [UIDVALIDITY 1]
S: A001 OK SELECT completed
C: A002 IDLE
S: + idling
S: * 4 EXISTS
C: DONE
S: A002 OK IDLE terminated
C: A003 FETCH 4 ALL
S: * 4 FETCH (FLAGS () INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ENVELOPE (NIL "hi" NIL NIL NIL NIL NIL NIL NIL NIL))
S: A003 OK FETCH completed
C: A004 IDLE
S: * 2 EXPUNGE
S: * 3 EXISTS
S: + idling
S: * 3 EXPUNGE
S: * 2 EXISTS
S: * 3 EXISTS
C: DONE
S: A004 OK IDLE terminated
"#,
};

/// RFC 4315 (UIDPLUS) examples.
pub const RFC4315_UIDPLUS: Transcript = Transcript {
    name: "RFC 4315",
    greeting: false,
    text: r#"
C: A003 APPEND saved-messages (\Seen) {297}
S: + Ready for literal data
C: Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
C: From: Fred Foobar <foobar@example.com>
C: Subject: afternoon meeting
C: To: mooch@example.com
C: Message-Id: <B27397-0100000@example.com>
C: MIME-Version: 1.0
C: Content-Type: TEXT/PLAIN; CHARSET=US-ASCII
C:
C: Hello Joe, do you think we can meet at 3:30 tomorrow?
C:
S: A003 OK [APPENDUID 38505 3955] APPEND completed
C: A004 COPY 2:4 meeting
S: A004 OK [COPYUID 38505 304,319:320 3956:3958] Done
C: A005 UID COPY 305:310 meeting
S: A005 OK No matching messages, so nothing copied
C: A006 COPY 2 funny
S: A006 OK Done
C: A007 SELECT funny
S: * 1 EXISTS
S: * 1 RECENT
S: * OK [UNSEEN 1] Message 1 is first unseen
S: * OK [UIDVALIDITY 3857529045] Validity session-only
S: * OK [UIDNEXT 2] Predicted next UID
S: * NO [UIDNOTSTICKY] Non-persistent UIDs
S: * FLAGS (\Deleted \Seen \Flagged)
S: * OK [PERMANENTFLAGS (\Deleted \Seen \Flagged)] Limited
S: A007 OK [READ-WRITE] SELECT completed
C: A003 UID EXPUNGE 3000:3002
S: * 3 EXPUNGE
S: * 3 EXPUNGE
S: * 3 EXPUNGE
S: A003 OK UID EXPUNGE completed
"#,
};

/// RFC 6851 (MOVE) examples, with and without QRESYNC.
pub const RFC6851_MOVE: Transcript = Transcript {
    name: "RFC 6851",
    greeting: false,
    text: r#"
C: a UID MOVE 42:69 foo
S: * OK [COPYUID 432432 42:69 1202:1229]
S: * 22 EXPUNGE
S: * 22 EXPUNGE
S: a OK Done
C: a UID MOVE 42:69 foo
S: * OK [COPYUID 432432 42:69 1202:1229]
S: * VANISHED 42:69
S: a OK Move completed
C: b MOVE 1:3 bar
S: * OK [COPYUID 432432 1:3 1230:1232] Moved
S: * 1 EXPUNGE
S: * 1 EXPUNGE
S: * 1 EXPUNGE
S: b OK Move completed
"#,
};

/// RFC 7888 (LITERAL+ / LITERAL-) examples.
pub const RFC7888_LITERAL: Transcript = Transcript {
    name: "RFC 7888",
    greeting: true,
    text: r#"
S: * OK [CAPABILITY IMAP4rev1 LITERAL+ LITERAL-] ready
C: A001 LOGIN {11+}
C: FRED FOOBAR {7+}
C: fat man
S: A001 OK LOGIN completed
C: A002 APPEND INBOX {5+}
C: hello
S: A002 OK APPEND completed
"#,
};

/// SASL-IR, AUTHENTICATE continuation, ENABLE, ID, ESEARCH, STATUS and quirks.
pub const EXTENSIONS: Transcript = Transcript {
    name: "extensions and quirks",
    greeting: true,
    text: r#"
S: * OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=XOAUTH2 ID ENABLE IDLE MOVE UIDPLUS ESEARCH CONDSTORE] hello
C: a1 AUTHENTICATE PLAIN AGZyZWQAZmF0IG1hbg==
S: a1 OK [CAPABILITY IMAP4rev1 IDLE] done
C: a2 AUTHENTICATE XOAUTH2
S: +
C: dXNlcj1mcmVkAWF1dGg9QmVhcmVyIHRva2VuAQE=
S: + eyJzdGF0dXMiOiI0MDAifQ==
C:
S: a2 NO [AUTHENTICATIONFAILED] Invalid credentials
C: a3 ENABLE CONDSTORE
S: * ENABLED CONDSTORE
S: a3 OK enabled
C: a4 ID ("name" "inbound" "version" "0.1")
S: * ID ("name" "Dovecot" "vendor" NIL)
S: a4 OK ID completed
C: a5 STATUS "Sent Items" (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)
S: * STATUS "Sent Items" (MESSAGES 12 UIDNEXT 99 UIDVALIDITY 7 UNSEEN 0 HIGHESTMODSEQ 1234) 
S: a5 OK STATUS completed
C: a6 LIST "" "*"
S: * LIST (\HasNoChildren \Sent) "/" "Sent Items"
S: * LIST (\HasChildren) "." INBOX
S: * LIST (\Noselect) "/" "&AOQ-rger"
S: a6 OK LIST completed
C: a7 SELECT INBOX (CONDSTORE)
S: * FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Forwarded )
S: * OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Forwarded \*)] Flags permitted.
S: * OK [HIGHESTMODSEQ 715194045007]
S: * 172 EXISTS
S: a7 OK [READ-WRITE] Select completed
C: a8 UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN SINCE 1-Feb-2024
S: * ESEARCH (TAG "a8") UID MIN 4 MAX 90 COUNT 3 ALL 4,50,90
S: a8 OK done
C: a9 UID SEARCH CHARSET UTF-8 OR FROM "x@example.com" (SUBJECT {3}
S: + ok
C: abc UNDELETED)
S: * SEARCH 4 50 90
S: a9 OK done
C: a10 UID FETCH 4,50,90 (UID FLAGS RFC822.SIZE MODSEQ BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)] BODYSTRUCTURE) (CHANGEDSINCE 12345)
S: * 1 FETCH (UID 4 MODSEQ (12346) FLAGS (\Seen) RFC822.SIZE 2000 BODY[HEADER.FIELDS (FROM SUBJECT)] {19}
S: Subject: hi there
S:  BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 120 -1 NIL NIL NIL NIL)("application" "pdf" ("name" "a.pdf") NIL NIL "base64" 4000 NIL ("attachment" ("filename" "a.pdf")) NIL NIL) "mixed" ("boundary" NIL) NIL NIL NIL))
S: * 2 FETCH (UID 50 BINARY[1] ~{4}
S: ab
S: )
S: a10 OK done
C: a11 UID STORE 4 (UNCHANGEDSINCE 12346) +FLAGS.SILENT (\Seen $Forwarded)
S: a11 OK done
C: a12 IDLE
S: + idling
S: * 173 EXISTS
C: DONE
S: a12 OK idle done
C: a13 CREATE "&AOQ-rger"
S: a13 OK [TRYCREATE] hm
C: a14 LOGOUT
S: * BYE [ALERT] bye
S: a14 ok logged out
"#,
};

pub const ALL: [&Transcript; 6] = [
    &RFC3501_SECTION_8,
    &RFC2177_IDLE,
    &RFC4315_UIDPLUS,
    &RFC6851_MOVE,
    &RFC7888_LITERAL,
    &EXTENSIONS,
];
