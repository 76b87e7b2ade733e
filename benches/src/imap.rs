//! Generated IMAP server transcripts for the decode benches.

use std::fmt::Write as _;

/// `count` FETCH responses, each with UID, FLAGS, RFC822.SIZE and a `BODY[]` literal holding
/// a generated message of about `size` bytes, then a tagged OK.
pub fn fetch_body_transcript(count: usize, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * (size + 100));
    for i in 1..=count {
        let msg = crate::mail::multipart_message(i, size);
        write_str(
            &mut out,
            &format!(
                "* {i} FETCH (UID {} FLAGS (\\Seen) RFC822.SIZE {} BODY[] {{{}}}\r\n",
                1000 + i,
                msg.len(),
                msg.len()
            ),
        );
        out.extend_from_slice(&msg);
        out.extend_from_slice(b")\r\n");
    }
    out.extend_from_slice(b"a1 OK FETCH completed\r\n");
    out
}

/// `count` FETCH responses with ENVELOPE and a multipart BODYSTRUCTURE (text, HTML,
/// attachment), as a client listing a mailbox gets them, then a tagged OK.
pub fn structure_transcript(count: usize) -> Vec<u8> {
    let mut s = String::with_capacity(count * 1200);
    for i in 1..=count {
        let _ = write!(
            s,
            "* {i} FETCH (UID {uid} FLAGS (\\Seen $Forwarded) INTERNALDATE \"17-Jul-2024 02:44:25 -0700\" \
             RFC822.SIZE {size} ENVELOPE (\"Wed, 17 Jul 2024 02:23:25 -0700\" \"=?UTF-8?Q?Caf=C3=A9_report_{i}?=\" \
             ((\"Ann Example\" NIL \"ann\" \"example.org\")) ((\"Ann Example\" NIL \"ann\" \"example.org\")) \
             ((\"Ann Example\" NIL \"ann\" \"example.org\")) ((NIL NIL \"bob\" \"example.org\")(\"Carol\" NIL \"carol\" \"example.com\")) \
             NIL NIL \"<parent-{i}@example.org>\" \"<{i}.bench@example.org>\") \
             BODYSTRUCTURE (((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 2210 40 NIL NIL NIL NIL)\
             (\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 9120 120 NIL NIL NIL NIL) \"ALTERNATIVE\" \
             (\"BOUNDARY\" \"A\") NIL NIL NIL)(\"APPLICATION\" \"PDF\" (\"NAME\" \"report-{i}.pdf\") \"<att{i}@x>\" NIL \"BASE64\" 40960 NIL \
             (\"ATTACHMENT\" (\"FILENAME\" \"report-{i}.pdf\")) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"M\") NIL NIL NIL))\r\n",
            uid = 5000 + i,
            size = 52_000 + i,
        );
    }
    s.push_str("a1 OK FETCH completed\r\n");
    s.into_bytes()
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}
