//! Just enough HTTP/1.1 for a token endpoint: one request at a time, bodies by
//! `Content-Length` with a cap, answers with `Content-Length`.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The most header bytes accepted before the request is refused.
const MAX_HEAD: usize = 16 * 1024;
/// The most headers a request may have.
const MAX_HEADERS: usize = 64;

/// A parsed request.
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) content_type: Option<String>,
    pub(crate) authorization: Option<String>,
    pub(crate) body: Vec<u8>,
    /// The client asked to close (or spoke HTTP/1.0).
    pub(crate) close: bool,
}

/// Why no request could be read.
pub(crate) enum ReadError {
    /// The peer closed (cleanly between requests, or mid-request), or the read timed out.
    Closed,
    /// A request that must be answered with this status and then the connection closed.
    Reject(u16, &'static str),
}

/// Reads one request; `buf` keeps bytes of a pipelined next request.
pub(crate) async fn read_request<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    max_body: usize,
    timeout: Duration,
) -> Result<Request, ReadError> {
    let (head_len, mut req, content_length) = loop {
        if let Some(parsed) = parse_head(buf)? {
            break parsed;
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Reject(431, "request header too large"));
        }
        fill(stream, buf, timeout).await?;
    };
    if content_length > max_body {
        return Err(ReadError::Reject(413, "request body too large"));
    }
    let total = head_len + content_length;
    while buf.len() < total {
        fill(stream, buf, timeout).await?;
    }
    req.body = buf[head_len..total].to_vec();
    buf.drain(..total);
    Ok(req)
}

async fn fill<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> Result<(), ReadError> {
    let mut chunk = [0u8; 4096];
    match tokio::time::timeout(timeout, stream.read(&mut chunk)).await {
        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => Err(ReadError::Closed),
        Ok(Ok(n)) => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

/// Parses the head if complete: (head length, request without body, content length).
fn parse_head(buf: &[u8]) -> Result<Option<(usize, Request, usize)>, ReadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let head_len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(ReadError::Reject(431, "too many headers"));
        }
        Err(_) => return Err(ReadError::Reject(400, "malformed HTTP request")),
    };
    let mut req = Request {
        method: parsed.method.unwrap_or_default().to_owned(),
        path: parsed.path.unwrap_or_default().to_owned(),
        content_type: None,
        authorization: None,
        body: Vec::new(),
        close: parsed.version == Some(0),
    };
    let mut content_length = None;
    for h in parsed.headers.iter() {
        let value = || String::from_utf8_lossy(h.value).trim().to_owned();
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = value()
                .parse::<usize>()
                .map_err(|_| ReadError::Reject(400, "bad Content-Length"))?;
            if content_length.is_some_and(|old| old != n) {
                return Err(ReadError::Reject(400, "conflicting Content-Length"));
            }
            content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(ReadError::Reject(
                411,
                "chunked bodies are not supported; send Content-Length",
            ));
        } else if h.name.eq_ignore_ascii_case("content-type") {
            req.content_type = Some(value());
        } else if h.name.eq_ignore_ascii_case("authorization") {
            req.authorization = Some(value());
        } else if h.name.eq_ignore_ascii_case("connection") {
            let v = value();
            if v.eq_ignore_ascii_case("close") {
                req.close = true;
            } else if v.eq_ignore_ascii_case("keep-alive") {
                req.close = false;
            }
        }
    }
    Ok(Some((head_len, req, content_length.unwrap_or(0))))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Writes a `302 Found` to `location`.
pub(crate) async fn write_redirect<S: AsyncWrite + Unpin>(
    stream: &mut S,
    location: &str,
    close: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nCache-Control: no-store\r\n\
         Content-Length: 0\r\n{}\r\n",
        if close { "Connection: close\r\n" } else { "" },
    );
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await
}

/// Writes a plain-text answer (what a consent page shows when it cannot redirect).
pub(crate) async fn write_text<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    body: &str,
    close: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Cache-Control: no-store\r\nContent-Length: {}\r\n{}\r\n",
        reason(status),
        body.len(),
        if close { "Connection: close\r\n" } else { "" },
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    stream.write_all(&out).await?;
    stream.flush().await
}

/// Writes a JSON answer.
pub(crate) async fn write_json<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    body: &str,
    close: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Cache-Control: no-store, no-cache\r\nPragma: no-cache\r\nContent-Length: {}\r\n{}\r\n",
        reason(status),
        body.len(),
        if close { "Connection: close\r\n" } else { "" },
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body.as_bytes());
    stream.write_all(&out).await?;
    stream.flush().await
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    async fn read(input: &[u8]) -> Result<Request, ReadError> {
        let mut stream = input;
        let mut buf = Vec::new();
        read_request(&mut stream, &mut buf, 1024, Duration::from_secs(1)).await
    }

    #[tokio::test]
    async fn reads_body_by_content_length_and_keeps_pipelined_bytes() {
        let input = b"POST /t/oauth2/v2.0/token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\
                      Content-Type: application/x-www-form-urlencoded\r\n\r\na=bGET / HTTP/1.1\r\n\r\n";
        let mut stream = &input[..];
        let mut buf = Vec::new();
        let req = read_request(&mut stream, &mut buf, 1024, Duration::from_secs(1))
            .await
            .ok()
            .unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.body, b"a=b");
        assert!(!req.close);
        let next = read_request(&mut stream, &mut buf, 1024, Duration::from_secs(1))
            .await
            .ok()
            .unwrap();
        assert_eq!(next.method, "GET");
    }

    #[tokio::test]
    async fn rejects_oversized_and_chunked_bodies() {
        let big = b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n";
        assert!(matches!(read(big).await, Err(ReadError::Reject(413, _))));
        let chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(matches!(
            read(chunked).await,
            Err(ReadError::Reject(411, _))
        ));
        assert!(matches!(
            read(b"\x00\x01garbage\r\n\r\n").await,
            Err(ReadError::Reject(400, _))
        ));
        assert!(matches!(
            read(b"POST / HTTP/1.1\r\nContent-Le").await,
            Err(ReadError::Closed)
        ));
    }
}
