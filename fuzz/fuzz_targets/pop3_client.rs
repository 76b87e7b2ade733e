//! The POP3 client ([`Pop3Client`]) against a scripted server on loopback that answers with
//! the fuzz input: no panic, no hang, typed errors, bodies never longer than what the server
//! sent, secrets never in errors, `Debug` or the TRACE log. The input format (op letters,
//! `\n`, NUL-separated server segments) is described in `scripted/mod.rs`.
//!
//! Op letters, run in order (others are ignored):
//!
//! | letter | call |
//! |---|---|
//! | `L` | `login`, password, method chosen by the client |
//! | `U` / `A` | `login` with USER/PASS / APOP |
//! | `P` / `G` | `login` with SASL PLAIN / SASL LOGIN |
//! | `X` / `B` / `o` | `login` with an OAuth token: XOAUTH2 / OAUTHBEARER / chosen |
//! | `S` | `stat` |
//! | `l` / `n` | `list` / `list_one(1)` |
//! | `u` / `v` | `uidl` / `uidl_one(2)` |
//! | `T` | `top(1, 10)` |
//! | `R` | `retr(1)` |
//! | `r` / `c` | `retr_stream(1)`: every chunk / the first chunk, then the stream is dropped |
//! | `M` / `m` | `retr_many(1..=5)`: every message / the first, then it is dropped |
//! | `D` `Z` `N` `K` | `dele(1)` / `rset` / `noop` / `refresh_capabilities` |
//! | `Q` | `quit` (ends the run) |
//!
//! Settings letters, applied before connecting: `%` a 4 KiB message size limit, `1`..`9`
//! the pipeline window.
#![no_main]

mod scripted;

use std::sync::Arc;

use inbound_net::oauth::StaticToken;
use inbound_net::pop3::{AuthMethod, Pop3Client, Pop3Config};
use inbound_net::{Credentials, Mechanism, Security};
use libfuzzer_sys::fuzz_target;
use scripted::{check_debug, check_error};

fuzz_target!(|data: &[u8]| {
    let (ops, script) = scripted::split_input(data);
    let port = scripted::port();
    scripted::run(script, false, drive(port, ops, script.len()));
});

async fn drive(port: u16, ops: &[u8], script_len: usize) {
    let mut config = Pop3Config::new("127.0.0.1", Security::Plaintext)
        .with_port(port)
        .with_timeout(scripted::TIMEOUT);
    for &op in ops {
        match op {
            b'%' => config = config.with_max_message_size(4096),
            b'1'..=b'9' => config = config.with_pipeline_window(usize::from(op - b'0')),
            _ => {}
        }
    }
    let mut client = match Pop3Client::connect_with(&scripted::CONNECTOR, &config).await {
        Ok(c) => c,
        Err(e) => return check_error(&e),
    };
    for &op in ops {
        if op == b'Q' {
            if let Err(e) = client.quit().await {
                check_error(&e);
            }
            return;
        }
        step(&mut client, op, script_len).await;
        check_debug("the client", &client);
    }
}

/// Checks a message body: never longer than the whole script.
fn check_body(body: &[u8], script_len: usize) {
    assert!(body.len() <= script_len, "a body longer than the input");
}

/// One op letter; errors are checked and otherwise ignored (the next op runs anyway, as a
/// program might).
async fn step(client: &mut Pop3Client, op: u8, script_len: usize) {
    let result: inbound_net::Result<()> = match op {
        b'L' | b'U' | b'A' | b'P' | b'G' => {
            let method = match op {
                b'L' => None,
                b'U' => Some(AuthMethod::UserPass),
                b'A' => Some(AuthMethod::Apop),
                b'P' => Some(AuthMethod::Sasl(Mechanism::Plain)),
                _ => Some(AuthMethod::Sasl(Mechanism::Login)),
            };
            let credentials = Credentials::password(scripted::USER, scripted::PASSWORD);
            client
                .login(&credentials, method)
                .await
                .map(|i| check_debug("AuthInfo", &i))
        }
        b'X' | b'B' | b'o' => {
            let method = match op {
                b'X' => Some(AuthMethod::Sasl(Mechanism::XOAuth2)),
                b'B' => Some(AuthMethod::Sasl(Mechanism::OAuthBearer)),
                _ => None,
            };
            let token = Arc::new(StaticToken::new(scripted::TOKEN));
            let credentials = Credentials::oauth(scripted::USER, token);
            client
                .login(&credentials, method)
                .await
                .map(|i| check_debug("AuthInfo", &i))
        }
        b'S' => client.stat().await.map(|s| check_debug("stat", &s)),
        b'l' => client.list().await.map(|l| check_debug("list", &l)),
        b'n' => client.list_one(1).await.map(|l| check_debug("list", &l)),
        b'u' => client.uidl().await.map(|l| check_debug("uidl", &l)),
        b'v' => client.uidl_one(2).await.map(|l| check_debug("uidl", &l)),
        b'T' => client.top(1, 10).await.map(|b| check_body(&b, script_len)),
        b'R' => client.retr(1).await.map(|b| check_body(&b, script_len)),
        b'r' | b'c' => match client.retr_stream(1).await {
            Ok(mut stream) => {
                let mut result = Ok(());
                loop {
                    match stream.next_chunk().await {
                        Ok(Some(chunk)) => {
                            check_body(&chunk, script_len);
                            if op == b'c' {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                assert!(
                    stream.received() <= script_len as u64,
                    "streamed more than sent"
                );
                result
            }
            Err(e) => Err(e),
        },
        b'M' | b'm' => {
            let numbers = (1..=5u32).filter_map(|n| inbound_pop3_codec::MessageNumber::new(n).ok());
            let mut batch = client.retr_many(numbers);
            while let Some((_, message)) = batch.next().await {
                match message {
                    Ok(body) => check_body(&body, script_len),
                    Err(e) => check_error(&e),
                }
                if op == b'm' {
                    break;
                }
            }
            Ok(())
        }
        b'D' => client.dele(1).await,
        b'Z' => client.rset().await,
        b'N' => client.noop().await,
        b'K' => client
            .refresh_capabilities()
            .await
            .map(|c| check_debug("caps", &c)),
        _ => Ok(()),
    };
    if let Err(e) = result {
        check_error(&e);
    }
}
