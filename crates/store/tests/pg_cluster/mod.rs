//! A throwaway PostgreSQL 15 cluster on loopback for the store's tests.
//!
//! [`database`] gives each test a fresh database in a cluster shared by the tests of one
//! binary that run at the same time: `initdb` into a temp dir, `pg_ctl start` on 127.0.0.1 and
//! a free port (its socket in the temp dir too); when the last test holding it is done, the
//! cluster is stopped (`pg_ctl stop -m immediate`) and its directory removed. PostgreSQL
//! refuses to run as root, so when the tests run as root (CI) the server runs as `nobody`
//! (via `runuser`), and the temp dir is handed to it.
//!
//! The server speaks TLS too (`ssl=on`), with a leaf certificate for 127.0.0.1 issued by a
//! CA made at start ([`TestDb::ca_file`]).
//!
//! Without the binaries (`/usr/lib/postgresql/15/bin`, or `INBOUND_PG_BIN`), [`database`]
//! prints why and returns `None` (the test skips), or panics when
//! `INBOUND_REQUIRE_POSTGRES=1`.
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Set to `1` to make missing PostgreSQL binaries fail the tests instead of skipping them.
pub const REQUIRE_ENV: &str = "INBOUND_REQUIRE_POSTGRES";

/// Where Debian's PostgreSQL 15 puts `initdb` and `pg_ctl`.
const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running cluster; stopped and removed on drop.
pub struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// The user the server runs as, when not the current one.
    run_as: Option<&'static str>,
}

/// A fresh database in the shared cluster; holding it keeps the cluster running.
pub struct TestDb {
    cluster: Arc<Cluster>,
    name: String,
}

impl TestDb {
    /// `postgresql://postgres@127.0.0.1:PORT/NAME` (trust authentication on loopback).
    pub fn url(&self) -> String {
        self.url_with("disable")
    }

    /// The URL with this `sslmode`.
    pub fn url_with(&self, sslmode: &str) -> String {
        format!(
            "postgresql://postgres@127.0.0.1:{}/{}?sslmode={sslmode}",
            self.cluster.port, self.name
        )
    }

    /// The PEM file of the CA that issued the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.cluster.dir.path().join("ca.pem")
    }
}

impl TestDb {
    /// Runs SQL in this database with `psql` (as a user with another client would), for
    /// tests that change rows behind the store's back.
    pub fn psql(&self, sql: &str) -> String {
        let out = self.cluster.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.cluster.port.to_string(),
                "-U",
                "postgres",
                "-d",
                &self.name,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
        );
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

static SHARED: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database for one test, or `None` when PostgreSQL is not installed (and not
/// required).
pub fn database() -> Option<TestDb> {
    let bin = std::env::var_os("INBOUND_PG_BIN")
        .map_or_else(|| PathBuf::from(DEFAULT_BIN), PathBuf::from);
    if !bin.join("initdb").exists() || !bin.join("pg_ctl").exists() {
        if std::env::var(REQUIRE_ENV).as_deref() == Ok("1") {
            panic!(
                "{REQUIRE_ENV}=1 but PostgreSQL is not installed at {} (apt-get install postgresql)",
                bin.display()
            );
        }
        eprintln!(
            "skipping: PostgreSQL is not installed at {} (apt-get install postgresql; \
             set {REQUIRE_ENV}=1 to make this fail)",
            bin.display()
        );
        return None;
    }
    let cluster = {
        let mut shared = SHARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match shared.upgrade() {
            Some(cluster) => cluster,
            None => {
                let cluster = Arc::new(Cluster::start(bin));
                *shared = Arc::downgrade(&cluster);
                cluster
            }
        }
    };
    let name = format!(
        "inbound_test_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    cluster.run_ok(
        "createdb",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            &name,
        ],
    );
    Some(TestDb { cluster, name })
}

/// A CA and a leaf for 127.0.0.1 it issued: the CA's PEM, the leaf's, the leaf key's.
fn certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Inbound PostgreSQL test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, &ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (ca.pem(), leaf.pem(), leaf_key.serialize_pem())
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn id_of(user: &str, flag: &str) -> u32 {
    let out = Command::new("id")
        .args([flag, user])
        .output()
        .expect("run id");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a numeric id")
}

impl Cluster {
    fn start(bin: PathBuf) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("inbound-pg-")
            .tempdir()
            .expect("a temp dir");
        let run_as = if is_root() {
            // The server's own user must own its data directory and socket directory.
            let (uid, gid) = (id_of("nobody", "-u"), id_of("nobody", "-g"));
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown temp dir");
            Some("nobody")
        } else {
            None
        };
        let (ca, cert, key) = certificates();
        let owner = run_as.map(|user| (id_of(user, "-u"), id_of(user, "-g")));
        for (name, pem, mode) in [
            ("ca.pem", ca, 0o644),
            ("server.crt", cert, 0o644),
            ("server.key", key, 0o600),
        ] {
            use std::os::unix::fs::PermissionsExt as _;
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write a certificate");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).expect("chown");
            }
        }
        // Retried on another port if one was taken meanwhile.
        let mut cluster = Self {
            bin,
            dir,
            port: 0,
            run_as,
        };
        cluster.run_ok(
            "initdb",
            &[
                "-D",
                &cluster.data().to_string_lossy(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
            ],
        );
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port();
            let dir = cluster.dir.path().display();
            let options = format!(
                "-p {} -h 127.0.0.1 -k {dir} -F -c max_connections=200 -c ssl=on \
                 -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key",
                cluster.port,
            );
            let out = cluster.run(
                "pg_ctl",
                &[
                    "-D",
                    &cluster.data().to_string_lossy(),
                    "-l",
                    &cluster.dir.path().join("server.log").to_string_lossy(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
            );
            if out.status.success() {
                return cluster;
            }
            last = Some(out);
        }
        let log =
            std::fs::read_to_string(cluster.dir.path().join("server.log")).unwrap_or_default();
        panic!(
            "pg_ctl start failed: {:?}\nlog:\n{log}",
            last.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        );
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the cluster's programs as the server's user.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&path);
                c
            }
            None => Command::new(&path),
        };
        command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", path.display()))
    }

    fn run_ok(&self, program: &str, args: &[&str]) {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The directory the cluster lives in.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data().to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        if !out.status.success() {
            eprintln!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
