//! Cloudflare Access sign-in: when `ACCESS_TEAM_DOMAIN` and `ACCESS_AUD`
//! are set, a request carrying `Cf-Access-Jwt-Assertion` is the user whose
//! email the verified token names. The team's keys are fetched from its
//! certs URL and cached in the isolate for an hour (refetched sooner, at
//! most every 10 s, when a token names a key not yet seen).
//!
//! `ACCESS_CERTS_URL` overrides the certs URL. It is a test hook (the
//! tests serve their own keys locally), ignored unless `LOCAL_DEV` is `1`
//! (see `local_dev`).

use std::cell::RefCell;

use worker::{Env, Fetch, Request, Url};

use crate::catalog::auth::cf_access::{token_key_id, verify, AccessConfig, Jwks};
use crate::http::error::ApiError;
use crate::storage::local_dev::test_hook;
use crate::storage::users::UserRow;
use crate::storage::Storage;

/// The header Access adds to every request it lets through.
pub const ASSERTION_HEADER: &str = "Cf-Access-Jwt-Assertion";

const KEYS_TTL_MS: f64 = 3_600_000.0;
const REFETCH_UNKNOWN_KID_MS: f64 = 10_000.0;

struct CachedKeys {
    url: String,
    keys: Jwks,
    fetched_ms: f64,
}

thread_local! {
    static KEYS: RefCell<Option<CachedKeys>> = const { RefCell::new(None) };
}

fn var(env: &Env, name: &str) -> Option<String> {
    env.var(name)
        .ok()
        .map(|v| v.to_string())
        .filter(|v| !v.trim().is_empty())
}

/// The configured Access application, if any.
pub fn config(env: &Env) -> Option<AccessConfig> {
    Some(AccessConfig::new(
        &var(env, "ACCESS_TEAM_DOMAIN")?,
        &var(env, "ACCESS_AUD")?,
    ))
}

/// The user an Access token vouches for: `None` when Access is not
/// configured or the request carries no token; an error when the token is
/// invalid or names no single user.
pub async fn access_user(
    req: &Request,
    env: &Env,
    storage: &Storage,
) -> Result<Option<UserRow>, ApiError> {
    let Some(config) = config(env) else {
        return Ok(None);
    };
    let Some(token) = req.headers().get(ASSERTION_HEADER)? else {
        return Ok(None);
    };
    let denied = |e: crate::catalog::auth::cf_access::AccessError| {
        ApiError::new(
            401,
            "access_denied",
            format!("Cloudflare Access sign-in refused: {e}"),
        )
    };
    let kid = token_key_id(&token).map_err(denied)?;
    let url = test_hook(env, "ACCESS_CERTS_URL").unwrap_or_else(|| config.certs_url());
    let keys = team_keys(&url, kid.as_deref()).await?;
    let now = crate::storage::now();
    let email = verify(&token, &keys, &config, now).map_err(denied)?;
    let mut users = storage.users_by_email(&email).await?;
    match users.len() {
        1 => Ok(users.pop()),
        0 => Err(ApiError::new(
            403,
            "access_no_user",
            format!("signed in through Cloudflare Access as {email}, but no user has that email; ask an admin to create one"),
        )),
        _ => Err(ApiError::new(
            403,
            "access_ambiguous_user",
            format!("signed in through Cloudflare Access as {email}, but several users have that email; ask an admin to make it unique"),
        )),
    }
}

/// The team's keys from the isolate cache, fetched when missing, stale, or
/// lacking `kid`.
async fn team_keys(url: &str, kid: Option<&str>) -> Result<Jwks, ApiError> {
    let now = worker::Date::now().as_millis() as f64;
    let cached = KEYS.with(|k| {
        k.borrow().as_ref().and_then(|c| {
            let fresh = c.url == url && now - c.fetched_ms < KEYS_TTL_MS;
            let knows_kid = kid.is_none_or(|kid| c.keys.has_key(kid));
            let may_refetch = now - c.fetched_ms >= REFETCH_UNKNOWN_KID_MS;
            (fresh && (knows_kid || !may_refetch)).then(|| c.keys.clone())
        })
    });
    if let Some(keys) = cached {
        return Ok(keys);
    }
    let unavailable = |why: String| {
        ApiError::new(
            503,
            "access_keys_unavailable",
            format!("the Cloudflare Access signing keys could not be loaded from {url}: {why}"),
        )
    };
    let parsed = Url::parse(url).map_err(|e| unavailable(e.to_string()))?;
    let mut resp = Fetch::Url(parsed)
        .send()
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    if resp.status_code() != 200 {
        return Err(unavailable(format!("HTTP {}", resp.status_code())));
    }
    let body = resp.bytes().await.map_err(|e| unavailable(e.to_string()))?;
    let keys = Jwks::parse(&body).map_err(|e| unavailable(e.to_string()))?;
    KEYS.with(|k| {
        *k.borrow_mut() = Some(CachedKeys {
            url: url.to_string(),
            keys: keys.clone(),
            fetched_ms: now,
        })
    });
    Ok(keys)
}
