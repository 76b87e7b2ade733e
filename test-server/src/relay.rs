//! [`BlackholeRelay`]: a TCP relay on 127.0.0.1 in front of any server (the bundled one or a
//! throwaway Dovecot) that forwards both ways until told to fall silent. Then the
//! connections open at that moment forward nothing more in either direction, yet both of
//! their sockets stay open: what a NAT box or load balancer does when it forgets a
//! connection without sending a FIN or RST. Connections made afterwards forward normally,
//! so a client that notices can reconnect.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use inbound_test_server::relay::BlackholeRelay;
//! use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
//!
//! let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let upstream = echo.local_addr()?;
//! tokio::spawn(async move {
//!     while let Ok((mut s, _)) = echo.accept().await {
//!         tokio::spawn(async move {
//!             let mut buf = [0u8; 64];
//!             while let Ok(n @ 1..) = s.read(&mut buf).await {
//!                 let _ = s.write_all(&buf[..n]).await;
//!             }
//!         });
//!     }
//! });
//! let relay = BlackholeRelay::start(upstream).await?;
//! let mut client = tokio::net::TcpStream::connect(relay.addr()).await?;
//! client.write_all(b"ping").await?;
//! let mut buf = [0u8; 4];
//! client.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"ping");
//!
//! relay.blackhole();
//! client.write_all(b"ping").await?; // accepted by the kernel, never answered
//! let silent = tokio::time::timeout(Duration::from_millis(200), client.read(&mut buf)).await;
//! assert!(silent.is_err(), "no answer and no end of stream");
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// A relay that can blackhole its open connections (see the [module docs](self)). Its
/// listener and every connection end when it is dropped.
#[derive(Debug)]
pub struct BlackholeRelay {
    addr: SocketAddr,
    /// Incremented by [`BlackholeRelay::blackhole`]; a connection falls silent when it
    /// changes after the connection was accepted.
    generation: watch::Sender<u64>,
    connections: Arc<Mutex<u64>>,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl BlackholeRelay {
    /// Listens on 127.0.0.1 (a free port) and relays each connection to `upstream`.
    ///
    /// # Errors
    /// When the listener cannot be bound.
    pub async fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (generation, _) = watch::channel(0u64);
        let connections = Arc::new(Mutex::new(0u64));
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let accept_generation = generation.clone();
        let accept_count = connections.clone();
        let accept_tasks = tasks.clone();
        tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .spawn(async move {
                while let Ok((client, _)) = listener.accept().await {
                    *accept_count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                    let silence = accept_generation.subscribe();
                    accept_tasks
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .spawn(relay(client, upstream, silence));
                }
            });
        Ok(Self {
            addr,
            generation,
            connections,
            tasks,
        })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every connection open now falls silent for good (sockets kept open); later ones
    /// are relayed normally.
    pub fn blackhole(&self) {
        tracing::debug!(target: "inbound_test_server", "relay: blackholing open connections");
        self.generation.send_modify(|g| *g += 1);
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        *self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for BlackholeRelay {
    fn drop(&mut self) {
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, mut silence: watch::Receiver<u64>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    silence.mark_unchanged();
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let mut up_silence = silence.clone();
    let up = forward(client_read, server_write, &mut up_silence);
    let down = forward(server_read, client_write, &mut silence);
    // Each direction ends at its end of stream or error; a silent one keeps its halves
    // (and so both sockets) until the other side closes or the relay is dropped.
    tokio::join!(up, down);
}

/// Copies `from` to `to` until the end of stream, an error, or the blackhole: then reads and
/// discards until the end of stream, keeping `to` open and unwritten.
async fn forward(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    silence: &mut watch::Receiver<u64>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut silent = false;
    let mut watching = true;
    loop {
        let n = if silent {
            from.read(&mut buf).await
        } else {
            tokio::select! {
                read = from.read(&mut buf) => read,
                changed = silence.changed(), if watching => {
                    // An error: the relay is going away; relay on until it aborts us.
                    match changed {
                        Ok(()) => silent = true,
                        Err(_) => watching = false,
                    }
                    continue;
                }
            }
        };
        match n {
            Ok(0) | Err(_) => break,
            Ok(n) if !silent => {
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
        }
    }
    if !silent {
        let _ = to.shutdown().await;
        return;
    }
    // Keep the sockets open: the peer on this side closed, but the other side must still
    // see nothing, not an end of stream.
    std::future::pending::<()>().await;
}
