//! The token registry: every access and refresh token the fake authority knows, shared by the
//! HTTP token endpoint and the IMAP/POP3 SASL handlers.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use tokio::time::Instant;

/// Default lifetime of an access token issued by the endpoint (Entra ID answers about 3600 s).
pub const DEFAULT_ACCESS_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// When the registry holds more access tokens than this, tokens that expired are forgotten
/// on the next issue (so a runaway client cannot grow memory without bound).
const PRUNE_THRESHOLD: usize = 100_000;

/// How a token came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// `grant_type=client_credentials` at the HTTP endpoint.
    ClientCredentials,
    /// `grant_type=refresh_token` at the HTTP endpoint.
    RefreshToken,
    /// `grant_type=authorization_code` at the HTTP endpoint (after `/authorize`).
    AuthorizationCode,
    /// The device-code grant at the HTTP endpoint.
    DeviceCode,
    /// [`TokenRegistry::issue_token`] called from code.
    Direct,
}

/// What the registry knows about a valid access token. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Who the token speaks for: the client id (client credentials) or the user (refresh
    /// token grants and tokens issued from code).
    pub owner: String,
    /// The client the token was issued to, when it came from the HTTP endpoint.
    pub client_id: Option<String>,
    /// The scope asked for, when one was.
    pub scope: Option<String>,
    /// How the token was obtained.
    pub grant: Grant,
    /// When the token was issued.
    pub issued_at: Instant,
    /// When the token stops being valid.
    pub expires_at: Instant,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token was issued by this registry but its lifetime is over.
    #[error("the access token has expired")]
    Expired,
    /// The registry never issued this token, or it was revoked.
    #[error("the access token is unknown or was revoked")]
    Unknown,
    /// The token is valid but its owner was not granted access to the mailbox asked for
    /// (what Exchange does when an app's service principal has no mailbox permission).
    #[error("the token's owner {owner:?} has no access to mailbox {mailbox:?}")]
    NotAuthorized {
        /// The token's owner.
        owner: String,
        /// The mailbox the token was presented for.
        mailbox: String,
    },
}

/// Counters for tests that check a client's caching and refresh behaviour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenStats {
    /// HTTP requests the endpoint answered (any outcome).
    pub requests: u64,
    /// Access tokens issued, by any means.
    pub access_tokens_issued: u64,
    /// Access tokens issued for `grant_type=client_credentials`.
    pub client_credentials_grants: u64,
    /// Access tokens issued for `grant_type=refresh_token`.
    pub refresh_token_grants: u64,
    /// Refresh tokens issued (rotated or created from code).
    pub refresh_tokens_issued: u64,
    /// HTTP requests answered with an error.
    pub errors: u64,
    /// [`TokenRegistry::validate`] / [`TokenRegistry::authorize`] calls.
    pub validations: u64,
    /// Access tokens issued for `grant_type=authorization_code`.
    pub authorization_code_grants: u64,
    /// Access tokens issued for the device-code grant.
    pub device_code_grants: u64,
    /// Refresh tokens presented again after they were rotated (each revoked its family).
    pub refresh_token_reuses: u64,
}

/// One request the endpoint received, as tests may want to check it. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The tenant path segment.
    pub tenant: String,
    /// The `grant_type` form field, if sent.
    pub grant_type: Option<String>,
    /// The client id (form field or HTTP Basic user), if sent.
    pub client_id: Option<String>,
    /// The `scope` form field, if sent.
    pub scope: Option<String>,
    /// `None` on success, else the OAuth `error` code answered.
    pub error: Option<String>,
}

/// A registered OAuth client application.
#[derive(Clone)]
pub(crate) struct ClientApp {
    /// `None` for a public client (refresh grants without a secret).
    pub(crate) secret: Option<String>,
}

/// A refresh token's binding.
#[derive(Clone)]
pub(crate) struct RefreshBinding {
    pub(crate) client_id: String,
    pub(crate) owner: String,
    pub(crate) scope: Option<String>,
    /// The consent this token descends from; every rotation keeps it.
    pub(crate) family: u64,
}

/// An authorization code `/authorize` issued, waiting for the token request.
#[derive(Clone)]
pub(crate) struct PendingCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// The PKCE `S256` challenge.
    pub(crate) challenge: String,
    pub(crate) owner: String,
    pub(crate) scope: Option<String>,
    pub(crate) expires_at: Instant,
}

/// Where a device code stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved(String),
    Denied,
}

/// A device code the device authorization endpoint issued.
#[derive(Clone)]
pub(crate) struct DeviceGrant {
    pub(crate) client_id: String,
    pub(crate) user_code: String,
    pub(crate) scope: Option<String>,
    pub(crate) status: DeviceStatus,
    pub(crate) expires_at: Instant,
}

/// How `/authorize` answers, standing in for the person at the consent page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Consent {
    /// Consent is given for the user named by `login_hint` (or the default consent user).
    #[default]
    Approve,
    /// The person declines: the redirect carries `error=access_denied`.
    Deny,
}

struct AccessEntry {
    info: TokenInfo,
}

struct State {
    clients: HashMap<String, ClientApp>,
    access: HashMap<String, AccessEntry>,
    refresh: HashMap<String, RefreshBinding>,
    /// owner -> mailboxes that owner may open besides its own name.
    grants: HashMap<String, HashSet<String>>,
    /// Owners that may open every mailbox.
    full_access: HashSet<String>,
    lifetime: Duration,
    rotate_refresh_tokens: bool,
    access_token_bytes: usize,
    fail_next: u32,
    stats: TokenStats,
    requests: Vec<RecordedRequest>,
    consent: Consent,
    consent_user: Option<String>,
    codes: HashMap<String, PendingCode>,
    devices: HashMap<String, DeviceGrant>,
    device_interval: u64,
    device_lifetime: Duration,
    slow_down_next: u32,
    next_family: u64,
    /// Refresh tokens already rotated away, with their family: presenting one again is reuse.
    retired: HashMap<String, u64>,
}

/// The tokens a fake authority has issued, with owners and expiry. Cheap to clone: clones
/// share one state.
///
/// The HTTP [`TokenEndpoint`](super::TokenEndpoint) issues into it; the IMAP/POP3 XOAUTH2 and
/// OAUTHBEARER handlers call [`validate`](Self::validate) or [`authorize`](Self::authorize).
#[derive(Clone)]
pub struct TokenRegistry {
    state: Arc<Mutex<State>>,
}

impl Default for TokenRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TokenRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("TokenRegistry")
            .field("clients", &state.clients.len())
            .field("access_tokens", &state.access.len())
            .field("refresh_tokens", &state.refresh.len())
            .field("lifetime", &state.lifetime)
            .finish_non_exhaustive()
    }
}

/// A new random token: `prefix` followed by `bytes` random bytes in base64url.
fn random_token(prefix: &str, bytes: usize) -> String {
    let mut raw = vec![0u8; bytes.max(16)];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let mut token = String::with_capacity(prefix.len() + raw.len() * 4 / 3 + 2);
    token.push_str(prefix);
    URL_SAFE_NO_PAD.encode_string(&raw, &mut token);
    token
}

impl TokenRegistry {
    /// An empty registry: no clients, access tokens living
    /// [`DEFAULT_ACCESS_TOKEN_LIFETIME`], no refresh-token rotation.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                clients: HashMap::new(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                grants: HashMap::new(),
                full_access: HashSet::new(),
                lifetime: DEFAULT_ACCESS_TOKEN_LIFETIME,
                rotate_refresh_tokens: false,
                access_token_bytes: 32,
                fail_next: 0,
                stats: TokenStats::default(),
                requests: Vec::new(),
                consent: Consent::Approve,
                consent_user: None,
                codes: HashMap::new(),
                devices: HashMap::new(),
                device_interval: 1,
                device_lifetime: Duration::from_secs(900),
                slow_down_next: 0,
                next_family: 0,
                retired: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent maps behind: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a confidential client (`client_secret` required at the endpoint).
    /// Registering an id again replaces its secret.
    pub fn add_client(&self, client_id: &str, client_secret: &str) {
        self.lock().clients.insert(
            client_id.to_owned(),
            ClientApp {
                secret: Some(client_secret.to_owned()),
            },
        );
    }

    /// Registers a public client: refresh-token grants need no secret; client-credentials
    /// grants are refused (as Entra ID refuses them for public clients).
    pub fn add_public_client(&self, client_id: &str) {
        self.lock()
            .clients
            .insert(client_id.to_owned(), ClientApp { secret: None });
    }

    /// Sets the lifetime of access tokens the endpoint issues from now on.
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        self.lock().lifetime = lifetime;
    }

    /// The lifetime of access tokens the endpoint issues.
    pub fn access_token_lifetime(&self) -> Duration {
        self.lock().lifetime
    }

    /// When on, a refresh-token grant answers a new refresh token and forgets the old one.
    pub fn set_refresh_token_rotation(&self, rotate: bool) {
        self.lock().rotate_refresh_tokens = rotate;
    }

    /// How many random bytes an access token carries (at least 16; default 32). Real Entra
    /// tokens are JWTs of 1,500+ characters: 1,200 bytes here gives a token of that size, to
    /// test long SASL lines.
    pub fn set_access_token_size(&self, random_bytes: usize) {
        self.lock().access_token_bytes = random_bytes;
    }

    /// The next `n` HTTP requests are answered `503` with error `temporarily_unavailable`.
    pub fn fail_next_requests(&self, n: u32) {
        self.lock().fail_next = n;
    }

    /// Lets `owner`'s tokens open `mailbox` (besides a mailbox named like the owner).
    pub fn grant_access(&self, owner: &str, mailbox: &str) {
        self.lock()
            .grants
            .entry(owner.to_owned())
            .or_default()
            .insert(mailbox.to_owned());
    }

    /// Lets `owner`'s tokens open every mailbox.
    pub fn grant_full_access(&self, owner: &str) {
        self.lock().full_access.insert(owner.to_owned());
    }

    /// Issues an access token for `owner` living `lifetime`, as if obtained elsewhere.
    pub fn issue_token(&self, owner: &str, lifetime: Duration) -> String {
        let mut state = self.lock();
        state.insert_access(owner, None, None, Grant::Direct, lifetime)
    }

    /// Issues and registers a new refresh token for `client_id` acting for `owner`.
    pub fn issue_refresh_token(&self, client_id: &str, owner: &str, scope: Option<&str>) -> String {
        let token = random_token("rt_", 32);
        self.register_refresh_token(&token, client_id, owner, scope);
        token
    }

    /// Registers a refresh token chosen by the caller (for fixed values in configs).
    pub fn register_refresh_token(
        &self,
        token: &str,
        client_id: &str,
        owner: &str,
        scope: Option<&str>,
    ) {
        let mut state = self.lock();
        state.stats.refresh_tokens_issued += 1;
        state.next_family += 1;
        let family = state.next_family;
        state.refresh.insert(
            token.to_owned(),
            RefreshBinding {
                client_id: client_id.to_owned(),
                owner: owner.to_owned(),
                scope: scope.map(str::to_owned),
                family,
            },
        );
    }

    /// How `/authorize` answers from now on (approve by default).
    pub fn set_consent(&self, consent: Consent) {
        self.lock().consent = consent;
    }

    /// The user `/authorize` consents for when the request has no `login_hint`.
    pub fn set_consent_user(&self, user: Option<&str>) {
        self.lock().consent_user = user.map(str::to_owned);
    }

    /// The polling interval the device authorization endpoint asks for, in seconds
    /// (default 1).
    pub fn set_device_poll_interval(&self, secs: u64) {
        self.lock().device_interval = secs;
    }

    /// How long device codes issued from now on live (default 15 minutes).
    pub fn set_device_code_lifetime(&self, lifetime: Duration) {
        self.lock().device_lifetime = lifetime;
    }

    /// The next `n` polls of a pending device code are answered `slow_down`.
    pub fn slow_down_next_polls(&self, n: u32) {
        self.lock().slow_down_next = n;
    }

    /// The person approves the device code `user_code` as `user` (what a test does instead of
    /// a browser; also `POST /device/approve`). Returns whether the code was pending.
    pub fn approve_device(&self, user_code: &str, user: &str) -> bool {
        self.decide_device(user_code, DeviceStatus::Approved(user.to_owned()))
    }

    /// The person declines the device code `user_code` (also `POST /device/deny`). Returns
    /// whether the code was pending.
    pub fn deny_device(&self, user_code: &str) -> bool {
        self.decide_device(user_code, DeviceStatus::Denied)
    }

    fn decide_device(&self, user_code: &str, status: DeviceStatus) -> bool {
        let mut state = self.lock();
        let now = Instant::now();
        match state
            .devices
            .values_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code))
        {
            Some(d) if d.status == DeviceStatus::Pending && now < d.expires_at => {
                d.status = status;
                true
            }
            _ => false,
        }
    }

    /// Whether the endpoint would accept this refresh token now.
    pub fn is_refresh_token_valid(&self, token: &str) -> bool {
        self.lock().refresh.contains_key(token)
    }

    /// Forgets an access or refresh token: later use gives `Unknown` / `invalid_grant`.
    /// Returns whether the token was known.
    pub fn revoke(&self, token: &str) -> bool {
        let mut state = self.lock();
        state.access.remove(token).is_some() | state.refresh.remove(token).is_some()
    }

    /// Makes a known access token expire now. Returns whether it was known.
    pub fn expire_now(&self, token: &str) -> bool {
        let mut state = self.lock();
        match state.access.get_mut(token) {
            Some(entry) => {
                entry.info.expires_at = Instant::now();
                true
            }
            None => false,
        }
    }

    /// Checks an access token: its info if it is known and not expired.
    pub fn validate(&self, token: &str) -> Result<TokenInfo, TokenError> {
        let mut state = self.lock();
        state.stats.validations += 1;
        let entry = state.access.get(token).ok_or(TokenError::Unknown)?;
        if Instant::now() >= entry.info.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(entry.info.clone())
    }

    /// Checks an access token presented to open `mailbox` (the SASL user): valid, and its
    /// owner is the mailbox, was granted it, or has full access.
    pub fn authorize(&self, token: &str, mailbox: &str) -> Result<TokenInfo, TokenError> {
        let info = self.validate(token)?;
        let state = self.lock();
        let allowed = info.owner == mailbox
            || state.full_access.contains(&info.owner)
            || state
                .grants
                .get(&info.owner)
                .is_some_and(|m| m.contains(mailbox));
        if allowed {
            Ok(info)
        } else {
            Err(TokenError::NotAuthorized {
                owner: info.owner,
                mailbox: mailbox.to_owned(),
            })
        }
    }

    /// Counters since the registry was made.
    pub fn stats(&self) -> TokenStats {
        self.lock().stats
    }

    /// Access tokens issued so far, by any means.
    pub fn issued_count(&self) -> u64 {
        self.lock().stats.access_tokens_issued
    }

    /// The requests the endpoint received, oldest first (at most the last 1,000).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    // ---- used by the HTTP endpoint ----

    pub(crate) fn client(&self, client_id: &str) -> Option<ClientApp> {
        self.lock().clients.get(client_id).cloned()
    }

    pub(crate) fn take_failure(&self) -> bool {
        let mut state = self.lock();
        if state.fail_next > 0 {
            state.fail_next -= 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        let mut state = self.lock();
        state.stats.requests += 1;
        if request.error.is_some() {
            state.stats.errors += 1;
        }
        if state.requests.len() >= 1000 {
            state.requests.remove(0);
        }
        state.requests.push(request);
    }

    /// Issues an access token for the endpoint; returns it with its lifetime.
    pub(crate) fn issue_for_grant(
        &self,
        owner: &str,
        client_id: &str,
        scope: Option<&str>,
        grant: Grant,
    ) -> (String, Duration) {
        let mut state = self.lock();
        let lifetime = state.lifetime;
        match grant {
            Grant::ClientCredentials => state.stats.client_credentials_grants += 1,
            Grant::RefreshToken => state.stats.refresh_token_grants += 1,
            Grant::AuthorizationCode => state.stats.authorization_code_grants += 1,
            Grant::DeviceCode => state.stats.device_code_grants += 1,
            Grant::Direct => {}
        }
        let token = state.insert_access(owner, Some(client_id), scope, grant, lifetime);
        (token, lifetime)
    }

    pub(crate) fn refresh_binding(&self, token: &str) -> Option<RefreshBinding> {
        self.lock().refresh.get(token).cloned()
    }

    /// When `token` was rotated away already, revokes every refresh token of its family (RFC
    /// 9700 section 4.14.2: a reused refresh token means it leaked) and returns true.
    pub(crate) fn detect_reuse(&self, token: &str) -> bool {
        let mut state = self.lock();
        let Some(family) = state.retired.get(token).copied() else {
            return false;
        };
        state.refresh.retain(|_, b| b.family != family);
        state.stats.refresh_token_reuses += 1;
        tracing::debug!(target: "inbound_test_server::oauth", family, "refresh token reused; family revoked");
        true
    }

    pub(crate) fn consent(&self) -> (Consent, Option<String>) {
        let state = self.lock();
        (state.consent.clone(), state.consent_user.clone())
    }

    /// Records an authorization code and returns it.
    pub(crate) fn insert_code(&self, pending: PendingCode) -> String {
        let code = random_token("code_", 24);
        self.lock().codes.insert(code.clone(), pending);
        code
    }

    /// Takes an authorization code (codes are single use).
    pub(crate) fn take_code(&self, code: &str) -> Option<PendingCode> {
        let mut state = self.lock();
        let pending = state.codes.remove(code)?;
        (Instant::now() < pending.expires_at).then_some(pending)
    }

    /// Issues a device code: (device code, user code, interval, lifetime).
    pub(crate) fn insert_device(
        &self,
        client_id: &str,
        scope: Option<&str>,
    ) -> (String, String, u64, Duration) {
        let device_code = random_token("dc_", 24);
        let mut raw = [0u8; 4];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let user_code = format!("{:08X}", u32::from_be_bytes(raw));
        let mut state = self.lock();
        let lifetime = state.device_lifetime;
        let interval = state.device_interval;
        state.devices.insert(
            device_code.clone(),
            DeviceGrant {
                client_id: client_id.to_owned(),
                user_code: user_code.clone(),
                scope: scope.map(str::to_owned),
                status: DeviceStatus::Pending,
                expires_at: Instant::now() + lifetime,
            },
        );
        (device_code, user_code, interval, lifetime)
    }

    /// One poll of a device code: the grant when decided (and then forgotten), else `None`
    /// with the reason in `Err`.
    pub(crate) fn poll_device(&self, device_code: &str) -> Result<DeviceGrant, &'static str> {
        let mut state = self.lock();
        let Some(grant) = state.devices.get(device_code).cloned() else {
            return Err("invalid_grant");
        };
        if Instant::now() >= grant.expires_at {
            state.devices.remove(device_code);
            return Err("expired_token");
        }
        match grant.status {
            DeviceStatus::Pending if state.slow_down_next > 0 => {
                state.slow_down_next -= 1;
                Err("slow_down")
            }
            DeviceStatus::Pending => Err("authorization_pending"),
            DeviceStatus::Denied => {
                state.devices.remove(device_code);
                Err("access_denied")
            }
            DeviceStatus::Approved(_) => {
                state.devices.remove(device_code);
                Ok(grant)
            }
        }
    }

    /// When rotation is on, replaces `old` by a new refresh token and returns it.
    pub(crate) fn rotate_refresh(&self, old: &str) -> Option<String> {
        let mut state = self.lock();
        if !state.rotate_refresh_tokens {
            return None;
        }
        let binding = state.refresh.remove(old)?;
        state.retired.insert(old.to_owned(), binding.family);
        let token = random_token("rt_", 32);
        state.refresh.insert(token.clone(), binding);
        state.stats.refresh_tokens_issued += 1;
        Some(token)
    }
}

impl State {
    fn insert_access(
        &mut self,
        owner: &str,
        client_id: Option<&str>,
        scope: Option<&str>,
        grant: Grant,
        lifetime: Duration,
    ) -> String {
        let now = Instant::now();
        if self.access.len() >= PRUNE_THRESHOLD {
            self.access.retain(|_, e| e.info.expires_at > now);
        }
        let token = random_token("at_", self.access_token_bytes);
        let info = TokenInfo {
            owner: owner.to_owned(),
            client_id: client_id.map(str::to_owned),
            scope: scope.map(str::to_owned),
            grant,
            issued_at: now,
            expires_at: now + lifetime,
        };
        self.access.insert(token.clone(), AccessEntry { info });
        self.stats.access_tokens_issued += 1;
        token
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn issued_token_validates_until_expiry() {
        let reg = TokenRegistry::new();
        let token = reg.issue_token("alice@example.test", Duration::from_secs(60));
        let info = reg.validate(&token).unwrap();
        assert_eq!(info.owner, "alice@example.test");
        assert_eq!(info.grant, Grant::Direct);
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(reg.validate(&token).is_ok());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(reg.validate(&token), Err(TokenError::Expired));
        assert_eq!(reg.validate("at_nope"), Err(TokenError::Unknown));
        assert_eq!(reg.issued_count(), 1);
    }

    #[test]
    fn tokens_are_random_and_sized() {
        let reg = TokenRegistry::new();
        let a = reg.issue_token("u", Duration::from_secs(1));
        let b = reg.issue_token("u", Duration::from_secs(1));
        assert_ne!(a, b);
        assert!(a.starts_with("at_") && a.len() == 3 + 43, "{a}");
        reg.set_access_token_size(1200);
        assert_eq!(reg.issue_token("u", Duration::from_secs(1)).len(), 3 + 1600);
    }

    #[test]
    fn authorize_checks_mailbox_grants() {
        let reg = TokenRegistry::new();
        let app = reg.issue_token("app-id", Duration::from_secs(60));
        assert!(matches!(
            reg.authorize(&app, "shared@example.test"),
            Err(TokenError::NotAuthorized { .. })
        ));
        reg.grant_access("app-id", "shared@example.test");
        assert!(reg.authorize(&app, "shared@example.test").is_ok());
        assert!(reg.authorize(&app, "other@example.test").is_err());
        reg.grant_full_access("app-id");
        assert!(reg.authorize(&app, "other@example.test").is_ok());
        let own = reg.issue_token("bob", Duration::from_secs(60));
        assert!(reg.authorize(&own, "bob").is_ok());
    }

    #[test]
    fn revoke_and_expire_now() {
        let reg = TokenRegistry::new();
        let t = reg.issue_token("u", Duration::from_secs(60));
        assert!(reg.expire_now(&t));
        assert_eq!(reg.validate(&t), Err(TokenError::Expired));
        assert!(reg.revoke(&t));
        assert_eq!(reg.validate(&t), Err(TokenError::Unknown));
        assert!(!reg.revoke(&t));
        let rt = reg.issue_refresh_token("c", "u", None);
        assert!(reg.refresh_binding(&rt).is_some());
        assert!(reg.revoke(&rt));
        assert!(reg.refresh_binding(&rt).is_none());
    }

    #[test]
    fn debug_shows_no_token() {
        let reg = TokenRegistry::new();
        reg.add_client("c", "very-secret");
        let t = reg.issue_token("u", Duration::from_secs(60));
        let dbg = format!("{reg:?}");
        assert!(!dbg.contains(&t) && !dbg.contains("very-secret"), "{dbg}");
    }
}
