//! What the IMAP and POP3 configurations share: the server's address, the security mode,
//! the TLS settings, the timeouts and TCP keepalive, with the same builder methods.
//!
//! Both [`ImapConfig`](crate::ImapConfig) and [`Pop3Config`](crate::Pop3Config) keep these
//! as public fields of their own (`host`, `port`, `security`, `tls`, `timeouts`), so that
//! callers read and set them directly; [`server_config_builders!`] writes the builder
//! methods for both.

/// Writes `with_port`, `with_tls`, `with_timeout`, `with_timeouts` and `with_keepalive` for
/// a configuration type that has the fields `port: u16`, `tls: TlsConfig`,
/// `timeouts: Timeouts` and `keepalive: Option<Keepalive>`.
macro_rules! server_config_builders {
    ($config:ty) => {
        impl $config {
            /// Sets the port.
            #[must_use]
            pub fn with_port(mut self, port: u16) -> Self {
                self.port = port;
                self
            }

            /// Sets the TLS settings.
            #[must_use]
            pub fn with_tls(mut self, tls: $crate::tls::TlsConfig) -> Self {
                self.tls = tls;
                self
            }

            /// One timeout for everything (see [`Timeouts::uniform`]), as an account's
            /// single timeout setting gives.
            ///
            /// [`Timeouts::uniform`]: crate::transport::Timeouts::uniform
            #[must_use]
            pub fn with_timeout(mut self, timeout: ::std::time::Duration) -> Self {
                self.timeouts = $crate::transport::Timeouts::uniform(timeout);
                self
            }

            /// Sets each timeout.
            #[must_use]
            pub fn with_timeouts(mut self, timeouts: $crate::transport::Timeouts) -> Self {
                self.timeouts = timeouts;
                self
            }

            /// Sets TCP keepalive on the connection (`None`: off; default
            /// [`Keepalive::default`]).
            ///
            /// [`Keepalive::default`]: crate::Keepalive::default
            #[must_use]
            pub fn with_keepalive(mut self, keepalive: Option<$crate::Keepalive>) -> Self {
                self.keepalive = keepalive;
                self
            }
        }
    };
}

pub(crate) use server_config_builders;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::transport::Timeouts;
    use crate::{ImapConfig, MailProtocol, Pop3Config, Security, TlsConfig};

    /// The same builder calls give the same shared settings for both protocols.
    #[test]
    fn both_configurations_build_alike() {
        let timeouts = Timeouts {
            connect: Duration::from_secs(1),
            handshake: Duration::from_secs(2),
            command: Duration::from_secs(3),
            logout: Duration::from_secs(4),
        };
        let imap = ImapConfig::new("mail.example.com", Security::StartTls)
            .with_port(1143)
            .with_tls(TlsConfig::new())
            .with_timeouts(timeouts);
        let pop3 = Pop3Config::new("mail.example.com", Security::StartTls)
            .with_port(1110)
            .with_tls(TlsConfig::new())
            .with_timeouts(timeouts);
        assert_eq!((imap.port, pop3.port), (1143, 1110));
        assert_eq!(imap.timeouts, timeouts);
        assert_eq!(pop3.timeouts, timeouts);
        assert_eq!(imap.host, pop3.host);

        let imap = ImapConfig::new("h", Security::Tls).with_timeout(Duration::from_secs(60));
        let pop3 = Pop3Config::new("h", Security::Tls).with_timeout(Duration::from_secs(60));
        assert_eq!(imap.timeouts, Timeouts::uniform(Duration::from_secs(60)));
        assert_eq!(pop3.timeouts, imap.timeouts);
        assert_eq!(imap.timeouts.logout, Duration::from_secs(10));
        assert_eq!(imap.port, Security::Tls.default_port(MailProtocol::Imap));
        assert_eq!(pop3.port, Security::Tls.default_port(MailProtocol::Pop3));
    }
}
