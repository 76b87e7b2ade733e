//! POP3 generators: server streams of RETR responses, with or without dot-stuffed lines.

/// A deterministic message of about `size` octets: headers, then 76-column text lines. With
/// `dotted`, about one line in eight starts with a dot (so the wire form is dot-stuffed).
pub fn message(size: usize, dotted: bool, seed: u64) -> Vec<u8> {
    let mut out = format!(
        "From: sender{seed}@example.com\r\nTo: rcpt@example.org\r\nSubject: message {seed}\r\n\
         Message-ID: <{seed}@bench.example>\r\n\r\n"
    )
    .into_bytes();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut line = 0u64;
    while out.len() < size {
        line += 1;
        if dotted && line % 8 == 0 {
            out.push(b'.');
        }
        for _ in 0..74 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let c = b"abcdefghijklmnopqrstuvwxyz      .,ABCDE0123"[(state >> 58) as usize % 43];
            out.push(c);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Appends `body` dot-stuffed and terminated (`CRLF.CRLF`), as a server sends it.
pub fn stuff_into(body: &[u8], out: &mut Vec<u8>) {
    let mut line_start = true;
    for (i, &b) in body.iter().enumerate() {
        if line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        line_start = b == b'\n' && i > 0 && body[i - 1] == b'\r';
    }
    if !body.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
}

/// `count` RETR responses (`+OK n octets` plus the stuffed body) of about `size` octets.
pub fn retr_responses(count: usize, size: usize, dotted: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * (size + size / 16 + 64));
    for i in 0..count {
        let body = message(size, dotted, i as u64);
        out.extend_from_slice(format!("+OK {} octets\r\n", body.len()).as_bytes());
        stuff_into(&body, &mut out);
    }
    out
}
