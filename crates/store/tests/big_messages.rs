//! Big messages go in and come out in bounded memory: the store never holds a second whole
//! copy of a message's raw bytes (peak RSS measured by the kernel, `/proc/self`).
//!
//! The tests of this file run one after another (one lock), as RSS is the process's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::sync::Mutex;

use bytes::Bytes;
use inbound_message::Email;
use inbound_store::{MessageId, NewMessage, ServerRef, Store, raw_sha256};
use sha2::{Digest as _, Sha256};

/// One test at a time: peak RSS is the whole process's.
static SERIAL: Mutex<()> = Mutex::new(());

/// The size of the test message: big enough that a second copy stands out.
const SIZE: usize = 24 * 1024 * 1024;

/// A message of about [`SIZE`] bytes: headers, a short text and a base64 attachment.
fn big_message() -> Bytes {
    let mut raw = Vec::with_capacity(SIZE + 4096);
    raw.extend_from_slice(
        b"From: Scanner <scan@example.org>\r\nTo: inbox@example.org\r\nSubject: big scan\r\n\
          Message-ID: <big@example.org>\r\nDate: Tue, 1 Jul 2025 10:00:00 +0000\r\n\
          MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n\
          --B\r\nContent-Type: text/plain\r\n\r\nThe scan is attached.\r\n\
          --B\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
          Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n",
    );
    let line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    while raw.len() < SIZE {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--B--\r\n");
    Bytes::from(raw)
}

/// A status line of this process in KiB (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Runs `f` and returns how many bytes the process's peak RSS rose above its RSS before.
fn peak_rise(f: impl FnOnce()) -> u64 {
    // Writing 5 resets the peak (VmHWM) to the current RSS.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let before = status_kib("VmRSS");
    f();
    status_kib("VmHWM").saturating_sub(before) * 1024
}

fn stored_big(dir: &std::path::Path) -> (Store, MessageId, Bytes) {
    let mut store = Store::open(dir.join("store.sqlite"), None).unwrap();
    let raw = big_message();
    let email = Email::parse_lean(raw.clone());
    let r = ServerRef::Imap {
        uidvalidity: 1,
        uid: 1,
    };
    let id = store
        .insert_message(
            &NewMessage::new("a", "INBOX", &r, &email.email)
                .with_attachment_sizes(Some(&email.attachment_sizes)),
        )
        .unwrap()
        .id;
    (store, id, raw)
}

#[test]
fn storing_a_big_message_adds_no_second_copy() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("store.sqlite"), None).unwrap();
    let raw = big_message();
    let email = Email::parse_lean(raw.clone());
    let hash = raw_sha256(&raw);
    let r = ServerRef::Pop3 { uidl: "big".into() };
    let mut id = None;
    let rise = peak_rise(|| {
        id = Some(
            store
                .insert_message(
                    &NewMessage::new("a", "INBOX", &r, &email.email)
                        .with_attachment_sizes(Some(&email.attachment_sizes))
                        .with_sha256(Some(&hash)),
                )
                .unwrap()
                .id,
        );
    });
    assert!(
        rise < (SIZE / 4) as u64,
        "storing a {SIZE}-byte message raised peak RSS by {rise} bytes"
    );
    let id = id.unwrap();
    assert_eq!(store.export_eml(id).unwrap().unwrap(), raw);
    // The index has the attachment's decoded size although its content was never decoded.
    let summary = store.get_summary(id).unwrap().unwrap();
    assert_eq!(summary.size, raw.len() as u64);
    assert_eq!(summary.attachments.len(), 1);
    assert_eq!(summary.attachments[0].filename.as_deref(), Some("scan.pdf"));
    let full = Email::parse(raw);
    assert_eq!(
        summary.attachments[0].size,
        full.attachments[0].size() as u64
    );
}

#[test]
fn exporting_a_big_message_streams_it() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let (store, id, raw) = stored_big(dir.path());
    let expected = raw_sha256(&raw);
    drop(raw);

    /// Hashes what is written to it, keeping nothing.
    struct HashSink(Sha256, u64);
    impl std::io::Write for HashSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            self.1 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut sink = HashSink(Sha256::new(), 0);
    let mut written = None;
    let rise = peak_rise(|| written = store.write_raw_to(id, &mut sink).unwrap());
    sink.flush().unwrap();
    assert!(
        rise < (SIZE / 8) as u64,
        "streaming a {SIZE}-byte message out raised peak RSS by {rise} bytes"
    );
    assert_eq!(written, Some(sink.1));
    assert_eq!(<[u8; 32]>::from(sink.0.finalize()), expected);
    assert_eq!(
        store
            .write_raw_to(MessageId(id.0 + 1), &mut std::io::sink())
            .unwrap(),
        None
    );

    // Reading it whole holds one copy, not two.
    let mut whole = None;
    let rise = peak_rise(|| whole = store.export_eml(id).unwrap());
    let whole = whole.unwrap();
    assert_eq!(raw_sha256(&whole), expected);
    assert!(
        rise < (SIZE + SIZE / 4) as u64,
        "reading a {SIZE}-byte message whole raised peak RSS by {rise} bytes"
    );
}

#[test]
fn a_big_message_read_lean_keeps_attachments_undecoded() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = tempfile::tempdir().unwrap();
    let (store, id, raw) = stored_big(dir.path());
    drop(raw);
    let mut view = None;
    let rise = peak_rise(|| view = store.get_message_lean(id).unwrap());
    let view = view.unwrap();
    assert!(
        rise < (SIZE + SIZE / 4) as u64,
        "reading a {SIZE}-byte message for display raised peak RSS by {rise} bytes"
    );
    assert_eq!(
        view.message.email.text.as_deref().map(str::trim),
        Some("The scan is attached.")
    );
    assert_eq!(view.message.email.subject.as_deref(), Some("big scan"));
    assert_eq!(view.attachments.len(), 1);
    assert_eq!(view.attachments[0].filename.as_deref(), Some("scan.pdf"));
    assert!(view.attachments[0].size > (SIZE / 2) as u64);
}
