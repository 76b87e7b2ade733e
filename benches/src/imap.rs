//! Generated IMAP server transcripts for the decode and parser-comparison benches.
//!
//! Each `*_case` generator also returns the [`Facts`] a correct parse must find, so that a
//! bench can check every parser's output before it times it.

use std::fmt::Write as _;

/// What a correct parse of a transcript finds: counts and sums over the typed responses.
/// A parser's output is summarised into the same shape and compared with the generator's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// Responses of any kind (untagged data, untagged and tagged status).
    pub responses: usize,
    /// `FETCH` responses.
    pub fetches: usize,
    /// The sum of the lengths of all `BODY[...]` data (the literals).
    pub literal_bytes: u64,
    /// The sum of the UIDs in `FETCH` responses.
    pub uid_sum: u64,
    /// Flags in `FETCH` responses, counted.
    pub flags: usize,
    /// The sum of `n` over `n EXISTS`.
    pub exists_sum: u64,
    /// The sum of `n` over `n EXPUNGE`.
    pub expunge_sum: u64,
    /// Tagged `OK` responses.
    pub tagged_ok: usize,
    /// Addresses in all envelope address lists (from, sender, reply-to, to, cc, bcc).
    pub addresses: usize,
    /// The sum of the sizes of all leaf parts of all body structures.
    pub body_part_octets: u64,
    /// The subject of the first envelope, raw.
    pub first_subject: Option<Vec<u8>>,
}

/// A generated transcript and what parsing it must find.
#[derive(Debug, Clone)]
pub struct Case {
    /// Short name for bench ids.
    pub name: &'static str,
    /// The server's bytes.
    pub bytes: Vec<u8>,
    /// What a correct parse finds.
    pub expected: Facts,
}

/// `count` FETCH responses, each with UID, FLAGS, RFC822.SIZE and a `BODY[]` literal holding
/// a generated message of about `size` bytes, then a tagged OK.
pub fn fetch_body_transcript(count: usize, size: usize) -> Vec<u8> {
    fetch_body_case(count, size).bytes
}

/// [`fetch_body_transcript`] with its [`Facts`].
pub fn fetch_body_case(count: usize, size: usize) -> Case {
    let mut out = Vec::with_capacity(count * (size + 100));
    let mut expected = Facts::default();
    for i in 1..=count {
        let msg = crate::mail::multipart_message(i, size);
        let uid = 1000 + i;
        write_str(
            &mut out,
            &format!(
                "* {i} FETCH (UID {uid} FLAGS (\\Seen) RFC822.SIZE {} BODY[] {{{}}}\r\n",
                msg.len(),
                msg.len()
            ),
        );
        out.extend_from_slice(&msg);
        out.extend_from_slice(b")\r\n");
        expected.fetches += 1;
        expected.literal_bytes += msg.len() as u64;
        expected.uid_sum += uid as u64;
        expected.flags += 1;
    }
    out.extend_from_slice(b"a1 OK FETCH completed\r\n");
    expected.responses = count + 1;
    expected.tagged_ok = 1;
    Case {
        name: "fetch_body_20k",
        bytes: out,
        expected,
    }
}

/// `count` FETCH responses with ENVELOPE and a multipart BODYSTRUCTURE (text, HTML,
/// attachment), as a client listing a mailbox gets them, then a tagged OK.
pub fn structure_transcript(count: usize) -> Vec<u8> {
    structure_case(count).bytes
}

/// [`structure_transcript`] with its [`Facts`].
pub fn structure_case(count: usize) -> Case {
    let mut s = String::with_capacity(count * 1200);
    let mut expected = Facts::default();
    for i in 1..=count {
        let uid = 5000 + i;
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
            size = 52_000 + i,
        );
        expected.fetches += 1;
        expected.uid_sum += uid as u64;
        expected.flags += 2;
        // from, sender, reply-to: one each; to: two; cc, bcc: NIL.
        expected.addresses += 5;
        expected.body_part_octets += 2210 + 9120 + 40960;
        if i == 1 {
            expected.first_subject = Some(b"=?UTF-8?Q?Caf=C3=A9_report_1?=".to_vec());
        }
    }
    s.push_str("a1 OK FETCH completed\r\n");
    expected.responses = count + 1;
    expected.tagged_ok = 1;
    Case {
        name: "envelope_bodystructure",
        bytes: s.into_bytes(),
        expected,
    }
}

/// `count` rounds of the small responses a client sees most while a mailbox is open:
/// `* n EXISTS`, `* n FETCH (FLAGS (...) UID u)`, `* n EXPUNGE` and a tagged `OK`.
pub fn status_lines_case(count: usize) -> Case {
    let mut s = String::with_capacity(count * 120);
    let mut expected = Facts::default();
    for i in 1..=count {
        let uid = 70_000 + 3 * i;
        let _ = write!(
            s,
            "* {exists} EXISTS\r\n\
             * {i} FETCH (FLAGS (\\Seen \\Answered) UID {uid})\r\n\
             * {i} EXPUNGE\r\n\
             a{i} OK NOOP completed\r\n",
            exists = 100 + i,
        );
        expected.exists_sum += (100 + i) as u64;
        expected.fetches += 1;
        expected.flags += 2;
        expected.uid_sum += uid as u64;
        expected.expunge_sum += i as u64;
        expected.tagged_ok += 1;
    }
    expected.responses = 4 * count;
    Case {
        name: "status_lines",
        bytes: s.into_bytes(),
        expected,
    }
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}
