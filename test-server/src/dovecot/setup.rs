//! Files for a throwaway Dovecot: identities, config, passwd-file, Maildir.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{DovecotError, DovecotPorts, io_err};
use crate::tls::PemFiles;

/// Who Dovecot's processes run as, and who owns the mail.
#[derive(Debug, Clone)]
pub(super) struct Identity {
    login_user: String,
    internal_user: String,
    internal_group: String,
    mail_uid: u32,
    mail_gid: u32,
    /// Running as root: created mail files must be given to `mail_uid`.
    chown: bool,
}

/// `(name, id, primary gid)` entries of `/etc/passwd` or `(name, gid, gid)` of `/etc/group`.
fn entries(file: &str) -> Vec<(String, u32, u32)> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?.to_owned();
            let id = fields.nth(1)?.parse().ok()?;
            let gid = fields.next().and_then(|g| g.parse().ok()).unwrap_or(id);
            Some((name, id, gid))
        })
        .collect()
}

fn first_existing(list: &[(String, u32, u32)], names: &[&str]) -> Option<(String, u32, u32)> {
    names
        .iter()
        .find_map(|n| list.iter().find(|e| e.0 == *n).cloned())
}

/// Makes the directory tree and works out the identities.
pub(super) fn prepare_dir(dir: &Path) -> Result<Identity, DovecotError> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    // Other users (login, auth, mail processes) must reach into the tree.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .map_err(io_err("making the temp dir traversable"))?;
    for sub in ["run", "state", "mail"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(io_err(format!("creating {sub}/")))?;
    }
    let meta = std::fs::metadata(dir).map_err(io_err("reading the temp dir"))?;
    let users = entries("/etc/passwd");
    let groups = entries("/etc/group");
    let identity = if meta.uid() == 0 {
        let (login_user, ..) =
            first_existing(&users, &["dovenull", "nobody"]).unwrap_or(("nobody".into(), 0, 0));
        let (internal_user, ..) =
            first_existing(&users, &["dovecot", "nobody"]).unwrap_or(("nobody".into(), 0, 0));
        let (internal_group, ..) = first_existing(&groups, &["dovecot", "nogroup", "nobody"])
            .unwrap_or(("nogroup".into(), 0, 0));
        let (_, mail_uid, mail_gid) =
            first_existing(&users, &["nobody"]).unwrap_or(("nobody".into(), 65534, 65534));
        Identity {
            login_user,
            internal_user,
            internal_group,
            mail_uid,
            mail_gid,
            chown: true,
        }
    } else {
        let name_of = |list: &[(String, u32, u32)], id: u32| {
            list.iter().find(|e| e.1 == id).map(|e| e.0.clone())
        };
        let user = name_of(&users, meta.uid())
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| meta.uid().to_string());
        let group = name_of(&groups, meta.gid()).unwrap_or_else(|| meta.gid().to_string());
        Identity {
            login_user: user.clone(),
            internal_user: user,
            internal_group: group,
            mail_uid: meta.uid(),
            mail_gid: meta.gid(),
            chown: false,
        }
    };
    chown(&identity, &dir.join("mail"))?;
    Ok(identity)
}

fn chown(identity: &Identity, path: &Path) -> Result<(), DovecotError> {
    if identity.chown {
        std::os::unix::fs::chown(path, Some(identity.mail_uid), Some(identity.mail_gid))
            .map_err(io_err(format!("chown {}", path.display())))?;
    }
    Ok(())
}

/// Writes `passwd` with plain-text passwords (so every SASL mechanism works).
pub(super) fn write_passwd(dir: &Path, users: &[(String, String)]) -> Result<(), DovecotError> {
    let mut text = String::new();
    for (user, password) in users {
        let _ = writeln!(text, "{user}:{{PLAIN}}{password}::::::");
    }
    std::fs::write(dir.join("passwd"), text).map_err(io_err("writing the passwd-file"))
}

/// Four distinct free loopback ports (bound together, then released for Dovecot).
pub(super) fn free_ports() -> Result<DovecotPorts, DovecotError> {
    let mut listeners = Vec::with_capacity(4);
    let mut ports = [0u16; 4];
    for port in &mut ports {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").map_err(io_err("picking a free port"))?;
        *port = listener
            .local_addr()
            .map_err(io_err("reading a port"))?
            .port();
        listeners.push(listener);
    }
    Ok(DovecotPorts {
        imap: ports[0],
        imaps: ports[1],
        pop3: ports[2],
        pop3s: ports[3],
    })
}

/// Writes `dovecot.conf` (2.3 syntax); returns its path.
pub(super) fn write_config(
    dir: &Path,
    id: &Identity,
    ports: DovecotPorts,
    pem: &PemFiles,
    extra: &str,
) -> Result<PathBuf, DovecotError> {
    let d = dir.display();
    let text = format!(
        "# Generated by inbound-test-server for one test run.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
default_internal_user = {iu}
default_internal_group = {ig}
default_login_user = {lu}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{d}/mail/%u/Maildir
pop3_uidl_format = %08Xu%08Xv
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {pop3}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {pop3s}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
{extra}
",
        cert = pem.cert.display(),
        key = pem.key.display(),
        iu = id.internal_user,
        ig = id.internal_group,
        lu = id.login_user,
        uid = id.mail_uid,
        gid = id.mail_gid,
        imap = ports.imap,
        imaps = ports.imaps,
        pop3 = ports.pop3,
        pop3s = ports.pop3s,
    );
    let path = dir.join("dovecot.conf");
    std::fs::write(&path, text).map_err(io_err("writing dovecot.conf"))?;
    Ok(path)
}

fn make_dir(id: &Identity, path: &Path) -> Result<(), DovecotError> {
    if !path.is_dir() {
        std::fs::create_dir(path).map_err(io_err(format!("creating {}", path.display())))?;
        chown(id, path)?;
    }
    Ok(())
}

fn make_maildir(id: &Identity, path: &Path) -> Result<(), DovecotError> {
    make_dir(id, path)?;
    for sub in ["cur", "new", "tmp"] {
        make_dir(id, &path.join(sub))?;
    }
    Ok(())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// See [`Dovecot::write_maildir`](super::Dovecot::write_maildir).
pub(super) fn write_maildir<I, M>(
    dir: &Path,
    id: &Identity,
    user: &str,
    folder: &str,
    messages: I,
) -> Result<usize, DovecotError>
where
    I: IntoIterator<Item = M>,
    M: AsRef<[u8]>,
{
    let bad = user.is_empty() || user.contains(['/', '\0']) || user.starts_with('.');
    if bad || folder.is_empty() || folder.contains(['.', '\0']) {
        return Err(DovecotError::Io {
            context: format!("writing Maildir for {user:?}/{folder:?}"),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "user or folder name unusable in Maildir++",
            ),
        });
    }
    let home = dir.join("mail").join(user);
    make_dir(id, &home)?;
    let root = home.join("Maildir");
    make_maildir(id, &root)?;
    let target = if folder.eq_ignore_ascii_case("INBOX") {
        root
    } else {
        let path = root.join(format!(".{}", folder.replace('/', ".")));
        make_maildir(id, &path)?;
        path
    };
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let pid = std::process::id();
    let mut written = 0;
    for message in messages {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{secs}.M{n}P{pid}.inbound");
        let tmp = target.join("tmp").join(&name);
        std::fs::write(&tmp, message.as_ref())
            .map_err(io_err(format!("writing {}", tmp.display())))?;
        chown(id, &tmp)?;
        let new = target.join("new").join(&name);
        std::fs::rename(&tmp, &new).map_err(io_err(format!("moving {} to new/", tmp.display())))?;
        written += 1;
    }
    Ok(written)
}
