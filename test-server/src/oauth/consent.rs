//! Delegated consent at the fake authority, without a UI:
//!
//! - `GET /{tenant}/oauth2/v2.0/authorize?response_type=code&client_id&redirect_uri&state&
//!   code_challenge&code_challenge_method=S256[&scope][&login_hint]`: the person consents (or,
//!   with [`Consent::Deny`](super::Consent::Deny), declines) at once, and the answer is a
//!   `302` to the loopback `redirect_uri` with `code` and `state` (or `error=access_denied`).
//!   An unknown client or a redirect URI that is not `http://127.0.0.1:PORT/...` /
//!   `http://localhost:PORT/...` gets a `400` page and no redirect, as real providers do.
//!   The user is `login_hint`, else the registry's consent user.
//! - `POST /{tenant}/oauth2/v2.0/devicecode` (`client_id`, `scope`): a device code, a user code,
//!   `verification_uri` (`/device` here), `expires_in`, `interval`.
//! - `POST /device/approve` (`user_code`, `user`) and `POST /device/deny` (`user_code`): what
//!   the person does on the verification page.
//!
//! The token endpoint redeems both: `grant_type=authorization_code` (`code`, `redirect_uri`,
//! `code_verifier` checked against the recorded `S256` challenge) and
//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` (`authorization_pending`,
//! `slow_down`, `expired_token`, `access_denied`).

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use tokio::time::Instant;

use super::registry::{Consent, PendingCode};
use super::{OAuthError, TokenEndpointConfig, check_secret, error_json, success};
use crate::oauth::Grant;

/// How long an authorization code may wait for its token request.
const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// The grant type of RFC 8628.
pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// What an HTTP request to the consent endpoints is answered with.
pub(crate) enum Answer {
    /// A JSON body with this status.
    Json(u16, String),
    /// A `302` to this location.
    Redirect(String),
    /// A plain-text page with this status.
    Text(u16, String),
}

/// Whether `uri` is a loopback redirect URI of RFC 8252 (plain HTTP to 127.0.0.1, [::1] or
/// localhost).
fn loopback_redirect(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn query(target: &str) -> Vec<(String, String)> {
    let q = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn with_params(base: &str, params: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        out.append_pair(k, v);
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", out.finish())
}

/// `GET .../authorize`.
pub(crate) fn authorize(config: &TokenEndpointConfig, target: &str) -> Answer {
    let pairs = query(target);
    let get = |name| param(&pairs, name);
    let Some(client_id) = get("client_id") else {
        return Answer::Text(400, "AADSTS900144: client_id is missing.".into());
    };
    if config.registry.client(client_id).is_none() {
        return Answer::Text(
            400,
            format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory."
            ),
        );
    }
    let Some(redirect_uri) = get("redirect_uri").filter(|u| loopback_redirect(u)) else {
        return Answer::Text(
            400,
            "AADSTS50011: The redirect URI specified in the request does not match the redirect \
             URIs configured for the application (only loopback URIs are registered here)."
                .into(),
        );
    };
    let state = get("state").unwrap_or_default();
    let back = |params: &[(&str, &str)]| {
        let mut all = params.to_vec();
        if !state.is_empty() {
            all.push(("state", state));
        }
        Answer::Redirect(with_params(redirect_uri, &all))
    };
    if get("response_type") != Some("code") {
        return back(&[
            ("error", "unsupported_response_type"),
            (
                "error_description",
                "AADSTS70005: response_type must be code.",
            ),
        ]);
    }
    let challenge = match (get("code_challenge"), get("code_challenge_method")) {
        (Some(c), Some("S256")) if !c.is_empty() => c.to_owned(),
        _ => {
            return back(&[
                ("error", "invalid_request"),
                (
                    "error_description",
                    "AADSTS501491: a code_challenge with code_challenge_method S256 is required.",
                ),
            ]);
        }
    };
    let (consent, default_user) = config.registry.consent();
    if consent == Consent::Deny {
        return back(&[
            ("error", "access_denied"),
            (
                "error_description",
                "AADSTS65004: The user declined to consent to access the app.",
            ),
        ]);
    }
    let Some(owner) = get("login_hint").map(str::to_owned).or(default_user) else {
        return back(&[
            ("error", "login_required"),
            ("error_description", "AADSTS50058: no user is signed in."),
        ]);
    };
    let code = config.registry.insert_code(PendingCode {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        challenge,
        owner,
        scope: get("scope").map(str::to_owned),
        expires_at: Instant::now() + CODE_LIFETIME,
    });
    back(&[("code", &code)])
}

/// `POST .../devicecode`.
pub(crate) fn device_authorization(
    config: &TokenEndpointConfig,
    base: &str,
    body: &[u8],
) -> Answer {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let Some(client_id) = param(&pairs, "client_id") else {
        return Answer::Json(
            400,
            error_json(
                "invalid_request",
                900_144,
                "The request body must contain the following parameter: 'client_id'.",
            ),
        );
    };
    if config.registry.client(client_id).is_none() {
        return Answer::Json(
            400,
            error_json(
                "unauthorized_client",
                700_016,
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory."
                ),
            ),
        );
    }
    let (device_code, user_code, interval, lifetime) = config
        .registry
        .insert_device(client_id, param(&pairs, "scope"));
    let verification_uri = format!("{base}/device");
    let body = serde_json::json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "expires_in": lifetime.as_secs(),
        "interval": interval,
        "message": format!("To sign in, open {verification_uri} and enter the code {user_code}."),
    });
    Answer::Json(200, body.to_string())
}

/// `POST /device/approve` and `/device/deny`.
pub(crate) fn device_decision(config: &TokenEndpointConfig, approve: bool, body: &[u8]) -> Answer {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let code = param(&pairs, "user_code").unwrap_or_default();
    let done = if approve {
        let user = param(&pairs, "user").unwrap_or_default();
        !user.is_empty() && config.registry.approve_device(code, user)
    } else {
        config.registry.deny_device(code)
    };
    if done {
        Answer::Text(200, "Done. You can return to your device.".into())
    } else {
        Answer::Text(400, "No pending sign-in has this code.".into())
    }
}

fn invalid_grant(code: u32, description: &str) -> OAuthError {
    OAuthError::new(400, "invalid_grant", code, description)
}

/// Form fields of the two consent grants at the token endpoint.
pub(crate) struct GrantForm<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) client_secret: Option<&'a str>,
    pub(crate) code: Option<&'a str>,
    pub(crate) redirect_uri: Option<&'a str>,
    pub(crate) code_verifier: Option<&'a str>,
    pub(crate) device_code: Option<&'a str>,
}

/// `grant_type=authorization_code`.
pub(crate) fn redeem_code(
    config: &TokenEndpointConfig,
    form: &GrantForm<'_>,
) -> Result<String, OAuthError> {
    check_secret(config, form.client_id, form.client_secret, false)?;
    let pending = form
        .code
        .and_then(|c| config.registry.take_code(c))
        .ok_or_else(|| {
            invalid_grant(
                70_008,
                "The provided authorization code has expired, was used already or is unknown.",
            )
        })?;
    if pending.client_id != form.client_id {
        return Err(invalid_grant(
            70_000,
            "The authorization code was issued to a different client.",
        ));
    }
    if form.redirect_uri != Some(pending.redirect_uri.as_str()) {
        return Err(invalid_grant(
            50_148,
            "The redirect_uri does not match the one of the authorization request.",
        ));
    }
    let verified = form
        .code_verifier
        .is_some_and(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())) == pending.challenge);
    if !verified {
        return Err(invalid_grant(
            501_481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ));
    }
    Ok(issue(
        config,
        &pending.owner,
        form.client_id,
        pending.scope.as_deref(),
        Grant::AuthorizationCode,
    ))
}

/// The device-code grant.
pub(crate) fn redeem_device(
    config: &TokenEndpointConfig,
    form: &GrantForm<'_>,
) -> Result<String, OAuthError> {
    check_secret(config, form.client_id, form.client_secret, false)?;
    let device_code = form.device_code.unwrap_or_default();
    let grant = config.registry.poll_device(device_code).map_err(|error| {
        let (code, text) = match error {
            "authorization_pending" => (
                70_016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ),
            "slow_down" => (70_016, "Polling too fast: slow down."),
            "expired_token" => (70_020, "The provided value for the input parameter 'device_code' is not valid: it has expired."),
            "access_denied" => (70_019, "The user declined the sign-in."),
            _ => (70_000, "The device code is unknown or was used already."),
        };
        OAuthError::new(400, error, code, text)
    })?;
    if grant.client_id != form.client_id {
        return Err(invalid_grant(
            70_000,
            "The device code was issued to a different client.",
        ));
    }
    let owner = match grant.status {
        super::registry::DeviceStatus::Approved(owner) => owner,
        _ => return Err(invalid_grant(70_000, "The device code is not approved.")),
    };
    Ok(issue(
        config,
        &owner,
        form.client_id,
        grant.scope.as_deref(),
        Grant::DeviceCode,
    ))
}

/// Issues an access token and a refresh token of a new family.
fn issue(
    config: &TokenEndpointConfig,
    owner: &str,
    client_id: &str,
    scope: Option<&str>,
    grant: Grant,
) -> String {
    let registry = &config.registry;
    let (token, lifetime) = registry.issue_for_grant(owner, client_id, scope, grant);
    let refresh = registry.issue_refresh_token(client_id, owner, scope);
    success(&token, lifetime, Some(&refresh), scope)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_redirects_are_accepted() {
        assert!(loopback_redirect("http://127.0.0.1:4711/"));
        assert!(loopback_redirect("http://localhost:1/cb"));
        assert!(loopback_redirect("http://[::1]:80/"));
        assert!(!loopback_redirect("https://127.0.0.1:4711/"));
        assert!(!loopback_redirect("http://evil.example/"));
        assert!(!loopback_redirect("http://127.0.0.1.evil.example:80/"));
    }
}
