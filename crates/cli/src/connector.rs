//! The one place the network connector is built for the commands that reach servers.

use inbound_retrieve::NetConnector;

/// inbound-retrieve's connector over inbound-net's IMAP and POP3 clients.
pub(crate) fn net() -> NetConnector {
    NetConnector::new()
}
