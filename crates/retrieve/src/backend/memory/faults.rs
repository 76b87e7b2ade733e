//! Faults: where they fire and what they do.

use super::*;

/// Where a fault set with [`MemoryServer::fault`] fires: a step of an IMAP or POP3 session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FaultPoint {
    /// Opening a session (IMAP or POP3), before the credentials are checked.
    Connect,
    /// IMAP `SELECT`, before it is answered.
    Select,
    /// IMAP `UID SEARCH`, before it is answered.
    Search,
    /// IMAP `UID FETCH (RFC822.SIZE)`, before it is answered.
    FetchSizes,
    /// IMAP `UID FETCH BODY.PEEK[]`: before each message is handed over (the messages before
    /// it were delivered).
    FetchMessage,
    /// IMAP `UID FETCH BODY.PEEK[]`: after every message was handed over, before the OK.
    FetchDone,
    /// IMAP `CREATE`, before the folder is created.
    Create,
    /// IMAP move, before anything is moved.
    MoveBefore,
    /// IMAP move without the MOVE capability: after `UID COPY`, before the originals are
    /// removed (so the messages are in both folders).
    MoveAfterCopy,
    /// IMAP move, after the messages were moved, before the OK (the answer is lost).
    MoveAfter,
    /// IMAP delete, before anything is deleted.
    DeleteBefore,
    /// IMAP delete, after the messages were expunged, before the OK (the answer is lost).
    DeleteAfter,
    /// IMAP `IDLE`, before it is accepted.
    Idle,
    /// IMAP `LOGOUT`, before it is answered.
    Logout,
    /// POP3 `UIDL`, before it is answered.
    Uidl,
    /// POP3 `LIST`, before it is answered.
    List,
    /// POP3 `RETR`, before the message is sent.
    Retr,
    /// POP3 `DELE`, before the message is marked.
    Dele,
    /// POP3 `QUIT`, before the deletions are committed.
    QuitBefore,
    /// POP3 `QUIT`, after the deletions were committed, before the +OK (the answer is lost).
    QuitAfter,
}

impl FaultPoint {
    /// Every IMAP point a retrieval run passes (all but [`FaultPoint::Idle`], which only a
    /// subscription reaches).
    pub const IMAP_RETRIEVAL: &'static [FaultPoint] = &[
        FaultPoint::Connect,
        FaultPoint::Select,
        FaultPoint::Search,
        FaultPoint::FetchSizes,
        FaultPoint::FetchMessage,
        FaultPoint::FetchDone,
        FaultPoint::Create,
        FaultPoint::MoveBefore,
        FaultPoint::MoveAfterCopy,
        FaultPoint::MoveAfter,
        FaultPoint::DeleteBefore,
        FaultPoint::DeleteAfter,
        FaultPoint::Logout,
    ];

    /// Every POP3 point (all of them a retrieval run passes).
    pub const POP3_RETRIEVAL: &'static [FaultPoint] = &[
        FaultPoint::Connect,
        FaultPoint::Uidl,
        FaultPoint::List,
        FaultPoint::Retr,
        FaultPoint::Dele,
        FaultPoint::QuitBefore,
        FaultPoint::QuitAfter,
    ];
}

/// What a fault set with [`MemoryServer::fault`] does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FaultKind {
    /// The connection drops: [`ErrorKind::Disconnected`], and the session is dead.
    Drop,
    /// The server says BYE: [`ErrorKind::Bye`], and the session is dead.
    Bye,
    /// The server stops answering, as the network adapter reports after the account's
    /// timeout: [`ErrorKind::Timeout`] at once, and the session is dead.
    Timeout,
    /// The server answers NO / -ERR: [`ErrorKind::Refused`]; the session stays usable.
    Refuse,
    /// The server never answers: the operation's future never completes (a test drops it,
    /// as a killed client would, or a watchdog gives up on it).
    Hang,
    /// The server is throttling the client: [`ErrorKind::Throttled`] with this wait as
    /// [`BackendError::retry_after`] (none: the server named no wait), and the session is
    /// dead.
    Throttle(Option<Duration>),
}

impl FaultKind {
    pub(super) fn error(self, point: FaultPoint) -> BackendError {
        if let FaultKind::Throttle(retry_after) = self {
            return BackendError::throttled(format!("injected at {point:?}"), retry_after);
        }
        let kind = match self {
            FaultKind::Drop => ErrorKind::Disconnected,
            FaultKind::Bye => ErrorKind::Bye,
            FaultKind::Timeout => ErrorKind::Timeout,
            FaultKind::Refuse | FaultKind::Hang => ErrorKind::Refused,
            FaultKind::Throttle(_) => ErrorKind::Throttled,
        };
        BackendError::new(kind, format!("injected at {point:?}"))
    }
}

#[derive(Debug)]
pub(super) struct Fault {
    pub(super) point: FaultPoint,
    pub(super) countdown: u32,
    pub(super) kind: FaultKind,
}
