//! Fetches every new message of an IMAP account into `mail.sqlite`, moving each to `Archive`
//! once it is stored: `MAIL_HOST=imap.example.com MAIL_USER=me MAIL_PW=... cargo run -p
//! inbound-retrieve --example fetch` (`MAIL_PORT` and `MAIL_CA` for a server of your own).
use inbound_retrieve::{Account, Retriever, SecretSource};
use std::env::var;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = inbound_store::Store::open("mail.sqlite", None)?;
    let (host, user) = (var("MAIL_HOST")?, var("MAIL_USER")?);
    let mut account = Account::imap(host, user, SecretSource::env("MAIL_PW")).fetch_all();
    if let (Ok(port), Ok(ca)) = (var("MAIL_PORT"), var("MAIL_CA")) {
        account = account.port(port.parse()?).ca_file(ca);
    }
    let account = account.then_move_to("Archive").build()?;
    let report = Retriever::from_store(store).retrieve(&account).await?;
    println!("fetched {}, moved {}", report.fetched, report.moved);
    Ok(())
}
