//! The IMAP client ([`ImapClient`]) against a scripted server on loopback that answers with
//! the fuzz input: no panic, no hang, typed errors, secrets never in errors, `Debug` or the
//! TRACE log. The input format (op letters, `\n`, NUL-separated server segments, `0x01` for
//! the current tag) is described in `scripted/mod.rs`.
//!
//! Op letters, run in order (others are ignored):
//!
//! | letter | call |
//! |---|---|
//! | `L` | `login`, password, method chosen from the capabilities |
//! | `W` / `l` | `login` with the `LOGIN` command; `l` with an 8-bit password (a literal) |
//! | `P` / `G` | `login` with SASL PLAIN / SASL LOGIN |
//! | `X` / `B` / `o` | `login` with an OAuth token: XOAUTH2 / OAUTHBEARER / chosen |
//! | `S` / `E` | `select("INBOX")` / `examine("Archive")` |
//! | `F` / `f` | `uid_fetch_bodies`, all messages / the first, then the stream is dropped |
//! | `M` | `uid_fetch_meta` |
//! | `I` / `J` / `i` | `idle`: one event then `done` / up to four events then `done` / one event with a zero timeout, then the handle is dropped |
//! | `H` / `h` | `uid_search_all` / `uids_from(5)` |
//! | `T` `V` `D` `d` | `uid_store_flags` / `uid_move` / `uid_expunge` / `expunge` |
//! | `N` `A` `C` `K` | `noop` / `list` / `create` / `refresh_capabilities` |
//! | `Y` / `y` | `enable(CONDSTORE)` / `id` |
//! | `U` | `take_unsolicited` |
//! | `Q` | `logout` (ends the run) |
//!
//! Settings letters, applied before connecting: `~` lenient quirks, `#` a 256-octet line
//! limit and 400 UIDs per call (commands are split), `%` a 4 KiB message size limit.
#![no_main]

mod scripted;

use std::sync::Arc;
use std::time::Duration;

use inbound_imap_codec::Quirks;
use inbound_net::imap::{AuthMethod, Flag, IdleEvent, ImapClient, ImapConfig, StoreType};
use inbound_net::oauth::StaticToken;
use inbound_net::{Credentials, Mechanism, Security};
use libfuzzer_sys::fuzz_target;
use scripted::{check_debug, check_error};

fuzz_target!(|data: &[u8]| {
    let (ops, script) = scripted::split_input(data);
    let port = scripted::port();
    scripted::run(script, true, drive(port, ops, script.len()));
});

async fn drive(port: u16, ops: &[u8], script_len: usize) {
    let mut config = ImapConfig::new("127.0.0.1", Security::Plaintext)
        .with_port(port)
        .with_timeout(scripted::TIMEOUT);
    let mut uids: Vec<u32> = vec![4, 5, 9];
    for op in ops {
        match op {
            b'~' => config = config.with_quirks(Quirks::lenient()),
            b'#' => {
                config = config.with_max_line_len(256);
                uids = (1..=400).map(|i| i * 3).collect();
            }
            b'%' => config = config.with_max_message_size(4096),
            _ => {}
        }
    }
    let mut client = match ImapClient::connect_with(&scripted::CONNECTOR, &config).await {
        Ok(c) => c,
        Err(e) => return check_error(&e),
    };
    for &op in ops {
        if op == b'Q' {
            if let Err(e) = client.logout().await {
                check_error(&e);
            }
            return;
        }
        step(&mut client, op, &uids, script_len).await;
        check_debug("the client", &client);
    }
}

/// One op letter; errors are checked and otherwise ignored (the next op runs anyway, as a
/// program might).
async fn step(client: &mut ImapClient, op: u8, uids: &[u32], script_len: usize) {
    let result: inbound_net::Result<()> = match op {
        b'L' | b'W' | b'l' | b'P' | b'G' => {
            let (password, method) = match op {
                b'L' => (scripted::PASSWORD, None),
                b'W' => (scripted::PASSWORD, Some(AuthMethod::Login)),
                b'l' => (scripted::PASSWORD_LITERAL, Some(AuthMethod::Login)),
                b'P' => (scripted::PASSWORD, Some(Mechanism::Plain.into())),
                _ => (scripted::PASSWORD, Some(Mechanism::Login.into())),
            };
            let credentials = Credentials::password(scripted::USER, password);
            client
                .login(&credentials, method)
                .await
                .map(|info| check_debug("AuthInfo", &info))
        }
        b'X' | b'B' | b'o' => {
            let method = match op {
                b'X' => Some(Mechanism::XOAuth2.into()),
                b'B' => Some(Mechanism::OAuthBearer.into()),
                _ => None,
            };
            let token = Arc::new(StaticToken::new(scripted::TOKEN));
            let credentials = Credentials::oauth(scripted::USER, token);
            client
                .login(&credentials, method)
                .await
                .map(|info| check_debug("AuthInfo", &info))
        }
        b'S' => client
            .select("INBOX")
            .await
            .map(|s| check_debug("status", &s)),
        b'E' => client
            .examine("Archive")
            .await
            .map(|s| check_debug("status", &s)),
        b'F' | b'f' => match client.uid_fetch_bodies(uids) {
            Ok(mut stream) => {
                while let Some(m) = stream.next().await {
                    match m {
                        Ok(m) => {
                            assert!(m.body.len() <= script_len, "a body longer than the input");
                            if op == b'f' {
                                break;
                            }
                        }
                        Err(e) => check_error(&e),
                    }
                }
                Ok(())
            }
            Err(e) => Err(e),
        },
        b'M' => client
            .uid_fetch_meta(uids)
            .await
            .map(|m| check_debug("meta", &m)),
        b'I' | b'J' | b'i' => match client.idle().await {
            Ok(mut handle) => {
                let (events, timeout) = match op {
                    b'I' => (1, scripted::TIMEOUT),
                    b'J' => (4, scripted::TIMEOUT),
                    _ => (1, Duration::ZERO),
                };
                let mut result = Ok(());
                for _ in 0..events {
                    match handle.next_event(timeout).await {
                        Ok(IdleEvent::Bye(_)) => break,
                        Ok(IdleEvent::Timeout) => {
                            // Only a zero timeout can run out: the server never stalls.
                            assert!(timeout.is_zero(), "IDLE timed out against a live server");
                        }
                        Ok(event) => check_debug("IdleEvent", &event),
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                if op != b'i' && result.is_ok() {
                    handle.done().await
                } else {
                    result
                }
            }
            Err(e) => Err(e),
        },
        b'H' => client
            .uid_search_all()
            .await
            .map(|u| check_debug("uids", &u)),
        b'h' => client.uids_from(5).await.map(|u| check_debug("uids", &u)),
        b'T' => {
            client
                .uid_store_flags(uids, StoreType::Add, &[Flag::Seen])
                .await
        }
        b'V' => client
            .uid_move(uids, "Archive")
            .await
            .map(|m| check_debug("move", &m)),
        b'D' => client.uid_expunge(uids).await,
        b'd' => client.expunge().await,
        b'N' => client.noop().await.map(|u| check_debug("unsolicited", &u)),
        b'A' => client.list("", "*").await.map(|l| check_debug("list", &l)),
        b'C' => client.create("Archive").await,
        b'K' => client
            .refresh_capabilities()
            .await
            .map(|c| check_debug("caps", &c)),
        b'Y' => client
            .enable(&["CONDSTORE"])
            .await
            .map(|c| check_debug("enabled", &c)),
        b'y' => client
            .id(Some(&[("name", "inbound-fuzz")]))
            .await
            .map(|id| check_debug("id", &id)),
        b'U' => {
            check_debug("unsolicited", &client.take_unsolicited());
            Ok(())
        }
        _ => Ok(()),
    };
    if let Err(e) = result {
        check_error(&e);
    }
}
