//! `inbound messages list|show|export`.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use inbound_store::{MessageFilter, MessageId, MessageView, SanitizeHtml, StoreBackend};

use crate::app::App;
use crate::error::{CliError, CliResult, EXIT_OK};
use crate::output::{
    Align, Table, addresses, clip, escape_terminal_text, human_bytes, print_json, rfc3339,
    short_date, summary_json,
};
use inbound_retrieve::json::{needs_whole, show_message};

/// `inbound messages ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum MessagesCommand {
    /// List stored messages, newest first.
    List(ListArgs),
    /// Show one stored message.
    Show(ShowArgs),
    /// Export stored messages as .eml files or into a Maildir.
    Export(ExportArgs),
}

/// Output formats of `messages list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ListFormat {
    /// An aligned table.
    Table,
    /// A JSON array.
    Json,
}

/// Output formats of `messages show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ShowFormat {
    /// Headers and the text body.
    Table,
    /// A JSON object with the bodies.
    Json,
    /// The raw message, exactly as received.
    Eml,
}

/// Output formats of `messages export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ExportFormat {
    /// One `<id>.eml` file per message (or standard output for one message).
    Eml,
    /// A Maildir (`cur`, `new`, `tmp`); messages go to `new`.
    Maildir,
}

/// Which messages.
#[derive(Debug, Args)]
pub(crate) struct Filter {
    /// Only this account.
    #[arg(long, short = 'a', value_name = "NAME")]
    account: Option<String>,
    /// Only this folder.
    #[arg(long, value_name = "FOLDER")]
    folder: Option<String>,
    /// At most this many messages.
    #[arg(long, value_name = "N")]
    limit: Option<u32>,
}

impl Filter {
    fn to_filter(&self) -> MessageFilter {
        MessageFilter {
            account: self.account.clone(),
            folder: self.folder.clone(),
            limit: self.limit,
            ..MessageFilter::default()
        }
    }
}

/// `messages list`.
#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    filter: Filter,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ListFormat,
    /// Same as --format json.
    #[arg(long)]
    json: bool,
}

/// `messages show`.
#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The message id (from `messages list`).
    id: i64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: ShowFormat,
    /// Same as --format json.
    #[arg(long)]
    json: bool,
}

/// `messages export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// Message ids; none means every message the filter selects.
    ids: Vec<i64>,
    #[command(flatten)]
    filter: Filter,
    /// Output format.
    #[arg(long, value_enum, default_value = "eml")]
    format: ExportFormat,
    /// The directory to write to (created if missing). Required unless exporting one
    /// message as eml, which then goes to standard output.
    #[arg(long, short, value_name = "DIR")]
    output: Option<PathBuf>,
}

/// Runs `inbound messages ...`.
pub(crate) fn command(app: &App, cmd: MessagesCommand) -> CliResult<u8> {
    let config = app.config()?;
    let Some(store) = app.open_existing_store(&config)? else {
        return Err(CliError::usage(format!(
            "no store at {}: run `inbound fetch` first, or pass --store FILE",
            app.store_name(&config)
        )));
    };
    match cmd {
        MessagesCommand::List(args) => list(&*store, &args),
        MessagesCommand::Show(args) => {
            let sanitizes = |account: &str| {
                config
                    .accounts
                    .iter()
                    .find(|a| a.name == account)
                    .map(|a| a.sanitize_mode())
            };
            show(&*store, &args, &sanitizes)
        }
        MessagesCommand::Export(args) => export(&*store, &args, app.quiet),
    }
}

fn list(store: &dyn StoreBackend, args: &ListArgs) -> CliResult<u8> {
    let messages = store.list_messages(&args.filter.to_filter())?;
    if args.json || args.format == ListFormat::Json {
        let list: Vec<_> = messages.iter().map(summary_json).collect();
        print_json(&list)?;
        return Ok(EXIT_OK);
    }
    if messages.is_empty() {
        eprintln!("no stored messages match (`inbound fetch` retrieves mail)");
        return Ok(EXIT_OK);
    }
    let mut t = Table::new(&[
        ("id", Align::Right),
        ("account", Align::Left),
        ("folder", Align::Left),
        ("date", Align::Left),
        ("from", Align::Left),
        ("subject", Align::Left),
        ("att", Align::Right),
        ("size", Align::Right),
    ]);
    for m in &messages {
        t.row(vec![
            m.id.to_string(),
            m.account.clone(),
            m.folder.clone(),
            m.date.map(short_date).unwrap_or_default(),
            clip(&addresses(&m.from), 30),
            clip(m.subject.as_deref().unwrap_or(""), 50),
            m.attachments.len().to_string(),
            human_bytes(m.size),
        ]);
    }
    print!("{}", t.render());
    Ok(EXIT_OK)
}

fn no_such(id: i64) -> CliError {
    CliError::usage(format!(
        "no message with id {id} in the store (see `inbound messages list`)"
    ))
}

/// How the configured account of a message sanitizes: `None` when the account is not
/// configured, `Some(None)` when it does not sanitize.
type SanitizeLookup<'a> = &'a dyn Fn(&str) -> Option<Option<SanitizeHtml>>;

fn show(store: &dyn StoreBackend, args: &ShowArgs, sanitizes: SanitizeLookup<'_>) -> CliResult<u8> {
    let format = if args.json {
        ShowFormat::Json
    } else {
        args.format
    };
    let id = MessageId(args.id);
    if format == ShowFormat::Eml {
        let mut stdout = std::io::stdout().lock();
        write_raw(store, id, &mut stdout)?;
        stdout.flush()?;
        return Ok(EXIT_OK);
    }
    if format == ShowFormat::Json {
        // The one JSON form, shared with the web API's `GET /api/v1/messages/{id}`.
        let value = show_message(store, id, sanitizes)?.ok_or_else(|| no_such(args.id))?;
        print_json(&value)?;
        return Ok(EXIT_OK);
    }
    // Large attachments are not decoded for showing: their descriptions come from the store.
    let MessageView {
        message: mut m,
        attachments,
    } = store
        .get_message_lean(id)?
        .ok_or_else(|| no_such(args.id))?;
    let configured = sanitizes(&m.account);
    if needs_whole(&m, &attachments, configured.as_ref()) {
        m = store.get_message(id)?.ok_or_else(|| no_such(args.id))?;
    }
    let e = &m.email;
    let mut out = String::new();
    let mut field = |name: &str, value: &str| {
        if !value.is_empty() {
            out.push_str(&format!("{name:<9} {}\n", clip(value, 200)));
        }
    };
    field("Id:", &m.id.to_string());
    field("Account:", &format!("{} / {}", m.account, m.folder));
    field("From:", &addresses(&e.from));
    field("To:", &addresses(&e.to));
    field("Cc:", &addresses(&e.cc));
    field("Subject:", e.subject.as_deref().unwrap_or(""));
    field("Date:", &e.date.map(rfc3339).unwrap_or_default());
    field("Msg-Id:", e.message_id.as_deref().unwrap_or(""));
    for a in &attachments {
        let name = a.filename.as_deref().unwrap_or("(unnamed)");
        field(
            "Attached:",
            &format!(
                "{name} ({}, {}{})",
                a.content_type,
                human_bytes(a.size),
                if a.inline { ", inline" } else { "" }
            ),
        );
    }
    for w in &e.warnings {
        field("Warning:", &format!("{}: {}", w.kind, w.detail));
    }
    out.push('\n');
    match (&e.text, &e.html) {
        (Some(text), _) => out.push_str(&escape_terminal_text(text)),
        (None, Some(_)) => {
            out.push_str("(HTML only; see `inbound messages show ID --json` for the HTML body)\n");
        }
        (None, None) => out.push_str("(no text body)\n"),
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    print!("{out}");
    Ok(EXIT_OK)
}

/// Writes the raw message `id` to `out` a piece at a time, as received.
fn write_raw(
    store: &dyn StoreBackend,
    id: MessageId,
    out: &mut dyn std::io::Write,
) -> CliResult<()> {
    match store.write_raw_to(id, out) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(no_such(id.0)),
        Err(inbound_store::Error::Output(e)) => Err(e.into()),
        Err(e) => Err(e.into()),
    }
}

fn export(store: &dyn StoreBackend, args: &ExportArgs, quiet: bool) -> CliResult<u8> {
    let ids: Vec<MessageId> = if args.ids.is_empty() {
        store
            .list_messages(&MessageFilter {
                oldest_first: true,
                ..args.filter.to_filter()
            })?
            .into_iter()
            .map(|m| m.id)
            .collect()
    } else {
        args.ids.iter().map(|&id| MessageId(id)).collect()
    };
    let Some(dir) = &args.output else {
        if args.format == ExportFormat::Eml && ids.len() == 1 {
            let mut stdout = std::io::stdout().lock();
            write_raw(store, ids[0], &mut stdout)?;
            stdout.flush()?;
            return Ok(EXIT_OK);
        }
        return Err(CliError::usage(
            "--output DIR is required (only a single message exported as eml may go to standard output)",
        ));
    };
    let written = match args.format {
        ExportFormat::Eml => export_eml(store, &ids, dir)?,
        ExportFormat::Maildir => export_maildir(store, &ids, dir)?,
    };
    if !quiet {
        eprintln!("exported {written} message(s) to {}", dir.display());
    }
    Ok(EXIT_OK)
}

fn export_eml(store: &dyn StoreBackend, ids: &[MessageId], dir: &Path) -> CliResult<usize> {
    create_private_dir(dir)
        .map_err(|e| CliError::failed(format!("cannot create {}: {e}", dir.display())))?;
    for &id in ids {
        let path = dir.join(format!("{id}.eml"));
        let tmp = dir.join(format!(".{id}.eml.tmp"));
        write_message(store, id, &tmp)?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| CliError::failed(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(ids.len())
}

fn export_maildir(store: &dyn StoreBackend, ids: &[MessageId], dir: &Path) -> CliResult<usize> {
    for sub in ["cur", "new", "tmp"] {
        let d = dir.join(sub);
        create_private_dir(&d)
            .map_err(|e| CliError::failed(format!("cannot create {}: {e}", d.display())))?;
    }
    let host = hostname();
    let pid = std::process::id();
    for &id in ids {
        let m = store.get_summary(id)?.ok_or_else(|| no_such(id.0))?;
        // time.unique.host, unique per message and process (Maildir naming).
        let name = format!("{}.M{id}P{pid}.{host}", m.stored_at);
        let tmp = dir.join("tmp").join(&name);
        write_message(store, id, &tmp)?;
        let target = dir.join("new").join(&name);
        std::fs::rename(&tmp, &target)
            .map_err(|e| CliError::failed(format!("cannot move into {}: {e}", target.display())))?;
    }
    Ok(ids.len())
}

/// Writes the raw message `id` into a new private file `path` (readable by the owner
/// only), streamed from the store; the caller renames it into place, so a reader never sees
/// half. A failure removes the file.
fn write_message(store: &dyn StoreBackend, id: MessageId, path: &Path) -> CliResult<()> {
    let cannot =
        |e: std::io::Error| CliError::failed(format!("cannot write {}: {e}", path.display()));
    let mut file = open_private(path).map_err(cannot)?;
    let written = match store.write_raw_to(id, &mut file) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(no_such(id.0)),
        Err(inbound_store::Error::Output(e)) => Err(cannot(e)),
        Err(e) => Err(e.into()),
    };
    if written.is_err() {
        drop(file);
        let _ = std::fs::remove_file(path);
    }
    written
}

/// Creates `dir` and its missing parents readable by the owner only (0700 on Unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Opens a new or truncated file readable by the owner only (0600 on Unix; an existing file
/// is made 0600 too) for writing.
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

/// The host name for Maildir file names: `/` and `:` are not allowed there.
fn hostname() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    let clean: String = raw
        .trim()
        .chars()
        .map(|c| match c {
            '/' => "\\057".to_owned(),
            ':' => "\\072".to_owned(),
            c if c.is_control() => String::new(),
            c => c.to_string(),
        })
        .collect();
    if clean.is_empty() {
        "localhost".to_owned()
    } else {
        clean
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use inbound_message::Email;
    use inbound_retrieve::json::{ShownHtml as Html, html_to_show};
    use inbound_store::{NewMessage, ServerRef, Store, StoredMessage};

    use super::*;

    const RAW: &[u8] = b"From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/related; boundary=\"R\"\r\n\r\n\
        --R\r\nContent-Type: text/html\r\n\r\n\
        <p onclick=\"steal()\">Hi <img src=\"cid:logo@x\"></p><script>alert(1)</script>\r\n\
        --R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n\r\nPNG\r\n--R--\r\n";

    fn stored(sanitize: Option<&SanitizeHtml>) -> StoredMessage {
        let mut store = Store::open_in_memory(None).unwrap();
        let email = Email::parse(RAW);
        let r = ServerRef::Imap {
            uidvalidity: 1,
            uid: 1,
        };
        let id = store
            .insert_message(&NewMessage::new("a", "INBOX", &r, &email).with_sanitize(sanitize))
            .unwrap()
            .id;
        store.get_message(id).unwrap().unwrap()
    }

    fn clean(html: &Html) -> &str {
        match html {
            Html::Sanitized(Some(h)) => {
                assert!(!h.contains("script") && !h.contains("onclick"), "{h}");
                assert!(h.contains("Hi"), "{h}");
                h
            }
            Html::Sanitized(None) => panic!("no HTML"),
            Html::AsSent(h) => panic!("HTML as sent: {h:?}"),
        }
    }

    /// A message of more than a megabyte whose HTML shows a large inline PNG.
    fn big_with_inline_image() -> Vec<u8> {
        let mut raw = b"From: a@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/related; boundary=\"R\"\r\n\r\n\
            --R\r\nContent-Type: text/html\r\n\r\n<p>Hi <img src=\"cid:logo@x\"></p>\r\n\
            --R\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n\
            Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUgAA"
            .to_vec();
        raw.extend_from_slice(&[b'A'; 52]);
        raw.extend_from_slice(b"\r\n");
        while raw.len() < 1_200_000 {
            raw.extend_from_slice(&[b'A'; 76]);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"--R--\r\n");
        raw
    }

    #[test]
    fn a_big_message_shown_with_images_embedded_is_read_whole() {
        let mut store = Store::open_in_memory(None).unwrap();
        let email = Email::parse(big_with_inline_image());
        let r = ServerRef::Imap {
            uidvalidity: 1,
            uid: 1,
        };
        let id = store
            .insert_message(&NewMessage::new("a", "INBOX", &r, &email))
            .unwrap()
            .id;
        let view = store.get_message_lean(id).unwrap().unwrap();
        let size = view.attachments[0].size;
        assert!(size > 800_000, "{size}");
        assert!(view.message.email.attachments[0].content.is_empty());
        // Shown as sent, or sanitized keeping cid: links, the lean read is enough.
        for configured in [None, Some(None), Some(Some(SanitizeHtml::keep_cid()))] {
            assert!(!needs_whole(
                &view.message,
                &view.attachments,
                configured.as_ref()
            ));
        }
        // Images embedded as data: URLs need their content: read whole, they are there.
        let data_url = Some(Some(SanitizeHtml::data_url()));
        assert!(needs_whole(
            &view.message,
            &view.attachments,
            data_url.as_ref()
        ));
        let whole = store.get_message(id).unwrap().unwrap();
        assert!(!needs_whole(&whole, &view.attachments, data_url.as_ref()));
        let shown = html_to_show(&whole, data_url);
        assert!(clean(&shown).contains("data:image/png;base64,iVBORw0KGgo"));
    }

    #[test]
    fn an_account_that_sanitizes_never_shows_html_as_sent() {
        let rewrite = SanitizeHtml::rewrite_cid("/img/{index}");
        for stored_with in [None, Some(SanitizeHtml::keep_cid()), Some(rewrite.clone())] {
            let m = stored(stored_with.as_ref());
            // Configured to sanitize: sanitized, whatever the message was stored with, in the
            // configured mode.
            let shown = html_to_show(&m, Some(Some(rewrite.clone())));
            assert!(clean(&shown).contains("/img/"), "{stored_with:?}");
            let shown = html_to_show(&m, Some(Some(SanitizeHtml::keep_cid())));
            assert!(clean(&shown).contains("cid:logo@x"), "{stored_with:?}");
            // Not configured any more: as it was stored.
            match stored_with {
                Some(_) => {
                    clean(&html_to_show(&m, None));
                }
                None => assert!(matches!(
                    html_to_show(&m, None),
                    Html::AsSent(Some(h)) if h.contains("<script>")
                )),
            }
        }
        // Configured not to sanitize: as sent.
        let m = stored(Some(&SanitizeHtml::keep_cid()));
        assert!(matches!(
            html_to_show(&m, Some(None)),
            Html::AsSent(Some(h)) if h.contains("onclick")
        ));
    }
}
