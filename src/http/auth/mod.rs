//! Who is calling, and through which door.
//!
//! - `/api/*` takes `Authorization: Bearer <PAT or ADMIN_TOKEN>` or a UI
//!   session cookie. HTTP Basic is refused there, so credentials a browser
//!   cached for a clone URL can never change anything through the API.
//! - The served channels (git, `/marketplace.zip`, `/marketplace/info`) take
//!   Basic (git's way), Bearer, or a session.
//! - Without either, a verified Cloudflare Access token (`cf_access`) signs
//!   the request in, when Access is configured.
//! - A state-changing request authenticated by cookie or Access (which a
//!   browser sends on its own) must prove it comes from the UI
//!   (`session::check_ui_proof`): a cross-site form gets 403.

mod cf_access;
pub mod session;
pub mod tokens;

use worker::{Env, Request};

use super::error::ApiError;
use crate::catalog::auth::credentials::{parse_authorization, Credential};
use crate::catalog::auth::session::{
    check_ui_proof, is_state_changing, session_from_cookie, UiProofError,
};
use crate::catalog::auth::token::{admin_token_is_weak, secrets_equal, token_hash};
use crate::storage::users::UserRow;
use crate::storage::Storage;
use cf_access::access_user;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The bootstrap `ADMIN_TOKEN`: admin routes only, no marketplace view.
    BootstrapAdmin,
    /// A user, by PAT or session.
    User(UserRow),
}

impl Principal {
    /// Whether admin routes are open to this caller.
    pub fn is_admin(&self) -> bool {
        match self {
            Principal::BootstrapAdmin => true,
            Principal::User(u) => u.is_admin != 0,
        }
    }
}

/// Which credentials a route accepts (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Api,
    Served,
}

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer` or Basic.
    Token,
    /// The UI's session cookie.
    Session,
    /// A verified Cloudflare Access token.
    Access,
}

impl Via {
    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Token => "token",
            Via::Session => "session",
            Via::Access => "access",
        }
    }
}

/// Authenticates the request; `None` when no credentials were sent or they
/// match nothing.
pub async fn authenticate(
    req: &Request,
    env: &Env,
    storage: &Storage,
    channel: Channel,
) -> Result<Option<Principal>, ApiError> {
    Ok(identify(req, env, storage, channel).await?.map(|(p, _)| p))
}

/// Like `authenticate`, and says how the caller signed in.
pub async fn identify(
    req: &Request,
    env: &Env,
    storage: &Storage,
    channel: Channel,
) -> Result<Option<(Principal, Via)>, ApiError> {
    let headers = req.headers();
    if let Some(header) = headers.get("Authorization")? {
        let Some(cred) = parse_authorization(&header) else {
            return Ok(None);
        };
        if matches!(cred, Credential::Basic(_)) && channel == Channel::Api {
            return Err(ApiError::new(
                401,
                "basic_auth_refused",
                "the API takes `Authorization: Bearer <token>` or a signed-in session; HTTP Basic is accepted only by git, /marketplace.zip and /marketplace/info",
            ));
        }
        let found = token_principal(cred.secret(), env, storage).await?;
        match &found {
            Some(Principal::User(u)) => {
                storage.note_actor(Some(u.id), &u.username);
                storage.note_token(&token_hash(cred.secret()));
            }
            Some(Principal::BootstrapAdmin) => storage.note_actor(None, "ADMIN_TOKEN"),
            None => {}
        }
        return Ok(found.map(|p| (p, Via::Token)));
    }
    let cookie = headers.get("Cookie")?.unwrap_or_default();
    let session = match session_from_cookie(&cookie, req.url()?.as_str()) {
        Some(id) => storage
            .session_user(&token_hash(&id.to_ascii_lowercase()))
            .await?
            .map(|u| (u, Via::Session)),
        None => None,
    };
    let found = match session {
        Some(found) => Some(found),
        None => access_user(req, env, storage)
            .await?
            .map(|u| (u, Via::Access)),
    };
    let Some((user, via)) = found else {
        return Ok(None);
    };
    storage.note_actor(Some(user.id), &user.username);
    if is_state_changing(req.method().as_ref()) {
        require_ui_proof(req)?;
    }
    Ok(Some((Principal::User(user), via)))
}

/// Whether `secret` is the bootstrap `ADMIN_TOKEN` (compared in constant
/// time). A weak one (the `.dev.vars` default, or under 32 characters) is
/// refused, in words, unless `LOCAL_DEV` is `1`, which only `.dev.vars`
/// sets: `wrangler dev` reads that file, a deployment never does.
pub fn is_admin_token(secret: &str, env: &Env) -> Result<bool, ApiError> {
    let Ok(admin) = env.secret("ADMIN_TOKEN").map(|a| a.to_string()) else {
        return Ok(false);
    };
    if admin.is_empty() || !secrets_equal(secret, &admin) {
        return Ok(false);
    }
    if admin_token_is_weak(&admin) && !crate::storage::local_dev::is_local_dev(env) {
        return Err(ApiError::new(
            403,
            "admin_token_unsafe",
            "this deployment's ADMIN_TOKEN is the local development default or shorter than 32 characters, \
             so it is refused; set a long random one: `openssl rand -hex 32 | npx wrangler secret put ADMIN_TOKEN`",
        ));
    }
    Ok(true)
}

/// The principal a bearer or basic secret names.
async fn token_principal(
    secret: &str,
    env: &Env,
    storage: &Storage,
) -> Result<Option<Principal>, ApiError> {
    if is_admin_token(secret, env)? {
        return Ok(Some(Principal::BootstrapAdmin));
    }
    Ok(storage
        .token_owner(&token_hash(secret))
        .await?
        .map(|o| Principal::User(o.user())))
}

/// Refuses a request that does not come from this site's UI.
pub fn require_ui_proof(req: &Request) -> Result<(), ApiError> {
    let headers = req.headers();
    let origin = headers.get("Origin")?;
    let ui = headers.get(crate::catalog::auth::session::UI_HEADER)?;
    check_ui_proof(origin.as_deref(), req.url()?.as_str(), ui.as_deref()).map_err(|e| {
        let why = match e {
            UiProofError::CrossOrigin => "it does not come from this site",
            UiProofError::MissingHeader => "it lacks the UI's request header",
        };
        ApiError::new(
            403,
            "cross_site_request",
            format!("refused a signed-in change because {why}; use the web UI, or send a token as `Authorization: Bearer`"),
        )
    })
}

/// The caller, who must be a user (API routes under `/api/me` and the Store).
pub async fn require_user(
    req: &Request,
    env: &Env,
    storage: &Storage,
) -> Result<UserRow, ApiError> {
    match authenticate(req, env, storage, Channel::Api).await? {
        Some(Principal::User(u)) => Ok(u),
        Some(Principal::BootstrapAdmin) => Err(ApiError::forbidden(
            "ADMIN_TOKEN has no marketplace of its own; use a user's token",
        )),
        None => Err(ApiError::unauthorized()),
    }
}

/// The caller, who must be an admin.
pub async fn require_admin(
    req: &Request,
    env: &Env,
    storage: &Storage,
) -> Result<Principal, ApiError> {
    match authenticate(req, env, storage, Channel::Api).await? {
        Some(p) if p.is_admin() => Ok(p),
        Some(_) => Err(ApiError::forbidden(
            "admin routes need ADMIN_TOKEN or an admin user's token",
        )),
        None => Err(ApiError::unauthorized()),
    }
}

/// `N` random bytes (see `storage::random_bytes`).
pub fn random_bytes<const N: usize>() -> Result<[u8; N], ApiError> {
    crate::storage::random_bytes::<N>().map_err(|e| ApiError::internal(e.to_string()))
}

/// 20 random bytes as a new PAT secret and 8 as its id.
pub fn new_token() -> Result<(String, String), ApiError> {
    Ok((
        crate::catalog::auth::token::format_token_id(&random_bytes::<8>()?),
        crate::catalog::auth::token::format_token(&random_bytes::<20>()?),
    ))
}
