//! The whole fake server: IMAP (with STARTTLS) and IMAPS, POP3 (with STLS) and POP3S
//! listeners, the OAuth 2.0 token
//! endpoint, a fresh TLS PKI, and the shared [`MailStore`], [`FaultControl`] and
//! [`TokenRegistry`], all on `127.0.0.1`.
//!
//! Every listener runs the same accept loop ([`Service`] says which protocol and whether TLS
//! starts at once); a connection becomes a session task that ends when the peer leaves, the
//! session's auto-logout fires, or the server shuts down. `session_fn` is the one place
//! that maps a service to its session code ([`crate::imap`] or `pop3`).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use inbound_test_server::server::{ServerConfig, TestServer};
//! use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
//!
//! let server = TestServer::start(ServerConfig::default().user("alice", "pw")).await?;
//! assert_eq!(server.store().messages("alice", "INBOX").map(|m| m.len()).ok(), Some(8));
//! let mut pop3 = BufReader::new(tokio::net::TcpStream::connect(server.pop3_addr()).await?);
//! let mut line = String::new();
//! pop3.read_line(&mut line).await?;
//! assert!(line.starts_with("+OK"));
//! pop3.get_mut().write_all(b"QUIT\r\n").await?;
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::conn::Conn;
use crate::faults::FaultControl;
use crate::mailstore::MailStore;
use crate::mailstore::seed::{DEFAULT_POLL_INTERVAL, DirSeeder, DirWatcher};
use crate::oauth::{TokenEndpoint, TokenEndpointConfig, TokenRegistry};
pub use crate::session::Service;
use crate::session::{Session, Shared, wait_for_stop};
use crate::tls::{TestPki, TlsError};
use crate::transcript::TranscriptCapture;
use crate::{imap, pop3, sample};

/// How long an idle session may wait for its next command before it is closed (RFC 1939
/// section 3 asks for at least 10 minutes).
pub const DEFAULT_AUTO_LOGOUT: Duration = Duration::from_secs(600);

/// The user (and password) a server has when no user is configured.
pub const DEFAULT_USER: &str = "demo";

/// The password of [`DEFAULT_USER`], and of users found only in a mail directory.
pub const DEFAULT_PASSWORD: &str = "demo";

/// How long sessions get to finish on their own at shutdown before they are aborted.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A user and password. The password stays out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// The login name (and maildrop).
    pub name: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for UserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserSpec")
            .field("name", &self.name)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// How to run a [`TestServer`]. The default: every port picked free, the user `demo:demo`
/// with the sample mailbox, logins allowed before TLS, 10 minutes auto-logout.
#[derive(Clone)]
pub struct ServerConfig {
    /// IMAP port; 0 picks a free one.
    pub imap_port: u16,
    /// IMAPS port; 0 picks a free one.
    pub imaps_port: u16,
    /// POP3 port; 0 picks a free one.
    pub pop3_port: u16,
    /// POP3S port; 0 picks a free one.
    pub pop3s_port: u16,
    /// OAuth token endpoint port; 0 picks a free one.
    pub oauth_port: u16,
    /// The users; when empty, [`DEFAULT_USER`] with [`DEFAULT_PASSWORD`].
    pub users: Vec<UserSpec>,
    /// Put the sample mailbox ([`sample::sample_mailbox`]) in every user's INBOX (ignored
    /// when `mail_dir` is set).
    pub seed_sample: bool,
    /// Seed from `DIR/<user>/<folder>/*.eml` and watch it for new files; users found only
    /// there get [`DEFAULT_PASSWORD`].
    pub mail_dir: Option<PathBuf>,
    /// Where to write `ca.pem`, `cert.pem` and `key.pem`; a temporary directory that lives
    /// as long as the server when `None`.
    pub cert_dir: Option<PathBuf>,
    /// Refuse every login (USER/PASS, APOP, AUTH; IMAP LOGIN) until TLS is on.
    pub login_disabled_before_tls: bool,
    /// Close sessions idle this long.
    pub auto_logout: Duration,
    /// The host name in greetings (and in the APOP timestamp).
    pub hostname: String,
    /// OAuth clients `(client id, secret)` registered at the token endpoint and granted
    /// access to every mailbox.
    pub oauth_clients: Vec<(String, String)>,
    /// The mail store (share one to prepare mail before starting).
    pub store: MailStore,
    /// The fault settings.
    pub faults: FaultControl,
    /// The token registry behind the endpoint and the SASL bearer mechanisms.
    pub registry: TokenRegistry,
    /// Also keep every session's transcript here (they always go to `tracing`).
    pub transcript: Option<TranscriptCapture>,
    /// Capabilities to hide, upper case (see [`hide_capability`](Self::hide_capability)).
    pub hidden_capabilities: BTreeSet<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            imap_port: 0,
            imaps_port: 0,
            pop3_port: 0,
            pop3s_port: 0,
            oauth_port: 0,
            users: Vec::new(),
            seed_sample: true,
            mail_dir: None,
            cert_dir: None,
            login_disabled_before_tls: false,
            auto_logout: DEFAULT_AUTO_LOGOUT,
            hostname: "localhost".to_owned(),
            oauth_clients: Vec::new(),
            store: MailStore::new(),
            faults: FaultControl::new(),
            registry: TokenRegistry::new(),
            transcript: None,
            hidden_capabilities: BTreeSet::new(),
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let clients: Vec<&str> = self
            .oauth_clients
            .iter()
            .map(|(id, _)| id.as_str())
            .collect();
        f.debug_struct("ServerConfig")
            .field("imap_port", &self.imap_port)
            .field("imaps_port", &self.imaps_port)
            .field("pop3_port", &self.pop3_port)
            .field("pop3s_port", &self.pop3s_port)
            .field("oauth_port", &self.oauth_port)
            .field("users", &self.users)
            .field("seed_sample", &self.seed_sample)
            .field("mail_dir", &self.mail_dir)
            .field("cert_dir", &self.cert_dir)
            .field("login_disabled_before_tls", &self.login_disabled_before_tls)
            .field("auto_logout", &self.auto_logout)
            .field("hostname", &self.hostname)
            .field("oauth_clients", &clients)
            .field("hidden_capabilities", &self.hidden_capabilities)
            .finish_non_exhaustive()
    }
}

impl ServerConfig {
    /// Adds a user (the default `demo` user is then not created).
    #[must_use]
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.users.push(UserSpec {
            name: name.to_owned(),
            password: password.to_owned(),
        });
        self
    }

    /// Seeds the sample mailbox into every user's INBOX, or not.
    #[must_use]
    pub fn seed_sample(mut self, seed: bool) -> Self {
        self.seed_sample = seed;
        self
    }

    /// Seeds from (and watches) a mail directory.
    #[must_use]
    pub fn mail_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.mail_dir = Some(dir.into());
        self
    }

    /// Writes the PEM files into this directory.
    #[must_use]
    pub fn cert_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cert_dir = Some(dir.into());
        self
    }

    /// Refuses logins before TLS.
    #[must_use]
    pub fn login_disabled_before_tls(mut self, disabled: bool) -> Self {
        self.login_disabled_before_tls = disabled;
        self
    }

    /// Closes sessions idle this long.
    #[must_use]
    pub fn auto_logout(mut self, after: Duration) -> Self {
        self.auto_logout = after;
        self
    }

    /// Registers an OAuth client with access to every mailbox.
    #[must_use]
    pub fn oauth_client(mut self, client_id: &str, secret: &str) -> Self {
        self.oauth_clients
            .push((client_id.to_owned(), secret.to_owned()));
        self
    }

    /// Uses this store.
    #[must_use]
    pub fn store(mut self, store: MailStore) -> Self {
        self.store = store;
        self
    }

    /// Captures every session's transcript.
    #[must_use]
    pub fn transcript(mut self, capture: TranscriptCapture) -> Self {
        self.transcript = Some(capture);
        self
    }

    /// Binds these POP3 and POP3S ports.
    #[must_use]
    pub fn pop3_ports(mut self, pop3: u16, pop3s: u16) -> Self {
        self.pop3_port = pop3;
        self.pop3s_port = pop3s;
        self
    }

    /// Binds these IMAP and IMAPS ports.
    #[must_use]
    pub fn imap_ports(mut self, imap: u16, imaps: u16) -> Self {
        self.imap_port = imap;
        self.imaps_port = imaps;
        self
    }

    /// Hides an IMAP capability, named as advertised (`SASL-IR`, `LITERAL+`, `AUTH=PLAIN`,
    /// `STARTTLS`, `MOVE`, `UIDPLUS`, `IDLE`, ...; case-insensitive): it is left out of the
    /// greeting, CAPABILITY and the `[CAPABILITY ...]` code after login, and what it stands
    /// for is off, as on a server without it:
    ///
    /// - `SASL-IR`: AUTHENTICATE with an initial response is `BAD`.
    /// - `LITERAL+`: a command with a non-synchronizing literal (`{n+}`) is `BAD`
    ///   (synchronizing literals get their `+` continuation as always).
    /// - `AUTH=<mechanism>`: AUTHENTICATE with that mechanism is `NO`.
    /// - `STARTTLS`, `MOVE`, `IDLE`, `ID`, `ENABLE`, `UNSELECT`: the command (`MOVE` and
    ///   `UID MOVE` for `MOVE`) is `BAD`, an unknown command.
    /// - `UIDPLUS`: `UID EXPUNGE` is `BAD`; APPEND, COPY and MOVE answer without
    ///   `APPENDUID`/`COPYUID`.
    /// - `ESEARCH`: SEARCH with `RETURN (...)` is `BAD`.
    ///
    /// Other names are only left out of the lists. POP3 honours the `AUTH=` names: the
    /// mechanism is left out of `CAPA`'s `SASL` line and `AUTH` with it is refused.
    #[must_use]
    pub fn hide_capability(mut self, name: &str) -> Self {
        self.hidden_capabilities.insert(name.to_ascii_uppercase());
        self
    }

    /// Binds this port for the token endpoint.
    #[must_use]
    pub fn oauth_port(mut self, port: u16) -> Self {
        self.oauth_port = port;
        self
    }

    fn port(&self, service: Service) -> u16 {
        match service {
            Service::Imap => self.imap_port,
            Service::Imaps => self.imaps_port,
            Service::Pop3 => self.pop3_port,
            Service::Pop3s => self.pop3s_port,
        }
    }
}

/// A session function: runs one session to its end.
type SessionFn = fn(Session) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// The session code of each service; `None` while a protocol has no session code.
fn session_fn(service: Service) -> Option<SessionFn> {
    match service {
        Service::Pop3 | Service::Pop3s => Some(|session| Box::pin(pop3::serve(session))),
        Service::Imap | Service::Imaps => Some(|session| Box::pin(imap::serve(session))),
    }
}

/// A running server. [`shutdown`](Self::shutdown) (or dropping it) stops the listeners and
/// closes the sessions.
pub struct TestServer {
    addrs: Vec<(Service, SocketAddr)>,
    shared: Arc<Shared>,
    pki: TestPki,
    ca_file: PathBuf,
    cert_dir: PathBuf,
    oauth: Option<TokenEndpoint>,
    stop: watch::Sender<bool>,
    listeners: Vec<JoinHandle<()>>,
    _watcher: Option<DirWatcher>,
    _temp_dir: Option<tempfile::TempDir>,
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addrs", &self.addrs)
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

fn tls_error(e: TlsError) -> io::Error {
    io::Error::other(e)
}

/// Adds the users (the default one when none is given) and their mail: the files of
/// `mail_dir` (then watched for new ones), or the sample mailbox when asked for.
async fn seed(config: &ServerConfig, store: &MailStore) -> io::Result<Option<DirWatcher>> {
    let mut users = config.users.clone();
    if users.is_empty() {
        users.push(UserSpec {
            name: DEFAULT_USER.to_owned(),
            password: DEFAULT_PASSWORD.to_owned(),
        });
    }
    for user in &users {
        store.add_user(&user.name, &user.password);
    }
    Ok(match &config.mail_dir {
        Some(dir) => {
            let mut seeder = DirSeeder::new(dir, DEFAULT_PASSWORD);
            let (seeder, loaded) = tokio::task::spawn_blocking({
                let store = store.clone();
                move || {
                    let loaded = seeder.load_all(&store);
                    (seeder, loaded)
                }
            })
            .await
            .map_err(io::Error::other)?;
            let loaded = loaded?;
            tracing::info!(target: "inbound_test_server::store", dir = %dir.display(), loaded, "seeded mail directory");
            Some(seeder.watch(store.clone(), DEFAULT_POLL_INTERVAL))
        }
        None => {
            if config.seed_sample {
                for user in &users {
                    sample::seed_store(store, &user.name, "INBOX").map_err(io::Error::other)?;
                }
            }
            None
        }
    })
}

impl TestServer {
    /// Makes the PKI and the users, seeds mail, binds every listener on `127.0.0.1` and
    /// serves in tasks of the current tokio runtime.
    pub async fn start(config: ServerConfig) -> io::Result<Self> {
        let pki = TestPki::generate().map_err(tls_error)?;
        let (cert_dir, temp_dir) = match &config.cert_dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("inbound-test-server-")
                    .tempdir()?;
                (temp.path().to_owned(), Some(temp))
            }
        };
        let files = pki.write_files(&cert_dir)?;
        let acceptor = pki.acceptor().map_err(tls_error)?;

        let store = config.store.clone();
        let watcher = seed(&config, &store).await?;

        for (id, secret) in &config.oauth_clients {
            config.registry.add_client(id, secret);
            config.registry.grant_full_access(id);
        }
        let oauth = TokenEndpoint::start(
            TokenEndpointConfig::default()
                .with_registry(config.registry.clone())
                .with_port(config.oauth_port),
        )
        .await?;

        let shared = Arc::new(Shared {
            store,
            faults: config.faults.clone(),
            registry: config.registry.clone(),
            acceptor,
            login_disabled_before_tls: config.login_disabled_before_tls,
            auto_logout: config.auto_logout,
            hostname: config.hostname.clone(),
            transcript: config.transcript.clone(),
            hidden_capabilities: config.hidden_capabilities.clone(),
            session_ids: AtomicU64::new(1),
        });
        let (stop, stopped) = watch::channel(false);
        let mut addrs = Vec::new();
        let mut bound = Vec::new();
        for service in Service::ALL {
            let Some(run) = session_fn(service) else {
                continue;
            };
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, config.port(service))).await?;
            addrs.push((service, listener.local_addr()?));
            bound.push((service, listener, run));
        }
        let listeners = bound
            .into_iter()
            .map(|(service, listener, run)| {
                tokio::spawn(accept_loop(
                    listener,
                    service,
                    Arc::clone(&shared),
                    stopped.clone(),
                    run,
                ))
            })
            .collect();
        tracing::info!(target: "inbound_test_server::server", ?addrs, oauth = %oauth.authority(), "listening");
        Ok(Self {
            addrs,
            shared,
            pki,
            ca_file: files.ca,
            cert_dir,
            oauth: Some(oauth),
            stop,
            listeners,
            _watcher: watcher,
            _temp_dir: temp_dir,
        })
    }

    /// The address of a service, if it is running.
    pub fn addr(&self, service: Service) -> Option<SocketAddr> {
        self.addrs
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, addr)| *addr)
    }

    /// The POP3 address (plain, STLS available).
    pub fn pop3_addr(&self) -> SocketAddr {
        self.addr(Service::Pop3)
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// The POP3S address (implicit TLS).
    pub fn pop3s_addr(&self) -> SocketAddr {
        self.addr(Service::Pop3s)
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// The IMAP address (plain, STARTTLS available).
    pub fn imap_addr(&self) -> SocketAddr {
        self.addr(Service::Imap)
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// The IMAPS address (implicit TLS).
    pub fn imaps_addr(&self) -> SocketAddr {
        self.addr(Service::Imaps)
            .unwrap_or_else(|| SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    }

    /// `http://127.0.0.1:PORT` of the token endpoint.
    pub fn oauth_authority(&self) -> String {
        self.oauth
            .as_ref()
            .map(TokenEndpoint::authority)
            .unwrap_or_default()
    }

    /// The token URL for `tenant`.
    pub fn oauth_token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.oauth_authority())
    }

    /// The CA certificate clients should trust (PEM).
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The directory holding `ca.pem`, `cert.pem` and `key.pem`.
    pub fn cert_dir(&self) -> &Path {
        &self.cert_dir
    }

    /// The certificates.
    pub fn pki(&self) -> &TestPki {
        &self.pki
    }

    /// A rustls client config trusting only this server's CA.
    pub fn client_tls_config(&self) -> io::Result<Arc<rustls::ClientConfig>> {
        self.pki.client_config().map_err(tls_error)
    }

    /// The mail store.
    pub fn store(&self) -> &MailStore {
        &self.shared.store
    }

    /// The fault settings, changeable while the server runs.
    pub fn faults(&self) -> &FaultControl {
        &self.shared.faults
    }

    /// The token registry.
    pub fn registry(&self) -> &TokenRegistry {
        &self.shared.registry
    }

    /// `READY imap=... imaps=... pop3=... pop3s=... oauth=http://... ca=PATH`, the line the
    /// binary prints; a service that is not running shows as `none`.
    pub fn ready_line(&self) -> String {
        let mut line = String::from("READY");
        for service in Service::ALL {
            let addr = self
                .addr(service)
                .map_or_else(|| "none".to_owned(), |a| a.to_string());
            line.push_str(&format!(" {service}={addr}"));
        }
        line.push_str(&format!(
            " oauth={} ca={}",
            self.oauth_authority(),
            self.ca_file.display()
        ));
        line
    }

    /// Stops the listeners, closes the sessions (those still running after a short grace
    /// period are aborted; an open POP3 maildrop deletes nothing) and the token endpoint.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for listener in std::mem::take(&mut self.listeners) {
            let _ = listener.await;
        }
        if let Some(oauth) = self.oauth.take() {
            oauth.shutdown();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for listener in &self.listeners {
            listener.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    service: Service,
    shared: Arc<Shared>,
    stopped: watch::Receiver<bool>,
    run: SessionFn,
) {
    let mut sessions = JoinSet::new();
    let mut stop = stopped.clone();
    loop {
        tokio::select! {
            () = wait_for_stop(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let id = shared.session_ids.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(target: "inbound_test_server::server", %service, session = id, %peer, "accepted");
                    let _ = tcp.set_nodelay(true);
                    let shared = Arc::clone(&shared);
                    let shutdown = stopped.clone();
                    sessions.spawn(async move {
                        let conn = if service.implicit_tls() {
                            match Conn::Plain(tcp).start_tls(&shared.acceptor).await {
                                Ok(conn) => conn,
                                Err(e) => {
                                    tracing::debug!(target: "inbound_test_server::server", %service, session = id, error = %e, "TLS handshake failed");
                                    return;
                                }
                            }
                        } else {
                            Conn::Plain(tcp)
                        };
                        run(Session { id, service, shared, conn, shutdown }).await;
                    });
                }
                Err(e) => {
                    tracing::warn!(target: "inbound_test_server::server", %service, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    // Dropping the JoinSet aborts what is left.
}
